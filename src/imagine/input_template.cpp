#include "imagine/input_template.hpp"

#include <algorithm>
#include <optional>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace mando::imagine {

namespace json = boost::json;

namespace {

constexpr std::string_view kPlaceholders[] = {"prompt", "negative", "seed",   "count",
                                              "width",  "height",   "aspect", "image"};

const Aspect& aspect_of(std::string_view name) {
  for (const auto& aspect : kAspects) {
    if (aspect.name == name) return aspect;
  }
  return kAspects[0];
}

// The value of placeholder `name`: a number for the numeric ones, text for the others, nullopt
// when the user gave none.
std::optional<json::value> value_of(std::string_view name, const Inputs& in) {
  const Aspect& aspect = aspect_of(in.aspect);
  if (name == "prompt") return json::value(in.prompt);
  if (name == "negative")
    return in.negative.empty() ? std::nullopt : std::optional(json::value(in.negative));
  if (name == "seed") return json::value(in.seed);
  if (name == "count") return json::value(in.count);
  if (name == "width") return json::value(aspect.width);
  if (name == "height") return json::value(aspect.height);
  if (name == "aspect") return json::value(aspect.name);
  if (name == "image")
    return in.image.empty() ? std::nullopt : std::optional(json::value(in.image));
  return std::nullopt;
}

bool known(std::string_view name) {
  return std::ranges::find(kPlaceholders, name) != std::end(kPlaceholders);
}

// Calls `on_placeholder(name)` for every "{name}" in `text` and `on_text(piece)` for the text
// between them; braces that do not enclose a placeholder's shape ("{" alone, "{a b}") are text.
template <typename Text, typename Placeholder>
void scan(std::string_view text, Text on_text, Placeholder on_placeholder) {
  while (!text.empty()) {
    const auto open = text.find('{');
    const auto close = open == std::string_view::npos ? open : text.find('}', open);
    const auto name = close == std::string_view::npos ? std::string_view()
                                                      : text.substr(open + 1, close - open - 1);
    const bool shaped = !name.empty() && std::ranges::all_of(name, [](char c) {
      return (c >= 'a' && c <= 'z') || c == '_';
    });
    if (!shaped) {
      const auto upto = open == std::string_view::npos ? text.size() : open + 1;
      on_text(text.substr(0, upto));
      text.remove_prefix(upto);
      continue;
    }
    on_text(text.substr(0, open));
    on_placeholder(name);
    text.remove_prefix(close + 1);
  }
}

Result<void> check_strings(const json::value& value) {
  if (value.is_object()) {
    for (const auto& member : value.get_object()) {
      if (auto ok = check_strings(member.value()); !ok) return ok;
    }
  } else if (value.is_array()) {
    for (const auto& item : value.get_array()) {
      if (auto ok = check_strings(item); !ok) return ok;
    }
  } else if (value.is_string()) {
    std::string unknown;
    scan(
        value.get_string(), [](std::string_view) {},
        [&](std::string_view name) {
          if (!known(name) && unknown.empty()) unknown = name;
        });
    if (!unknown.empty()) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("unknown placeholder {{{}}} (known: {{{}}})", unknown,
                              fmt::join(kPlaceholders, "} {")));
    }
  }
  return {};
}

// `value` with its placeholders filled; nullopt when it is one placeholder without a value.
std::optional<json::value> fill(const json::value& value, const Inputs& in) {
  if (value.is_object()) {
    json::object out;
    for (const auto& member : value.get_object()) {
      if (auto filled = fill(member.value(), in)) out[member.key()] = std::move(*filled);
    }
    return json::value(std::move(out));
  }
  if (value.is_array()) {
    json::array out;
    for (const auto& item : value.get_array()) {
      if (auto filled = fill(item, in)) out.push_back(std::move(*filled));
    }
    return json::value(std::move(out));
  }
  if (!value.is_string()) return value;
  const std::string_view text = value.get_string();
  if (text.size() > 2 && text.front() == '{' && text.back() == '}' &&
      known(text.substr(1, text.size() - 2))) {
    return value_of(text.substr(1, text.size() - 2), in);
  }
  std::string out;
  scan(
      text, [&](std::string_view piece) { out += piece; },
      [&](std::string_view name) {
        const auto v = value_of(name, in);
        if (!v) return;
        if (v->is_string()) {
          out += v->get_string();
        } else {
          out += std::to_string(v->to_number<std::int64_t>());
        }
      });
  return json::value(std::move(out));
}

Result<json::object> parse_template(std::string_view template_json) {
  boost::system::error_code ec;
  json::value parsed = json::parse(template_json, ec);
  if (ec || !parsed.is_object()) {
    return fail(ErrorKind::kInvalidArgument, "input must be a table (a JSON object)");
  }
  return std::move(parsed.get_object());
}

}  // namespace

std::string_view default_input_template(std::string_view provider) {
  if (provider == "fal") {
    return R"({"prompt":"{prompt}","negative_prompt":"{negative}",)"
           R"("image_size":{"width":"{width}","height":"{height}"},"num_images":"{count}",)"
           R"("seed":"{seed}","image_url":"{image}"})";
  }
  if (provider == "openai")
    return R"({"prompt":"{prompt}","n":"{count}","size":"{width}x{height}"})";
  return R"({"prompt":"{prompt}","negative_prompt":"{negative}","aspect_ratio":"{aspect}",)"
         R"("num_outputs":"{count}","seed":"{seed}","image":"{image}"})";
}

Result<void> check_input_template(std::string_view template_json) {
  auto parsed = parse_template(template_json);
  if (!parsed) return tl::unexpected(parsed.error());
  return check_strings(json::value(std::move(*parsed)));
}

Result<json::object> fill_input(std::string_view template_json, const Inputs& inputs) {
  auto parsed = parse_template(template_json);
  if (!parsed) return tl::unexpected(parsed.error());
  return std::move(fill(json::value(std::move(*parsed)), inputs)->get_object());
}

}  // namespace mando::imagine
