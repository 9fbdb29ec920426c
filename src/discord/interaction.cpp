#include "discord/interaction.hpp"

#include <charconv>
#include <limits>
#include <utility>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "discord/snowflake.hpp"

namespace mando::discord {
namespace {

namespace json = boost::json;

// Deeper than anything Discord sends (about 8 levels); refuses stack-heavy hostile bodies.
constexpr unsigned kMaxJsonDepth = 32;

tl::unexpected<Error> field_error(std::string_view path, std::string_view what) {
  return fail(ErrorKind::kInvalidArgument, fmt::format("interaction: field `{}` {}", path, what));
}

std::string join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

// The member `key` of `o`, or null when absent or JSON null (Discord sends both for "none").
const json::value* find(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && !v->is_null() ? v : nullptr;
}

Result<std::optional<std::string>> optional_string(const json::object& o, std::string_view key,
                                                   std::string_view prefix) {
  const json::value* v = find(o, key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return field_error(join(prefix, key), "must be a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::string> required_string(const json::object& o, std::string_view key,
                                    std::string_view prefix) {
  auto s = optional_string(o, key, prefix);
  if (!s) return tl::unexpected(s.error());
  if (!*s) return field_error(join(prefix, key), "must be a string");
  return std::move(**s);
}

Result<std::optional<std::string>> optional_snowflake(const json::object& o, std::string_view key,
                                                      std::string_view prefix) {
  const json::value* v = find(o, key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string() || !is_snowflake(v->get_string())) {
    return field_error(join(prefix, key), "must be a snowflake (a string of digits)");
  }
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::string> required_snowflake(const json::object& o, std::string_view key,
                                       std::string_view prefix) {
  auto s = optional_snowflake(o, key, prefix);
  if (!s) return tl::unexpected(s.error());
  if (!*s) return field_error(join(prefix, key), "must be a snowflake (a string of digits)");
  return std::move(**s);
}

Result<std::optional<std::int64_t>> optional_int(const json::object& o, std::string_view key,
                                                 std::string_view prefix) {
  const json::value* v = find(o, key);
  if (v == nullptr) return std::optional<std::int64_t>();
  if (v->is_int64()) return std::optional<std::int64_t>(v->get_int64());
  return field_error(join(prefix, key), "must be an integer");
}

// A small integer field (a type or a version) in [lo, hi].
Result<int> required_small_int(const json::object& o, std::string_view key, std::string_view prefix,
                               std::int64_t lo, std::int64_t hi, std::string_view what) {
  auto i = optional_int(o, key, prefix);
  if (!i) return tl::unexpected(i.error());
  if (!*i || **i < lo || **i > hi) {
    return field_error(join(prefix, key), fmt::format("must be {} ({}-{})", what, lo, hi));
  }
  return static_cast<int>(**i);
}

Result<const json::object*> optional_object(const json::object& o, std::string_view key,
                                            std::string_view prefix) {
  const json::value* v = find(o, key);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) return field_error(join(prefix, key), "must be an object");
  return &v->get_object();
}

Result<const json::array*> optional_array(const json::object& o, std::string_view key,
                                          std::string_view prefix) {
  const json::value* v = find(o, key);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) return field_error(join(prefix, key), "must be an array");
  return &v->get_array();
}

std::string index_path(std::string_view path, std::size_t i) {
  return fmt::format("{}[{}]", path, i);
}

Result<User> parse_user(const json::object& o, std::string_view path) {
  User user;
  auto id = required_snowflake(o, "id", path);
  if (!id) return tl::unexpected(id.error());
  user.id = std::move(*id);
  auto username = required_string(o, "username", path);
  if (!username) return tl::unexpected(username.error());
  user.username = std::move(*username);
  auto global_name = optional_string(o, "global_name", path);
  if (!global_name) return tl::unexpected(global_name.error());
  user.global_name = std::move(*global_name);
  return user;
}

Result<OptionValue> parse_option_value(const json::object& o, OptionType type,
                                       std::string_view path) {
  const json::value* v = find(o, "value");
  if (v == nullptr) return OptionValue();
  switch (v->kind()) {
    case json::kind::string:
      return OptionValue(std::string(v->get_string()));
    case json::kind::bool_:
      return OptionValue(v->get_bool());
    case json::kind::int64:
      if (type == OptionType::kNumber) return OptionValue(static_cast<double>(v->get_int64()));
      return OptionValue(v->get_int64());
    case json::kind::uint64:  // only used above INT64_MAX: no valid INTEGER, keep the magnitude
      return OptionValue(static_cast<double>(v->get_uint64()));
    case json::kind::double_:
      return OptionValue(v->get_double());
    default:
      return field_error(join(path, "value"), "must be a string, a number or a boolean");
  }
}

// Flattens SUB_COMMAND_GROUP / SUB_COMMAND nesting: their names go to data.subcommand, the
// options of the innermost level to data.options. `level` 0 is data.options, where groups and
// subcommands may appear; 1 is inside a group (subcommands only) or a subcommand (leaves only).
Result<void> parse_options(const json::array& options, const std::string& path, bool allow_group,
                           bool allow_sub, InteractionData& data) {
  for (std::size_t i = 0; i < options.size(); ++i) {
    const std::string item = index_path(path, i);
    if (!options[i].is_object()) return field_error(item, "must be an object");
    const json::object& o = options[i].get_object();
    auto name = required_string(o, "name", item);
    if (!name) return tl::unexpected(name.error());
    auto type_int = required_small_int(o, "type", item, 1, 11, "an option type");
    if (!type_int) return tl::unexpected(type_int.error());
    const auto type = static_cast<OptionType>(*type_int);

    if (type == OptionType::kSubCommand || type == OptionType::kSubCommandGroup) {
      const bool allowed = type == OptionType::kSubCommand ? allow_sub : allow_group;
      if (!allowed) {
        return field_error(join(item, "type"), type == OptionType::kSubCommand
                                                   ? "must not be a subcommand at this level"
                                                   : "must not be a subcommand group here");
      }
      if (options.size() != 1) {
        return field_error(path, "must hold exactly one subcommand or subcommand group");
      }
      data.subcommand.push_back(std::move(*name));
      auto nested = optional_array(o, "options", item);
      if (!nested) return tl::unexpected(nested.error());
      if (*nested == nullptr) return {};
      const bool group = type == OptionType::kSubCommandGroup;
      return parse_options(**nested, join(item, "options"), false, group, data);
    }
    if (!data.subcommand.empty() && allow_sub) {
      // Inside a group only subcommands may appear.
      return field_error(join(item, "type"), "must be a subcommand inside a subcommand group");
    }

    InteractionOption option;
    option.name = std::move(*name);
    option.type = type;
    auto value = parse_option_value(o, type, item);
    if (!value) return tl::unexpected(value.error());
    option.value = std::move(*value);
    if (const json::value* focused = find(o, "focused")) {
      if (!focused->is_bool()) return field_error(join(item, "focused"), "must be a boolean");
      option.focused = focused->get_bool();
    }
    data.options.push_back(std::move(option));
  }
  return {};
}

Result<void> parse_command_data(const json::object& d, InteractionData& data) {
  auto id = required_snowflake(d, "id", "data");
  if (!id) return tl::unexpected(id.error());
  data.id = std::move(*id);
  auto name = required_string(d, "name", "data");
  if (!name) return tl::unexpected(name.error());
  data.name = std::move(*name);
  if (find(d, "type") != nullptr) {
    auto type = required_small_int(d, "type", "data", 1, 255, "a command type");
    if (!type) return tl::unexpected(type.error());
    data.type = *type;
  }
  auto target = optional_snowflake(d, "target_id", "data");
  if (!target) return tl::unexpected(target.error());
  data.target_id = target->value_or("");
  if (data.type != 1 && data.target_id.empty()) {
    return field_error("data.target_id", "is required for user and message commands");
  }
  auto options = optional_array(d, "options", "data");
  if (!options) return tl::unexpected(options.error());
  if (*options != nullptr) {
    if (auto parsed = parse_options(**options, "data.options", true, true, data); !parsed) {
      return parsed;
    }
  }
  auto resolved = optional_object(d, "resolved", "data");
  if (!resolved) return tl::unexpected(resolved.error());
  if (*resolved != nullptr) data.resolved = **resolved;
  return {};
}

Result<void> parse_component_data(const json::object& d, InteractionData& data) {
  auto custom_id = required_string(d, "custom_id", "data");
  if (!custom_id) return tl::unexpected(custom_id.error());
  data.custom_id = std::move(*custom_id);
  auto type = required_small_int(d, "component_type", "data", 1, 255, "a component type");
  if (!type) return tl::unexpected(type.error());
  data.component_type = *type;
  auto values = optional_array(d, "values", "data");
  if (!values) return tl::unexpected(values.error());
  if (*values != nullptr) {
    for (std::size_t i = 0; i < (*values)->size(); ++i) {
      const json::value& v = (**values)[i];
      if (!v.is_string()) return field_error(index_path("data.values", i), "must be a string");
      data.values.emplace_back(v.get_string());
    }
  }
  auto resolved = optional_object(d, "resolved", "data");
  if (!resolved) return tl::unexpected(resolved.error());
  if (*resolved != nullptr) data.resolved = **resolved;
  return {};
}

// One submitted modal component: text inputs carry `value`; other kinds are ignored.
Result<void> parse_modal_input(const json::value& v, const std::string& path,
                               InteractionData& data) {
  if (!v.is_object()) return field_error(path, "must be an object");
  const json::object& o = v.get_object();
  if (find(o, "value") == nullptr) return {};
  auto custom_id = required_string(o, "custom_id", path);
  if (!custom_id) return tl::unexpected(custom_id.error());
  auto value = required_string(o, "value", path);
  if (!value) return tl::unexpected(value.error());
  data.modal_values.insert_or_assign(std::move(*custom_id), std::move(*value));
  return {};
}

Result<void> parse_modal_data(const json::object& d, InteractionData& data) {
  auto custom_id = required_string(d, "custom_id", "data");
  if (!custom_id) return tl::unexpected(custom_id.error());
  data.custom_id = std::move(*custom_id);
  auto rows = optional_array(d, "components", "data");
  if (!rows) return tl::unexpected(rows.error());
  if (*rows == nullptr) return {};
  for (std::size_t i = 0; i < (*rows)->size(); ++i) {
    const std::string row_path = index_path("data.components", i);
    const json::value& row = (**rows)[i];
    if (!row.is_object()) return field_error(row_path, "must be an object");
    // Action rows hold `components`; label components (type 18) hold one `component`.
    auto children = optional_array(row.get_object(), "components", row_path);
    if (!children) return tl::unexpected(children.error());
    if (*children != nullptr) {
      for (std::size_t j = 0; j < (*children)->size(); ++j) {
        auto parsed =
            parse_modal_input((**children)[j], index_path(join(row_path, "components"), j), data);
        if (!parsed) return parsed;
      }
    }
    if (const json::value* child = find(row.get_object(), "component")) {
      if (auto parsed = parse_modal_input(*child, join(row_path, "component"), data); !parsed) {
        return parsed;
      }
    }
  }
  return {};
}

// PING carries nothing mando uses: take what is there without judging it, so Discord's
// endpoint check can never fail on a field we do not need.
Interaction parse_ping(const json::object& root) {
  Interaction interaction;
  interaction.type = InteractionType::kPing;
  auto take = [&](std::string_view key, std::string& out) {
    if (const json::value* v = find(root, key); v != nullptr && v->is_string()) {
      out = std::string(v->get_string());
    }
  };
  take("id", interaction.id);
  take("application_id", interaction.application_id);
  take("token", interaction.token);
  return interaction;
}

}  // namespace

std::string_view to_string(InteractionType type) {
  switch (type) {
    case InteractionType::kPing:
      return "PING";
    case InteractionType::kApplicationCommand:
      return "APPLICATION_COMMAND";
    case InteractionType::kMessageComponent:
      return "MESSAGE_COMPONENT";
    case InteractionType::kAutocomplete:
      return "APPLICATION_COMMAND_AUTOCOMPLETE";
    case InteractionType::kModalSubmit:
      return "MODAL_SUBMIT";
  }
  return "UNKNOWN";
}

std::string_view to_string(OptionType type) {
  switch (type) {
    case OptionType::kSubCommand:
      return "SUB_COMMAND";
    case OptionType::kSubCommandGroup:
      return "SUB_COMMAND_GROUP";
    case OptionType::kString:
      return "STRING";
    case OptionType::kInteger:
      return "INTEGER";
    case OptionType::kBoolean:
      return "BOOLEAN";
    case OptionType::kUser:
      return "USER";
    case OptionType::kChannel:
      return "CHANNEL";
    case OptionType::kRole:
      return "ROLE";
    case OptionType::kMentionable:
      return "MENTIONABLE";
    case OptionType::kNumber:
      return "NUMBER";
    case OptionType::kAttachment:
      return "ATTACHMENT";
  }
  return "UNKNOWN";
}

Result<Interaction> parse_interaction(std::string_view body) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  // The parsed tree lives only in this call (every field is copied out; data.resolved is
  // copy-assigned into the heap), so it is built in one arena, on the stack for a typical body,
  // instead of one allocation per string, array and object.
  unsigned char arena[4096];
  json::monotonic_resource resource(arena, sizeof arena);
  json::value root_value = json::parse(body, ec, &resource, options);
  if (ec) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("interaction: malformed JSON: {}", ec.message()));
  }
  if (!root_value.is_object()) {
    return fail(ErrorKind::kInvalidArgument, "interaction: body must be a JSON object");
  }
  const json::object& root = root_value.get_object();

  auto type = required_small_int(root, "type", "", 1, 5, "an interaction type");
  if (!type) return tl::unexpected(type.error());
  if (*type == static_cast<int>(InteractionType::kPing)) return parse_ping(root);

  Interaction interaction;
  interaction.type = static_cast<InteractionType>(*type);
  auto id = required_snowflake(root, "id", "");
  if (!id) return tl::unexpected(id.error());
  interaction.id = std::move(*id);
  auto application_id = required_snowflake(root, "application_id", "");
  if (!application_id) return tl::unexpected(application_id.error());
  interaction.application_id = std::move(*application_id);
  auto token = required_string(root, "token", "");
  if (!token) return tl::unexpected(token.error());
  if (token->empty()) return field_error("token", "must not be empty");
  interaction.token = std::move(*token);
  auto version = optional_int(root, "version", "");
  if (!version) return tl::unexpected(version.error());
  if (*version) {
    if (**version < 0 || **version > std::numeric_limits<int>::max()) {
      return field_error("version", "must be a small positive integer");
    }
    interaction.version = static_cast<int>(**version);
  }

  auto guild_id = optional_snowflake(root, "guild_id", "");
  if (!guild_id) return tl::unexpected(guild_id.error());
  interaction.guild_id = std::move(*guild_id);
  auto channel_id = optional_snowflake(root, "channel_id", "");
  if (!channel_id) return tl::unexpected(channel_id.error());
  interaction.channel_id = std::move(*channel_id);
  auto locale = optional_string(root, "locale", "");
  if (!locale) return tl::unexpected(locale.error());
  interaction.locale = locale->value_or("");
  auto guild_locale = optional_string(root, "guild_locale", "");
  if (!guild_locale) return tl::unexpected(guild_locale.error());
  interaction.guild_locale = std::move(*guild_locale);
  auto size_limit = optional_int(root, "attachment_size_limit", "");
  if (!size_limit) return tl::unexpected(size_limit.error());
  if (*size_limit) {
    if (**size_limit < 0) return field_error("attachment_size_limit", "must not be negative");
    interaction.attachment_size_limit = static_cast<std::uint64_t>(**size_limit);
  }

  auto channel = optional_object(root, "channel", "");
  if (!channel) return tl::unexpected(channel.error());
  if (*channel != nullptr) {
    const auto* nsfw = (*channel)->if_contains("nsfw");
    if (nsfw != nullptr && !nsfw->is_bool() && !nsfw->is_null()) {
      return field_error("channel.nsfw", "must be a boolean");
    }
    interaction.channel_nsfw = nsfw != nullptr && nsfw->is_bool() && nsfw->get_bool();
  }

  if (const auto* perms = root.if_contains("app_permissions"); perms != nullptr) {
    std::uint64_t bits = 0;
    const std::string_view text = perms->is_string() ? std::string_view(perms->get_string()) : "";
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bits);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      return field_error("app_permissions", "must be a permission bit set as a decimal string");
    }
    interaction.app_permissions = bits;
  }
  auto owners = optional_object(root, "authorizing_integration_owners", "");
  if (!owners) return tl::unexpected(owners.error());
  interaction.guild_install = *owners != nullptr && (*owners)->contains("0");

  auto message = optional_object(root, "message", "");
  if (!message) return tl::unexpected(message.error());
  if (*message != nullptr) {
    auto message_id = optional_snowflake(**message, "id", "message");
    if (!message_id) return tl::unexpected(message_id.error());
    interaction.message_id = std::move(*message_id);
  }

  // In a guild the user is member.user; in DMs and group DMs it is the top-level user.
  auto member = optional_object(root, "member", "");
  if (!member) return tl::unexpected(member.error());
  if (*member != nullptr) {
    auto member_user = optional_object(**member, "user", "member");
    if (!member_user) return tl::unexpected(member_user.error());
    if (*member_user == nullptr) return field_error("member.user", "must be an object");
    auto user = parse_user(**member_user, "member.user");
    if (!user) return tl::unexpected(user.error());
    interaction.user = std::move(*user);
  } else {
    auto top_user = optional_object(root, "user", "");
    if (!top_user) return tl::unexpected(top_user.error());
    if (*top_user == nullptr) {
      return fail(ErrorKind::kInvalidArgument,
                  "interaction: field `member.user` (in a guild) or `user` (in a DM) must be an "
                  "object");
    }
    auto user = parse_user(**top_user, "user");
    if (!user) return tl::unexpected(user.error());
    interaction.user = std::move(*user);
  }

  auto data = optional_object(root, "data", "");
  if (!data) return tl::unexpected(data.error());
  if (*data == nullptr) return field_error("data", "must be an object");
  Result<void> parsed;
  switch (interaction.type) {
    case InteractionType::kApplicationCommand:
    case InteractionType::kAutocomplete:
      parsed = parse_command_data(**data, interaction.data);
      break;
    case InteractionType::kMessageComponent:
      parsed = parse_component_data(**data, interaction.data);
      break;
    case InteractionType::kModalSubmit:
      parsed = parse_modal_data(**data, interaction.data);
      break;
    case InteractionType::kPing:
      break;
  }
  if (!parsed) return tl::unexpected(parsed.error());
  return interaction;
}

// ---------------------------------------------------------------------------------------------
// Responses

namespace {

json::object message_data(std::string_view content) {
  json::object data;
  data["content"] = content;
  data["allowed_mentions"] = json::object{{"parse", json::array()}};
  return data;
}

}  // namespace

InteractionResponse InteractionResponse::pong() { return {ResponseType::kPong, {}}; }

InteractionResponse InteractionResponse::message(std::string_view content) {
  return {ResponseType::kChannelMessageWithSource, message_data(content)};
}

InteractionResponse InteractionResponse::ephemeral(std::string_view content) {
  InteractionResponse r = message(content);
  r.data["flags"] = kEphemeralFlag;
  return r;
}

InteractionResponse InteractionResponse::deferred(bool ephemeral) {
  InteractionResponse r{ResponseType::kDeferredChannelMessageWithSource, {}};
  if (ephemeral) r.data["flags"] = kEphemeralFlag;
  return r;
}

InteractionResponse InteractionResponse::deferred_update() {
  return {ResponseType::kDeferredUpdateMessage, {}};
}

InteractionResponse InteractionResponse::update(std::string_view content) {
  return {ResponseType::kUpdateMessage, message_data(content)};
}

InteractionResponse InteractionResponse::autocomplete(const std::vector<Choice>& choices) {
  json::array list;
  list.reserve(choices.size());
  for (const Choice& choice : choices) {
    json::object c;
    c["name"] = choice.name;
    std::visit([&](const auto& v) { c["value"] = v; }, choice.value);
    list.push_back(std::move(c));
  }
  InteractionResponse r{ResponseType::kApplicationCommandAutocompleteResult, {}};
  r.data["choices"] = std::move(list);
  return r;
}

InteractionResponse InteractionResponse::modal(std::string_view custom_id, std::string_view title,
                                               boost::json::array components) {
  InteractionResponse r{ResponseType::kModal, {}};
  r.data["custom_id"] = custom_id;
  r.data["title"] = title;
  r.data["components"] = std::move(components);
  return r;
}

bool InteractionResponse::is_ephemeral() const {
  const json::value* flags = data.if_contains("flags");
  return flags != nullptr && flags->is_int64() && (flags->get_int64() & kEphemeralFlag) != 0;
}

std::string_view InteractionResponse::content() const {
  const json::value* content = data.if_contains("content");
  if (content == nullptr || !content->is_string()) return {};
  return content->get_string();
}

std::string InteractionResponse::to_json() const {
  json::object o;
  o["type"] = static_cast<int>(type);
  if (!data.empty()) o["data"] = data;
  return json::serialize(o);
}

}  // namespace mando::discord
