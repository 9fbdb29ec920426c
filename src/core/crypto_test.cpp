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

TEST(CryptoTest, Base64MatchesRfc4648Vectors) {
  // RFC 4648, section 10, and one byte string that differs between the two alphabets.
  EXPECT_EQ(to_base64("", Base64::kStandard), "");
  EXPECT_EQ(to_base64("f", Base64::kStandard), "Zg==");
  EXPECT_EQ(to_base64("foobar", Base64::kStandard), "Zm9vYmFy");
  EXPECT_EQ(to_base64("fo", Base64::kUrlNoPadding), "Zm8");
  const std::string high("\xfb\xff\xbf", 3);
  EXPECT_EQ(to_base64(high, Base64::kStandard), "+/+/");
  EXPECT_EQ(to_base64(high, Base64::kUrlNoPadding), "-_-_");
  EXPECT_EQ(from_base64("Zm9vYg==", Base64::kStandard), "foob");
  EXPECT_EQ(from_base64("Zm9vYg", Base64::kUrlNoPadding), "foob");
  EXPECT_EQ(from_base64("-_-_", Base64::kUrlNoPadding), high);
}

TEST(CryptoTest, HexBackAndForth) {
  const std::string bytes("\x00\x7f\xff\x10", 4);
  EXPECT_EQ(to_hex(bytes), "007fff10");
  EXPECT_EQ(from_hex("007fff10"), bytes);
  EXPECT_EQ(from_hex("007FFF10"), bytes);
  EXPECT_EQ(from_hex(""), std::string());
  EXPECT_EQ(from_hex("abc"), std::nullopt);  // odd length
  EXPECT_EQ(from_hex("zz"), std::nullopt);
  EXPECT_EQ(from_hex("ab cd"), std::nullopt);
}

TEST(CryptoTest, Base64RefusesWhatIsNotExactlyItsVariant) {
  EXPECT_EQ(from_base64("Zm9vYg", Base64::kStandard), std::nullopt);  // padding missing
  EXPECT_EQ(from_base64("Zm9vYg==", Base64::kUrlNoPadding), std::nullopt);
  EXPECT_EQ(from_base64("-_-_", Base64::kStandard), std::nullopt);       // the other alphabet
  EXPECT_EQ(from_base64("Zm9v YmFy", Base64::kStandard), std::nullopt);  // whitespace
  EXPECT_EQ(from_base64("Zm9v!", Base64::kStandard), std::nullopt);
  // libsodium alone decodes these as if the byte were "/" or "_" (a fuzzer's finding: one
  // signature, two spellings).
  EXPECT_EQ(from_base64("+/+\x84", Base64::kStandard), std::nullopt);
  EXPECT_EQ(from_base64("-_-\x84", Base64::kUrlNoPadding), std::nullopt);
  EXPECT_EQ(from_base64(std::string("Zm9v\0YmFy", 9), Base64::kStandard), std::nullopt);
}

}  // namespace
}  // namespace mando::core
