// Discord's rules for command specs (what CommandRegistry::add() refuses) and for received
// options (validate_options()), split from the registry's routing.

#include "discord/command_checks.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "core/utf8.hpp"
#include "discord/snowflake.hpp"

namespace mando::discord {
namespace {

using detail::check_choice;
using detail::kMaxChoiceNameLength;
using detail::leaf_specs;
using detail::quote;

// Discord's bounds for INTEGER and NUMBER values, and for string lengths.
constexpr double kMaxSafeInteger = 9007199254740992.0;  // 2^53
constexpr int kMaxStringLength = 6000;
constexpr std::size_t kMaxNameLength = 32;
constexpr std::size_t kMaxDescriptionLength = 100;
constexpr std::size_t kMaxChoiceStringLength = 100;
constexpr std::size_t kMaxShownValueLength = 60;
constexpr std::size_t kMaxShownChoices = 10;

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

}  // namespace

std::string detail::quote(std::string_view s) {
  std::string_view head = core::code_point_prefix(s, kMaxShownValueLength);
  std::string out = "`";
  for (char c : head) out += (c == '`') ? '\'' : (c == '\n' || c == '\r') ? ' ' : c;
  if (head.size() < s.size()) out += "…";
  out += '`';
  return out;
}

namespace {

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

}  // namespace

Result<void> detail::check_choice(const OptionSpec& option, const Choice& choice,
                                  std::string_view where) {
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

namespace {

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

}  // namespace

Result<const std::vector<OptionSpec>*> detail::leaf_specs(const CommandSpec& spec,
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

namespace {

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

}  // namespace

Result<void> detail::check_command(const CommandSpec& spec) {
  const std::string where = fmt::format("command `{}`", spec.name);
  const int type = static_cast<int>(spec.type);
  if (type < 1 || type > 3) return spec_error(where, fmt::format("unknown command type {}", type));
  if (spec.type != CommandType::kChatInput) {
    // Menu entries: Discord allows any case and spaces, and no description or options.
    const std::size_t length = core::code_points(spec.name);
    if (length < 1 || length > kMaxNameLength ||
        spec.name.find_first_of("\n\r\t") != std::string::npos) {
      return spec_error(where, "menu command names must be 1-32 characters on one line");
    }
    if (!spec.description.empty()) return spec_error(where, "menu commands have no description");
    if (!spec.options.empty() || spec.autocomplete) {
      return spec_error(where, "menu commands have no options");
    }
  } else if (!valid_name(spec.name)) {
    return spec_error(where, "names must be 1-32 characters of a-z, 0-9, '-' and '_'");
  } else if (const std::size_t description = core::code_points(spec.description);
             description < 1 || description > kMaxDescriptionLength) {
    return spec_error(where, "the description must be 1-100 characters");
  }
  if (!spec.handler) return spec_error(where, "no handler");
  for (int t : spec.integration_types) {
    if (t != 0 && t != 1) return spec_error(where, "integration_types hold 0 and 1 only");
  }
  for (int c : spec.contexts) {
    if (c < 0 || c > 2) return spec_error(where, "contexts hold 0, 1 and 2 only");
  }
  return check_option_list(spec.options, where, Level::kCommand, bool(spec.autocomplete));
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

}  // namespace mando::discord
