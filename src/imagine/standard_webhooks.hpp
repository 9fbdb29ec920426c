#pragma once
// Standard Webhooks signatures (https://www.standardwebhooks.com), the scheme Replicate-style
// providers sign their webhooks with:
//
//   webhook-id         the message id (the same on every redelivery of one event)
//   webhook-timestamp  Unix seconds when it was sent
//   webhook-signature  space-separated "v1,<base64 HMAC-SHA256>" entries, one per secret the
//                      sender holds (several while a secret rotates); other versions are ignored
//
// The signed content is `id "." timestamp "." raw-body`, the body exactly as received: verify
// before parsing, never over re-serialised JSON. The key is the base64 part of the
// "whsec_<base64>" secret. A timestamp more than kTolerance away from now, in either direction,
// is refused, so a captured delivery cannot be replayed later; comparisons are constant-time.
//
// Thread-safety: immutable after create(); verify() may run on any thread at once.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace mando::imagine {

class StandardWebhooks {
 public:
  static constexpr std::chrono::seconds kTolerance{300};

  // `secrets`: one or more "whsec_<base64>" (the prefix is optional, as the reference libraries
  // allow). kInvalidArgument naming the entry's position when one does not decode; the secret
  // itself is never echoed.
  static Result<StandardWebhooks> create(const std::vector<std::string>& secrets);

  struct Headers {
    std::string_view id;
    std::string_view timestamp;
    std::string_view signature;
  };

  // kUnauthenticated saying why (a header missing, the timestamp malformed or out of tolerance,
  // no entry matching any secret); nothing of the key or the expected signature is in it.
  Result<void> verify(const Headers& headers, std::string_view body,
                      std::chrono::system_clock::time_point now) const;

  // The "v1,<base64>" entry the first secret gives `body`: what a sender puts in
  // webhook-signature (the fake provider, the tests).
  std::string sign(std::string_view id, std::int64_t timestamp, std::string_view body) const;

 private:
  explicit StandardWebhooks(std::vector<std::string> keys) : keys_(std::move(keys)) {}

  std::vector<std::string> keys_;  // raw HMAC keys
};

}  // namespace mando::imagine
