#pragma once
// The command registry: what each command module declares, and the routing of interactions to
// it.
//
// A command module builds one CommandSpec (name, description, options, handler) and adds it;
// add() refuses a spec Discord would refuse, so a bad spec fails at start-up rather than at
// `mando commands sync`. commands_json() is the bulk-overwrite body for Discord.
//
// dispatch() routes an interaction:
//   APPLICATION_COMMAND  -> the command's handler, after checking every received option against
//                           the spec (unknown, wrong type, out of range, too long or short, not
//                           a choice, missing): a failed check is an ephemeral reply naming the
//                           option, not an error, since the user typed it;
//   AUTOCOMPLETE         -> the command's autocomplete handler; at most 25 choices (type 8);
//   MESSAGE_COMPONENT    -> the component handler with the longest matching custom_id prefix;
//   MODAL_SUBMIT         -> the modal handler with the longest matching custom_id prefix.
// Unknown commands, components and modals get an ephemeral reply saying so. A handler that
// throws gets an ephemeral "something went wrong" and an error log; nothing escapes.
//
// Thread-safety: add*() during start-up only; afterwards dispatch() and the accessors are const
// and may run concurrently. The registry must outlive every dispatch() it started.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>

#include "core/error.hpp"
#include "discord/interaction.hpp"

namespace mando::discord {

// Discord's limits for application commands.
inline constexpr std::size_t kMaxOptions = 25;
inline constexpr std::size_t kMaxChoices = 25;
inline constexpr std::size_t kMaxCommands = 100;

// Every member has an initializer so that designated initializers naming only some of them
// compile cleanly under g++ 12's -Wmissing-field-initializers.
struct OptionSpec {
  std::string name{};         // 1-32 of [a-z0-9_-]
  std::string description{};  // 1-100 characters
  OptionType type = OptionType::kString;
  bool required = false;
  std::optional<double> min_value{};  // INTEGER and NUMBER
  std::optional<double> max_value{};
  std::optional<int> min_length{};  // STRING, 0-6000
  std::optional<int> max_length{};  // STRING, 1-6000
  std::vector<Choice> choices{};    // STRING, INTEGER, NUMBER; at most 25
  bool autocomplete = false;        // excludes choices; needs CommandSpec::autocomplete
  // SUB_COMMAND: its leaf options. SUB_COMMAND_GROUP: its SUB_COMMANDs.
  std::vector<OptionSpec> options{};
};

// Typed read access to the leaf options of an interaction (a non-owning view).
class Options {
 public:
  explicit Options(const std::vector<InteractionOption>& options) : options_(&options) {}

  const InteractionOption* find(std::string_view name) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }

  // nullopt when the option is absent or holds another type. get_number() also reads integers.
  std::optional<std::int64_t> get_int(std::string_view name) const;
  std::int64_t get_int(std::string_view name, std::int64_t fallback) const;
  std::optional<std::string> get_string(std::string_view name) const;
  std::string get_string(std::string_view name, std::string_view fallback) const;
  std::optional<double> get_number(std::string_view name) const;
  double get_number(std::string_view name, double fallback) const;
  std::optional<bool> get_bool(std::string_view name) const;
  bool get_bool(std::string_view name, bool fallback) const;

 private:
  const std::vector<InteractionOption>* options_;
};

// What a command handler receives: the interaction, with its options already checked against
// the spec.
struct CommandContext {
  Interaction interaction;

  Options options() const { return Options(interaction.data.options); }
  // The subcommand path, e.g. {"group", "sub"}; empty for a command without subcommands.
  const std::vector<std::string>& subcommand() const { return interaction.data.subcommand; }

  std::optional<std::int64_t> get_int(std::string_view name) const {
    return options().get_int(name);
  }
  std::int64_t get_int(std::string_view name, std::int64_t fallback) const {
    return options().get_int(name, fallback);
  }
  std::optional<std::string> get_string(std::string_view name) const {
    return options().get_string(name);
  }
  std::string get_string(std::string_view name, std::string_view fallback) const {
    return options().get_string(name, fallback);
  }
  std::optional<double> get_number(std::string_view name) const {
    return options().get_number(name);
  }
  double get_number(std::string_view name, double fallback) const {
    return options().get_number(name, fallback);
  }
  std::optional<bool> get_bool(std::string_view name) const { return options().get_bool(name); }
  bool get_bool(std::string_view name, bool fallback) const {
    return options().get_bool(name, fallback);
  }
};

// What an autocomplete handler receives. The other options are NOT checked against the spec:
// the user is still typing.
struct AutocompleteContext {
  Interaction interaction;
  std::string focused;  // name of the option being typed in
  std::string partial;  // what has been typed so far (numbers as their JSON text)

  Options options() const { return Options(interaction.data.options); }
};

// What a component or modal handler receives.
struct ComponentContext {
  Interaction interaction;
  std::string prefix;  // the registered prefix that matched
  std::string rest;    // custom_id after the prefix ("4242" for "mando:reroll:" + "4242")

  const std::string& custom_id() const { return interaction.data.custom_id; }
};

using CommandHandler = std::function<boost::asio::awaitable<InteractionResponse>(CommandContext)>;
using AutocompleteHandler =
    std::function<boost::asio::awaitable<std::vector<Choice>>(AutocompleteContext)>;
using ComponentHandler =
    std::function<boost::asio::awaitable<InteractionResponse>(ComponentContext)>;

// Application command types (Discord's ApplicationCommandType).
enum class CommandType {
  kChatInput = 1,  // a slash command
  kUser = 2,       // "Apps" menu of a user
  kMessage = 3,    // "Apps" menu of a message: data.target_id names it, data.resolved holds it
};

struct CommandSpec {
  CommandType type = CommandType::kChatInput;
  // kChatInput: 1-32 of [a-z0-9_-]. kUser and kMessage: the menu entry, 1-32 characters of any
  // case, spaces allowed ("Transform images").
  std::string name{};
  std::string description{};          // kChatInput: 1-100 characters; the menu types: empty
  std::vector<OptionSpec> options{};  // kChatInput only
  CommandHandler handler{};
  AutocompleteHandler autocomplete{};  // required when an option sets `autocomplete`
  // Where the command may be installed and used; empty: Discord's default (omitted from JSON).
  // integration_types: 0 guild install, 1 user install. contexts: 0 guild, 1 bot DM,
  // 2 private channel.
  std::vector<int> integration_types{};
  std::vector<int> contexts{};
};

// Checks received leaf options against the spec's options for the given subcommand path (the
// checks dispatch() runs before a handler). The error is kInvalidArgument with the sentence to
// show the user, e.g. "Option `symmetry` must be between 3 and 32 (got 40)."
Result<void> validate_options(const CommandSpec& spec, const InteractionData& data);

class CommandRegistry {
 public:
  // Adds a command after checking it the way Discord does (see the file comment); the error
  // names the command and the offending field.
  Result<void> add(CommandSpec spec);

  // Routes MESSAGE_COMPONENT / MODAL_SUBMIT interactions whose custom_id starts with `prefix`
  // (the longest registered prefix wins). An empty or already registered prefix is refused.
  Result<void> add_component_prefix(std::string prefix, ComponentHandler handler);
  Result<void> add_modal_prefix(std::string prefix, ComponentHandler handler);

  const CommandSpec* find(std::string_view name, CommandType type = CommandType::kChatInput) const;
  const std::vector<CommandSpec>& commands() const { return commands_; }

  // The body of PUT /applications/{id}/commands: every command with its type and only the
  // fields that differ from Discord's defaults; min_value/max_value are integers for INTEGER
  // options.
  boost::json::array commands_json() const;

  // Never throws; see the file comment for the routing.
  boost::asio::awaitable<InteractionResponse> dispatch(Interaction interaction) const;

 private:
  struct PrefixRoute {
    std::string prefix;
    ComponentHandler handler;
  };
  static Result<void> add_prefix(std::vector<PrefixRoute>& routes, std::string prefix,
                                 ComponentHandler handler, std::string_view what);
  static const PrefixRoute* match(const std::vector<PrefixRoute>& routes,
                                  std::string_view custom_id);

  boost::asio::awaitable<InteractionResponse> run_command(Interaction interaction) const;
  boost::asio::awaitable<InteractionResponse> run_autocomplete(Interaction interaction) const;
  boost::asio::awaitable<InteractionResponse> run_component(Interaction interaction) const;

  std::vector<CommandSpec> commands_;
  std::vector<PrefixRoute> component_routes_;  // sorted by prefix length, longest first
  std::vector<PrefixRoute> modal_routes_;
};

}  // namespace mando::discord
