#pragma once
// Ed25519 request signatures, the way Discord signs interactions.
//
// Discord signs every POST to the interactions URL with the application's Ed25519 key: the
// X-Signature-Ed25519 header holds the hex signature of (X-Signature-Timestamp value + raw body)
// and the application's public key (hex, shown in the developer portal) verifies it. Discord
// probes the endpoint with bad signatures and expects 401s; see interactions_endpoint.hpp.
//
// libsodium does the cryptography (plain Ed25519, RFC 8032, not Ed25519ph). Nothing here logs
// or puts key material in error messages.
//
// Thread-safety: a SignatureVerifier is immutable; verify() may run on any thread at once.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace mando::discord {

class SignatureVerifier {
 public:
  static constexpr std::size_t kPublicKeyBytes = 32;
  static constexpr std::size_t kSignatureBytes = 64;

  // `public_key_hex` is the application's public key: exactly 64 hex digits (32 bytes) that
  // decode to a valid Ed25519 point. kInvalidArgument otherwise (the key is not echoed).
  static Result<SignatureVerifier> from_hex(std::string_view public_key_hex);

  // True when `signature_hex` (exactly 128 hex digits) is a valid signature of
  // timestamp + body. Anything malformed is simply false: this never throws.
  bool verify(std::string_view signature_hex, std::string_view timestamp,
              std::string_view body) const;

  // The public key, as 64 lower-case hex digits.
  std::string public_key_hex() const;

 private:
  explicit SignatureVerifier(const std::array<std::uint8_t, kPublicKeyBytes>& key) : key_(key) {}
  std::array<std::uint8_t, kPublicKeyBytes> key_{};
};

struct KeyPair {
  std::string public_key_hex;  // 64 hex digits
  std::string secret_key_hex;  // 128 hex digits: libsodium's secret key (seed + public key)
};

// A fresh random key pair (`mando keys generate`).
KeyPair generate_key_pair();

// The key pair of a secret key given as 128 hex digits (libsodium's 64-byte secret key) or as
// 64 hex digits (the 32-byte RFC 8032 seed). kInvalidArgument for anything else, or for a
// 64-byte key whose public half does not belong to its seed.
Result<KeyPair> key_pair_from_secret_hex(std::string_view secret_key_hex);

// The Ed25519 signature of `message` as 128 lower-case hex digits, with a secret key in either
// form accepted by key_pair_from_secret_hex(). Discord signs timestamp + body: pass that.
Result<std::string> sign_hex(std::string_view secret_key_hex, std::string_view message);

}  // namespace mando::discord
