#include "bot/commands/about.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "bot/bot.hpp"

namespace mando::bot {
namespace {

namespace asio = boost::asio;

TEST(About, AnswersWithVersionAndUptimeEphemerally) {
  auto started = std::chrono::steady_clock::now() - std::chrono::seconds(3725);
  auto spec = commands::about(started);
  asio::io_context ioc;
  auto future = asio::co_spawn(ioc, spec.handler(discord::CommandContext{}), asio::use_future);
  ioc.run();
  auto v = boost::json::parse(future.get().to_json());
  EXPECT_EQ(v.at("type").as_int64(), 4);
  EXPECT_EQ(v.at("data").at("flags").as_int64(), 64);
  std::string content(v.at("data").at("content").as_string());
  EXPECT_NE(content.find(MANDO_VERSION), std::string::npos) << content;
  EXPECT_NE(content.find("1h2m5s"), std::string::npos) << content;
}

TEST(Commands, EveryModuleRegistersAndSerialisesForDiscord) {
  auto registry = build_commands(core::Config{});
  ASSERT_TRUE(registry) << registry.error().message;
  ASSERT_NE(registry->find("about"), nullptr);
  auto json = registry->commands_json();
  ASSERT_EQ(json.size(), registry->commands().size());
  EXPECT_EQ(json[0].at("name").as_string(), "about");
  EXPECT_EQ(json[0].at("type").as_int64(), 1);
}

}  // namespace
}  // namespace mando::bot
