#include "discord/commands_sync.hpp"

#include <mutex>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "support/loopback_server.hpp"

namespace mando::discord {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kToken = "test-bot-token-do-not-log";

struct Recorded {
  std::string method;
  std::string target;
  net::Headers headers;
  std::string body;
};

// A fake Discord REST API on 127.0.0.1:0: GET answers `registered`, PUT echoes the body like
// Discord; either can be made to fail, for a number of requests or for good. Every request is
// recorded.
class FakeDiscord {
 public:
  FakeDiscord() {
    net::Router router;
    for (const char* path :
         {"/api/v10/applications/111/commands", "/api/v10/applications/111/guilds/222/commands"}) {
      router.add("GET", path, [this](net::Request r) { return handle(std::move(r)); });
      router.add("PUT", path, [this](net::Request r) { return handle(std::move(r)); });
    }
    server_ = std::make_unique<testing::LoopbackServer>(std::move(router));
  }

  std::string api_base_url() const { return server_->url() + "/api/v10"; }

  void set_registered(std::string body) {
    std::lock_guard lock(mutex_);
    registered_ = std::move(body);
  }
  // The next `times` GETs (or PUTs) answer `status` with `body`; times < 0: all of them.
  void fail_get(int status, std::string body, int times = -1) {
    std::lock_guard lock(mutex_);
    get_failure_ = {status, std::move(body), times};
  }
  void fail_put(int status, std::string body, int times = -1) {
    std::lock_guard lock(mutex_);
    put_failure_ = {status, std::move(body), times};
  }
  std::vector<Recorded> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  struct Failure {
    int status = 0;
    std::string body;
    int times = 0;
  };

  static std::optional<net::Response> failure(Failure& f) {
    if (f.times == 0) return std::nullopt;
    if (f.times > 0) --f.times;
    net::Response response = net::Response::json(f.status, f.body);
    if (f.status == 429) response.headers.set("X-RateLimit-Scope", "user");
    return response;
  }

  asio::awaitable<net::Response> handle(net::Request request) {
    std::lock_guard lock(mutex_);
    requests_.push_back({request.method, request.target, request.headers, request.body});
    const bool get = request.method == "GET";
    if (auto failed = failure(get ? get_failure_ : put_failure_)) co_return std::move(*failed);
    co_return net::Response::json(200, get ? registered_ : request.body);
  }

  mutable std::mutex mutex_;
  std::string registered_ = "[]";
  Failure get_failure_;
  Failure put_failure_;
  std::vector<Recorded> requests_;

  std::unique_ptr<testing::LoopbackServer> server_;  // last: it stops before the state it uses
};

SyncOptions options_for(const FakeDiscord& discord) {
  SyncOptions options;
  options.api_base_url = discord.api_base_url() + "/";  // a trailing slash is tolerated
  options.application_id = "111";
  options.bot_token = std::string(kToken);
  options.timeout = 10s;
  return options;
}

// The client `mando commands sync` uses, with short backoffs and the given max_wait.
RestClientOptions rest_options(const SyncOptions& options, std::chrono::milliseconds max_wait) {
  RestClientOptions rest;
  rest.api_base_url = options.api_base_url;
  rest.bot_token = options.bot_token;
  rest.timeout = options.timeout;
  rest.backoff_base = 10ms;
  rest.backoff_max = 20ms;
  rest.max_wait = max_wait;
  return rest;
}

asio::awaitable<Result<SyncReport>> sync_through_rest(net::HttpClient* http,
                                                      RestClientOptions options, SyncTarget target,
                                                      json::array desired) {
  InMemoryRateLimiter limiter;
  RestClient rest(*http, limiter, std::move(options));
  Result<SyncReport> report = co_await sync_commands(rest, std::move(target), std::move(desired));
  co_return report;
}

// Runs `start(http)` to completion on a fresh io_context with a real HttpClient.
template <typename Start>
Result<SyncReport> run_sync(Start start) {
  asio::io_context ioc;
  Result<SyncReport> result = fail(ErrorKind::kInternal, "not run");
  {
    net::HttpClient http(ioc.get_executor());
    auto future = asio::co_spawn(ioc, start(http), asio::use_future);
    ioc.run();
    result = future.get();
  }
  ioc.restart();
  ioc.run();  // the client's posted cleanup
  return result;
}

// One sync through a RestClient, as `mando commands sync` does it.
Result<SyncReport> sync(SyncOptions options, json::array desired,
                        std::chrono::milliseconds max_wait = 5s) {
  return run_sync([&](net::HttpClient& http) {
    return sync_through_rest(&http, rest_options(options, max_wait), options, std::move(desired));
  });
}

// What Discord answers for registered commands: ids, versions, defaults and nulls we never send.
constexpr const char* kRegistered = R"([
  {"id":"900","application_id":"111","version":"1","default_member_permissions":null,"type":1,
   "name":"about","description":"Old description","dm_permission":true,"nsfw":false,
   "integration_types":[0],"contexts":null},
  {"id":"901","application_id":"111","version":"1","default_member_permissions":null,"type":1,
   "name":"mando","description":"Draw a mandala","name_localizations":null,
   "options":[{"type":4,"name":"symmetry","description":"Symmetry","min_value":3.0,"max_value":32,
               "name_localizations":null},
              {"type":3,"name":"style","description":"Style","required":false,
               "choices":[{"name":"Lines","value":"lines","name_localizations":null}]}]},
  {"id":"902","application_id":"111","version":"1","type":1,"name":"legacy","description":"Gone"}
])";

constexpr const char* kDesired = R"([
  {"name":"about","description":"What mando is","type":1},
  {"name":"mando","description":"Draw a mandala","type":1,
   "options":[{"type":4,"name":"symmetry","description":"Symmetry","min_value":3,"max_value":32},
              {"type":3,"name":"style","description":"Style","choices":[{"name":"Lines","value":"lines"}]}]},
  {"name":"transform","description":"Resize images","type":1}
])";

TEST(CommandsSync, ReadsComparesAndOverwrites) {
  FakeDiscord discord;
  discord.set_registered(kRegistered);
  const json::array desired = json::parse(kDesired).as_array();
  auto report = sync(options_for(discord), desired);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->added, (std::vector<std::string>{"transform"}));
  EXPECT_EQ(report->changed, (std::vector<std::string>{"about"}));
  EXPECT_EQ(report->removed, (std::vector<std::string>{"legacy"}));
  EXPECT_EQ(report->unchanged, (std::vector<std::string>{"mando"}));

  auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[1].method, "PUT");
  for (const Recorded& r : requests) {
    EXPECT_EQ(r.target, "/api/v10/applications/111/commands");
    EXPECT_EQ(r.headers.get("Authorization"), "Bot " + std::string(kToken));
    EXPECT_EQ(r.headers.get("User-Agent"),
              "DiscordBot (https://github.com/mando-bot/mando, " MANDO_VERSION ")");
  }
  EXPECT_EQ(requests[1].headers.get("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(requests[1].body), json::value(desired));
}

TEST(CommandsSync, GuildCommandsUseTheGuildPath) {
  FakeDiscord discord;
  SyncOptions options = options_for(discord);
  options.guild_id = "222";
  auto report =
      sync(options, json::parse(R"([{"name":"about","description":"A","type":1}])").as_array());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->added, (std::vector<std::string>{"about"}));
  auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/api/v10/applications/111/guilds/222/commands");
  EXPECT_EQ(requests[1].target, "/api/v10/applications/111/guilds/222/commands");
}

TEST(CommandsSync, DryRunComparesWithoutWriting) {
  FakeDiscord discord;
  discord.set_registered(kRegistered);
  SyncOptions options = options_for(discord);
  options.dry_run = true;
  auto report = sync(options, json::parse(kDesired).as_array());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->added, (std::vector<std::string>{"transform"}));
  EXPECT_EQ(report->removed, (std::vector<std::string>{"legacy"}));
  auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
}

TEST(CommandsSync, DiscordErrorsCarryItsMessageAndStatus) {
  FakeDiscord discord;
  discord.fail_put(403, R"({"message":"Missing Access","code":50001})");
  auto report = sync(options_for(discord), json::parse(kDesired).as_array());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_EQ(report.error().message,
            "discord: PUT /applications/111/commands: HTTP 403 Missing Access (code 50001)");
  EXPECT_EQ(report.error().message.find(kToken), std::string::npos);
}

TEST(CommandsSync, FieldErrorsAreListed) {
  FakeDiscord discord;
  discord.fail_put(
      400,
      R"({"message":"Invalid Form Body","code":50035,"errors":{"0":{"name":{"_errors":[{"code":"APPLICATION_COMMAND_INVALID_NAME","message":"Command name is invalid"}]}}}})");
  auto report = sync(options_for(discord), json::parse(kDesired).as_array());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(report.error().message,
            "discord: PUT /applications/111/commands: HTTP 400 Invalid Form Body (code 50035): "
            "0.name: Command name is invalid");
}

TEST(CommandsSync, TooManyRequestsAndServerErrorsAreWaitedOut) {
  FakeDiscord discord;
  discord.set_registered(kRegistered);
  discord.fail_get(
      429, R"({"message":"You are being rate limited.","retry_after":0.01,"global":false})", 1);
  discord.fail_put(502, "bad gateway", 1);
  auto report = sync(options_for(discord), json::parse(kDesired).as_array());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->added, (std::vector<std::string>{"transform"}));
  std::vector<std::string> methods;
  for (const Recorded& r : discord.requests()) methods.push_back(r.method);
  EXPECT_EQ(methods, (std::vector<std::string>{"GET", "GET", "PUT", "PUT"}));
}

TEST(CommandsSync, RateLimitBeyondMaxWaitFailsNamingTheWait) {
  FakeDiscord discord;
  discord.fail_get(429,
                   R"({"message":"You are being rate limited.","retry_after":1.5,"global":false})");
  auto report = sync(options_for(discord), json::parse(kDesired).as_array(), 1s);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kResourceExhausted);
  EXPECT_NE(report.error().message.find("rate limited: the next request may go in 1"),
            std::string::npos)
      << report.error().message;
  EXPECT_EQ(discord.requests().size(), 1u);  // not sent into the limit again, and no PUT
}

TEST(CommandsSync, OneShotFormOverAnHttpClient) {
  FakeDiscord discord;
  discord.set_registered(kRegistered);
  auto report = run_sync([&](net::HttpClient& http) {
    return sync_commands(http, options_for(discord), json::parse(kDesired).as_array());
  });
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->removed, (std::vector<std::string>{"legacy"}));
  EXPECT_EQ(discord.requests().size(), 2u);
}

TEST(CommandsSync, BadTokenIsUnauthenticated) {
  FakeDiscord discord;
  discord.fail_get(401, R"({"message":"401: Unauthorized","code":0})");
  auto report = sync(options_for(discord), json::array());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kUnauthenticated);
  EXPECT_EQ(report.error().message.find(kToken), std::string::npos);
}

TEST(CommandsSync, UnexpectedBodiesAreErrors) {
  FakeDiscord discord;
  discord.set_registered(R"({"not":"an array"})");
  auto report = sync(options_for(discord), json::array());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kUnavailable);
}

TEST(CommandsSync, RefusesBadOptionsWithoutTalkingToDiscord) {
  FakeDiscord discord;
  SyncOptions bad_app = options_for(discord);
  bad_app.application_id = "../../x";
  EXPECT_EQ(sync(bad_app, json::array()).error().kind, ErrorKind::kInvalidArgument);
  SyncOptions bad_guild = options_for(discord);
  bad_guild.guild_id = "abc";
  EXPECT_EQ(sync(bad_guild, json::array()).error().kind, ErrorKind::kInvalidArgument);
  SyncOptions no_token = options_for(discord);
  no_token.bot_token.clear();
  EXPECT_EQ(sync(no_token, json::array()).error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(sync(options_for(discord), json::parse(R"([{"description":"no name"}])").as_array())
                .error()
                .kind,
            ErrorKind::kInvalidArgument);
  EXPECT_TRUE(discord.requests().empty());
}

TEST(CommandsSync, UnreachableDiscordIsUnavailable) {
  SyncOptions options;
  options.api_base_url = "http://127.0.0.1:1/api/v10";
  options.application_id = "111";
  options.bot_token = std::string(kToken);
  auto report = sync(options, json::array());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::kUnavailable) << report.error().message;
  EXPECT_EQ(report.error().message.find(kToken), std::string::npos);
}

TEST(DiffCommands, NormalisesBeforeComparing) {
  // Key order, integer vs double, explicit defaults and nulls do not make a change.
  auto registered = json::parse(R"([{"type":1,"description":"D","name":"a","options":[
      {"required":false,"autocomplete":false,"name":"x","type":10,"description":"X","min_value":1,
       "choices":[]}]}])")
                        .as_array();
  auto desired = json::parse(R"([{"name":"a","description":"D","type":1,"options":[
      {"type":10,"name":"x","description":"X","min_value":1.0}]}])")
                     .as_array();
  auto report = diff_commands(registered, desired);
  EXPECT_EQ(report.unchanged, (std::vector<std::string>{"a"}));
  EXPECT_TRUE(report.changed.empty());
}

TEST(DiffCommands, SeesChangedOptionsAndFieldsWeSet) {
  auto registered = json::parse(R"([
      {"type":1,"name":"a","description":"D","options":[{"type":4,"name":"x","description":"X","max_value":5}]},
      {"type":1,"name":"b","description":"D","contexts":[0]},
      {"type":1,"name":"c","description":"D","options":[{"type":3,"name":"x","description":"X"}]}])")
                        .as_array();
  auto desired = json::parse(R"([
      {"type":1,"name":"a","description":"D","options":[{"type":4,"name":"x","description":"X","max_value":6}]},
      {"type":1,"name":"b","description":"D","contexts":[0,1,2]},
      {"type":1,"name":"c","description":"D","options":[{"type":3,"name":"x","description":"X","required":true}]}])")
                     .as_array();
  auto report = diff_commands(registered, desired);
  EXPECT_EQ(report.changed, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(DiffCommands, MatchesByNameAndType) {
  // A user context-menu command called "a" is not the slash command "a".
  auto registered = json::parse(R"([{"type":2,"name":"a","description":""}])").as_array();
  auto desired = json::parse(R"([{"type":1,"name":"a","description":"D"}])").as_array();
  auto report = diff_commands(registered, desired);
  EXPECT_EQ(report.added, (std::vector<std::string>{"a"}));
  EXPECT_EQ(report.removed, (std::vector<std::string>{"a"}));
}

}  // namespace
}  // namespace mando::discord
