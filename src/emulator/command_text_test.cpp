#include "emulator/command_text.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace mando::emulator {
namespace {

namespace json = boost::json;

TEST(CommandTextTest, InfersTypesWithoutRegistration) {
  auto parsed = parse_command_text(
      R"(/mando symmetry:12 palette:"deep \"sea\"" ratio:0.5 mirror:true name:x)", {});
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->name, "mando");
  ASSERT_EQ(parsed->options.size(), 5u);
  EXPECT_EQ(parsed->options[0].at("type").as_int64(), 4);
  EXPECT_EQ(parsed->options[0].at("value").as_int64(), 12);
  EXPECT_EQ(parsed->options[1].at("value").as_string(), "deep \"sea\"");
  EXPECT_EQ(parsed->options[2].at("type").as_int64(), 10);
  EXPECT_EQ(parsed->options[3].at("value").as_bool(), true);
  EXPECT_EQ(parsed->options[4].at("type").as_int64(), 3);
}

TEST(CommandTextTest, RefusesMalformedText) {
  EXPECT_FALSE(parse_command_text("/mando seed", {}));
  EXPECT_FALSE(parse_command_text("/mando a:\"open", {}));
  EXPECT_FALSE(parse_command_text("/mando a:", {}));
  EXPECT_FALSE(parse_command_text("   ", {}));
  EXPECT_FALSE(parse_command_text("/", {}));
  auto bare = parse_command_text("  mando  ", {});
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->name, "mando");
  EXPECT_TRUE(bare->options.empty());
}

TEST(CommandTextTest, RegisteredCommandDecidesTypesAndRequiredOptions) {
  const json::array registered = json::parse(R"([
    {"name":"other","options":[{"name":"seed","type":4}]},
    {"name":"mando","options":[{"name":"seed","type":3},{"name":"symmetry","type":4},
                               {"name":"palette","type":3,"required":true}]}])")
                                     .as_array();
  auto parsed = parse_command_text("/mando seed:12 palette:7", registered);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->options[0].at("value").as_string(), "12");  // STRING, not inferred
  EXPECT_EQ(parsed->options[1].at("value").as_string(), "7");
  auto missing = parse_command_text("/mando seed:1", registered);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("palette"), std::string::npos);
  auto unknown = parse_command_text("/mando colour:red palette:x", registered);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("colour"), std::string::npos);
  EXPECT_FALSE(parse_command_text("/mando symmetry:many palette:x", registered));
  // An unregistered command still infers.
  auto free = parse_command_text("/draw seed:3", registered);
  ASSERT_TRUE(free);
  EXPECT_EQ(free->options[0].at("type").as_int64(), 4);
}

}  // namespace
}  // namespace mando::emulator
