#include "core/crypto.hpp"

#include <algorithm>

#include <sodium.h>

namespace mando::core {
namespace {

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

int sodium_variant(Base64 variant) {
  return variant == Base64::kStandard ? sodium_base64_VARIANT_ORIGINAL
                                      : sodium_base64_VARIANT_URLSAFE_NO_PADDING;
}

}  // namespace

std::string sha256(std::string_view data) {
  std::string digest(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(digest.data()), bytes(data), data.size());
  return digest;
}

std::string hmac_sha256(std::string_view key, std::initializer_list<std::string_view> parts) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, bytes(key), key.size());
  for (std::string_view part : parts)
    crypto_auth_hmacsha256_update(&state, bytes(part), part.size());
  std::string mac(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_final(&state, reinterpret_cast<unsigned char*>(mac.data()));
  sodium_memzero(&state, sizeof state);
  return mac;
}

std::string to_hex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0f]);
  }
  return out;
}

std::string to_base64(std::string_view raw, Base64 variant) {
  std::string out(sodium_base64_encoded_len(raw.size(), sodium_variant(variant)), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes(raw), raw.size(), sodium_variant(variant));
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(),
                     hex.size(), nullptr, &length, &end) != 0 ||
      end != hex.data() + hex.size() || length != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> from_base64(std::string_view text, Base64 variant) {
  // libsodium's decoder takes some bytes outside the alphabet for letters of it (found by
  // fuzzing: "\x84" read as "/"), which would make one value have several spellings; only
  // the variant's own characters pass.
  const bool url = variant == Base64::kUrlNoPadding;
  const bool alphabet = std::all_of(text.begin(), text.end(), [url](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (url ? c == '-' || c == '_' : c == '+' || c == '/' || c == '=');
  });
  if (!alphabet) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &length, &end, sodium_variant(variant)) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mando::core
