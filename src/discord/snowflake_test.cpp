#include "discord/snowflake.hpp"

#include <gtest/gtest.h>

namespace mando::discord {
namespace {

TEST(Snowflake, DigitsOnlyUpToTwenty) {
  EXPECT_TRUE(is_snowflake("0"));
  EXPECT_TRUE(is_snowflake("175928847299117063"));
  EXPECT_TRUE(is_snowflake("18446744073709551615"));
  EXPECT_FALSE(is_snowflake(""));
  EXPECT_FALSE(is_snowflake("123456789012345678901"));
  EXPECT_FALSE(is_snowflake("12a"));
  EXPECT_FALSE(is_snowflake("-1"));
  EXPECT_FALSE(is_snowflake(" 1"));
}

TEST(Snowflake, TimeIsTheTopBitsSinceTheDiscordEpoch) {
  // Discord's documented example: 175928847299117063 was created 2016-04-30T11:18:25.796Z.
  auto t = snowflake_time("175928847299117063");
  ASSERT_TRUE(t);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count(),
            1462015105796);
  EXPECT_FALSE(snowflake_time("18446744073709551616"));  // 2^64
  EXPECT_FALSE(snowflake_time("abc"));
  EXPECT_FALSE(snowflake_time(""));
}

}  // namespace
}  // namespace mando::discord
