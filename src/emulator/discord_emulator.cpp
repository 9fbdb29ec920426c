#include "emulator/discord_emulator.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "core/crypto.hpp"
#include "core/log.hpp"
#include "emulator/multipart.hpp"
#include "emulator/png_info.hpp"
#include "emulator/web_page.hpp"

namespace mando::emulator {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Steady = std::chrono::steady_clock;
using Channel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

constexpr std::int64_t kDiscordEpochMs = 1420070400000;
constexpr std::int64_t kEphemeralFlag = 64;
constexpr std::int64_t kLoadingFlag = 128;
constexpr std::int64_t kSuppressEmbedsFlag = 4;
constexpr std::int64_t kSuppressNotificationsFlag = 4096;
constexpr std::string_view kDefaultUserId = "1180000000000000060";
constexpr std::string_view kDefaultGuildId = "1180000000000000020";
constexpr std::string_view kGuildChannelId = "1180000000000000030";
constexpr std::string_view kDmChannelId = "1180000000000000031";
constexpr std::size_t kMaxContent = 2000;
constexpr std::size_t kMaxEmbeds = 10;
constexpr std::size_t kMaxRows = 5;
constexpr std::size_t kMaxAttachments = 10;
constexpr std::size_t kMaxFileBytes = 10 * 1024 * 1024;  // Discord's attachment_size_limit
constexpr std::int64_t kMaxWaitMs = 30000;

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("emulator");
  return logger;
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Discord's ISO 8601 form: "2026-11-22T06:00:00.000000+00:00".
std::string iso_time(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (ms % 1000) * 1000);
}

bool is_snowflake(std::string_view s) {
  return !s.empty() && s.size() <= 20 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// UTF-8 code points: Discord's length limits count characters, not bytes.
std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

json::object user_object(std::string_view id) {
  const bool is_default = id == kDefaultUserId;
  const std::string username =
      is_default ? "tester" : "user" + std::string(id.substr(id.size() > 4 ? id.size() - 4 : 0));
  return json::object{{"avatar", nullptr},
                      {"avatar_decoration_data", nullptr},
                      {"clan", nullptr},
                      {"discriminator", "0"},
                      {"global_name", is_default ? "Tester" : username},
                      {"id", id},
                      {"public_flags", 0},
                      {"username", username}};
}

// --- Errors in Discord's shape ---------------------------------------------------------------

struct RestError {
  int status = 400;
  int code = 0;
  std::string message;
  json::object errors;  // for 50035 Invalid Form Body
};

RestError form_error(std::initializer_list<std::string_view> path, std::string_view code,
                     std::string_view message) {
  json::object leaf{{"_errors", json::array{json::object{{"code", code}, {"message", message}}}}};
  json::value node = std::move(leaf);
  for (auto it = std::rbegin(path); it != std::rend(path); ++it) {
    node = json::object{{*it, std::move(node)}};
  }
  RestError error{400, 50035, "Invalid Form Body", {}};
  error.errors = std::move(node.as_object());
  return error;
}

RestError unknown_webhook() { return {404, 10015, "Unknown Webhook", {}}; }
RestError unknown_message() { return {404, 10008, "Unknown Message", {}}; }
RestError invalid_token() { return {401, 50027, "Invalid Webhook Token", {}}; }
RestError invalid_json() { return {400, 50109, "The request body contains invalid JSON.", {}}; }
RestError empty_message() { return {400, 50006, "Cannot send an empty message", {}}; }

net::Response error_response(const RestError& error) {
  json::object body{{"message", error.message}, {"code", error.code}};
  if (!error.errors.empty()) body["errors"] = error.errors;
  return net::Response::json(error.status, json::serialize(body));
}

// --- State ------------------------------------------------------------------------------------

struct StoredAttachment {
  std::string id;
  std::string filename;
  std::string content_type;
  std::string description;
  std::shared_ptr<const std::string> data;
  std::optional<PngSize> png;
};

struct Message {
  std::string id;
  std::string channel_id;
  std::string interaction_id;
  int type = 20;  // 20 CHAT_INPUT_COMMAND reply, 19 REPLY (follow-ups)
  std::string content;
  json::array embeds;
  json::array components;
  std::vector<std::string> attachments;  // ids into Impl::attachments_
  std::int64_t flags = 0;
  std::int64_t timestamp_ms = 0;
  std::int64_t edited_ms = 0;  // 0: never edited
  std::int64_t version = 1;
  std::int64_t interaction_ms = 0;
  std::optional<std::int64_t> completed_ms;
  bool deleted = false;
  json::object interaction_metadata;
  json::object legacy_interaction;  // the deprecated `interaction` field
};

struct InteractionRecord {
  std::string id;
  std::string token;
  int type = 2;
  std::string name;  // command name
  std::string user_id;
  std::string channel_id;
  std::string guild_id;  // empty in DMs
  json::object authorizing_integration_owners;
  std::string component_message_id;  // MESSAGE_COMPONENT: the message the component is on
  std::int64_t created_ms = 0;
  Steady::time_point expires_at{};
  bool in_flight = false;  // the POST to the bot has not been answered yet
  bool acknowledged = false;
  bool failed = false;
  int response_type = 0;
  std::string original_message_id;  // "@original", once there is one
  json::object modal;               // a type 9 answer
};

struct Bucket {
  Steady::time_point reset_at{};
  int used = 0;
  Steady::time_point blocked_until{};    // an (injected) 429's retry_after
  Steady::time_point exhausted_until{};  // what the client was told: nothing before this
  bool last_was_429 = false;
};

struct RateHeaders {
  int limit = 0;
  int remaining = 0;
  double reset_after = 0;
  std::string bucket;
};

void set_rate_headers(net::Response& response, const RateHeaders& h) {
  const double reset =
      static_cast<double>(unix_ms()) / 1000.0 + h.reset_after;  // epoch seconds, ms decimals
  response.headers.set("X-RateLimit-Limit", std::to_string(h.limit));
  response.headers.set("X-RateLimit-Remaining", std::to_string(h.remaining));
  response.headers.set("X-RateLimit-Reset", fmt::format("{:.3f}", reset));
  response.headers.set("X-RateLimit-Reset-After", fmt::format("{:.3f}", h.reset_after));
  response.headers.set("X-RateLimit-Bucket", h.bucket);
}

net::Response too_many_requests(const RateHeaders& h, double retry_after) {
  auto response = net::Response::json(
      429, fmt::format(R"({{"message":"You are being rate limited.","retry_after":{:.3f},)"
                       R"("global":false}})",
                       retry_after));
  set_rate_headers(response, h);
  response.headers.set("Retry-After", std::to_string(static_cast<long>(std::ceil(retry_after))));
  response.headers.set("X-RateLimit-Scope", "user");
  return response;
}

// A route of the REST API, once matched.
struct RestRoute {
  std::string family;     // fault FIFO name: "@original", "message", "followup", ...
  std::string template_;  // "PATCH /webhooks/{application.id}/{interaction.token}/..."
  std::string token;      // interaction token ("" for application routes)
  std::string message_id;
  std::string interaction_id;
};

struct Payload {
  json::object object;
  std::map<int, FormPart> files;
};

Result<std::int64_t> to_int(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.as_uint64());
  }
  return fail(ErrorKind::kInvalidArgument, "not an integer");
}

}  // namespace

// ------------------------------------------------------------------------------------------------

class DiscordEmulator::Impl : public std::enable_shared_from_this<DiscordEmulator::Impl> {
 public:
  Impl(asio::any_io_executor executor, net::HttpClient& client, EmulatorOptions options)
      : executor_(std::move(executor)), client_(client), options_(std::move(options)) {
    if (sodium_init() < 0) std::abort();  // libsodium cannot work at all: nothing to recover
    unsigned char seed[crypto_sign_SEEDBYTES];
    const std::string& hex = options_.secret_key_seed_hex;
    std::size_t seed_len = 0;
    if (hex.empty() ||
        sodium_hex2bin(seed, sizeof seed, hex.data(), hex.size(), nullptr, &seed_len, nullptr) !=
            0 ||
        seed_len != sizeof seed) {
      if (!hex.empty()) module_log()->warn("secret_key_seed_hex is not 64 hex digits; random key");
      randombytes_buf(seed, sizeof seed);
    }
    crypto_sign_seed_keypair(public_key_, secret_key_, seed);
    sodium_memzero(seed, sizeof seed);
  }
  ~Impl() { sodium_memzero(secret_key_, sizeof secret_key_); }

  // --- Plumbing ----------------------------------------------------------------------------

  std::string next_snowflake_locked() {
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

  static std::string new_token(std::string_view interaction_id) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string secret(32, 'x');
    for (char& c : secret) c = kAlphabet[randombytes_uniform(sizeof kAlphabet - 1)];
    const std::string raw = fmt::format("interaction:{}:{}", interaction_id, secret);
    std::string out(sodium_base64_encoded_len(raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                    '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                      raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(out.find('\0'));
    return out;
  }

  void changed() {
    std::vector<std::shared_ptr<Channel>> waiters;
    {
      std::lock_guard lock(mutex_);
      waiters.swap(waiters_);
    }
    for (auto& w : waiters) w->try_send(boost::system::error_code{});
  }

  // Waits until `ready` (called under the lock) holds or `deadline` passes; answers ready().
  // Registration and the check share the lock, and the channel keeps one signal, so a change
  // between the check and the wait is never lost.
  asio::awaitable<bool> wait_until(std::function<bool()> ready, Steady::time_point deadline) {
    auto executor = co_await asio::this_coro::executor;
    for (;;) {
      auto channel = std::make_shared<Channel>(executor, 1);
      {
        std::lock_guard lock(mutex_);
        if (ready()) co_return true;
        if (Steady::now() >= deadline) co_return false;
        // Waiters that timed out without a change are only held here: drop them.
        std::erase_if(waiters_, [](const auto& w) { return w.use_count() == 1; });
        waiters_.push_back(channel);
      }
      asio::steady_timer timer(executor, deadline);
      timer.async_wait(
          [channel](boost::system::error_code) { channel->try_send(boost::system::error_code{}); });
      co_await channel->async_receive(asio::use_awaitable);
      timer.cancel();
    }
  }

  std::string public_url_locked() const {
    return public_url_.empty() ? std::string("http://127.0.0.1") : public_url_;
  }

  void learn_host(const net::Request& request) {
    auto host = request.headers.get("Host");
    if (!host || host->empty() || host->find_first_of("/ \r\n") != std::string_view::npos) return;
    std::lock_guard lock(mutex_);
    if (!public_url_explicit_) public_url_ = "http://" + std::string(*host);
  }

  // --- Messages as JSON --------------------------------------------------------------------

  json::object attachment_json_locked(const StoredAttachment& a) const {
    const std::string url =
        fmt::format("{}/_emulator/attachments/{}/{}", public_url_locked(), a.id, a.filename);
    json::object o{{"id", a.id}, {"filename", a.filename}, {"size", a.data->size()},
                   {"url", url}, {"proxy_url", url},       {"content_type", a.content_type}};
    if (!a.description.empty()) o["description"] = a.description;
    if (a.png) {
      o["width"] = a.png->width;
      o["height"] = a.png->height;
    }
    return o;
  }

  // Discord's message object. `extras` adds the emulator's fields (version, timings).
  json::object message_json_locked(const Message& m, bool extras) const {
    json::array attachments;
    for (const std::string& id : m.attachments) {
      if (auto it = attachments_.find(id); it != attachments_.end()) {
        attachments.push_back(attachment_json_locked(it->second));
      }
    }
    // attachment://name in embed images resolves to the attachment, as Discord does.
    json::array embeds = m.embeds;
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
         {{"id", options_.application_id},
          {"username", "mando"},
          {"avatar", nullptr},
          {"discriminator", "0"},
          {"public_flags", 0},
          {"bot", true},
          {"global_name", nullptr}}},
        {"pinned", false},
        {"mention_everyone", false},
        {"tts", false},
        {"application_id", options_.application_id},
        {"webhook_id", options_.application_id},
        {"interaction_metadata", m.interaction_metadata},
    };
    if (!m.legacy_interaction.empty()) o["interaction"] = m.legacy_interaction;
    if (extras) {
      o["version"] = m.version;
      o["interaction_id"] = m.interaction_id;
      o["created_ms"] = m.interaction_ms;
      if (m.completed_ms) o["completed_ms"] = *m.completed_ms;
      if (m.deleted) o["deleted"] = true;
    }
    return o;
  }

  // --- Message payloads (interaction responses, webhook bodies) ------------------------------

  static std::optional<RestError> validate_payload(const json::object& p) {
    if (const auto* content = p.if_contains("content"); content && !content->is_null()) {
      if (!content->is_string()) {
        return form_error({"content"}, "BASE_TYPE_STRING", "Must be a string.");
      }
      if (code_points(content->as_string()) > kMaxContent) {
        return form_error({"content"}, "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.");
      }
    }
    if (const auto* embeds = p.if_contains("embeds"); embeds && !embeds->is_null()) {
      if (!embeds->is_array()) return form_error({"embeds"}, "BASE_TYPE_LIST", "Must be a list.");
      if (embeds->as_array().size() > kMaxEmbeds) {
        return form_error({"embeds"}, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
      }
      for (std::size_t i = 0; i < embeds->as_array().size(); ++i) {
        const auto& e = embeds->as_array()[i];
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
        if (description && description->is_string() &&
            code_points(description->as_string()) > 4096) {
          return form_error({"embeds", index, "description"}, "BASE_TYPE_MAX_LENGTH",
                            "Must be 4096 or fewer in length.");
        }
      }
    }
    if (const auto* components = p.if_contains("components");
        components && !components->is_null()) {
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

  StoredAttachment store_file_locked(const FormPart& part, std::string filename,
                                     std::string description) {
    StoredAttachment a;
    a.id = next_snowflake_locked();
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

  // Applies a create (create = true) or an edit to `m`. Fields present replace; `attachments`
  // decides which existing attachments stay (v10: the list of everything that should remain,
  // by id, plus new uploads by their files[N] index), and files not listed are appended.
  std::optional<RestError> apply_payload_locked(Message& m, const json::object& p,
                                                const std::map<int, FormPart>& files, bool create) {
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
        added.push_back(store_file_locked(
            file->second,
            filename && filename->is_string() ? std::string(filename->as_string()) : "",
            description && description->is_string() ? std::string(description->as_string()) : ""));
        used.insert(n);
      }
      next.attachments = std::move(keep);
    }
    for (const auto& [n, part] : files) {
      if (!used.contains(n)) added.push_back(store_file_locked(part, "", ""));
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
    return std::nullopt;
  }

  Message& new_message_locked(InteractionRecord& rec, int type) {
    Message m;
    m.id = next_snowflake_locked();
    m.channel_id = rec.channel_id;
    m.interaction_id = rec.id;
    m.type = type;
    m.timestamp_ms = unix_ms();
    m.interaction_ms = rec.created_ms;
    const json::object user = user_object(rec.user_id);
    m.interaction_metadata = {
        {"id", rec.id},
        {"type", rec.type},
        {"user", user},
        {"authorizing_integration_owners", rec.authorizing_integration_owners}};
    if (rec.type == 3) m.interaction_metadata["interacted_message_id"] = rec.component_message_id;
    if (type == 19 && !rec.original_message_id.empty()) {
      m.interaction_metadata["original_response_message_id"] = rec.original_message_id;
    }
    if (rec.type == 2) {
      m.legacy_interaction = {
          {"id", rec.id}, {"type", rec.type}, {"name", rec.name}, {"user", user}};
    }
    order_.push_back(m.id);
    auto [it, inserted] = messages_.emplace(m.id, std::move(m));
    return it->second;
  }

  Message* find_message_locked(std::string_view id) {
    auto it = messages_.find(std::string(id));
    return it == messages_.end() || it->second.deleted ? nullptr : &it->second;
  }

  // Step 3 of the file comment: what an interaction response does. Answers the failure reason
  // (empty: fine). `files` only come through the REST callback route.
  std::string apply_response_locked(InteractionRecord& rec, const json::value& response,
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
    switch (type) {
      case 4: {
        Message& m = new_message_locked(rec, 20);
        if (auto error = apply_payload_locked(m, data, files, true)) {
          m.deleted = true;
          return "invalid message: " + error->message + " " + json::serialize(error->errors);
        }
        rec.original_message_id = m.id;
        break;
      }
      case 5: {
        Message& m = new_message_locked(rec, 20);
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
        Message* m = find_message_locked(rec.component_message_id);
        if (m == nullptr) return "the component's message is gone";
        if (auto error = apply_payload_locked(*m, data, files, false)) {
          return "invalid message: " + error->message + " " + json::serialize(error->errors);
        }
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

  void fail_locked(InteractionRecord& rec, std::string reason) {
    if (rec.failed || rec.acknowledged) return;
    rec.failed = true;
    ++interactions_failed_;
    module_log()->info("interaction failed interaction_id={} reason=\"{}\"", rec.id, reason);
  }

  // --- Sending interactions ----------------------------------------------------------------

  // What send_command() and click() hand to deliver().
  struct Outgoing {
    std::string id;
    std::string token;
    std::string body;
  };

  // Registers the interaction (given an id and a token) and answers what to send.
  Outgoing open_locked(InteractionRecord rec, json::object body) {
    rec.id = next_snowflake_locked();
    rec.token = new_token(rec.id);
    rec.created_ms = unix_ms();
    rec.expires_at = Steady::now() + options_.token_lifetime;
    rec.in_flight = true;
    body["id"] = rec.id;
    body["token"] = rec.token;
    body["application_id"] = options_.application_id;
    body["version"] = 1;
    body["app_permissions"] = "562949953601536";
    body["entitlements"] = json::array{};
    body["entitlement_sku_ids"] = json::array{};
    body["locale"] = "en-US";
    body["attachment_size_limit"] = kMaxFileBytes;
    body["channel_id"] = rec.channel_id;
    const json::object user = user_object(rec.user_id);
    if (rec.guild_id.empty()) {
      rec.authorizing_integration_owners = {{"0", "0"}};
      body["context"] = 1;  // BOT_DM
      body["user"] = user;
      body["channel"] = {{"flags", 0},
                         {"id", rec.channel_id},
                         {"last_message_id", nullptr},
                         {"recipients", json::array{user}},
                         {"type", 1}};
    } else {
      rec.authorizing_integration_owners = {{"0", rec.guild_id}};
      body["context"] = 0;  // GUILD
      body["guild_id"] = rec.guild_id;
      body["guild_locale"] = "en-US";
      body["guild"] = {{"features", json::array{}}, {"id", rec.guild_id}, {"locale", "en-US"}};
      body["channel"] = {{"flags", 0},           {"guild_id", rec.guild_id},
                         {"id", rec.channel_id}, {"last_message_id", nullptr},
                         {"name", "general"},    {"nsfw", false},
                         {"parent_id", nullptr}, {"permissions", "562949953421311"},
                         {"position", 0},        {"rate_limit_per_user", 0},
                         {"topic", nullptr},     {"type", 0}};
      body["member"] = {{"avatar", nullptr},
                        {"communication_disabled_until", nullptr},
                        {"deaf", false},
                        {"flags", 0},
                        {"joined_at", "2024-01-01T00:00:00.000000+00:00"},
                        {"mute", false},
                        {"nick", nullptr},
                        {"pending", false},
                        {"permissions", "562949953421311"},
                        {"premium_since", nullptr},
                        {"roles", json::array{}},
                        {"user", user}};
    }
    body["authorizing_integration_owners"] = rec.authorizing_integration_owners;
    body["type"] = rec.type;
    tokens_[rec.token] = rec.id;
    ++interactions_sent_;
    Outgoing out{rec.id, rec.token, json::serialize(body)};
    interactions_.emplace(rec.id, std::move(rec));
    return out;
  }

  std::string command_id_locked(const std::string& name) {
    for (const auto& c : commands_) {
      if (c.as_object().at("name").as_string() == name) {
        return std::string(c.as_object().at("id").as_string());
      }
    }
    auto [it, inserted] = unregistered_command_ids_.try_emplace(name);
    if (inserted) it->second = next_snowflake_locked();
    return it->second;
  }

  asio::awaitable<Result<SentInteraction>> deliver(std::string interaction_id, std::string token,
                                                   std::string body) {
    std::string url;
    {
      std::lock_guard lock(mutex_);
      url = bot_url_;
    }
    SentInteraction out;
    out.interaction_id = interaction_id;
    out.token = token;
    if (url.empty()) {
      finish_failed(interaction_id, "no bot URL");
      co_return fail(ErrorKind::kFailedPrecondition, "emulator: no bot URL set");
    }
    const std::string timestamp = std::to_string(unix_ms() / 1000);
    const std::string signed_text = timestamp + body;
    unsigned char signature[crypto_sign_BYTES];
    crypto_sign_detached(signature, nullptr,
                         reinterpret_cast<const unsigned char*>(signed_text.data()),
                         signed_text.size(), secret_key_);
    net::ClientRequest request;
    request.method = "POST";
    request.url = url;
    request.headers.set("Content-Type", "application/json");
    request.headers.set("User-Agent", "Discord-Interactions/1.0 (+https://discord.com)");
    request.headers.set(
        "X-Signature-Ed25519",
        core::to_hex(std::string_view(reinterpret_cast<const char*>(signature), sizeof signature)));
    request.headers.set("X-Signature-Timestamp", timestamp);
    request.body = std::move(body);
    request.timeout = options_.response_timeout;
    request.connect_timeout = std::min(request.connect_timeout, options_.response_timeout);
    request.max_response_bytes = 8 * 1024 * 1024;
    Result<net::ClientResponse> sent = co_await client_.send(std::move(request));
    if (!sent) {
      finish_failed(interaction_id, sent.error().message);
      co_return fail(sent.error().kind,
                     "emulator: the bot did not answer the interaction: " + sent.error().message);
    }
    out.response_status = sent->status;
    boost::system::error_code ec;
    json::value response = json::parse(sent->body, ec);
    if (!ec) out.response = response;
    {
      std::lock_guard lock(mutex_);
      InteractionRecord& rec = interactions_.at(interaction_id);
      rec.in_flight = false;
      if (rec.acknowledged) {
        // Acknowledged through POST /interactions/{id}/{token}/callback while the POST ran:
        // the HTTP answer carries nothing more.
      } else if (sent->status != 200) {
        out.failure = fmt::format("the bot answered HTTP {}", sent->status);
      } else if (ec) {
        out.failure = "the bot's answer is not JSON";
      } else {
        out.failure = apply_response_locked(rec, response, {});
      }
      if (!out.failure.empty()) fail_locked(rec, out.failure);
      out.failed = rec.failed;
      if (!rec.original_message_id.empty()) out.message_id = rec.original_message_id;
    }
    changed();
    co_return out;
  }

  void finish_failed(const std::string& interaction_id, std::string reason) {
    {
      std::lock_guard lock(mutex_);
      InteractionRecord& rec = interactions_.at(interaction_id);
      rec.in_flight = false;
      fail_locked(rec, std::move(reason));
    }
    changed();
  }

  // --- REST ----------------------------------------------------------------------------------

  static bool good_user_agent(std::optional<std::string_view> ua) {
    // Discord: "DiscordBot ($url, $versionNumber)".
    if (!ua || ua->substr(0, 12) != "DiscordBot (") return false;
    const auto close = ua->find(')');
    return close != std::string_view::npos &&
           ua->substr(12, close - 12).find(',') != std::string_view::npos;
  }

  // Matches `segments` (after the API prefix) to a route; nullopt: 404. `allow` is set for 405.
  static std::optional<RestRoute> match_rest(const std::vector<std::string_view>& s,
                                             std::string_view method, std::string& allow) {
    RestRoute r;
    auto is = [&](std::initializer_list<std::string_view> methods) {
      for (auto m : methods) {
        if (m == method) return true;
      }
      allow.clear();
      for (auto m : methods) allow += (allow.empty() ? "" : ", ") + std::string(m);
      return false;
    };
    if (s.size() >= 3 && s[0] == "webhooks") {
      r.token = std::string(s[2]);
      if (s.size() == 3) {
        r.family = "followup";
        r.template_ = "POST /webhooks/{application.id}/{interaction.token}";
        if (!is({"POST"})) return r;
        return r;
      }
      if (s.size() == 5 && s[3] == "messages") {
        const bool original = s[4] == "@original";
        r.family = original ? "@original" : "message";
        r.message_id = std::string(s[4]);
        r.template_ =
            fmt::format("{} /webhooks/{{application.id}}/{{interaction.token}}/messages/{}", method,
                        original ? "@original" : "{message.id}");
        is({"GET", "PATCH", "DELETE"});
        return r;
      }
      return std::nullopt;
    }
    if (s.size() == 4 && s[0] == "interactions" && s[3] == "callback") {
      r.family = "callback";
      r.interaction_id = std::string(s[1]);
      r.token = std::string(s[2]);
      r.template_ = "POST /interactions/{interaction.id}/{interaction.token}/callback";
      is({"POST"});
      return r;
    }
    if (s.size() == 3 && s[0] == "applications" && s[2] == "commands") {
      r.family = "commands";
      r.template_ = fmt::format("{} /applications/{{application.id}}/commands", method);
      is({"GET", "PUT"});
      return r;
    }
    return std::nullopt;
  }

  // Counts the request in its bucket. Answers the headers, and a 429 when it is over the limit.
  std::optional<net::Response> take_bucket_locked(const RestRoute& route, const std::string& key,
                                                  RateHeaders& headers) {
    const auto now = Steady::now();
    Bucket& b = buckets_[key];
    if (now >= b.reset_at) {
      b.used = 0;
      b.reset_at = now + options_.webhook_window;
    }
    headers.limit = options_.webhook_limit;
    headers.bucket = core::to_hex(core::sha256(route.template_)).substr(0, 32);
    auto seconds = [](Steady::duration d) { return std::chrono::duration<double>(d).count(); };
    const bool blocked = now < b.blocked_until;
    if (blocked || b.used >= options_.webhook_limit) {
      const auto until = blocked ? std::max(b.blocked_until, now) : b.reset_at;
      ++responses_429_;
      if (now < b.exhausted_until) ++ignored_exhausted_;
      if (b.last_was_429 && now < b.exhausted_until) ++consecutive_429_;
      b.last_was_429 = true;
      b.exhausted_until = until;
      headers.remaining = 0;
      headers.reset_after = seconds(until - now);
      return too_many_requests(headers, seconds(until - now));
    }
    ++b.used;
    b.last_was_429 = false;
    headers.remaining = options_.webhook_limit - b.used;
    headers.reset_after = seconds(b.reset_at - now);
    b.exhausted_until = headers.remaining == 0 ? b.reset_at : Steady::time_point{};
    return std::nullopt;
  }

  // An injected fault for this request, if one is queued.
  std::optional<net::Response> take_fault_locked(const RestRoute& route, std::string_view method,
                                                 const std::string& bucket_key,
                                                 RateHeaders& headers) {
    auto it = faults_.find(fmt::format("{} {}", method, route.family));
    if (it == faults_.end() || it->second.empty()) return std::nullopt;
    Fault fault = it->second.front();
    if (--it->second.front().count <= 0) it->second.pop_front();
    ++faults_injected_;
    if (fault.status == 429) {
      Bucket& b = buckets_[bucket_key];
      const auto now = Steady::now();
      const auto retry = std::chrono::duration_cast<Steady::duration>(
          std::chrono::duration<double>(fault.retry_after));
      b.blocked_until = now + retry;
      b.exhausted_until = b.blocked_until;
      b.last_was_429 = true;
      ++responses_429_;
      headers.remaining = 0;
      headers.reset_after = fault.retry_after;
      return too_many_requests(headers, fault.retry_after);
    }
    auto response =
        error_response({fault.status, 0, fmt::format("{}: injected fault", fault.status), {}});
    set_rate_headers(response, headers);
    return response;
  }

  Result<Payload> read_payload(const net::Request& request, RestError& error) {
    Payload payload;
    const std::string_view content_type = request.headers.get("Content-Type").value_or("");
    auto set = [&](RestError e) {
      error = std::move(e);
      return fail(ErrorKind::kInvalidArgument, error.message);
    };
    if (content_type.size() >= 19 &&
        net::iequals(content_type.substr(0, 19), "multipart/form-data")) {
      auto parts = parse_form_data(content_type, request.body);
      if (!parts) return set(form_error({}, "MULTIPART_INVALID", parts.error().message));
      bool have_payload = false;
      for (auto& part : *parts) {
        if (part.name == "payload_json") {
          if (have_payload) return set(form_error({"payload_json"}, "DUPLICATE", "Given twice."));
          have_payload = true;
          boost::system::error_code ec;
          json::value v = json::parse(part.data, ec);
          if (ec) return set(invalid_json());
          if (!v.is_object()) {
            return set(form_error({"payload_json"}, "DICT_TYPE_CONVERT",
                                  "Only dictionaries may be used in a DictType"));
          }
          payload.object = std::move(v.as_object());
        } else if (part.name.starts_with("files[") && part.name.ends_with("]")) {
          const std::string index = part.name.substr(6, part.name.size() - 7);
          if (!is_snowflake(index) || index.size() > 2) {
            return set(form_error({part.name}, "FILE_INDEX_INVALID", "Invalid file index."));
          }
          if (part.data.size() > kMaxFileBytes) {
            error = {413, 40005, "Request entity too large", {}};
            return fail(ErrorKind::kInvalidArgument, error.message);
          }
          const int n = std::stoi(index);
          if (payload.files.contains(n)) {
            return set(form_error({part.name}, "DUPLICATE", "Given twice."));
          }
          payload.files.emplace(n, std::move(part));
        }
        // Other parts: Discord ignores form fields it does not know.
      }
      if (!payload.files.empty() && !have_payload) {
        return set(form_error({"payload_json"}, "BASE_TYPE_REQUIRED", "This field is required"));
      }
      return payload;
    }
    if (request.body.empty()) return payload;
    boost::system::error_code ec;
    json::value v = json::parse(request.body, ec);
    if (ec) return set(invalid_json());
    if (!v.is_object()) {
      return set(
          form_error({}, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"));
    }
    payload.object = std::move(v.as_object());
    return payload;
  }

  asio::awaitable<net::Response> handle_rest(net::Request request) {
    learn_host(request);
    std::string_view path = request.path();
    path.remove_prefix(std::min(path.size(), options_.api_prefix.size()));
    std::vector<std::string_view> segments;
    while (!path.empty()) {
      if (path.front() == '/') path.remove_prefix(1);
      const auto end = path.find('/');
      segments.push_back(path.substr(0, end));
      path.remove_prefix(end == std::string_view::npos ? path.size() : end);
    }
    std::string allow;
    std::optional<RestRoute> route = match_rest(segments, request.method, allow);
    {
      std::lock_guard lock(mutex_);
      ++rest_requests_;
      if (!good_user_agent(request.headers.get("User-Agent"))) ++bad_user_agent_;
      ++rest_by_route_[route ? route->template_ : std::string("unmatched")];
    }
    if (!route) co_return count_status(error_response({404, 0, "404: Not Found", {}}));
    if (!allow.empty()) {
      auto response = error_response({405, 0, "405: Method Not Allowed", {}});
      response.headers.set("Allow", allow);
      co_return count_status(std::move(response));
    }

    // Rate limits, then faults, then an optional delay, then the route itself.
    const std::string bucket_key =
        route->template_ + "|" + (route->token.empty() ? options_.application_id : route->token);
    RateHeaders headers;
    std::optional<net::Response> early;
    std::chrono::milliseconds delay{0};
    {
      std::lock_guard lock(mutex_);
      early = take_bucket_locked(*route, bucket_key, headers);
      if (!early) early = take_fault_locked(*route, request.method, bucket_key, headers);
      if (delay_count_ > 0) {
        --delay_count_;
        delay = delay_;
      }
    }
    if (delay.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, delay);
      co_await timer.async_wait(asio::use_awaitable);
    }
    if (early) co_return count_status(std::move(*early));

    net::Response response;
    if (route->family == "commands") {
      response = handle_commands(request, segments);
    } else if (route->family == "callback") {
      response = co_await handle_callback(request, *route);
    } else {
      response = co_await handle_webhook(request, *route, segments[1]);
    }
    set_rate_headers(response, headers);
    co_return count_status(std::move(response));
  }

  net::Response count_status(net::Response response) {
    std::lock_guard lock(mutex_);
    ++rest_by_status_[response.status];
    return response;
  }

  // The interaction of a token: its record, or the error Discord answers.
  InteractionRecord* token_record_locked(std::string_view application_id, const std::string& token,
                                         RestError& error) {
    auto it = tokens_.find(token);
    if (application_id != options_.application_id || it == tokens_.end()) {
      error = unknown_webhook();
      return nullptr;
    }
    InteractionRecord& rec = interactions_.at(it->second);
    if (Steady::now() >= rec.expires_at) {
      error = invalid_token();
      return nullptr;
    }
    return &rec;
  }

  // Waits while the bot's answer to the interaction POST is still on its way: the bot may send
  // its first REST call before the emulator has read that answer.
  asio::awaitable<void> wait_answered(std::string token) {
    auto answered = [this, token] {
      auto it = tokens_.find(token);
      return it == tokens_.end() || !interactions_.at(it->second).in_flight;
    };
    co_await wait_until(answered, Steady::now() + options_.response_timeout);
  }

  asio::awaitable<net::Response> handle_webhook(net::Request request, RestRoute route,
                                                std::string_view application_id_view) {
    const std::string application_id(application_id_view);
    co_await wait_answered(route.token);
    RestError error;
    Payload payload;
    if (request.method == "PATCH" || request.method == "POST") {
      auto read = read_payload(request, error);
      if (!read) co_return error_response(error);
      payload = std::move(*read);
    }
    const bool wants_thread = request.query_param("thread_id").has_value();
    net::Response response;
    {
      std::lock_guard lock(mutex_);
      InteractionRecord* rec = token_record_locked(application_id, route.token, error);
      if (rec == nullptr) co_return error_response(error);
      if (!rec->acknowledged) co_return error_response(unknown_webhook());
      if (wants_thread) co_return error_response({400, 0, "thread_id is not supported", {}});

      if (route.family == "followup") {
        Message* target = nullptr;
        // The first follow-up after a deferred answer takes the place of the loading message,
        // as Discord does.
        Message* original = find_message_locked(rec->original_message_id);
        const bool replaces_loading = original != nullptr && (original->flags & kLoadingFlag) != 0;
        if (replaces_loading) {
          target = original;
          if (auto e = apply_payload_locked(*target, payload.object, payload.files, false)) {
            co_return error_response(*e);
          }
        } else {
          target = &new_message_locked(*rec, 19);
          if (auto e = apply_payload_locked(*target, payload.object, payload.files, true)) {
            target->deleted = true;
            co_return error_response(*e);
          }
        }
        response = net::Response::json(200, json::serialize(message_json_locked(*target, false)));
      } else {
        const std::string id =
            route.family == "@original" ? rec->original_message_id : route.message_id;
        Message* m = find_message_locked(id);
        if (m == nullptr || m->interaction_id != rec->id)
          co_return error_response(unknown_message());
        if (request.method == "GET") {
          response = net::Response::json(200, json::serialize(message_json_locked(*m, false)));
        } else if (request.method == "DELETE") {
          m->deleted = true;
          ++m->version;
          response = net::Response{};
          response.status = 204;
        } else {
          if (auto e = apply_payload_locked(*m, payload.object, payload.files, false)) {
            co_return error_response(*e);
          }
          response = net::Response::json(200, json::serialize(message_json_locked(*m, false)));
        }
      }
    }
    changed();
    co_return response;
  }

  asio::awaitable<net::Response> handle_callback(net::Request request, RestRoute route) {
    co_await asio::this_coro::executor;  // a coroutine for symmetry with the webhook routes
    RestError error;
    auto read = read_payload(request, error);
    if (!read) co_return error_response(error);
    const bool with_response = request.query_param("with_response").value_or("") == "true";
    net::Response response;
    {
      std::lock_guard lock(mutex_);
      auto it = interactions_.find(route.interaction_id);
      if (it == interactions_.end() || it->second.token != route.token) {
        co_return error_response({404, 10062, "Unknown interaction", {}});
      }
      InteractionRecord& rec = it->second;
      if (Steady::now() >= rec.expires_at || rec.failed || (!rec.in_flight && !rec.acknowledged)) {
        co_return error_response({404, 10062, "Unknown interaction", {}});
      }
      if (rec.acknowledged) {
        co_return error_response({400, 40060, "Interaction has already been acknowledged.", {}});
      }
      const std::string failure =
          apply_response_locked(rec, json::value(read->object), read->files);
      if (!failure.empty()) {
        co_return error_response(form_error({}, "INTERACTION_RESPONSE_INVALID", failure));
      }
      if (!with_response) {
        response.status = 204;
      } else {
        json::object interaction{{"id", rec.id}, {"type", rec.type}};
        json::object resource{{"type", rec.response_type}};
        if (Message* m = find_message_locked(rec.original_message_id)) {
          interaction["response_message_id"] = m->id;
          interaction["response_message_loading"] = (m->flags & kLoadingFlag) != 0;
          interaction["response_message_ephemeral"] = (m->flags & kEphemeralFlag) != 0;
          resource["message"] = message_json_locked(*m, false);
        }
        response = net::Response::json(
            200,
            json::serialize(json::object{{"interaction", interaction}, {"resource", resource}}));
      }
    }
    changed();
    co_return response;
  }

  net::Response handle_commands(const net::Request& request,
                                const std::vector<std::string_view>& segments) {
    const std::string_view auth = request.headers.get("Authorization").value_or("");
    if (auth.size() <= 4 || auth.substr(0, 4) != "Bot ") {
      return error_response({401, 0, "401: Unauthorized", {}});
    }
    std::lock_guard lock(mutex_);
    if (segments[1] != options_.application_id) {
      return error_response({404, 10002, "Unknown Application", {}});
    }
    if (request.method == "GET") return net::Response::json(200, json::serialize(commands_));
    boost::system::error_code ec;
    json::value body = json::parse(request.body, ec);
    if (ec) return error_response(invalid_json());
    if (!body.is_array())
      return error_response(form_error({}, "BASE_TYPE_LIST", "Must be a list."));
    if (body.as_array().size() > 100) {
      return error_response(
          form_error({}, "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."));
    }
    json::array stored;
    for (std::size_t i = 0; i < body.as_array().size(); ++i) {
      const std::string index = std::to_string(i);
      auto& entry = body.as_array()[i];
      if (!entry.is_object()) {
        return error_response(form_error({index}, "DICT_TYPE_CONVERT",
                                         "Only dictionaries may be used in a DictType"));
      }
      json::object command = entry.as_object();
      const auto* name = command.if_contains("name");
      const bool name_ok =
          name && name->is_string() && !name->as_string().empty() &&
          name->as_string().size() <= 32 &&
          std::all_of(name->as_string().begin(), name->as_string().end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
          });
      if (!name_ok) {
        return error_response(form_error({index, "name"}, "APPLICATION_COMMAND_INVALID_NAME",
                                         "Command name is invalid"));
      }
      const std::int64_t type =
          command.contains("type") ? to_int(command.at("type")).value_or(0) : 1;
      const auto* description = command.if_contains("description");
      if (type == 1 &&
          (!description || !description->is_string() || description->as_string().empty() ||
           description->as_string().size() > 100)) {
        return error_response(form_error({index, "description"}, "BASE_TYPE_BAD_LENGTH",
                                         "Must be between 1 and 100 in length."));
      }
      const std::string name_text(name->as_string());
      std::string id;
      for (const auto& old : commands_) {
        if (old.as_object().at("name").as_string() == name_text) {
          id = std::string(old.as_object().at("id").as_string());
        }
      }
      if (id.empty()) id = command_id_locked(name_text);
      command["id"] = id;
      command["application_id"] = options_.application_id;
      command["version"] = next_snowflake_locked();
      command["type"] = type;
      if (!command.contains("default_member_permissions"))
        command["default_member_permissions"] = nullptr;
      if (!command.contains("nsfw")) command["nsfw"] = false;
      if (!command.contains("description")) command["description"] = "";
      stored.push_back(std::move(command));
    }
    commands_ = stored;
    return net::Response::json(200, json::serialize(stored));
  }

  // --- Control API ---------------------------------------------------------------------------

  static net::Response sent_response(const Result<SentInteraction>& sent) {
    if (!sent)
      return net::Response::json_error(http_status(sent.error().kind), sent.error().message);
    json::object body{{"interaction_id", sent->interaction_id},
                      {"token", sent->token},
                      {"response_status", sent->response_status},
                      {"response", sent->response},
                      {"message_id", sent->message_id ? json::value(*sent->message_id) : nullptr},
                      {"failed", sent->failed}};
    if (sent->failed) body["failure"] = sent->failure;
    return net::Response::json(sent->failed ? 502 : 200, json::serialize(body));
  }

  static std::chrono::milliseconds timeout_param(const net::Request& request) {
    const auto text = request.query_param("timeout_ms").value_or("0");
    std::int64_t ms = 0;
    if (is_snowflake(text) && text.size() < 10) ms = std::stoll(text);
    return std::chrono::milliseconds(std::min(ms, kMaxWaitMs));
  }

  asio::awaitable<net::Response> handle_control(net::Request request);

  boost::json::object stats_locked() const {
    json::object by_type;
    for (const auto& [type, n] : responses_by_type_) by_type[std::to_string(type)] = n;
    json::object by_route;
    for (const auto& [route, n] : rest_by_route_) by_route[route] = n;
    json::object by_status;
    for (const auto& [status, n] : rest_by_status_) by_status[std::to_string(status)] = n;
    std::int64_t completed = 0, loading = 0;
    for (const auto& [id, m] : messages_) {
      if (m.deleted) continue;
      ((m.flags & kLoadingFlag) != 0 ? loading : completed) += 1;
    }
    return json::object{
        {"interactions",
         {{"sent", interactions_sent_},
          {"failed", interactions_failed_},
          {"by_response_type", by_type}}},
        {"rest", {{"requests", rest_requests_}, {"by_route", by_route}, {"by_status", by_status}}},
        {"rate_limits",
         {{"responses_429", responses_429_},
          {"consecutive_429", consecutive_429_},
          {"ignored_exhausted", ignored_exhausted_},
          {"faults_injected", faults_injected_}}},
        {"bad_user_agent", bad_user_agent_},
        {"messages", {{"completed", completed}, {"loading", loading}}},
    };
  }

  std::size_t completed_locked() const {
    std::size_t n = 0;
    for (const auto& [id, m] : messages_) {
      if (!m.deleted && (m.flags & kLoadingFlag) == 0) ++n;
    }
    return n;
  }

  // --- State (guarded by mutex_ unless const) ---------------------------------------------
  const asio::any_io_executor executor_;
  net::HttpClient& client_;
  const EmulatorOptions options_;
  unsigned char public_key_[crypto_sign_PUBLICKEYBYTES]{};
  unsigned char secret_key_[crypto_sign_SECRETKEYBYTES]{};

  mutable std::mutex mutex_;
  std::string bot_url_;
  std::string public_url_;
  bool public_url_explicit_ = false;
  std::int64_t last_snowflake_ms_ = 0;
  std::uint64_t increment_ = 0;
  std::map<std::string, InteractionRecord> interactions_;
  std::map<std::string, std::string> tokens_;  // token -> interaction id
  std::map<std::string, Message> messages_;
  std::vector<std::string> order_;  // message ids, oldest first
  std::map<std::string, StoredAttachment> attachments_;
  json::array commands_;
  std::map<std::string, std::string> unregistered_command_ids_;
  std::map<std::string, Bucket> buckets_;
  std::map<std::string, std::deque<Fault>> faults_;  // "PATCH @original" -> FIFO
  int delay_count_ = 0;
  std::chrono::milliseconds delay_{0};
  std::vector<std::shared_ptr<Channel>> waiters_;

  std::int64_t interactions_sent_ = 0;
  std::int64_t interactions_failed_ = 0;
  std::map<int, std::int64_t> responses_by_type_;
  std::int64_t rest_requests_ = 0;
  std::map<std::string, std::int64_t> rest_by_route_;
  std::map<int, std::int64_t> rest_by_status_;
  std::int64_t responses_429_ = 0;
  std::int64_t consecutive_429_ = 0;
  std::int64_t ignored_exhausted_ = 0;
  std::int64_t faults_injected_ = 0;
  std::int64_t bad_user_agent_ = 0;
};

// ------------------------------------------------------------------------------------------------

DiscordEmulator::DiscordEmulator(asio::any_io_executor executor, net::HttpClient& client,
                                 EmulatorOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), client, std::move(options))) {}

DiscordEmulator::~DiscordEmulator() = default;

const std::string& DiscordEmulator::application_id() const {
  return impl_->options_.application_id;
}

std::string DiscordEmulator::public_key_hex() const {
  return core::to_hex(std::string_view(reinterpret_cast<const char*>(impl_->public_key_),
                                       sizeof impl_->public_key_));
}

void DiscordEmulator::set_bot_url(std::string interactions_url) {
  std::lock_guard lock(impl_->mutex_);
  impl_->bot_url_ = std::move(interactions_url);
}

void DiscordEmulator::set_public_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  std::lock_guard lock(impl_->mutex_);
  impl_->public_url_ = std::move(url);
  impl_->public_url_explicit_ = !impl_->public_url_.empty();
}

void DiscordEmulator::install_routes(net::Router& router) {
  // The handlers own the state (shared_ptr): a router may outlive this object.
  std::shared_ptr<Impl> impl = impl_;
  for (const char* method : {"GET", "POST", "PATCH", "PUT", "DELETE"}) {
    router.add(method, impl->options_.api_prefix + "/*",
               [impl](net::Request r) { return impl->handle_rest(std::move(r)); });
  }
  for (const char* method : {"GET", "POST"}) {
    router.add(method, "/_emulator/*",
               [impl](net::Request r) { return impl->handle_control(std::move(r)); });
  }
  for (const char* path : {"/", "/index.html"}) {
    router.add("GET", path, [](net::Request) -> asio::awaitable<net::Response> {
      net::Response response;
      response.headers.set("Content-Type", "text/html; charset=utf-8");
      response.headers.set("Cache-Control", "no-store");
      response.body = std::string(web_page_html());
      co_return response;
    });
  }
}

asio::awaitable<Result<SentInteraction>> DiscordEmulator::send_command(
    CommandInvocation invocation) {
  std::shared_ptr<Impl> impl = impl_;  // alive across the co_await
  if (invocation.name.empty())
    co_return fail(ErrorKind::kInvalidArgument, "emulator: no command name");
  const std::string user_id =
      invocation.user_id.empty() ? std::string(kDefaultUserId) : invocation.user_id;
  const std::string guild_id =
      invocation.guild_id.empty() ? std::string(kDefaultGuildId) : invocation.guild_id;
  if (!is_snowflake(user_id) || !is_snowflake(guild_id)) {
    co_return fail(ErrorKind::kInvalidArgument,
                   "emulator: user_id and guild_id must be snowflakes");
  }
  Impl::Outgoing out;
  {
    std::lock_guard lock(impl->mutex_);
    InteractionRecord rec;
    rec.type = 2;
    rec.name = invocation.name;
    rec.user_id = user_id;
    rec.guild_id = invocation.dm ? "" : guild_id;
    rec.channel_id = std::string(invocation.dm ? kDmChannelId : kGuildChannelId);
    json::object data{
        {"id", impl->command_id_locked(invocation.name)}, {"name", invocation.name}, {"type", 1}};
    if (!invocation.options.empty()) data["options"] = invocation.options;
    if (!invocation.dm) data["guild_id"] = guild_id;
    json::object object{{"data", std::move(data)}};
    out = impl->open_locked(std::move(rec), std::move(object));
  }
  co_return co_await impl->deliver(std::move(out.id), std::move(out.token), std::move(out.body));
}

asio::awaitable<Result<SentInteraction>> DiscordEmulator::click(std::string message_id,
                                                                std::string custom_id,
                                                                std::string user_id) {
  std::shared_ptr<Impl> impl = impl_;
  if (user_id.empty()) user_id = std::string(kDefaultUserId);
  if (!is_snowflake(user_id)) co_return fail(ErrorKind::kInvalidArgument, "emulator: bad user_id");
  Impl::Outgoing out;
  {
    std::lock_guard lock(impl->mutex_);
    Message* m = impl->find_message_locked(message_id);
    if (m == nullptr)
      co_return fail(ErrorKind::kNotFound, "emulator: unknown message " + message_id);
    std::int64_t component_type = 0;
    for (const auto& row : m->components) {
      const auto* children = row.is_object() ? row.as_object().if_contains("components") : nullptr;
      if (children == nullptr || !children->is_array()) continue;
      for (const auto& c : children->as_array()) {
        const auto* cid = c.is_object() ? c.as_object().if_contains("custom_id") : nullptr;
        if (cid && cid->is_string() && cid->as_string() == custom_id) {
          component_type = to_int(c.as_object().at("type")).value_or(2);
        }
      }
    }
    if (component_type == 0) {
      co_return fail(ErrorKind::kNotFound, "emulator: no component with that custom_id");
    }
    const InteractionRecord& origin = impl->interactions_.at(m->interaction_id);
    InteractionRecord rec;
    rec.type = 3;
    rec.user_id = user_id;
    rec.guild_id = origin.guild_id;
    rec.channel_id = m->channel_id;
    rec.component_message_id = m->id;
    json::object data{{"component_type", component_type}, {"custom_id", custom_id}};
    if (component_type != 2) data["values"] = json::array{};
    json::object object{{"data", std::move(data)},
                        {"message", impl->message_json_locked(*m, false)}};
    out = impl->open_locked(std::move(rec), std::move(object));
  }
  co_return co_await impl->deliver(std::move(out.id), std::move(out.token), std::move(out.body));
}

Result<CommandInvocation> DiscordEmulator::parse_command_text(std::string_view text) const {
  // Tokens: "/name", then name:value pairs; a value may be "quoted" with \" and \\ escapes.
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
  };
  skip();
  if (i < text.size() && text[i] == '/') ++i;
  CommandInvocation out;
  while (i < text.size() && text[i] != ' ' && text[i] != '\t') out.name += text[i++];
  if (out.name.empty()) return fail(ErrorKind::kInvalidArgument, "no command name (type /name)");
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

  json::array registered_options;
  bool registered = false;
  {
    std::lock_guard lock(impl_->mutex_);
    for (const auto& c : impl_->commands_) {
      if (c.as_object().at("name").as_string() == out.name) {
        registered = true;
        if (const auto* o = c.as_object().if_contains("options"); o && o->is_array()) {
          registered_options = o->as_array();
        }
      }
    }
  }
  for (const auto& [name, value] : pairs) {
    std::int64_t type = 0;
    if (registered) {
      for (const auto& o : registered_options) {
        if (o.is_object() && o.as_object().contains("name") &&
            o.as_object().at("name").is_string() && o.as_object().at("name").as_string() == name) {
          type = to_int(o.as_object().at("type")).value_or(3);
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
    // Inference without registration: integer-looking, boolean, number, else string.
    char* end = nullptr;
    errno = 0;
    const long long as_int = std::strtoll(value.c_str(), &end, 10);
    const bool int_ok = errno == 0 && end == value.c_str() + value.size();
    errno = 0;
    const double as_double = std::strtod(value.c_str(), &end);
    const bool double_ok =
        errno == 0 && end == value.c_str() + value.size() && std::isfinite(as_double);
    if (type == 0)
      type = int_ok ? 4 : (value == "true" || value == "false") ? 5 : double_ok ? 10 : 3;
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
    out.options.push_back(std::move(option));
  }
  if (registered) {
    for (const auto& o : registered_options) {
      if (!o.is_object()) continue;
      const auto* required = o.as_object().if_contains("required");
      if (!required || !required->is_bool() || !required->as_bool()) continue;
      const auto& want = o.as_object().at("name");
      const bool given = std::any_of(pairs.begin(), pairs.end(), [&](const auto& p) {
        return want.is_string() && want.as_string() == p.first;
      });
      if (!given) {
        return fail(ErrorKind::kInvalidArgument,
                    fmt::format("/{} needs option `{}`", out.name, json::serialize(want)));
      }
    }
  }
  return out;
}

json::array DiscordEmulator::messages() const {
  std::lock_guard lock(impl_->mutex_);
  json::array out;
  for (const auto& id : impl_->order_) {
    const Message& m = impl_->messages_.at(id);
    if (!m.deleted) out.push_back(impl_->message_json_locked(m, true));
  }
  return out;
}

std::optional<json::object> DiscordEmulator::message(std::string_view id) const {
  std::lock_guard lock(impl_->mutex_);
  auto it = impl_->messages_.find(std::string(id));
  if (it == impl_->messages_.end()) return std::nullopt;
  return impl_->message_json_locked(it->second, true);
}

asio::awaitable<std::optional<json::object>> DiscordEmulator::wait_message(
    std::string id, std::int64_t after_version, std::chrono::milliseconds timeout) {
  std::shared_ptr<Impl> impl = impl_;
  auto newer = [impl, id, after_version] {
    auto it = impl->messages_.find(id);
    return it == impl->messages_.end() || it->second.version > after_version || it->second.deleted;
  };
  co_await impl->wait_until(newer, Steady::now() + timeout);
  co_return message(id);
}

asio::awaitable<bool> DiscordEmulator::wait_completed(std::size_t count,
                                                      std::chrono::milliseconds timeout) {
  std::shared_ptr<Impl> impl = impl_;
  auto done = [impl, count] { return impl->completed_locked() >= count; };
  co_return co_await impl->wait_until(done, Steady::now() + timeout);
}

void DiscordEmulator::add_fault(Fault fault) {
  if (fault.count <= 0) return;
  std::lock_guard lock(impl_->mutex_);
  impl_->faults_[fault.method + " " + fault.route].push_back(std::move(fault));
}

void DiscordEmulator::delay_responses(int count, std::chrono::milliseconds delay) {
  std::lock_guard lock(impl_->mutex_);
  impl_->delay_count_ = std::max(count, 0);
  impl_->delay_ = delay;
}

bool DiscordEmulator::expire(std::string_view interaction_id) {
  std::lock_guard lock(impl_->mutex_);
  auto it = impl_->interactions_.find(std::string(interaction_id));
  if (it == impl_->interactions_.end()) return false;
  it->second.expires_at = Steady::now();
  return true;
}

json::object DiscordEmulator::stats() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->stats_locked();
}

json::array DiscordEmulator::commands() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->commands_;
}

// --- The control API ---------------------------------------------------------------------------
//
//   POST /_emulator/interactions  {"text": "/mando symmetry:12"} or {"name", "options"},
//                                 optional "user_id", "guild_id", "dm"
//                                 -> {"interaction_id", "token", "response_status", "response",
//                                     "message_id", "failed", "failure"?}; 502 when failed
//   POST /_emulator/click         {"message_id", "custom_id", "user_id"?} -> the same
//   GET  /_emulator/messages      -> {"messages": [...]} oldest first
//   GET  /_emulator/messages/{id}[?after_version=N&timeout_ms=T]  (long poll, T <= 30000)
//   GET  /_emulator/wait?messages=K&timeout_ms=T -> {"ready", "completed", "loading"}
//   GET  /_emulator/attachments/{id}/{filename}  -> the bytes
//   POST /_emulator/faults        {"method", "route", "count", "status", "retry_after"} or
//                                 {"delay_ms", "count"}
//   POST /_emulator/expire        {"interaction_id"}
//   GET  /_emulator/stats         -> stats()
//   GET  /_emulator/info          -> {"application_id", "public_key", "api_prefix", "bot_url"}
//   GET  /_emulator/commands      -> the registered commands
asio::awaitable<net::Response> DiscordEmulator::Impl::handle_control(net::Request request) {
  learn_host(request);
  // A DiscordEmulator view over this Impl, for the in-process API (it does not own the state
  // beyond this call: the router's handler holds the shared_ptr).
  DiscordEmulator view(shared_from_this());
  const std::string path(request.path().substr(std::string_view("/_emulator/").size()));
  json::object body;
  if (request.method == "POST") {
    boost::system::error_code ec;
    json::value v = json::parse(request.body.empty() ? std::string("{}") : request.body, ec);
    if (ec || !v.is_object())
      co_return net::Response::json_error(400, "body must be a JSON object");
    body = std::move(v.as_object());
  }
  auto text = [&](std::string_view key) -> std::string {
    const auto* v = body.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto number = [&](std::string_view key, double fallback) -> double {
    const auto* v = body.if_contains(key);
    return v && v->is_number() ? v->to_number<double>() : fallback;
  };

  if (request.method == "POST" && path == "interactions") {
    CommandInvocation invocation;
    if (body.contains("text")) {
      auto parsed = view.parse_command_text(text("text"));
      if (!parsed) co_return net::Response::json_error(400, parsed.error().message);
      invocation = std::move(*parsed);
    } else {
      invocation.name = text("name");
      if (const auto* o = body.if_contains("options"); o && o->is_array()) {
        invocation.options = o->as_array();
      }
    }
    invocation.user_id = text("user_id");
    invocation.guild_id = text("guild_id");
    if (const auto* dm = body.if_contains("dm"); dm && dm->is_bool()) invocation.dm = dm->as_bool();
    Result<SentInteraction> sent = co_await view.send_command(std::move(invocation));
    co_return sent_response(sent);
  }
  if (request.method == "POST" && path == "click") {
    Result<SentInteraction> sent =
        co_await view.click(text("message_id"), text("custom_id"), text("user_id"));
    co_return sent_response(sent);
  }
  if (request.method == "POST" && path == "faults") {
    if (body.contains("delay_ms")) {
      view.delay_responses(static_cast<int>(number("count", 1)),
                           std::chrono::milliseconds(static_cast<std::int64_t>(
                               std::clamp(number("delay_ms", 0), 0.0, 60000.0))));
      co_return net::Response::json(200, "{}");
    }
    Fault fault;
    fault.method = body.contains("method") ? text("method") : fault.method;
    fault.route = body.contains("route") ? text("route") : fault.route;
    fault.count = static_cast<int>(number("count", 1));
    fault.status = static_cast<int>(number("status", 500));
    fault.retry_after = number("retry_after", 1.0);
    if (fault.status != 429 && (fault.status < 500 || fault.status > 599)) {
      co_return net::Response::json_error(400, "status must be 429 or 5xx");
    }
    view.add_fault(std::move(fault));
    co_return net::Response::json(200, "{}");
  }
  if (request.method == "POST" && path == "expire") {
    if (!view.expire(text("interaction_id"))) {
      co_return net::Response::json_error(404, "unknown interaction");
    }
    changed();
    co_return net::Response::json(200, "{}");
  }
  if (request.method != "GET") co_return net::Response::json_error(404, "no such control route");

  if (path == "messages") {
    co_return net::Response::json(200,
                                  json::serialize(json::object{{"messages", view.messages()}}));
  }
  if (path.starts_with("messages/")) {
    const std::string id = path.substr(9);
    std::optional<json::object> m;
    if (auto after = request.query_param("after_version")) {
      std::int64_t version = 0;
      if (is_snowflake(*after) && after->size() < 18) version = std::stoll(*after);
      m = co_await view.wait_message(id, version, timeout_param(request));
    } else {
      m = view.message(id);
    }
    if (!m) co_return net::Response::json_error(404, "unknown message");
    co_return net::Response::json(200, json::serialize(*m));
  }
  if (path == "wait") {
    const auto k = request.query_param("messages").value_or("1");
    const std::size_t count = is_snowflake(k) && k.size() < 10 ? std::stoul(k) : 1;
    const bool ready = co_await view.wait_completed(count, timeout_param(request));
    std::lock_guard lock(mutex_);
    const json::object stats = stats_locked();
    co_return net::Response::json(
        200, json::serialize(json::object{{"ready", ready},
                                          {"completed", stats.at("messages").at("completed")},
                                          {"loading", stats.at("messages").at("loading")}}));
  }
  if (path.starts_with("attachments/")) {
    const std::string rest = path.substr(12);
    const std::string id = rest.substr(0, rest.find('/'));
    std::lock_guard lock(mutex_);
    auto it = attachments_.find(id);
    if (it == attachments_.end()) co_return net::Response::json_error(404, "unknown attachment");
    net::Response response;
    response.headers.set("Content-Type", it->second.content_type);
    response.headers.set("Cache-Control", "public, max-age=86400, immutable");
    response.body = *it->second.data;
    co_return response;
  }
  if (path == "stats") co_return net::Response::json(200, json::serialize(view.stats()));
  if (path == "commands") co_return net::Response::json(200, json::serialize(view.commands()));
  if (path == "info") {
    std::lock_guard lock(mutex_);
    co_return net::Response::json(
        200,
        json::serialize(json::object{
            {"application_id", options_.application_id},
            {"public_key", core::to_hex(std::string_view(reinterpret_cast<const char*>(public_key_),
                                                         sizeof public_key_))},
            {"api_prefix", options_.api_prefix},
            {"bot_url", bot_url_}}));
  }
  co_return net::Response::json_error(404, "no such control route");
}

}  // namespace mando::emulator
