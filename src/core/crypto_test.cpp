#include "core/crypto.hpp"

#include <gtest/gtest.h>

namespace mando::core {
namespace {

TEST(CryptoTest, Sha256MatchesFips180Example) {
  // FIPS 180-2, appendix B.1: the message "abc".
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, HmacSha256MatchesRfc4231AndJoinsItsParts) {
  // RFC 4231, test case 2.
  const std::string expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", {"what do ya want for nothing?"})), expected);
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", {"what do ya ", "", "want for nothing?"})), expected);
}

TEST(CryptoTest, HexAndConstantTimeComparison) {
  EXPECT_EQ(to_hex(std::string("\x00\x7f\xff", 3)), "007fff");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

}  // namespace
}  // namespace mando::core
