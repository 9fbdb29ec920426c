#pragma once
// The few cryptographic helpers mando needs in several parts (worker signatures, signed blob
// URLs, S3 request signing, webhook signatures), over libsodium: SHA-256, HMAC-SHA256, hex,
// base64 and a constant-time comparison. Keys and digests are raw bytes in std::string.

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace mando::core {

// SHA-256 of `data`, 32 raw bytes.
std::string sha256(std::string_view data);

// HMAC-SHA256 under `key` of the concatenation of `parts`, 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::initializer_list<std::string_view> parts);

// Lower-case hex of raw bytes, and back (either case; nullopt for an odd length or a non-hex
// character).
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);

// RFC 4648 base64: the standard alphabet with padding (section 4), or the URL-safe alphabet
// without padding (section 5, as in JWKs and page tokens).
enum class Base64 { kStandard, kUrlNoPadding };

std::string to_base64(std::string_view bytes, Base64 variant);
// The bytes, or nullopt unless all of `text` is base64 of that variant (no whitespace, padding
// exactly where the variant has it).
std::optional<std::string> from_base64(std::string_view text, Base64 variant);

// a == b in time that depends only on the sizes.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace mando::core
