#include "storage/key.hpp"

#include <string>

#include <gtest/gtest.h>

namespace mando::storage {
namespace {

TEST(BlobKeyTest, AcceptsRelativeKeysOfTheDocumentedCharacters) {
  for (std::string key : {"a", "mandala/2026/11/23/abc-DEF_0.9.png", "x.y", "..a", "a..", "_x"}) {
    EXPECT_TRUE(check_key_syntax(key)) << key;
    EXPECT_TRUE(validate_key(key)) << key;
  }
  EXPECT_TRUE(validate_key(std::string(kMaxKeyBytes, 'k')));
}

TEST(BlobKeyTest, RefusesTraversalAbsoluteEmptyAndForeignCharacters) {
  struct Case {
    std::string key;
    std::string message;
  };
  for (const Case& c :
       {Case{"", "must not be empty"}, Case{"/etc/passwd", "must be relative"},
        Case{"a//b", "empty segments"}, Case{"a/", "empty segments"}, Case{"..", "'..' segments"},
        Case{"a/../../etc", "'..' segments"}, Case{"./a", "'.' or '..'"}, Case{"a b", "0x20"},
        Case{"a\\b", "0x5c"}, Case{"a%2e%2e", "0x25"}, Case{std::string("a\0b", 3), "0x00"},
        Case{"caf\xc3\xa9", "0xc3"},
        Case{std::string(kMaxKeyBytes + 1, 'k'), "at most 512 bytes"}}) {
    auto r = validate_key(c.key);
    ASSERT_FALSE(r) << c.key;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
  }
}

TEST(BlobKeyTest, TheExpiryIndexPrefixIsReservedForTheStore) {
  EXPECT_TRUE(check_key_syntax("_expiry/20261123T0600/a.png"));
  auto r = validate_key("_expiry/20261123T0600/a.png");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("reserved"), std::string::npos);
}

TEST(BlobKeyTest, ErrorsShowAtMost64CharactersOfTheKey) {
  auto r = validate_key(std::string(600, 'k') + " ");
  ASSERT_FALSE(r);
  EXPECT_LT(r.error().message.size(), 200u);
}

}  // namespace
}  // namespace mando::storage
