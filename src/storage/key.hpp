#pragma once
// Blob keys: what a caller may name a blob, checked once before any backend sees it.
//
// A key is relative and '/'-separated: one or more segments of [A-Za-z0-9._-], none empty, none
// "." or "..", at most 512 bytes in all. That set is safe as a file path under the blob root, as
// an S3 key that needs no escaping rules beyond URI encoding, and inside a URL path. Keys under
// the reserved prefix "_expiry/" belong to BlobStore's expiry index.

#include <string_view>

#include "core/error.hpp"

namespace mando::storage {

inline constexpr std::size_t kMaxKeyBytes = 512;
inline constexpr std::string_view kExpiryPrefix = "_expiry/";

// Ok when `key` is a well-formed key (reserved ones included); kInvalidArgument naming the
// problem otherwise.
Result<void> check_key_syntax(std::string_view key);

// check_key_syntax, and not under the reserved prefix: what callers of BlobStore may use.
Result<void> validate_key(std::string_view key);

}  // namespace mando::storage
