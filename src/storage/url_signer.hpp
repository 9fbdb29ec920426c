#pragma once
// Signed blob URLs: `{base}/blobs/{key}?expires={unix seconds}&signature={hex}`, where the
// signature is HMAC-SHA256(key, "GET\n" PATH "\n" EXPIRES) with PATH = "/blobs/{key}". Without
// the key nobody can make a URL for a blob, so stored images cannot be enumerated or fetched
// past the time the URL was made for. The key is `[storage] url_signing_key`.

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "storage/blob_backend.hpp"

namespace mando::storage {

class UrlSigner {
 public:
  static constexpr std::size_t kMinKeyBytes = 32;

  // kInvalidArgument when `key` is shorter than kMinKeyBytes.
  static Result<UrlSigner> from_key(std::string key);

  // The query string that makes `path` fetchable until `expires`: "expires=...&signature=...".
  std::string query(std::string_view path, TimePoint expires) const;

  // kPermissionDenied, saying why, unless `expires` and `signature` (the query parameters as
  // received) sign `path` and `expires` is after `now`.
  Result<void> verify(std::string_view path, const std::optional<std::string>& expires,
                      const std::optional<std::string>& signature, TimePoint now) const;

 private:
  explicit UrlSigner(std::string key) : key_(std::move(key)) {}
  std::string signature(std::string_view path, std::string_view expires) const;

  std::string key_;
};

}  // namespace mando::storage
