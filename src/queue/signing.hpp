#pragma once
// Worker authentication: every dispatch is signed, and worker routes refuse what is not.
//
//   X-Mando-Timestamp: 1700000000                        (Unix seconds at dispatch)
//   X-Mando-Signature: v1=<hex HMAC-SHA256(key, "v1\n" METHOD "\n" TARGET "\n" TIMESTAMP "\n"
//   BODY)>
//
// TARGET is the request target as sent (path and query, "/tasks/render?x=1"). An HMAC rather
// than a bearer token because it binds the method, the target and the body to the moment of
// dispatch: a leaked signature cannot be reused for other work, and is refused once it is older
// than the verifier's window (5 minutes by default, covering clock skew between machines). A
// request replayed within the window repeats the same task, which every worker handles anyway
// (delivery is at-least-once). The key is `[queue] signing_key`, shared by every process that
// dispatches or serves workers; libsodium computes the HMAC and compares in constant time.

#include <chrono>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "net/http_message.hpp"
#include "net/router.hpp"

namespace mando::queue {

inline constexpr std::string_view kTimestampHeader = "X-Mando-Timestamp";
inline constexpr std::string_view kSignatureHeader = "X-Mando-Signature";

class RequestSigner {
 public:
  static constexpr std::size_t kMinKeyBytes = 32;
  static constexpr std::chrono::seconds kDefaultWindow{300};

  // `key` must be at least kMinKeyBytes long.
  static Result<RequestSigner> from_key(std::string key);
  // A random key, for a single process that both dispatches and serves its workers.
  static RequestSigner random();

  // Sets the two headers on `headers` for a request of `method` to `target` with `body`.
  void sign(std::string_view method, std::string_view target, std::string_view body,
            std::chrono::system_clock::time_point now, net::Headers& headers) const;
  // kUnauthenticated, saying what is wrong (missing, malformed, stale or wrong signature).
  Result<void> verify(const net::Request& request, std::chrono::system_clock::time_point now,
                      std::chrono::seconds window = kDefaultWindow) const;

 private:
  explicit RequestSigner(std::string key) : key_(std::move(key)) {}
  std::string mac_hex(std::string_view method, std::string_view target, std::string_view timestamp,
                      std::string_view body) const;

  std::string key_;
};

// Wraps a worker route's handler: a request without a valid signature gets 401 and never
// reaches `handler`. `signer` must outlive the returned handler.
net::Handler require_signature(const RequestSigner& signer, net::Handler handler);

}  // namespace mando::queue
