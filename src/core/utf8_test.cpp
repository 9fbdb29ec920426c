#include "core/utf8.hpp"

#include <gtest/gtest.h>

namespace mando::core {
namespace {

TEST(Utf8, CountsCodePointsNotBytes) {
  EXPECT_EQ(code_points(""), 0u);
  EXPECT_EQ(code_points("mando"), 5u);
  EXPECT_EQ(code_points("mañana"), 6u);            // ñ is two bytes
  EXPECT_EQ(code_points("\xF0\x9F\x8C\xB8"), 1u);  // one four-byte emoji
}

TEST(Utf8, APrefixNeverCutsACodePointApart) {
  EXPECT_EQ(code_point_prefix("mañana", 3), "mañ");
  EXPECT_EQ(code_point_prefix("\xF0\x9F\x8C\xB8x", 1), "\xF0\x9F\x8C\xB8");
  EXPECT_EQ(code_point_prefix("abc", 10), "abc");
  EXPECT_EQ(code_point_prefix("abc", 0), "");
}

}  // namespace
}  // namespace mando::core
