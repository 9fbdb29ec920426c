#pragma once
// fal's webhook signatures (fal.hpp): Ed25519 over "request_id\nuser_id\ntimestamp\n
// sha256-hex(body)", hex in X-Fal-Webhook-Signature, any key of the provider's JWKS (RFC 7517:
// "kty": "OKP", "crv": "Ed25519", "x": base64url), the timestamp within 5 minutes. The JWKS is
// fetched through the caller's fetch (the untrusted-URL client) and kept for a day; a
// signature no cached key matches fetches it again, at most once a minute, so a key rotation
// is picked up without opening a door to a fetch per forged request.

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "discord/signature.hpp"
#include "imagine/webhook_verifier.hpp"

namespace mando::imagine {

// The Ed25519 keys of a JWKS document; kInvalidArgument when it is not one or holds none.
Result<std::vector<discord::SignatureVerifier>> parse_jwks(std::string_view json);
// The JWK of an Ed25519 public key (64 hex digits), as a JWKS lists it (what the fake provider
// serves, and the inverse of parse_jwks for one key).
boost::json::object ed25519_jwk(std::string_view public_key_hex, std::string_view kid);

class FalWebhookVerifier final : public WebhookVerifier {
 public:
  static constexpr std::chrono::seconds kTolerance{300};
  static constexpr std::chrono::hours kKeysKeptFor{24};
  static constexpr std::chrono::minutes kRefetchAfter{1};

  // `fetch_jwks` answers the JWKS document (kUnavailable when it cannot).
  using JwksFetch = std::function<boost::asio::awaitable<Result<std::string>>()>;
  explicit FalWebhookVerifier(JwksFetch fetch_jwks) : fetch_(std::move(fetch_jwks)) {}

  // The event id is "fal-" + the request id: fal sends one completion per request and retries
  // that one.
  boost::asio::awaitable<Result<std::string>> verify(
      const net::Headers& headers, std::string_view body,
      std::chrono::system_clock::time_point now) override;

 private:
  // The keys, fetched when there are none, they are older than a day, or `stale` (no key
  // matched) and the last fetch is over a minute old. Empty with the error of a failed fetch.
  boost::asio::awaitable<Result<std::vector<discord::SignatureVerifier>>> keys(
      std::chrono::system_clock::time_point now, bool stale);

  JwksFetch fetch_;
  std::mutex mutex_;
  std::vector<discord::SignatureVerifier> keys_;
  std::chrono::system_clock::time_point fetched_{};
};

}  // namespace mando::imagine
