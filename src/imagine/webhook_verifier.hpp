#pragma once
// What checks a provider's webhook before anything of it is parsed, whatever the provider's
// scheme: Standard Webhooks' HMAC (Replicate) or Ed25519 over a JWKS (fal). It answers the
// event's id, the name its imagine-events task takes, so that a redelivery of the same event is
// recognised by the queue.
//
// Thread-safety: verify() may run from any number of coroutines at once.

#include <chrono>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "imagine/standard_webhooks.hpp"
#include "net/http_message.hpp"

namespace mando::imagine {

class WebhookVerifier {
 public:
  virtual ~WebhookVerifier() = default;

  // The event id; kUnauthenticated saying why not (nothing secret in it), kUnavailable when the
  // keys to check with cannot be had right now (the provider retries).
  virtual boost::asio::awaitable<Result<std::string>> verify(
      const net::Headers& headers, std::string_view body,
      std::chrono::system_clock::time_point now) = 0;
};

// Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature); the id is webhook-id.
class StandardWebhookVerifier final : public WebhookVerifier {
 public:
  explicit StandardWebhookVerifier(StandardWebhooks hooks) : hooks_(std::move(hooks)) {}

  boost::asio::awaitable<Result<std::string>> verify(
      const net::Headers& headers, std::string_view body,
      std::chrono::system_clock::time_point now) override;

 private:
  StandardWebhooks hooks_;
};

}  // namespace mando::imagine
