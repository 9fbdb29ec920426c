#include "storage/url_signer.hpp"

#include <gtest/gtest.h>

namespace mando::storage {
namespace {

const TimePoint kNow{std::chrono::seconds(1795413630)};

UrlSigner signer() { return UrlSigner::from_key(std::string(32, 'k')).value(); }

// The two query parameters of a signed query string.
std::pair<std::string, std::string> split(const std::string& query) {
  const auto amp = query.find('&');
  return {query.substr(8, amp - 8), query.substr(amp + 11)};
}

TEST(UrlSignerTest, ASignedPathVerifiesUntilItExpires) {
  const auto [expires, signature] =
      split(signer().query("/blobs/a.png", kNow + std::chrono::hours(1)));
  EXPECT_EQ(expires, "1795417230");
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_TRUE(signer().verify("/blobs/a.png", expires, signature, kNow));
  auto late = signer().verify("/blobs/a.png", expires, signature, kNow + std::chrono::hours(2));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_NE(late.error().message.find("expired"), std::string::npos);
}

TEST(UrlSignerTest, AnotherPathAnotherExpiryOrAnotherKeyIsRefused) {
  const auto [expires, signature] =
      split(signer().query("/blobs/a.png", kNow + std::chrono::hours(1)));
  EXPECT_FALSE(signer().verify("/blobs/b.png", expires, signature, kNow));
  EXPECT_FALSE(signer().verify("/blobs/a.png", "1895417230", signature, kNow));
  auto other = UrlSigner::from_key(std::string(32, 'x')).value();
  EXPECT_FALSE(other.verify("/blobs/a.png", expires, signature, kNow));
  auto missing = signer().verify("/blobs/a.png", std::nullopt, signature, kNow);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("not signed"), std::string::npos);
  EXPECT_FALSE(signer().verify("/blobs/a.png", "soon", signature, kNow));
}

TEST(UrlSignerTest, ShortKeysAreRefusedNamingTheSetting) {
  auto r = UrlSigner::from_key("short");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("[storage] url_signing_key"), std::string::npos);
}

}  // namespace
}  // namespace mando::storage
