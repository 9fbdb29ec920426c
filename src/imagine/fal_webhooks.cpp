#include "imagine/fal_webhooks.hpp"

#include <charconv>

#include <boost/json/parse.hpp>

#include "core/crypto.hpp"
#include "imagine/fal.hpp"

namespace mando::imagine {

namespace json = boost::json;

namespace {

tl::unexpected<Error> refused(std::string_view why) {
  return fail(ErrorKind::kUnauthenticated, std::string(why));
}

bool matches(const std::vector<discord::SignatureVerifier>& keys, std::string_view signature,
             std::string_view message) {
  for (const auto& key : keys) {
    if (key.verify(signature, "", message)) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<discord::SignatureVerifier>> parse_jwks(std::string_view text) {
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  const json::value* list =
      !ec && value.is_object() ? value.as_object().if_contains("keys") : nullptr;
  if (list == nullptr || !list->is_array()) {
    return fail(ErrorKind::kInvalidArgument, "JWKS: not an object with a `keys` array");
  }
  std::vector<discord::SignatureVerifier> keys;
  for (const auto& entry : list->as_array()) {
    const json::object* key = entry.if_object();
    if (key == nullptr) continue;
    const auto field = [&](std::string_view name) -> std::string_view {
      const json::value* v = key->if_contains(name);
      return v != nullptr && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
    };
    if (field("kty") != "OKP" || field("crv") != "Ed25519") continue;
    auto raw = core::from_base64(field("x"), core::Base64::kUrlNoPadding);
    if (!raw || raw->size() != discord::SignatureVerifier::kPublicKeyBytes) continue;
    if (auto verifier = discord::SignatureVerifier::from_hex(core::to_hex(*raw))) {
      keys.push_back(std::move(*verifier));
    }
  }
  if (keys.empty()) return fail(ErrorKind::kInvalidArgument, "JWKS: no Ed25519 key");
  return keys;
}

json::object ed25519_jwk(std::string_view public_key_hex, std::string_view kid) {
  return {{"kty", "OKP"},
          {"crv", "Ed25519"},
          {"kid", kid},
          {"x", core::to_base64(core::from_hex(public_key_hex).value_or(""),
                                core::Base64::kUrlNoPadding)}};
}

boost::asio::awaitable<Result<std::vector<discord::SignatureVerifier>>> FalWebhookVerifier::keys(
    std::chrono::system_clock::time_point now, bool stale) {
  {
    std::lock_guard lock(mutex_);
    const bool fresh = !keys_.empty() && now - fetched_ < kKeysKeptFor;
    if (fresh && (!stale || now - fetched_ < kRefetchAfter)) co_return keys_;
  }
  auto document = co_await fetch_();
  auto parsed =
      document ? parse_jwks(*document)
               : Result<std::vector<discord::SignatureVerifier>>(tl::unexpected(document.error()));
  std::lock_guard lock(mutex_);
  if (!parsed) {
    if (!keys_.empty()) co_return keys_;  // keep checking with what we had
    co_return fail(ErrorKind::kUnavailable,
                   "the provider's webhook keys cannot be fetched: " + parsed.error().message);
  }
  keys_ = std::move(*parsed);
  fetched_ = now;
  co_return keys_;
}

boost::asio::awaitable<Result<std::string>> FalWebhookVerifier::verify(
    const net::Headers& headers, std::string_view body, std::chrono::system_clock::time_point now) {
  const auto header = [&](std::string_view name) { return headers.get(name).value_or(""); };
  const std::string_view request_id = header("x-fal-webhook-request-id");
  const std::string_view user_id = header("x-fal-webhook-user-id");
  const std::string_view timestamp = header("x-fal-webhook-timestamp");
  const std::string_view signature = header("x-fal-webhook-signature");
  if (request_id.empty() || user_id.empty() || timestamp.empty() || signature.empty()) {
    co_return refused("an X-Fal-Webhook-* header is missing");
  }
  std::int64_t seconds = 0;
  const auto [end, ec] =
      std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), seconds);
  if (ec != std::errc() || end != timestamp.data() + timestamp.size()) {
    co_return refused("X-Fal-Webhook-Timestamp is not a number of seconds");
  }
  const std::int64_t now_seconds =
      std::chrono::time_point_cast<std::chrono::seconds>(now).time_since_epoch().count();
  if (seconds > now_seconds + kTolerance.count() || seconds < now_seconds - kTolerance.count()) {
    co_return refused("X-Fal-Webhook-Timestamp is more than 5 minutes from now");
  }
  const std::string message = fal::signed_message(request_id, user_id, timestamp, body);
  for (bool stale : {false, true}) {
    auto known = co_await keys(now, stale);
    if (!known) co_return tl::unexpected(known.error());
    if (matches(*known, signature, message)) co_return "fal-" + std::string(request_id);
  }
  co_return refused("no key of the provider's JWKS signed this webhook");
}

}  // namespace mando::imagine
