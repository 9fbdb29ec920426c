#include "emulator/message_model.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <utility>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "core/crypto.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"

namespace mando::emulator {
namespace {

namespace json = boost::json;
using Steady = std::chrono::steady_clock;

constexpr std::size_t kMaxContent = 2000;
constexpr std::size_t kMaxEmbeds = 10;
constexpr std::size_t kMaxRows = 5;
constexpr std::size_t kMaxAttachments = 10;

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("emulator");
  return logger;
}

std::string new_token(std::string_view interaction_id) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string secret(32, 'x');
  for (char& c : secret) c = kAlphabet[randombytes_uniform(sizeof kAlphabet - 1)];
  return core::to_base64(fmt::format("interaction:{}:{}", interaction_id, secret),
                         core::Base64::kUrlNoPadding);
}

std::optional<RestError> validate_embeds(const json::value& embeds) {
  if (!embeds.is_array()) return form_error({"embeds"}, "BASE_TYPE_LIST", "Must be a list.");
  if (embeds.as_array().size() > kMaxEmbeds) {
    return form_error({"embeds"}, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
  }
  for (std::size_t i = 0; i < embeds.as_array().size(); ++i) {
    const auto& e = embeds.as_array()[i];
    const std::string index = std::to_string(i);
    if (!e.is_object()) {
      return form_error({"embeds", index}, "DICT_TYPE_CONVERT",
                        "Only dictionaries may be used in a DictType");
    }
    const auto* title = e.as_object().if_contains("title");
    if (title && title->is_string() && code_points(title->as_string()) > 256) {
      return form_error({"embeds", index, "title"}, "BASE_TYPE_MAX_LENGTH",
                        "Must be 256 or fewer in length.");
    }
    const auto* description = e.as_object().if_contains("description");
    if (description && description->is_string() && code_points(description->as_string()) > 4096) {
      return form_error({"embeds", index, "description"}, "BASE_TYPE_MAX_LENGTH",
                        "Must be 4096 or fewer in length.");
    }
  }
  return std::nullopt;
}

std::optional<RestError> validate_payload(const json::object& p) {
  if (const auto* content = p.if_contains("content"); content && !content->is_null()) {
    if (!content->is_string()) {
      return form_error({"content"}, "BASE_TYPE_STRING", "Must be a string.");
    }
    if (code_points(content->as_string()) > kMaxContent) {
      return form_error({"content"}, "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.");
    }
  }
  if (const auto* embeds = p.if_contains("embeds"); embeds && !embeds->is_null()) {
    if (auto error = validate_embeds(*embeds)) return error;
  }
  if (const auto* components = p.if_contains("components"); components && !components->is_null()) {
    if (!components->is_array()) {
      return form_error({"components"}, "BASE_TYPE_LIST", "Must be a list.");
    }
    if (components->as_array().size() > kMaxRows) {
      return form_error({"components"}, "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.");
    }
  }
  if (const auto* flags = p.if_contains("flags"); flags && !flags->is_null() && !to_int(*flags)) {
    return form_error({"flags"}, "NUMBER_TYPE_COERCE", "Value is not int.");
  }
  if (const auto* attachments = p.if_contains("attachments");
      attachments && !attachments->is_null() && !attachments->is_array()) {
    return form_error({"attachments"}, "BASE_TYPE_LIST", "Must be a list.");
  }
  return std::nullopt;
}

// attachment://name in embed images resolves to the attachment, as Discord does.
void resolve_embed_media(json::array& embeds, const json::array& attachments) {
  for (auto& embed : embeds) {
    if (!embed.is_object()) continue;
    for (const char* field : {"image", "thumbnail"}) {
      auto* media = embed.as_object().if_contains(field);
      if (media == nullptr || !media->is_object()) continue;
      auto* url = media->as_object().if_contains("url");
      if (url == nullptr || !url->is_string()) continue;
      const std::string_view u = url->as_string();
      if (u.substr(0, 13) != "attachment://") continue;
      for (const auto& a : attachments) {
        if (a.as_object().at("filename").as_string() == u.substr(13)) {
          auto& obj = media->as_object();
          obj["url"] = a.as_object().at("url");
          obj["proxy_url"] = a.as_object().at("proxy_url");
          if (auto* w = a.as_object().if_contains("width")) obj["width"] = *w;
          if (auto* h = a.as_object().if_contains("height")) obj["height"] = *h;
          break;
        }
      }
    }
    if (!embed.as_object().contains("type")) embed.as_object()["type"] = "rich";
  }
}

// CHAT_INPUT names are lower-case tokens; USER and MESSAGE menu entries may hold capitals and
// spaces, on one line.
bool valid_command_name(const json::value* name, std::int64_t type) {
  if (!name || !name->is_string() || name->as_string().empty()) return false;
  const std::string_view text = name->as_string();
  if (type != 1) {
    return core::code_points(text) <= 32 && text.find_first_of("\n\r\t") == std::string::npos;
  }
  return text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
         });
}

}  // namespace

MessageModel::MessageModel(std::string application_id, std::chrono::seconds token_lifetime)
    : application_id_(std::move(application_id)), token_lifetime_(token_lifetime) {
  if (sodium_init() < 0) std::abort();  // libsodium cannot work at all: nothing to recover
}

void MessageModel::set_public_url(std::string url, bool explicit_url) {
  public_url_ = std::move(url);
  public_url_explicit_ = explicit_url;
}

std::string MessageModel::next_snowflake() {
  std::int64_t ms = unix_ms();
  if (ms <= last_snowflake_ms_) {
    ms = last_snowflake_ms_;
    if (++increment_ == 4096) {  // 4096 ids in one millisecond: borrow the next one
      ++ms;
      increment_ = 0;
    }
  } else {
    increment_ = 0;
  }
  last_snowflake_ms_ = ms;
  // Worker 1, process 0: what Discord's ids look like; the time is readable from the id.
  const std::uint64_t id = (static_cast<std::uint64_t>(ms - kDiscordEpochMs) << 22) | (1u << 17) |
                           static_cast<std::uint64_t>(increment_);
  return std::to_string(id);
}

// --- Interactions ----------------------------------------------------------------------------

InteractionRecord& MessageModel::open_interaction(InteractionRecord rec) {
  rec.id = next_snowflake();
  rec.token = new_token(rec.id);
  rec.created_ms = unix_ms();
  rec.expires_at = Steady::now() + token_lifetime_;
  rec.in_flight = true;
  rec.authorizing_integration_owners = {{"0", rec.guild_id.empty() ? "0" : rec.guild_id}};
  tokens_[rec.token] = rec.id;
  ++interactions_sent_;
  const std::string id = rec.id;
  return interactions_.insert_or_assign(id, std::move(rec)).first->second;
}

InteractionRecord* MessageModel::interaction(std::string_view id) {
  auto it = interactions_.find(id);
  return it == interactions_.end() ? nullptr : &it->second;
}

InteractionRecord* MessageModel::token_interaction(std::string_view application_id,
                                                   std::string_view token, Steady::time_point now,
                                                   RestError& error) {
  auto it = tokens_.find(token);
  if (application_id != application_id_ || it == tokens_.end()) {
    error = unknown_webhook();
    return nullptr;
  }
  InteractionRecord& rec = interactions_.at(it->second);
  if (now >= rec.expires_at) {
    error = invalid_token();
    return nullptr;
  }
  return &rec;
}

bool MessageModel::token_in_flight(std::string_view token) const {
  auto it = tokens_.find(token);
  return it != tokens_.end() && interactions_.at(it->second).in_flight;
}

bool MessageModel::expire(std::string_view interaction_id, Steady::time_point now) {
  InteractionRecord* rec = interaction(interaction_id);
  if (rec == nullptr) return false;
  rec->expires_at = now;
  return true;
}

std::string MessageModel::apply_response(InteractionRecord& rec, const json::value& response,
                                         const std::map<int, FormPart>& files) {
  if (!response.is_object()) return "the response is not a JSON object";
  const auto& r = response.as_object();
  const auto* type_value = r.if_contains("type");
  if (type_value == nullptr || !to_int(*type_value)) return "the response has no integer `type`";
  const std::int64_t type = *to_int(*type_value);
  json::object data;
  if (const auto* d = r.if_contains("data"); d && !d->is_null()) {
    if (!d->is_object()) return "`data` is not an object";
    data = d->as_object();
  }
  const bool component = rec.type == 3;
  auto invalid = [](const RestError& error) {
    return "invalid message: " + error.message + " " + json::serialize(error.errors);
  };
  switch (type) {
    case 4: {
      Message& m = new_message(rec, 20);
      if (auto error = apply_payload(m, data, files, true)) {
        delete_message(m);
        return invalid(*error);
      }
      rec.original_message_id = m.id;
      break;
    }
    case 5: {
      Message& m = new_message(rec, 20);
      const auto* flags = data.if_contains("flags");
      const std::int64_t asked = flags ? to_int(*flags).value_or(0) : 0;
      m.flags = kLoadingFlag | (asked & kEphemeralFlag);
      rec.original_message_id = m.id;
      break;
    }
    case 6:
      if (!component) return "type 6 (DEFERRED_UPDATE_MESSAGE) is only valid for components";
      rec.original_message_id = rec.component_message_id;
      break;
    case 7: {
      if (!component) return "type 7 (UPDATE_MESSAGE) is only valid for components";
      Message* m = find_message(rec.component_message_id);
      if (m == nullptr) return "the component's message is gone";
      if (auto error = apply_payload(*m, data, files, false)) return invalid(*error);
      rec.original_message_id = m->id;
      break;
    }
    case 9: {
      const auto* custom_id = data.if_contains("custom_id");
      const auto* title = data.if_contains("title");
      const auto* components = data.if_contains("components");
      if (!custom_id || !custom_id->is_string() || !title || !title->is_string() || !components ||
          !components->is_array()) {
        return "a modal needs data.custom_id, data.title and data.components";
      }
      rec.modal = data;
      break;
    }
    case 1:
      return "type 1 (PONG) only answers a PING";
    case 8:
      return "type 8 (AUTOCOMPLETE_RESULT) only answers an autocomplete interaction";
    default:
      return fmt::format("unknown response type {}", type);
  }
  rec.acknowledged = true;
  rec.response_type = static_cast<int>(type);
  ++responses_by_type_[static_cast<int>(type)];
  return {};
}

void MessageModel::fail_interaction(InteractionRecord& rec, std::string_view reason) {
  if (rec.failed || rec.acknowledged) return;
  rec.failed = true;
  ++interactions_failed_;
  module_log()->info("interaction failed interaction_id={} reason=\"{}\"", rec.id, reason);
}

// --- Messages --------------------------------------------------------------------------------

StoredAttachment MessageModel::store_file(const FormPart& part, std::string filename,
                                          std::string description) {
  StoredAttachment a;
  a.id = next_snowflake();
  a.filename = filename.empty() ? (part.filename ? *part.filename : "unknown") : filename;
  // A filename goes into a URL path: keep it one segment.
  for (char& c : a.filename) {
    if (c == '/' || c == '\\' || c == '?' || c == '#' || static_cast<unsigned char>(c) < 0x20) {
      c = '_';
    }
  }
  if (a.filename.empty()) a.filename = "unknown";
  a.png = png_size(part.data);
  a.content_type = !part.content_type.empty() ? part.content_type
                   : a.png                    ? "image/png"
                                              : "application/octet-stream";
  a.description = std::move(description);
  a.data = std::make_shared<const std::string>(part.data);
  return a;
}

// Fields present replace; `attachments` decides which existing attachments stay (v10: the list
// of everything that should remain, by id, plus new uploads by their files[N] index), and
// files not listed are appended.
std::optional<RestError> MessageModel::apply_payload(Message& m, const json::object& p,
                                                     const std::map<int, FormPart>& files,
                                                     bool create) {
  if (auto error = validate_payload(p)) return error;
  Message next = m;
  if (const auto* v = p.if_contains("content")) {
    next.content = v->is_string() ? std::string(v->as_string()) : std::string();
  }
  if (const auto* v = p.if_contains("embeds")) {
    next.embeds = v->is_array() ? v->as_array() : json::array{};
  }
  if (const auto* v = p.if_contains("components")) {
    next.components = v->is_array() ? v->as_array() : json::array{};
  }
  if (const auto* v = p.if_contains("flags"); v && !v->is_null()) {
    const std::int64_t asked = *to_int(*v);
    // Only ephemeral (at creation), suppress embeds and suppress notifications can be set.
    const std::int64_t settable =
        kSuppressEmbedsFlag | kSuppressNotificationsFlag | (create ? kEphemeralFlag : 0);
    next.flags = (next.flags & ~settable) | (asked & settable);
  }
  std::vector<StoredAttachment> added;
  std::set<int> used;
  const auto* listed = p.if_contains("attachments");
  if (listed != nullptr && listed->is_array()) {
    std::vector<std::string> keep;
    for (std::size_t i = 0; i < listed->as_array().size(); ++i) {
      const auto& entry = listed->as_array()[i];
      const std::string index = std::to_string(i);
      const auto* id = entry.is_object() ? entry.as_object().if_contains("id") : nullptr;
      if (id == nullptr) {
        return form_error({"attachments", index, "id"}, "BASE_TYPE_REQUIRED",
                          "This field is required");
      }
      std::string id_text = id->is_string() ? std::string(id->as_string())
                            : to_int(*id)   ? std::to_string(*to_int(*id))
                                            : std::string();
      const auto existing = std::find(m.attachments.begin(), m.attachments.end(), id_text);
      if (existing != m.attachments.end() && !create) {
        keep.push_back(id_text);
        continue;
      }
      const int n = id_text.size() <= 2 && is_snowflake(id_text) ? std::stoi(id_text) : -1;
      const auto file = files.find(n);
      if (file == files.end()) {
        return form_error({"attachments", index, "id"}, "ATTACHMENT_NOT_FOUND",
                          "Unknown attachment or file");
      }
      const auto& obj = entry.as_object();
      const auto* filename = obj.if_contains("filename");
      const auto* description = obj.if_contains("description");
      added.push_back(store_file(
          file->second, filename && filename->is_string() ? std::string(filename->as_string()) : "",
          description && description->is_string() ? std::string(description->as_string()) : ""));
      used.insert(n);
    }
    next.attachments = std::move(keep);
  }
  for (const auto& [n, part] : files) {
    if (!used.contains(n)) added.push_back(store_file(part, "", ""));
  }
  if (next.attachments.size() + added.size() > kMaxAttachments) {
    return form_error({"attachments"}, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
  }
  for (auto& a : added) next.attachments.push_back(a.id);
  if (next.content.empty() && next.embeds.empty() && next.components.empty() &&
      next.attachments.empty()) {
    return empty_message();
  }
  for (auto& a : added) attachments_.emplace(a.id, std::move(a));
  const std::int64_t now = unix_ms();
  if (!create) {
    next.version = m.version + 1;
    next.edited_ms = now;
  }
  next.flags &= ~kLoadingFlag;
  if (!next.completed_ms) next.completed_ms = now;
  m = std::move(next);
  touch(m);
  return std::nullopt;
}

Message& MessageModel::new_message(InteractionRecord& rec, int type) {
  Message m;
  m.id = next_snowflake();
  m.channel_id = rec.channel_id;
  m.interaction_id = rec.id;
  m.type = type;
  m.timestamp_ms = unix_ms();
  m.interaction_ms = rec.created_ms;
  const json::object user = user_object(rec.user_id);
  m.interaction_metadata = {{"id", rec.id},
                            {"type", rec.type},
                            {"user", user},
                            {"authorizing_integration_owners", rec.authorizing_integration_owners}};
  if (rec.type == 3) m.interaction_metadata["interacted_message_id"] = rec.component_message_id;
  if (type == 19 && !rec.original_message_id.empty()) {
    m.interaction_metadata["original_response_message_id"] = rec.original_message_id;
  }
  if (rec.type == 2) {
    m.legacy_interaction = {{"id", rec.id}, {"type", rec.type}, {"name", rec.name}, {"user", user}};
  }
  order_.push_back(m.id);
  const std::string id = m.id;
  Message& stored = messages_.emplace(id, std::move(m)).first->second;
  touch(stored);
  return stored;
}

Message* MessageModel::find_message(std::string_view id) {
  auto it = messages_.find(id);
  return it == messages_.end() || it->second.deleted ? nullptr : &it->second;
}

void MessageModel::delete_message(Message& m) {
  m.deleted = true;
  ++m.version;
  touch(m);
}

void MessageModel::note_blocked_edit(Message& m) {
  ++m.blocked_edits;
  touch(m);
}

void MessageModel::touch(Message& m) {
  if (m.seq != 0) by_seq_.erase(m.seq);
  m.seq = ++seq_;
  by_seq_.emplace(m.seq, m.id);
}

json::object MessageModel::attachment_json(const StoredAttachment& a) const {
  const std::string base = public_url_.empty() ? std::string("http://127.0.0.1") : public_url_;
  const std::string url = fmt::format("{}/_emulator/attachments/{}/{}", base, a.id, a.filename);
  json::object o{{"id", a.id}, {"filename", a.filename}, {"size", a.data->size()},
                 {"url", url}, {"proxy_url", url},       {"content_type", a.content_type}};
  if (!a.description.empty()) o["description"] = a.description;
  if (a.png) {
    o["width"] = a.png->width;
    o["height"] = a.png->height;
  }
  return o;
}

json::object MessageModel::message_json(const Message& m, bool extras) const {
  json::array attachments;
  for (const std::string& id : m.attachments) {
    if (auto it = attachments_.find(id); it != attachments_.end()) {
      attachments.push_back(attachment_json(it->second));
    }
  }
  json::array embeds = m.embeds;
  resolve_embed_media(embeds, attachments);
  json::object o{
      {"type", m.type},
      {"content", m.content},
      {"mentions", json::array{}},
      {"mention_roles", json::array{}},
      {"attachments", std::move(attachments)},
      {"embeds", std::move(embeds)},
      {"timestamp", iso_time(m.timestamp_ms)},
      {"edited_timestamp",
       m.edited_ms == 0 ? json::value(nullptr) : json::value(iso_time(m.edited_ms))},
      {"flags", m.flags},
      {"components", m.components},
      {"id", m.id},
      {"channel_id", m.channel_id},
      {"author",
       {{"id", application_id_},
        {"username", "mando"},
        {"avatar", nullptr},
        {"discriminator", "0"},
        {"public_flags", 0},
        {"bot", true},
        {"global_name", nullptr}}},
      {"pinned", false},
      {"mention_everyone", false},
      {"tts", false},
      {"application_id", application_id_},
      {"webhook_id", application_id_},
      {"interaction_metadata", m.interaction_metadata},
  };
  if (!m.legacy_interaction.empty()) o["interaction"] = m.legacy_interaction;
  if (extras) {
    o["version"] = m.version;
    o["interaction_id"] = m.interaction_id;
    o["created_ms"] = m.interaction_ms;
    if (m.completed_ms) o["completed_ms"] = *m.completed_ms;
    if (m.deleted) o["deleted"] = true;
    if (m.blocked_edits > 0) o["blocked_edits"] = m.blocked_edits;
  }
  return o;
}

json::array MessageModel::messages_json() const {
  json::array out;
  for (const auto& id : order_) {
    const Message& m = messages_.at(id);
    if (!m.deleted) out.push_back(message_json(m, true));
  }
  return out;
}

std::optional<json::object> MessageModel::message_json(std::string_view id) const {
  auto it = messages_.find(id);
  if (it == messages_.end()) return std::nullopt;
  return message_json(it->second, true);
}

std::optional<std::int64_t> MessageModel::version(std::string_view id) const {
  auto it = messages_.find(id);
  if (it == messages_.end()) return std::nullopt;
  return it->second.version;
}

bool MessageModel::deleted(std::string_view id) const {
  auto it = messages_.find(id);
  return it != messages_.end() && it->second.deleted;
}

const StoredAttachment* MessageModel::attachment(std::string_view id) const {
  auto it = attachments_.find(id);
  return it == attachments_.end() ? nullptr : &it->second;
}

json::object MessageModel::add_upload(const FormPart& file) {
  StoredAttachment a = store_file(file, "", "");
  const std::string id = a.id;
  uploads_.push_back(id);
  attachments_.emplace(id, std::move(a));
  return *upload_json(id);
}

std::optional<json::object> MessageModel::upload_json(std::string_view id_or_filename) const {
  for (auto it = uploads_.rbegin(); it != uploads_.rend(); ++it) {
    const StoredAttachment& a = attachments_.at(*it);
    if (a.id != id_or_filename && a.filename != id_or_filename) continue;
    json::object o = attachment_json(a);
    o["ephemeral"] = true;
    return o;
  }
  return std::nullopt;
}

Changes MessageModel::changes_since(std::uint64_t cursor, std::size_t limit) const {
  Changes out;
  if (cursor > seq_) {
    out.reset = true;
    cursor = 0;
  }
  out.cursor = cursor;
  for (auto it = by_seq_.upper_bound(cursor); it != by_seq_.end(); ++it) {
    if (out.messages.size() == limit) {
      out.more = true;
      break;
    }
    out.messages.push_back(message_json(messages_.at(it->second), true));
    out.cursor = it->first;
  }
  if (!out.more) out.cursor = seq_;
  return out;
}

// --- Commands --------------------------------------------------------------------------------

std::string MessageModel::command_id(const std::string& name) {
  for (const auto& c : commands_) {
    if (c.as_object().at("name").as_string() == name) {
      return std::string(c.as_object().at("id").as_string());
    }
  }
  auto [it, inserted] = unregistered_command_ids_.try_emplace(name);
  if (inserted) it->second = next_snowflake();
  return it->second;
}

Result<json::array> MessageModel::put_commands(const json::value& body, RestError& error) {
  auto refuse = [&](RestError e) {
    error = std::move(e);
    return fail(ErrorKind::kInvalidArgument, error.message);
  };
  if (!body.is_array()) return refuse(form_error({}, "BASE_TYPE_LIST", "Must be a list."));
  if (body.as_array().size() > 100) {
    return refuse(form_error({}, "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."));
  }
  json::array stored;
  for (std::size_t i = 0; i < body.as_array().size(); ++i) {
    const std::string index = std::to_string(i);
    const auto& entry = body.as_array()[i];
    if (!entry.is_object()) {
      return refuse(
          form_error({index}, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"));
    }
    json::object command = entry.as_object();
    const auto* name = command.if_contains("name");
    const std::int64_t type = command.contains("type") ? to_int(command.at("type")).value_or(0) : 1;
    if (!valid_command_name(name, type)) {
      return refuse(form_error({index, "name"}, "APPLICATION_COMMAND_INVALID_NAME",
                               "Command name is invalid"));
    }
    const auto* description = command.if_contains("description");
    if (type == 1 && (!description || !description->is_string() ||
                      description->as_string().empty() || description->as_string().size() > 100)) {
      return refuse(form_error({index, "description"}, "BASE_TYPE_BAD_LENGTH",
                               "Must be between 1 and 100 in length."));
    }
    // A command keeps its id across registrations, as Discord's upsert does.
    command["id"] = command_id(std::string(name->as_string()));
    command["application_id"] = application_id_;
    command["version"] = next_snowflake();
    command["type"] = type;
    if (!command.contains("default_member_permissions")) {
      command["default_member_permissions"] = nullptr;
    }
    if (!command.contains("nsfw")) command["nsfw"] = false;
    if (!command.contains("description")) command["description"] = "";
    stored.push_back(std::move(command));
  }
  commands_ = stored;
  return stored;
}

// --- Stats -----------------------------------------------------------------------------------

std::size_t MessageModel::completed() const {
  std::size_t n = 0;
  for (const auto& [id, m] : messages_) {
    if (!m.deleted && (m.flags & kLoadingFlag) == 0) ++n;
  }
  return n;
}

json::object MessageModel::stats() const {
  json::object by_type;
  for (const auto& [type, n] : responses_by_type_) by_type[std::to_string(type)] = n;
  std::int64_t completed = 0, loading = 0;
  for (const auto& [id, m] : messages_) {
    if (m.deleted) continue;
    ((m.flags & kLoadingFlag) != 0 ? loading : completed) += 1;
  }
  return {{"interactions",
           {{"sent", interactions_sent_},
            {"failed", interactions_failed_},
            {"by_response_type", by_type}}},
          {"messages", {{"completed", completed}, {"loading", loading}}}};
}

}  // namespace mando::emulator
