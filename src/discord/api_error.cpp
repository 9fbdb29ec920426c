#include "discord/api_error.hpp"

#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

namespace mando::discord {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxFieldErrors = 5;
constexpr std::size_t kMaxBodySnippet = 200;

const json::value* find(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && !v->is_null() ? v : nullptr;
}

// Each entry of Discord's nested `errors` object (its "_errors" leaves), at most
// kMaxFieldErrors.
void collect_field_errors(const json::value& v, const std::string& path,
                          std::vector<std::string>& out) {
  if (out.size() >= kMaxFieldErrors || !v.is_object()) return;
  for (const auto& [key, child] : v.get_object()) {
    if (key == "_errors" && child.is_array()) {
      for (const auto& e : child.get_array()) {
        if (out.size() >= kMaxFieldErrors) return;
        const json::value* message = e.is_object() ? find(e.get_object(), "message") : nullptr;
        if (message != nullptr && message->is_string()) {
          out.push_back(fmt::format("{}: {}", path.empty() ? "body" : path,
                                    std::string_view(message->get_string())));
        }
      }
    } else {
      collect_field_errors(
          child,
          path.empty() ? std::string(key) : fmt::format("{}.{}", path, std::string_view(key)), out);
    }
  }
}

std::string body_snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kMaxBodySnippet)) {
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  if (body.size() > kMaxBodySnippet) out += "...";
  return out;
}

}  // namespace

std::string error_detail(std::string_view body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return body_snippet(body);
  const json::object& o = parsed.get_object();
  std::string detail;
  if (const json::value* m = find(o, "message"); m != nullptr && m->is_string()) {
    detail = std::string(m->get_string());
  }
  if (const json::value* code = find(o, "code"); code != nullptr && code->is_int64()) {
    detail += fmt::format(" (code {})", code->get_int64());
  }
  std::vector<std::string> fields;
  if (const json::value* errors = find(o, "errors")) collect_field_errors(*errors, "", fields);
  if (!fields.empty()) detail += fmt::format(": {}", fmt::join(fields, "; "));
  return detail;
}

}  // namespace mando::discord
