#include "core/duration.hpp"

#include <gtest/gtest.h>

namespace mando::core {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsUnitsAndSequences) {
  EXPECT_EQ(*parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(*parse_duration("10s"), milliseconds(10'000));
  EXPECT_EQ(*parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(*parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(*parse_duration("2d"), milliseconds(172'800'000));
  EXPECT_EQ(*parse_duration("0"), milliseconds(0));
}

TEST(ParseDuration, RefusesGarbageWithExamples) {
  for (const char* bad : {"", "10", "s", "10x", "1.5s", "-1s", "10s ", "99999999999999999999d"}) {
    auto d = parse_duration(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_NE(d.error().message.find("examples"), std::string::npos);
  }
}

TEST(FormatDuration, RoundTrips) {
  for (const char* text : {"250ms", "10s", "1m30s", "1h", "1d2h3m4s5ms"}) {
    auto d = parse_duration(text);
    ASSERT_TRUE(d);
    EXPECT_EQ(format_duration(*d), text);
  }
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
}

TEST(ParseSize, BinaryAndDecimalUnits) {
  EXPECT_EQ(*parse_size("1048576"), 1048576u);
  EXPECT_EQ(*parse_size("512KiB"), 512u * 1024);
  EXPECT_EQ(*parse_size("1MiB"), 1024u * 1024);
  EXPECT_EQ(*parse_size("2GB"), 2'000'000'000u);
  EXPECT_EQ(*parse_size("7B"), 7u);
  EXPECT_FALSE(parse_size("1 MiB"));
  EXPECT_FALSE(parse_size("MiB"));
  EXPECT_FALSE(parse_size("1TiB"));
  EXPECT_FALSE(parse_size("99999999999999999999GiB"));
}

}  // namespace
}  // namespace mando::core
