#include "discord/command_registry.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <set>
#include <utility>

#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "core/utf8.hpp"
#include "discord/snowflake.hpp"

namespace mando::discord {
namespace {

namespace json = boost::json;

// Discord's bounds for INTEGER and NUMBER values, and for string lengths.
constexpr double kMaxSafeInteger = 9007199254740992.0;  // 2^53
constexpr int kMaxStringLength = 6000;
constexpr std::size_t kMaxNameLength = 32;
constexpr std::size_t kMaxDescriptionLength = 100;
constexpr std::size_t kMaxChoiceNameLength = 100;
constexpr std::size_t kMaxChoiceStringLength = 100;
constexpr std::size_t kMaxShownValueLength = 60;
constexpr std::size_t kMaxShownChoices = 10;

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("discord");
  return logger;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

bool is_subcommand(OptionType type) {
  return type == OptionType::kSubCommand || type == OptionType::kSubCommandGroup;
}

bool takes_choices(OptionType type) {
  return type == OptionType::kString || type == OptionType::kInteger || type == OptionType::kNumber;
}

bool is_numeric(OptionType type) {
  return type == OptionType::kInteger || type == OptionType::kNumber;
}

// A user-supplied or Discord-supplied text shown inside `code` in a reply: bounded, on one
// line, without backticks that would end the code span.
std::string quote(std::string_view s) {
  std::string_view head = core::code_point_prefix(s, kMaxShownValueLength);
  std::string out = "`";
  for (char c : head) out += (c == '`') ? '\'' : (c == '\n' || c == '\r') ? ' ' : c;
  if (head.size() < s.size()) out += "…";
  out += '`';
  return out;
}

std::string format_bound(OptionType type, double v) {
  if (type == OptionType::kInteger) return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{}", v);
}

std::string format_value(const OptionValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "nothing";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return quote(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else {
          return fmt::format("{}", v);
        }
      },
      value);
}

std::string format_choice_value(const Choice& choice) {
  return std::visit(
      [](const auto& v) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
          return quote(v);
        } else {
          return fmt::format("{}", v);
        }
      },
      choice.value);
}

// ---------------------------------------------------------------------------------------------
// Spec validation, with Discord's rules.

tl::unexpected<Error> spec_error(std::string_view where, std::string_view what) {
  return fail(ErrorKind::kInvalidArgument, fmt::format("{}: {}", where, what));
}

Result<void> check_choice(const OptionSpec& option, const Choice& choice, std::string_view where) {
  if (choice.name.empty() || core::code_points(choice.name) > kMaxChoiceNameLength) {
    return spec_error(where, "choice names must be 1-100 characters");
  }
  const bool ok = std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return option.type == OptionType::kString &&
                 core::code_points(v) <= kMaxChoiceStringLength;
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return is_numeric(option.type) && std::abs(static_cast<double>(v)) <= kMaxSafeInteger;
        } else {
          return option.type == OptionType::kNumber && std::isfinite(v) &&
                 std::abs(v) <= kMaxSafeInteger;
        }
      },
      choice.value);
  if (!ok) {
    return spec_error(where, fmt::format("choice `{}` has a value that does not fit a {} option "
                                         "(strings: at most 100 characters)",
                                         choice.name, to_string(option.type)));
  }
  return {};
}

Result<void> check_option_spec(const OptionSpec& option, const std::string& where,
                               bool has_autocomplete_handler);

// One level of options. `level`: 0 the command, 1 inside a group, 2 inside a subcommand.
enum class Level { kCommand, kGroup, kSubcommand };

Result<void> check_option_list(const std::vector<OptionSpec>& options, const std::string& where,
                               Level level, bool has_autocomplete_handler) {
  if (options.size() > kMaxOptions) {
    return spec_error(where,
                      fmt::format("at most {} options (got {})", kMaxOptions, options.size()));
  }
  std::set<std::string_view> names;
  bool seen_optional = false;
  const bool subcommands = !options.empty() && is_subcommand(options.front().type);
  for (const OptionSpec& option : options) {
    const std::string here = fmt::format("{}: option `{}`", where, option.name);
    if (!names.insert(option.name).second) return spec_error(here, "duplicate option name");
    if (level == Level::kGroup && option.type != OptionType::kSubCommand) {
      return spec_error(here, "a subcommand group may only hold subcommands");
    }
    if (level == Level::kSubcommand && is_subcommand(option.type)) {
      return spec_error(here, "a subcommand cannot hold subcommands or groups");
    }
    if (level == Level::kCommand && is_subcommand(option.type) != subcommands) {
      return spec_error(here, "subcommands and groups cannot be mixed with other options");
    }
    if (!is_subcommand(option.type)) {
      if (option.required && seen_optional) {
        return spec_error(here, "required options must come before optional ones");
      }
      seen_optional = seen_optional || !option.required;
    }
    if (auto checked = check_option_spec(option, here, has_autocomplete_handler); !checked) {
      return checked;
    }
  }
  return {};
}

Result<void> check_option_spec(const OptionSpec& option, const std::string& where,
                               bool has_autocomplete_handler) {
  const int type = static_cast<int>(option.type);
  if (type < 1 || type > 11) return spec_error(where, fmt::format("unknown option type {}", type));
  if (!valid_name(option.name)) {
    return spec_error(where, "names must be 1-32 characters of a-z, 0-9, '-' and '_'");
  }
  const std::size_t description = core::code_points(option.description);
  if (description < 1 || description > kMaxDescriptionLength) {
    return spec_error(where, "the description must be 1-100 characters");
  }
  if (is_subcommand(option.type)) {
    if (option.required || option.min_value || option.max_value || option.min_length ||
        option.max_length || !option.choices.empty() || option.autocomplete) {
      return spec_error(where,
                        "subcommands and groups take no required, min/max, choices or "
                        "autocomplete");
    }
    return check_option_list(
        option.options, where,
        option.type == OptionType::kSubCommandGroup ? Level::kGroup : Level::kSubcommand,
        has_autocomplete_handler);
  }
  if (!option.options.empty()) return spec_error(where, "only subcommands and groups hold options");

  if (option.min_value || option.max_value) {
    if (!is_numeric(option.type)) {
      return spec_error(where, "min_value/max_value apply to INTEGER and NUMBER options only");
    }
    for (const auto& bound : {option.min_value, option.max_value}) {
      if (!bound) continue;
      if (!std::isfinite(*bound) || std::abs(*bound) > kMaxSafeInteger) {
        return spec_error(where, "min_value/max_value must be finite and within ±2^53");
      }
      if (option.type == OptionType::kInteger && std::trunc(*bound) != *bound) {
        return spec_error(where, "min_value/max_value of an INTEGER option must be integers");
      }
    }
    if (option.min_value && option.max_value && *option.min_value > *option.max_value) {
      return spec_error(where, fmt::format("min_value {} is greater than max_value {}",
                                           format_bound(option.type, *option.min_value),
                                           format_bound(option.type, *option.max_value)));
    }
  }
  if (option.min_length || option.max_length) {
    if (option.type != OptionType::kString) {
      return spec_error(where, "min_length/max_length apply to STRING options only");
    }
    if (option.min_length && (*option.min_length < 0 || *option.min_length > kMaxStringLength)) {
      return spec_error(where, "min_length must be 0-6000");
    }
    if (option.max_length && (*option.max_length < 1 || *option.max_length > kMaxStringLength)) {
      return spec_error(where, "max_length must be 1-6000");
    }
    if (option.min_length && option.max_length && *option.min_length > *option.max_length) {
      return spec_error(where, fmt::format("min_length {} is greater than max_length {}",
                                           *option.min_length, *option.max_length));
    }
  }
  if (!option.choices.empty()) {
    if (!takes_choices(option.type)) {
      return spec_error(where, "choices apply to STRING, INTEGER and NUMBER options only");
    }
    if (option.choices.size() > kMaxChoices) {
      return spec_error(
          where, fmt::format("at most {} choices (got {})", kMaxChoices, option.choices.size()));
    }
    if (option.autocomplete) {
      return spec_error(where, "choices and autocomplete are mutually exclusive");
    }
    for (const Choice& choice : option.choices) {
      if (auto checked = check_choice(option, choice, where); !checked) return checked;
    }
  }
  if (option.autocomplete) {
    if (!takes_choices(option.type)) {
      return spec_error(where, "autocomplete applies to STRING, INTEGER and NUMBER options only");
    }
    if (!has_autocomplete_handler) {
      return spec_error(where, "autocomplete is set but the command has no autocomplete handler");
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Received options against the spec.

tl::unexpected<Error> user_error(std::string message) {
  return fail(ErrorKind::kInvalidArgument, std::move(message));
}

std::string command_path(std::string_view name, const std::vector<std::string>& subcommand) {
  std::string out = fmt::format("/{}", name);
  for (const auto& s : subcommand) out += " " + s;
  return out;
}

// The leaf option specs for the subcommand path of `data`.
Result<const std::vector<OptionSpec>*> leaf_specs(const CommandSpec& spec,
                                                  const InteractionData& data) {
  const std::vector<OptionSpec>* level = &spec.options;
  for (const std::string& step : data.subcommand) {
    auto it = std::find_if(level->begin(), level->end(), [&](const OptionSpec& o) {
      return o.name == step && is_subcommand(o.type);
    });
    if (it == level->end()) {
      return user_error(
          fmt::format("Unknown subcommand {}.", quote(command_path(spec.name, data.subcommand))));
    }
    level = &it->options;
  }
  if (!level->empty() && is_subcommand(level->front().type)) {
    return user_error(fmt::format("Command {} needs a subcommand.",
                                  quote(command_path(spec.name, data.subcommand))));
  }
  return level;
}

std::string_view type_noun(OptionType type) {
  switch (type) {
    case OptionType::kString:
      return "text";
    case OptionType::kInteger:
      return "a whole number";
    case OptionType::kBoolean:
      return "true or false";
    case OptionType::kUser:
      return "a user";
    case OptionType::kChannel:
      return "a channel";
    case OptionType::kRole:
      return "a role";
    case OptionType::kMentionable:
      return "a user or a role";
    case OptionType::kNumber:
      return "a number";
    case OptionType::kAttachment:
      return "an attachment";
    default:
      return "a subcommand";
  }
}

bool choice_matches(const Choice& choice, const OptionValue& value) {
  return std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, std::string>) {
          const auto* s = std::get_if<std::string>(&value);
          return s != nullptr && *s == c;
        } else {
          if (const auto* i = std::get_if<std::int64_t>(&value)) {
            return static_cast<double>(*i) == static_cast<double>(c);
          }
          const auto* d = std::get_if<double>(&value);
          return d != nullptr && *d == static_cast<double>(c);
        }
      },
      choice.value);
}

Result<void> check_value(const OptionSpec& spec, const InteractionOption& option) {
  const std::string name = quote(spec.name);
  const auto wrong_type = [&] {
    return user_error(fmt::format("Option {} must be {} (got {}).", name, type_noun(spec.type),
                                  format_value(option.value)));
  };
  if (option.type != spec.type) return wrong_type();

  std::optional<double> number;  // INTEGER and NUMBER
  switch (spec.type) {
    case OptionType::kString: {
      const auto* s = std::get_if<std::string>(&option.value);
      if (s == nullptr) return wrong_type();
      const std::size_t length = core::code_points(*s);
      const auto min = static_cast<std::size_t>(spec.min_length.value_or(0));
      const bool too_short = spec.min_length && length < min;
      const bool too_long = spec.max_length && length > static_cast<std::size_t>(*spec.max_length);
      if (too_short || too_long) {
        if (spec.min_length && spec.max_length) {
          return user_error(fmt::format("Option {} must be {} to {} characters long (got {}).",
                                        name, *spec.min_length, *spec.max_length, length));
        }
        if (too_short) {
          return user_error(fmt::format("Option {} must be at least {} characters long (got {}).",
                                        name, *spec.min_length, length));
        }
        return user_error(fmt::format("Option {} must be at most {} characters long (got {}).",
                                      name, *spec.max_length, length));
      }
      break;
    }
    case OptionType::kInteger: {
      const auto* i = std::get_if<std::int64_t>(&option.value);
      if (i == nullptr) return wrong_type();
      number = static_cast<double>(*i);
      break;
    }
    case OptionType::kNumber: {
      if (const auto* i = std::get_if<std::int64_t>(&option.value)) {
        number = static_cast<double>(*i);
      } else if (const auto* d = std::get_if<double>(&option.value); d && std::isfinite(*d)) {
        number = *d;
      } else {
        return wrong_type();
      }
      break;
    }
    case OptionType::kBoolean:
      if (!std::holds_alternative<bool>(option.value)) return wrong_type();
      break;
    default: {  // USER, CHANNEL, ROLE, MENTIONABLE, ATTACHMENT: a snowflake
      const auto* s = std::get_if<std::string>(&option.value);
      if (s == nullptr || !is_snowflake(*s)) return wrong_type();
      break;
    }
  }

  if (number) {
    const bool too_small = spec.min_value && *number < *spec.min_value;
    const bool too_big = spec.max_value && *number > *spec.max_value;
    const std::string got = format_value(option.value);
    if (too_small || too_big) {
      if (spec.min_value && spec.max_value) {
        return user_error(fmt::format("Option {} must be between {} and {} (got {}).", name,
                                      format_bound(spec.type, *spec.min_value),
                                      format_bound(spec.type, *spec.max_value), got));
      }
      if (too_small) {
        return user_error(fmt::format("Option {} must be at least {} (got {}).", name,
                                      format_bound(spec.type, *spec.min_value), got));
      }
      return user_error(fmt::format("Option {} must be at most {} (got {}).", name,
                                    format_bound(spec.type, *spec.max_value), got));
    }
  }

  if (!spec.choices.empty() &&
      std::none_of(spec.choices.begin(), spec.choices.end(),
                   [&](const Choice& c) { return choice_matches(c, option.value); })) {
    std::string listed;
    for (std::size_t i = 0; i < spec.choices.size() && i < kMaxShownChoices; ++i) {
      if (i > 0) listed += ", ";
      listed += format_choice_value(spec.choices[i]);
    }
    if (spec.choices.size() > kMaxShownChoices) listed += ", …";
    return user_error(fmt::format("Option {} must be one of {} (got {}).", name, listed,
                                  format_value(option.value)));
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// commands_json()

json::value choice_value_json(const Choice& choice) {
  return std::visit([](const auto& v) { return json::value(v); }, choice.value);
}

json::object option_json(const OptionSpec& o) {
  json::object out;
  out["type"] = static_cast<int>(o.type);
  out["name"] = o.name;
  out["description"] = o.description;
  if (o.required) out["required"] = true;
  const auto bound = [&](double v) {
    return o.type == OptionType::kInteger ? json::value(static_cast<std::int64_t>(v))
                                          : json::value(v);
  };
  if (o.min_value) out["min_value"] = bound(*o.min_value);
  if (o.max_value) out["max_value"] = bound(*o.max_value);
  if (o.min_length) out["min_length"] = *o.min_length;
  if (o.max_length) out["max_length"] = *o.max_length;
  if (!o.choices.empty()) {
    json::array choices;
    for (const Choice& c : o.choices) {
      choices.push_back(json::object{{"name", c.name}, {"value", choice_value_json(c)}});
    }
    out["choices"] = std::move(choices);
  }
  if (o.autocomplete) out["autocomplete"] = true;
  if (!o.options.empty()) {
    json::array nested;
    for (const OptionSpec& n : o.options) nested.push_back(option_json(n));
    out["options"] = std::move(nested);
  }
  return out;
}

json::array int_array(const std::vector<int>& values) {
  json::array out;
  for (int v : values) out.push_back(v);
  return out;
}

std::string partial_text(const OptionValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else {
          return fmt::format("{}", v);
        }
      },
      value);
}

// Drops choices Discord would refuse (which would fail the whole response) and keeps 25.
std::vector<Choice> sanitize_choices(std::vector<Choice> choices, const OptionSpec& option) {
  std::vector<Choice> out;
  out.reserve(std::min(choices.size(), kMaxChoices));
  for (Choice& choice : choices) {
    if (out.size() == kMaxChoices) break;
    if (choice.name.empty()) continue;
    choice.name = std::string(core::code_point_prefix(choice.name, kMaxChoiceNameLength));
    if (!check_choice(option, choice, "")) continue;
    out.push_back(std::move(choice));
  }
  return out;
}

// What a handler answered, or why it did not: a handler that throws is a bug in a command
// module, and becomes an ephemeral apology instead of a crash.
struct HandlerOutcome {
  std::optional<InteractionResponse> response;
  std::string failure;
};

// `handler` lives in the registry, which outlives every dispatch.
template <typename Handler, typename Context>
boost::asio::awaitable<HandlerOutcome> run_guarded(const Handler& handler, Context context) {
  HandlerOutcome outcome;
  try {
    boost::asio::awaitable<InteractionResponse> call = handler(std::move(context));
    outcome.response = co_await std::move(call);
  } catch (const std::exception& e) {
    outcome.failure = e.what();
  } catch (...) {
    outcome.failure = "unknown exception";
  }
  co_return outcome;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Options

const InteractionOption* Options::find(std::string_view name) const {
  for (const InteractionOption& o : *options_) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::optional<std::int64_t> Options::get_int(std::string_view name) const {
  const InteractionOption* o = find(name);
  if (o == nullptr) return std::nullopt;
  if (const auto* i = std::get_if<std::int64_t>(&o->value)) return *i;
  return std::nullopt;
}

std::int64_t Options::get_int(std::string_view name, std::int64_t fallback) const {
  return get_int(name).value_or(fallback);
}

std::optional<std::string> Options::get_string(std::string_view name) const {
  const InteractionOption* o = find(name);
  if (o == nullptr) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(&o->value)) return *s;
  return std::nullopt;
}

std::string Options::get_string(std::string_view name, std::string_view fallback) const {
  auto s = get_string(name);
  return s ? std::move(*s) : std::string(fallback);
}

std::optional<double> Options::get_number(std::string_view name) const {
  const InteractionOption* o = find(name);
  if (o == nullptr) return std::nullopt;
  if (const auto* d = std::get_if<double>(&o->value)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&o->value)) return static_cast<double>(*i);
  return std::nullopt;
}

double Options::get_number(std::string_view name, double fallback) const {
  return get_number(name).value_or(fallback);
}

std::optional<bool> Options::get_bool(std::string_view name) const {
  const InteractionOption* o = find(name);
  if (o == nullptr) return std::nullopt;
  if (const auto* b = std::get_if<bool>(&o->value)) return *b;
  return std::nullopt;
}

bool Options::get_bool(std::string_view name, bool fallback) const {
  return get_bool(name).value_or(fallback);
}

// ---------------------------------------------------------------------------------------------
// validate_options

Result<void> validate_options(const CommandSpec& spec, const InteractionData& data) {
  auto specs = leaf_specs(spec, data);
  if (!specs) return tl::unexpected(specs.error());
  std::set<std::string_view> seen;
  for (const InteractionOption& option : data.options) {
    auto it = std::find_if((*specs)->begin(), (*specs)->end(),
                           [&](const OptionSpec& s) { return s.name == option.name; });
    if (it == (*specs)->end()) {
      return user_error(fmt::format("Unknown option {} for {}.", quote(option.name),
                                    quote(command_path(spec.name, data.subcommand))));
    }
    if (!seen.insert(option.name).second) {
      return user_error(fmt::format("Option {} was given more than once.", quote(option.name)));
    }
    if (auto checked = check_value(*it, option); !checked) return checked;
  }
  for (const OptionSpec& s : **specs) {
    if (s.required && !seen.contains(s.name)) {
      return user_error(fmt::format("Option {} is required.", quote(s.name)));
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// CommandRegistry

Result<void> CommandRegistry::add(CommandSpec spec) {
  const std::string where = fmt::format("command `{}`", spec.name);
  if (!valid_name(spec.name)) {
    return spec_error(where, "names must be 1-32 characters of a-z, 0-9, '-' and '_'");
  }
  const std::size_t description = core::code_points(spec.description);
  if (description < 1 || description > kMaxDescriptionLength) {
    return spec_error(where, "the description must be 1-100 characters");
  }
  if (!spec.handler) return spec_error(where, "no handler");
  if (find(spec.name) != nullptr) return spec_error(where, "already registered");
  if (commands_.size() >= kMaxCommands) {
    return spec_error(where, fmt::format("at most {} commands", kMaxCommands));
  }
  for (int t : spec.integration_types) {
    if (t != 0 && t != 1) return spec_error(where, "integration_types hold 0 and 1 only");
  }
  for (int c : spec.contexts) {
    if (c < 0 || c > 2) return spec_error(where, "contexts hold 0, 1 and 2 only");
  }
  if (auto checked =
          check_option_list(spec.options, where, Level::kCommand, bool(spec.autocomplete));
      !checked) {
    return checked;
  }
  commands_.push_back(std::move(spec));
  return {};
}

Result<void> CommandRegistry::add_prefix(std::vector<PrefixRoute>& routes, std::string prefix,
                                         ComponentHandler handler, std::string_view what) {
  if (prefix.empty())
    return fail(ErrorKind::kInvalidArgument, fmt::format("{} prefix: empty", what));
  if (!handler) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{} prefix `{}`: no handler", what, prefix));
  }
  for (const PrefixRoute& r : routes) {
    if (r.prefix == prefix) {
      return fail(ErrorKind::kAlreadyExists,
                  fmt::format("{} prefix `{}`: already registered", what, prefix));
    }
  }
  routes.push_back({std::move(prefix), std::move(handler)});
  std::stable_sort(routes.begin(), routes.end(), [](const PrefixRoute& a, const PrefixRoute& b) {
    return a.prefix.size() > b.prefix.size();
  });
  return {};
}

Result<void> CommandRegistry::add_component_prefix(std::string prefix, ComponentHandler handler) {
  return add_prefix(component_routes_, std::move(prefix), std::move(handler), "component");
}

Result<void> CommandRegistry::add_modal_prefix(std::string prefix, ComponentHandler handler) {
  return add_prefix(modal_routes_, std::move(prefix), std::move(handler), "modal");
}

const CommandRegistry::PrefixRoute* CommandRegistry::match(const std::vector<PrefixRoute>& routes,
                                                           std::string_view custom_id) {
  for (const PrefixRoute& r : routes) {  // longest first
    if (custom_id.starts_with(r.prefix)) return &r;
  }
  return nullptr;
}

const CommandSpec* CommandRegistry::find(std::string_view name) const {
  for (const CommandSpec& c : commands_) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

boost::json::array CommandRegistry::commands_json() const {
  json::array out;
  for (const CommandSpec& c : commands_) {
    json::object command;
    command["name"] = c.name;
    command["description"] = c.description;
    command["type"] = 1;
    if (!c.options.empty()) {
      json::array options;
      for (const OptionSpec& o : c.options) options.push_back(option_json(o));
      command["options"] = std::move(options);
    }
    if (!c.integration_types.empty()) command["integration_types"] = int_array(c.integration_types);
    if (!c.contexts.empty()) command["contexts"] = int_array(c.contexts);
    out.push_back(std::move(command));
  }
  return out;
}

boost::asio::awaitable<InteractionResponse> CommandRegistry::dispatch(
    Interaction interaction) const {
  switch (interaction.type) {
    case InteractionType::kPing:
      co_return InteractionResponse::pong();
    case InteractionType::kApplicationCommand:
      co_return co_await run_command(std::move(interaction));
    case InteractionType::kAutocomplete:
      co_return co_await run_autocomplete(std::move(interaction));
    case InteractionType::kMessageComponent:
    case InteractionType::kModalSubmit:
      co_return co_await run_component(std::move(interaction));
  }
  co_return InteractionResponse::ephemeral("Unsupported interaction.");
}

boost::asio::awaitable<InteractionResponse> CommandRegistry::run_command(
    Interaction interaction) const {
  const CommandSpec* spec = interaction.data.type == 1 ? find(interaction.data.name) : nullptr;
  if (spec == nullptr) {
    module_log()->debug("unknown command interaction_id={} command={}", interaction.id,
                        interaction.data.name);
    co_return InteractionResponse::ephemeral(
        fmt::format("Unknown command {}.", quote("/" + interaction.data.name)));
  }
  if (auto valid = validate_options(*spec, interaction.data); !valid) {
    module_log()->debug("refused options interaction_id={} command={} reason=\"{}\"",
                        interaction.id, spec->name, valid.error().message);
    co_return InteractionResponse::ephemeral(valid.error().message);
  }
  const std::string id = interaction.id;
  // Named locals and a separate co_await: g++ 12 miscompiles brace-initialised temporaries
  // inside a co_await expression (the handler saw a bitwise copy; found by ASan).
  CommandContext context;
  context.interaction = std::move(interaction);
  HandlerOutcome outcome = co_await run_guarded(spec->handler, std::move(context));
  auto& response = outcome.response;
  if (!response) {
    module_log()->error("command handler failed interaction_id={} command={} error=\"{}\"", id,
                        spec->name, outcome.failure);
    co_return InteractionResponse::ephemeral(fmt::format(
        "Something went wrong running {}. Please try again later.", quote("/" + spec->name)));
  }
  co_return std::move(*response);
}

boost::asio::awaitable<InteractionResponse> CommandRegistry::run_autocomplete(
    Interaction interaction) const {
  // Autocomplete can only answer with choices: every problem is an empty list.
  const CommandSpec* spec = interaction.data.type == 1 ? find(interaction.data.name) : nullptr;
  auto focused = std::find_if(interaction.data.options.begin(), interaction.data.options.end(),
                              [](const InteractionOption& o) { return o.focused; });
  if (spec == nullptr || !spec->autocomplete || focused == interaction.data.options.end()) {
    co_return InteractionResponse::autocomplete({});
  }
  auto specs = leaf_specs(*spec, interaction.data);
  if (!specs) co_return InteractionResponse::autocomplete({});
  auto option = std::find_if((*specs)->begin(), (*specs)->end(),
                             [&](const OptionSpec& s) { return s.name == focused->name; });
  if (option == (*specs)->end() || !option->autocomplete) {
    co_return InteractionResponse::autocomplete({});
  }
  AutocompleteContext context;
  context.focused = focused->name;
  context.partial = partial_text(focused->value);
  context.interaction = std::move(interaction);
  const std::string id = context.interaction.id;
  std::optional<std::vector<Choice>> choices;
  std::string failure;
  try {
    boost::asio::awaitable<std::vector<Choice>> call = spec->autocomplete(std::move(context));
    choices = co_await std::move(call);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!choices) {
    module_log()->error("autocomplete handler failed interaction_id={} command={} error=\"{}\"", id,
                        spec->name, failure);
    co_return InteractionResponse::autocomplete({});
  }
  co_return InteractionResponse::autocomplete(sanitize_choices(std::move(*choices), *option));
}

boost::asio::awaitable<InteractionResponse> CommandRegistry::run_component(
    Interaction interaction) const {
  const bool modal = interaction.type == InteractionType::kModalSubmit;
  const PrefixRoute* route =
      match(modal ? modal_routes_ : component_routes_, interaction.data.custom_id);
  if (route == nullptr) {
    module_log()->debug("unrouted {} interaction_id={} custom_id={}", modal ? "modal" : "component",
                        interaction.id, interaction.data.custom_id);
    co_return InteractionResponse::ephemeral(fmt::format(
        "Unknown {} {}.", modal ? "form" : "component", quote(interaction.data.custom_id)));
  }
  ComponentContext context;
  context.prefix = route->prefix;
  context.rest = interaction.data.custom_id.substr(route->prefix.size());
  context.interaction = std::move(interaction);
  const std::string id = context.interaction.id;
  const std::string custom_id = context.interaction.data.custom_id;
  HandlerOutcome outcome = co_await run_guarded(route->handler, std::move(context));
  auto& response = outcome.response;
  if (!response) {
    module_log()->error("component handler failed interaction_id={} custom_id={} error=\"{}\"", id,
                        custom_id, outcome.failure);
    co_return InteractionResponse::ephemeral("Something went wrong. Please try again later.");
  }
  co_return std::move(*response);
}

}  // namespace mando::discord
