#pragma once
// Discord interactions (API v10): the incoming model, its parser, and the response model.
//
// The parser is strict about what mando uses and lenient about everything else: unknown fields
// are ignored, but a field we read must have the documented shape, and the error names it
// ("interaction: field `data.name` must be a string"). Snowflakes are strings of digits.
//
// Option values are stored as they arrived (a string stays a string even for an INTEGER
// option): deciding whether a value fits its command is the command registry's job, which
// answers the user with an ephemeral message rather than Discord with a 400.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/error.hpp"

namespace mando::discord {

enum class InteractionType {
  kPing = 1,
  kApplicationCommand = 2,
  kMessageComponent = 3,
  kAutocomplete = 4,
  kModalSubmit = 5,
};
std::string_view to_string(InteractionType type);

// Application command option types.
enum class OptionType {
  kSubCommand = 1,
  kSubCommandGroup = 2,
  kString = 3,
  kInteger = 4,  // -2^53..2^53
  kBoolean = 5,
  kUser = 6,
  kChannel = 7,
  kRole = 8,
  kMentionable = 9,
  kNumber = 10,  // a double
  kAttachment = 11,
};
std::string_view to_string(OptionType type);

// A received option value. USER, CHANNEL, ROLE, MENTIONABLE and ATTACHMENT carry a snowflake
// string; NUMBER values that arrive as JSON integers are stored as double.
using OptionValue = std::variant<std::monostate, std::string, std::int64_t, double, bool>;

struct InteractionOption {
  std::string name;
  OptionType type = OptionType::kString;
  OptionValue value;
  bool focused = false;  // autocomplete: the option the user is typing in
};

struct User {
  std::string id;
  std::string username;
  std::optional<std::string> global_name;
};

struct InteractionData {
  // APPLICATION_COMMAND and APPLICATION_COMMAND_AUTOCOMPLETE.
  std::string id;                          // command id
  std::string name;                        // command name
  int type = 1;                            // 1 CHAT_INPUT, 2 USER, 3 MESSAGE
  std::vector<std::string> subcommand;     // ["group", "sub"], ["sub"] or empty
  std::vector<InteractionOption> options;  // leaf options of the (sub)command
  std::string target_id;  // USER and MESSAGE commands: the user or message used on; else empty
  boost::json::object resolved;  // data.resolved as received (users, attachments, ...)

  // MESSAGE_COMPONENT and MODAL_SUBMIT.
  std::string custom_id;
  int component_type = 0;                           // 2 button, 3 string select, ...
  std::vector<std::string> values;                  // select menus
  std::map<std::string, std::string> modal_values;  // text input custom_id -> value
};

struct Interaction {
  std::string id;
  std::string application_id;
  InteractionType type = InteractionType::kPing;
  std::string token;  // a secret for 15 minutes: never log it
  int version = 1;
  std::optional<std::string> guild_id;
  std::optional<std::string> channel_id;
  std::optional<std::string> message_id;  // components: the message the component is on
  // channel.nsfw: the channel is age-restricted (false when Discord sent no channel object).
  bool channel_nsfw = false;
  // app_permissions: what the bot may do in the channel (a permission bit set); nullopt when
  // absent. guild_install: the app is installed to the guild (authorizing_integration_owners
  // has "0"), so it has a bot user there, unlike a user install.
  std::optional<std::uint64_t> app_permissions;
  bool guild_install = false;
  User user;           // member.user in guilds, user in DMs; empty for PING
  std::string locale;  // the invoking user's locale, "" when absent
  std::optional<std::string> guild_locale;
  // The largest file, in bytes, a response to this interaction may upload (Discord sends it on
  // every interaction; it depends on the guild's boosts). nullopt when absent.
  std::optional<std::uint64_t> attachment_size_limit;
  InteractionData data;
};

// Parses an interaction body. kInvalidArgument, with a message naming the field, for
// malformed JSON, nesting deeper than 32 levels, or a used field of the wrong shape.
// Never throws (except std::bad_alloc).
Result<Interaction> parse_interaction(std::string_view body);

// An autocomplete choice, and a predefined choice of an option (command_registry.hpp).
struct Choice {
  std::string name;
  std::variant<std::string, std::int64_t, double> value;
};

enum class ResponseType {
  kPong = 1,
  kChannelMessageWithSource = 4,
  kDeferredChannelMessageWithSource = 5,
  kDeferredUpdateMessage = 6,
  kUpdateMessage = 7,
  kApplicationCommandAutocompleteResult = 8,
  kModal = 9,
};

// The message flag that shows a reply only to the invoking user.
inline constexpr std::int64_t kEphemeralFlag = 64;

// An interaction response: {"type": N, "data": {...}}. The named constructors cover what the
// core needs; `data` is the raw callback data for everything else (embeds, components,
// attachments) and is sent as is. Message responses disable mentions by default
// (allowed_mentions.parse = []) because their content often echoes user input.
struct InteractionResponse {
  ResponseType type = ResponseType::kPong;
  boost::json::object data;  // omitted from the JSON when empty

  static InteractionResponse pong();
  static InteractionResponse message(std::string_view content);                 // type 4
  static InteractionResponse ephemeral(std::string_view content);               // type 4, flags 64
  static InteractionResponse deferred(bool ephemeral = false);                  // type 5
  static InteractionResponse deferred_update();                                 // type 6
  static InteractionResponse update(std::string_view content);                  // type 7
  static InteractionResponse autocomplete(const std::vector<Choice>& choices);  // type 8
  // type 9: `components` are the modal's action rows.
  static InteractionResponse modal(std::string_view custom_id, std::string_view title,
                                   boost::json::array components);

  bool is_ephemeral() const;
  // data.content, or "" when there is none.
  std::string_view content() const;

  std::string to_json() const;
};

}  // namespace mando::discord
