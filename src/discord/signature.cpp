#include "discord/signature.hpp"

#include <cstdlib>
#include <cstring>

#include <sodium.h>

namespace mando::discord {
namespace {

// libsodium must be initialised once before use; sodium_init() is itself thread-safe and
// idempotent, the static only saves the call. Failure means no usable RNG: a broken host, so
// crash loudly rather than verify nothing.
void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();
}

// Decodes exactly out.size() bytes from exactly 2 * out.size() hex digits (either case).
template <std::size_t N>
bool decode_hex(std::string_view hex, std::array<std::uint8_t, N>& out) {
  if (hex.size() != 2 * N) return false;
  std::size_t written = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, &end) !=
      0) {
    return false;
  }
  return written == N && end == hex.data() + hex.size();
}

template <std::size_t N>
std::string encode_hex(const std::array<std::uint8_t, N>& bytes) {
  std::string out(2 * N + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();  // the terminating NUL
  return out;
}

// A secret key wiped from memory when it goes out of scope.
struct SecretKey {
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  ~SecretKey() { sodium_memzero(sk.data(), sk.size()); }
};

Result<void> load_secret_key(std::string_view hex, SecretKey& key) {
  ensure_sodium();
  if (hex.size() == 2 * crypto_sign_SEEDBYTES) {
    std::array<std::uint8_t, crypto_sign_SEEDBYTES> seed{};
    const bool ok = decode_hex(hex, seed) &&
                    crypto_sign_seed_keypair(key.pk.data(), key.sk.data(), seed.data()) == 0;
    sodium_memzero(seed.data(), seed.size());
    if (ok) return {};
  } else if (hex.size() == 2 * crypto_sign_SECRETKEYBYTES) {
    if (decode_hex(hex, key.sk)) {
      // libsodium's secret key is seed || public key; signing with a mismatched public half
      // yields signatures nobody can verify, so refuse it here.
      SecretKey derived;
      if (crypto_sign_seed_keypair(derived.pk.data(), derived.sk.data(), key.sk.data()) == 0 &&
          sodium_memcmp(derived.sk.data(), key.sk.data(), key.sk.size()) == 0) {
        key.pk = derived.pk;
        return {};
      }
      return fail(ErrorKind::kInvalidArgument,
                  "secret key: its public half does not belong to its seed");
    }
  }
  return fail(ErrorKind::kInvalidArgument,
              "secret key: expected 128 hex digits (64-byte secret key) or 64 hex digits "
              "(32-byte seed)");
}

}  // namespace

Result<SignatureVerifier> SignatureVerifier::from_hex(std::string_view public_key_hex) {
  ensure_sodium();
  std::array<std::uint8_t, kPublicKeyBytes> key{};
  if (!decode_hex(public_key_hex, key)) {
    return fail(ErrorKind::kInvalidArgument,
                "public key: expected 64 hex digits (a 32-byte Ed25519 public key)");
  }
  // Rejects non-canonical and small-order points, which no honest key pair produces and which
  // crypto_sign_verify_detached() refuses anyway: better to say so at start-up.
  if (crypto_core_ed25519_is_valid_point(key.data()) != 1) {
    return fail(ErrorKind::kInvalidArgument, "public key: not a valid Ed25519 public key");
  }
  return SignatureVerifier(key);
}

bool SignatureVerifier::verify(std::string_view signature_hex, std::string_view timestamp,
                               std::string_view body) const {
  std::array<std::uint8_t, kSignatureBytes> signature{};
  if (!decode_hex(signature_hex, signature)) return false;
  // libsodium has no streaming API for plain Ed25519, so the message is assembled in one buffer.
  std::string message;
  message.reserve(timestamp.size() + body.size());
  message.append(timestamp).append(body);
  return crypto_sign_verify_detached(signature.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key_.data()) == 0;
}

std::string SignatureVerifier::public_key_hex() const { return encode_hex(key_); }

KeyPair generate_key_pair() {
  ensure_sodium();
  SecretKey key;
  crypto_sign_keypair(key.pk.data(), key.sk.data());
  return KeyPair{encode_hex(key.pk), encode_hex(key.sk)};
}

Result<KeyPair> key_pair_from_secret_hex(std::string_view secret_key_hex) {
  SecretKey key;
  if (auto loaded = load_secret_key(secret_key_hex, key); !loaded) {
    return tl::unexpected(loaded.error());
  }
  return KeyPair{encode_hex(key.pk), encode_hex(key.sk)};
}

Result<std::string> sign_hex(std::string_view secret_key_hex, std::string_view message) {
  SecretKey key;
  if (auto loaded = load_secret_key(secret_key_hex, key); !loaded) {
    return tl::unexpected(loaded.error());
  }
  std::array<std::uint8_t, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       key.sk.data());
  return encode_hex(signature);
}

}  // namespace mando::discord
