#include "discord/signature.hpp"

#include <string>

#include <gtest/gtest.h>

#include "core/crypto.hpp"

namespace mando::discord {
namespace {

// RFC 8032 section 7.1, TEST 1-3, copied from the RFC: the 32-byte secret key (seed), the public
// key, the message and the signature, all hex.
struct Vector {
  const char* name;
  std::string seed;
  std::string public_key;
  std::string message_hex;
  std::string signature;
};

const Vector kVectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
};

std::string unhex(const std::string& hex) { return core::from_hex(hex).value(); }

// Flips one bit of the hex digit at `index`.
std::string flip_hex_digit(std::string hex, std::size_t index) {
  const char digits[] = "0123456789abcdef";
  const int value = std::stoi(hex.substr(index, 1), nullptr, 16) ^ 1;
  hex[index] = digits[value];
  return hex;
}

TEST(Signature, Rfc8032VectorsDerivePublicKey) {
  for (const Vector& v : kVectors) {
    auto pair = key_pair_from_secret_hex(v.seed);
    ASSERT_TRUE(pair) << v.name << ": " << pair.error().message;
    EXPECT_EQ(pair->public_key_hex, v.public_key) << v.name;
    EXPECT_EQ(pair->secret_key_hex, v.seed + v.public_key) << v.name;
  }
}

TEST(Signature, Rfc8032VectorsSignByteForByte) {
  for (const Vector& v : kVectors) {
    const std::string message = unhex(v.message_hex);
    auto from_seed = sign_hex(v.seed, message);
    ASSERT_TRUE(from_seed) << v.name << ": " << from_seed.error().message;
    EXPECT_EQ(*from_seed, v.signature) << v.name;
    auto from_secret_key = sign_hex(v.seed + v.public_key, message);
    ASSERT_TRUE(from_secret_key) << v.name;
    EXPECT_EQ(*from_secret_key, v.signature) << v.name;
  }
}

TEST(Signature, Rfc8032VectorsVerify) {
  for (const Vector& v : kVectors) {
    auto verifier = SignatureVerifier::from_hex(v.public_key);
    ASSERT_TRUE(verifier) << v.name << ": " << verifier.error().message;
    EXPECT_EQ(verifier->public_key_hex(), v.public_key);
    const std::string message = unhex(v.message_hex);
    EXPECT_TRUE(verifier->verify(v.signature, "", message)) << v.name;
    // The message is timestamp + body: where it is split does not matter.
    if (!message.empty()) {
      EXPECT_TRUE(verifier->verify(v.signature, message.substr(0, 1), message.substr(1))) << v.name;
    }
  }
}

TEST(Signature, Rfc8032VectorsRefuseFlippedBits) {
  for (const Vector& v : kVectors) {
    auto verifier = SignatureVerifier::from_hex(v.public_key);
    ASSERT_TRUE(verifier);
    const std::string message = unhex(v.message_hex);
    for (std::size_t i : {std::size_t{0}, std::size_t{63}, std::size_t{64}, std::size_t{127}}) {
      EXPECT_FALSE(verifier->verify(flip_hex_digit(v.signature, i), "", message))
          << v.name << " signature digit " << i;
    }
    std::string tampered = message;
    if (tampered.empty()) {
      tampered = std::string(1, '\0');
    } else {
      tampered[0] = static_cast<char>(tampered[0] ^ 0x01);
    }
    EXPECT_FALSE(verifier->verify(v.signature, "", tampered)) << v.name;
    EXPECT_FALSE(verifier->verify(v.signature, "1", message)) << v.name << " extra timestamp";
  }
}

TEST(Signature, VerifyAcceptsUpperCaseHex) {
  const Vector& v = kVectors[1];
  auto verifier = SignatureVerifier::from_hex(v.public_key);
  ASSERT_TRUE(verifier);
  std::string upper = v.signature;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(verifier->verify(upper, "", unhex(v.message_hex)));
}

TEST(Signature, VerifyRefusesMalformedSignatures) {
  const Vector& v = kVectors[1];
  auto verifier = SignatureVerifier::from_hex(v.public_key);
  ASSERT_TRUE(verifier);
  const std::string message = unhex(v.message_hex);
  for (const std::string& bad :
       {std::string(), v.signature.substr(0, 127), v.signature + "0", v.signature + "00",
        v.signature.substr(0, 126), std::string(128, 'z'), "0x" + v.signature.substr(2),
        v.signature.substr(0, 127) + "g", " " + v.signature.substr(1),
        std::string(v.signature.data(), 64) + std::string(64, '\0')}) {
    EXPECT_FALSE(verifier->verify(bad, "", message)) << bad;
  }
}

TEST(Signature, FromHexRefusesMalformedKeys) {
  const std::string good = kVectors[0].public_key;
  for (const std::string& bad :
       {std::string(), good.substr(0, 63), good + "0", good.substr(0, 62), std::string(64, 'x'),
        good.substr(0, 63) + "-",
        // The identity point: valid encoding, small order, never an honest key.
        std::string("01") + std::string(62, '0')}) {
    auto verifier = SignatureVerifier::from_hex(bad);
    ASSERT_FALSE(verifier) << bad;
    EXPECT_EQ(verifier.error().kind, ErrorKind::kInvalidArgument);
    if (!bad.empty()) {
      EXPECT_EQ(verifier.error().message.find(bad), std::string::npos);
    }
  }
}

TEST(Signature, GeneratedKeyPairsSignAndVerify) {
  KeyPair a = generate_key_pair();
  KeyPair b = generate_key_pair();
  EXPECT_EQ(a.public_key_hex.size(), 64u);
  EXPECT_EQ(a.secret_key_hex.size(), 128u);
  EXPECT_NE(a.secret_key_hex, b.secret_key_hex);
  auto signature = sign_hex(a.secret_key_hex, "1700000000{\"type\":1}");
  ASSERT_TRUE(signature);
  auto verifier = SignatureVerifier::from_hex(a.public_key_hex);
  ASSERT_TRUE(verifier);
  EXPECT_TRUE(verifier->verify(*signature, "1700000000", "{\"type\":1}"));
  auto other = SignatureVerifier::from_hex(b.public_key_hex);
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->verify(*signature, "1700000000", "{\"type\":1}"));
}

TEST(Signature, SignHexRefusesBadSecretKeys) {
  // TEST 1's seed with TEST 2's public half: not a key pair.
  const std::string mismatched = kVectors[0].seed + kVectors[1].public_key;
  for (const std::string& bad : {std::string(), std::string(63, 'a'), std::string(64, 'z'),
                                 std::string(127, 'a'), std::string(130, 'a'), mismatched}) {
    auto signature = sign_hex(bad, "message");
    ASSERT_FALSE(signature) << bad;
    EXPECT_EQ(signature.error().kind, ErrorKind::kInvalidArgument);
    if (!bad.empty()) {
      EXPECT_EQ(signature.error().message.find(bad), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace mando::discord
