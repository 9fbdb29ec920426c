#include "core/log.hpp"

#include <gtest/gtest.h>

namespace mando::core {
namespace {

TEST(JsonEscape, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_escape("plain"), "plain");
  EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(json_escape("line\nnext\t\x01"), "line\\nnext\\t\\u0001");
}

TEST(Logging, UnknownLevelIsAnErrorNamingTheKey) {
  auto r = init_logging({"loud", LogFormat::kText});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("[log] level"), std::string::npos);
  EXPECT_TRUE(init_logging({"off", LogFormat::kText}));
}

TEST(Logging, OneLoggerPerModuleFollowsTheConfiguredLevel) {
  ASSERT_TRUE(init_logging({"warn", LogFormat::kJson}));
  auto net = logger("net");
  EXPECT_EQ(net, logger("net"));
  EXPECT_NE(net, logger("discord"));
  EXPECT_EQ(net->level(), spdlog::level::warn);
  ASSERT_TRUE(init_logging({"debug", LogFormat::kText}));
  EXPECT_EQ(net->level(), spdlog::level::debug);
  EXPECT_EQ(logger("later")->level(), spdlog::level::debug);
}

}  // namespace
}  // namespace mando::core
