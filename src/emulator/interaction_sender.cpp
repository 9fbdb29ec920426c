#include "emulator/interaction_sender.hpp"

#include <algorithm>
#include <cstdlib>

#include <boost/json/array.hpp>

#include "core/crypto.hpp"
#include "core/log.hpp"
#include "emulator/wire.hpp"

namespace mando::emulator {

namespace json = boost::json;

InteractionSigner::InteractionSigner(std::string_view hex) {
  if (sodium_init() < 0) std::abort();  // libsodium cannot work at all: nothing to recover
  unsigned char seed[crypto_sign_SEEDBYTES];
  std::size_t seed_len = 0;
  if (hex.empty() ||
      sodium_hex2bin(seed, sizeof seed, hex.data(), hex.size(), nullptr, &seed_len, nullptr) != 0 ||
      seed_len != sizeof seed) {
    if (!hex.empty()) {
      core::logger("emulator")->warn("secret_key_seed_hex is not 64 hex digits; random key");
    }
    randombytes_buf(seed, sizeof seed);
  }
  crypto_sign_seed_keypair(public_key_, secret_key_, seed);
  sodium_memzero(seed, sizeof seed);
}

InteractionSigner::~InteractionSigner() { sodium_memzero(secret_key_, sizeof secret_key_); }

std::string InteractionSigner::public_key_hex() const {
  return core::to_hex(
      std::string_view(reinterpret_cast<const char*>(public_key_), sizeof public_key_));
}

std::string InteractionSigner::sign(std::string_view timestamp, std::string_view body) const {
  const std::string signed_text = std::string(timestamp) + std::string(body);
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(signature, nullptr,
                       reinterpret_cast<const unsigned char*>(signed_text.data()),
                       signed_text.size(), secret_key_);
  return core::to_hex(std::string_view(reinterpret_cast<const char*>(signature), sizeof signature));
}

json::object interaction_body(const InteractionRecord& rec, json::object body,
                              std::string_view application_id, std::int64_t attachment_size_limit) {
  body["id"] = rec.id;
  body["token"] = rec.token;
  body["application_id"] = application_id;
  body["version"] = 1;
  body["app_permissions"] = "562949953601536";
  body["entitlements"] = json::array{};
  body["entitlement_sku_ids"] = json::array{};
  body["locale"] = "en-US";
  body["attachment_size_limit"] = attachment_size_limit;
  body["channel_id"] = rec.channel_id;
  const json::object user = user_object(rec.user_id);
  if (rec.guild_id.empty()) {
    body["context"] = 1;  // BOT_DM
    body["user"] = user;
    body["channel"] = {{"flags", 0},
                       {"id", rec.channel_id},
                       {"last_message_id", nullptr},
                       {"recipients", json::array{user}},
                       {"type", 1}};
  } else {
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
  return body;
}

net::ClientRequest signed_interaction_request(const InteractionSigner& signer, std::string url,
                                              std::string body, std::chrono::milliseconds timeout) {
  const std::string timestamp = std::to_string(unix_ms() / 1000);
  net::ClientRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.headers.set("Content-Type", "application/json");
  request.headers.set("User-Agent", "Discord-Interactions/1.0 (+https://discord.com)");
  request.headers.set("X-Signature-Ed25519", signer.sign(timestamp, body));
  request.headers.set("X-Signature-Timestamp", timestamp);
  request.body = std::move(body);
  request.timeout = timeout;
  request.connect_timeout = std::min(request.connect_timeout, timeout);
  request.max_response_bytes = 8 * 1024 * 1024;
  return request;
}

}  // namespace mando::emulator
