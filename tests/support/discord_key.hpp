#pragma once
// Signs interactions the way Discord does, with libsodium directly, independently of mando's own
// signing code, for the end-to-end tests of the real binary.

#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <sodium.h>

#include "support/raw_http.hpp"

namespace mando::testing {

// A fixed test key: Ed25519 seed of 32 bytes 0x01..0x20.
struct TestKey {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  TestKey() {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init");
    unsigned char seed[crypto_sign_SEEDBYTES];
    for (unsigned i = 0; i < sizeof seed; ++i) seed[i] = static_cast<unsigned char>(i + 1);
    crypto_sign_seed_keypair(pk, sk, seed);
  }
  std::string public_hex() const {
    char hex[crypto_sign_PUBLICKEYBYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    return hex;
  }
  std::string sign(const std::string& timestamp, const std::string& body) const {
    std::string message = timestamp + body;
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                         message.size(), sk);
    char hex[crypto_sign_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, sig, sizeof sig);
    return hex;
  }
};

inline std::string signed_request(const TestKey& key, const std::string& body,
                                  const std::string& timestamp = "1700000000") {
  return raw_request("POST", "/interactions", body,
                     fmt::format("Content-Type: application/json\r\nX-Signature-Ed25519: "
                                 "{}\r\nX-Signature-Timestamp: {}\r\n",
                                 key.sign(timestamp, body), timestamp));
}

}  // namespace mando::testing
