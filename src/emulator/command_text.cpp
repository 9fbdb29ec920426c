#include "emulator/command_text.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "emulator/wire.hpp"

namespace mando::emulator {
namespace {

namespace json = boost::json;

using Pairs = std::vector<std::pair<std::string, std::string>>;

// Tokens: "/name", then name:value pairs; a value may be "quoted" with \" and \\ escapes.
Result<Pairs> split_pairs(std::string_view text, std::size_t& i) {
  Pairs pairs;
  auto skip = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
  };
  for (;;) {
    skip();
    if (i == text.size()) break;
    std::string name;
    while (i < text.size() && text[i] != ':' && text[i] != ' ') name += text[i++];
    if (i == text.size() || text[i] != ':' || name.empty()) {
      return fail(ErrorKind::kInvalidArgument, fmt::format("expected name:value, got `{}`", name));
    }
    ++i;
    std::string value;
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < text.size()) c = text[i++];
        value += c;
      }
      if (!closed) return fail(ErrorKind::kInvalidArgument, "unterminated quote in " + name);
    } else {
      while (i < text.size() && text[i] != ' ' && text[i] != '\t') value += text[i++];
    }
    if (value.empty()) return fail(ErrorKind::kInvalidArgument, "option " + name + " has no value");
    pairs.emplace_back(std::move(name), std::move(value));
  }
  return pairs;
}

// The option of type `type` (0: infer it from the text) as Discord sends it.
Result<json::object> typed_option(const std::string& name, const std::string& value,
                                  std::int64_t type) {
  char* end = nullptr;
  errno = 0;
  const long long as_int = std::strtoll(value.c_str(), &end, 10);
  const bool int_ok = errno == 0 && end == value.c_str() + value.size();
  errno = 0;
  const double as_double = std::strtod(value.c_str(), &end);
  const bool double_ok =
      errno == 0 && end == value.c_str() + value.size() && std::isfinite(as_double);
  if (type == 0) {
    type = int_ok ? 4 : (value == "true" || value == "false") ? 5 : double_ok ? 10 : 3;
  }
  json::object option{{"name", name}, {"type", type}};
  switch (type) {
    case 4:
      if (!int_ok) return fail(ErrorKind::kInvalidArgument, name + " must be an integer");
      option["value"] = as_int;
      break;
    case 5:
      if (value != "true" && value != "false") {
        return fail(ErrorKind::kInvalidArgument, name + " must be true or false");
      }
      option["value"] = value == "true";
      break;
    case 10:
      if (!double_ok) return fail(ErrorKind::kInvalidArgument, name + " must be a number");
      option["value"] = as_double;
      break;
    default:
      option["value"] = value;
  }
  return option;
}

bool has_name(const json::value& v, std::string_view name) {
  const auto* n = v.is_object() ? v.as_object().if_contains("name") : nullptr;
  return n != nullptr && n->is_string() && n->as_string() == name;
}

}  // namespace

Result<CommandInvocation> parse_command_text(std::string_view text, const json::array& registered) {
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
  if (i < text.size() && text[i] == '/') ++i;
  CommandInvocation out;
  while (i < text.size() && text[i] != ' ' && text[i] != '\t') out.name += text[i++];
  if (out.name.empty()) return fail(ErrorKind::kInvalidArgument, "no command name (type /name)");
  auto pairs = split_pairs(text, i);
  if (!pairs) return tl::unexpected(pairs.error());

  const json::value* command = nullptr;
  for (const auto& c : registered) {
    if (has_name(c, out.name)) command = &c;
  }
  json::array declared;
  if (command != nullptr) {
    if (const auto* o = command->as_object().if_contains("options"); o && o->is_array()) {
      declared = o->as_array();
    }
  }
  for (const auto& [name, value] : *pairs) {
    std::int64_t type = 0;
    if (command != nullptr) {
      for (const auto& o : declared) {
        if (has_name(o, name)) {
          const auto* t = o.as_object().if_contains("type");
          type = t ? to_int(*t).value_or(3) : 3;
        }
      }
      if (type == 0) {
        return fail(ErrorKind::kInvalidArgument,
                    fmt::format("/{} has no option `{}`", out.name, name));
      }
      if (type == 1 || type == 2) {
        return fail(ErrorKind::kInvalidArgument, "subcommands cannot be typed as text here");
      }
    }
    auto option = typed_option(name, value, type);
    if (!option) return tl::unexpected(option.error());
    out.options.push_back(std::move(*option));
  }
  for (const auto& o : declared) {
    if (!o.is_object()) continue;
    const auto* required = o.as_object().if_contains("required");
    if (!required || !required->is_bool() || !required->as_bool()) continue;
    const auto& want = o.as_object().at("name");
    const bool given = std::any_of(pairs->begin(), pairs->end(), [&](const auto& p) {
      return want.is_string() && want.as_string() == p.first;
    });
    if (!given) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("/{} needs option `{}`", out.name, json::serialize(want)));
    }
  }
  return out;
}

}  // namespace mando::emulator
