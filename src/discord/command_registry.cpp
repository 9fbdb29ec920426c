#include "discord/command_registry.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "core/utf8.hpp"
#include "discord/command_checks.hpp"

namespace mando::discord {
namespace {

namespace json = boost::json;
using detail::check_choice;
using detail::kMaxChoiceNameLength;
using detail::leaf_specs;
using detail::quote;

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("discord");
  return logger;
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
// CommandRegistry

Result<void> CommandRegistry::add(CommandSpec spec) {
  if (auto checked = detail::check_command(spec); !checked) return checked;
  const std::string where = fmt::format("command `{}`", spec.name);
  if (find(spec.name, spec.type) != nullptr) {
    return fail(ErrorKind::kInvalidArgument, fmt::format("{}: already registered", where));
  }
  if (commands_.size() >= kMaxCommands) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: at most {} commands", where, kMaxCommands));
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

const CommandSpec* CommandRegistry::find(std::string_view name, CommandType type) const {
  for (const CommandSpec& c : commands_) {
    if (c.name == name && c.type == type) return &c;
  }
  return nullptr;
}

boost::json::array CommandRegistry::commands_json() const {
  json::array out;
  for (const CommandSpec& c : commands_) {
    json::object command;
    command["name"] = c.name;
    command["description"] = c.description;  // "" for the menu types, as Discord documents
    command["type"] = static_cast<int>(c.type);
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
  const CommandSpec* spec =
      find(interaction.data.name, static_cast<CommandType>(interaction.data.type));
  if (spec == nullptr) {
    module_log()->debug("unknown command interaction_id={} command={}", interaction.id,
                        interaction.data.name);
    co_return InteractionResponse::ephemeral(fmt::format(
        "Unknown command {}.",
        quote(interaction.data.type == 1 ? "/" + interaction.data.name : interaction.data.name)));
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
  const CommandSpec* spec = find(interaction.data.name);
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
