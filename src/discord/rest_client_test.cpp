#include "discord/rest_client.hpp"

#include <deque>
#include <map>
#include <mutex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/loopback_server.hpp"

namespace mando::discord {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kBotToken = "bot-token-do-not-log";
constexpr std::string_view kEditPath = "/api/v10/webhooks/111/tok-A/messages/@original";

struct Recorded {
  std::string method;
  std::string target;
  net::Headers headers;
  std::string body;
  std::chrono::steady_clock::time_point at;
};

// A fake Discord REST API on 127.0.0.1:0. Each path answers its scripted responses in order,
// then 200 with a message object; every answer carries realistic rate-limit headers.
class FakeDiscord {
 public:
  FakeDiscord() {
    net::Router router;
    for (const char* method : {"GET", "POST", "PATCH", "PUT", "DELETE"}) {
      router.add(method, "/api/v10/*", [this](net::Request r) { return handle(std::move(r)); });
    }
    server_ = std::make_unique<testing::LoopbackServer>(std::move(router));
  }

  std::string api_base_url() const { return server_->url() + "/api/v10"; }

  void script(std::string path, net::Response response) {
    std::lock_guard lock(mutex_);
    scripts_[std::move(path)].push_back(std::move(response));
  }
  std::vector<Recorded> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  static net::Response with_limits(net::Response r, std::string_view remaining,
                                   std::string_view reset_after) {
    r.headers.set("X-RateLimit-Limit", "5");
    r.headers.set("X-RateLimit-Remaining", remaining);
    r.headers.set("X-RateLimit-Reset", "1700000000.123");
    r.headers.set("X-RateLimit-Reset-After", reset_after);
    r.headers.set("X-RateLimit-Bucket", "41f9cd1b9e9d0a3c");
    return r;
  }
  static net::Response too_many(std::string_view retry_after) {
    auto r = net::Response::json(
        429, fmt::format(R"({{"message":"You are being rate limited.","retry_after":{},)"
                         R"("global":false}})",
                         retry_after));
    r.headers.set("Retry-After", "1");
    r.headers.set("X-RateLimit-Scope", "user");
    return with_limits(std::move(r), "0", retry_after);
  }

 private:
  asio::awaitable<net::Response> handle(net::Request request) {
    std::lock_guard lock(mutex_);
    requests_.push_back({request.method, request.target, request.headers, request.body,
                         std::chrono::steady_clock::now()});
    auto& queue = scripts_[std::string(request.path())];
    if (!queue.empty()) {
      net::Response r = std::move(queue.front());
      queue.pop_front();
      co_return r;
    }
    co_return with_limits(net::Response::json(200, R"({"id":"999","content":"done"})"), "4", "1.0");
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::deque<net::Response>> scripts_;
  std::vector<Recorded> requests_;

  std::unique_ptr<testing::LoopbackServer> server_;  // last: it stops before the state it uses
};

RestClientOptions options_for(const FakeDiscord& discord) {
  RestClientOptions options;
  options.api_base_url = discord.api_base_url() + "/";
  options.bot_token = std::string(kBotToken);
  options.timeout = 5s;  // bounds every wait on the fake
  options.backoff_base = 10ms;
  options.backoff_max = 40ms;
  options.max_wait = 5s;
  return options;
}

// Runs `make(client)` on a fresh io_context with a real HttpClient; the client is destroyed
// before its io_context, which then runs the client's posted cleanup.
template <typename T, typename Make>
T run(const FakeDiscord& discord, RateLimiter& limiter, Make make) {
  asio::io_context ioc;
  std::optional<T> result;
  {
    net::HttpClient http(ioc.get_executor());
    RestClient client(http, limiter, options_for(discord));
    auto future = asio::co_spawn(ioc, make(client), asio::use_future);
    ioc.run();
    result = future.get();
  }
  ioc.restart();
  ioc.run();
  return std::move(*result);
}

Result<json::value> edit(const FakeDiscord& discord, RateLimiter& limiter,
                         std::vector<Attachment> files = {}) {
  return run<Result<json::value>>(discord, limiter, [&](RestClient& client) {
    json::object payload{{"content", "here is your mandala"}};
    return client.edit_original_response("111", "tok-A", std::move(payload), std::move(files));
  });
}

TEST(RestClientTest, EditOriginalResponseSendsJsonWithoutAuthorization) {
  FakeDiscord discord;
  InMemoryRateLimiter limiter;
  auto result = edit(discord, limiter);
  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(result->at("id").as_string(), "999");

  const auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PATCH");
  EXPECT_EQ(requests[0].target, kEditPath);
  EXPECT_FALSE(requests[0].headers.contains("Authorization"));
  EXPECT_EQ(requests[0].headers.get("User-Agent").value_or(""), kUserAgent);
  EXPECT_EQ(requests[0].headers.get("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(json::parse(requests[0].body), json::parse(R"({"content":"here is your mandala"})"));
}

TEST(RestClientTest, BotRoutesCarryTheBotToken) {
  FakeDiscord discord;
  InMemoryRateLimiter limiter;
  auto result = run<Result<RestResponse>>(discord, limiter, [](RestClient& client) {
    return client.request("POST", "/channels/42/messages", R"({"content":"hi"})");
  });
  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(result->status, 200);
  const auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].headers.get("Authorization").value_or(""), "Bot " + std::string(kBotToken));
}

TEST(RestClientTest, FollowupIsAPostToTheWebhook) {
  FakeDiscord discord;
  InMemoryRateLimiter limiter;
  auto result = run<Result<json::value>>(discord, limiter, [](RestClient& client) {
    json::object payload{{"content", "one more"}};
    return client.create_followup("111", "tok-A", std::move(payload));
  });
  ASSERT_TRUE(result) << result.error().to_string();
  const auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/api/v10/webhooks/111/tok-A");
  EXPECT_FALSE(requests[0].headers.contains("Authorization"));
}

TEST(RestClientTest, MultipartCarriesPayloadJsonAndFiles) {
  FakeDiscord discord;
  InMemoryRateLimiter limiter;
  const std::string png("\x89PNG\r\n\x1a\n-fake-image-bytes", 25);
  auto result = edit(discord, limiter, {Attachment{"mandala.png", png, "image/png"}});
  ASSERT_TRUE(result) << result.error().to_string();

  const auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 1u);
  const std::string content_type(requests[0].headers.get("Content-Type").value_or(""));
  ASSERT_EQ(content_type.rfind("multipart/form-data; boundary=", 0), 0u) << content_type;
  const std::string& body = requests[0].body;
  EXPECT_NE(body.find(R"(Content-Disposition: form-data; name="payload_json")"), std::string::npos);
  EXPECT_NE(body.find(R"({"content":"here is your mandala"})"), std::string::npos);
  EXPECT_NE(body.find(R"(Content-Disposition: form-data; name="files[0]"; filename="mandala.png")"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("Content-Type: image/png"), std::string::npos);
  EXPECT_NE(body.find(png), std::string::npos);
}

TEST(RestClientTest, TooManyRequestsIsWaitedOutThenRetried) {
  FakeDiscord discord;
  discord.script(std::string(kEditPath), FakeDiscord::too_many("0.05"));
  InMemoryRateLimiter limiter;
  auto result = edit(discord, limiter);
  ASSERT_TRUE(result) << result.error().to_string();

  const auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_GE(requests[1].at - requests[0].at, 50ms);
  EXPECT_EQ(limiter.invalid_requests(std::chrono::steady_clock::now()), 1u);
}

TEST(RestClientTest, ExhaustedBucketIsWaitedOutBeforeSending) {
  FakeDiscord discord;
  discord.script(std::string(kEditPath),
                 FakeDiscord::with_limits(net::Response::json(200, "{}"), "0", "0.05"));
  InMemoryRateLimiter limiter;
  ASSERT_TRUE(edit(discord, limiter));
  ASSERT_TRUE(edit(discord, limiter));
  const auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_GE(requests[1].at - requests[0].at, 50ms);
}

TEST(RestClientTest, ServerErrorIsRetriedWithBackoff) {
  FakeDiscord discord;
  discord.script(std::string(kEditPath), net::Response::json(500, R"({"message":"oops"})"));
  InMemoryRateLimiter limiter;
  auto result = edit(discord, limiter);
  ASSERT_TRUE(result) << result.error().to_string();
  const auto requests = discord.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_GE(requests[1].at - requests[0].at, 10ms);
}

TEST(RestClientTest, ServerErrorsStopAfterMaxAttempts) {
  FakeDiscord discord;
  for (int i = 0; i < 5; ++i) {
    discord.script(std::string(kEditPath), net::Response::json(502, "bad gateway"));
  }
  InMemoryRateLimiter limiter;
  auto result = edit(discord, limiter);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(discord.requests().size(), 4u);
}

TEST(RestClientTest, WebhookNotFoundIsNotRetried) {
  FakeDiscord discord;
  discord.script(std::string(kEditPath),
                 net::Response::json(404, R"({"message":"Unknown Webhook","code":10015})"));
  InMemoryRateLimiter limiter;
  auto result = edit(discord, limiter);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(result.error().message.find("Unknown Webhook"), std::string::npos);
  EXPECT_EQ(result.error().message.find("tok-A"), std::string::npos);  // the token stays out
  EXPECT_EQ(discord.requests().size(), 1u);
}

TEST(RestClientTest, WebhookUnauthorizedIsNotRetried) {
  FakeDiscord discord;
  discord.script(std::string(kEditPath), net::Response::json(401, R"({"message":"401: Unauthorized",
                                                              "code":0})"));
  InMemoryRateLimiter limiter;
  auto result = edit(discord, limiter);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnauthenticated);
  EXPECT_EQ(discord.requests().size(), 1u);
  EXPECT_EQ(limiter.invalid_requests(std::chrono::steady_clock::now()), 1u);
}

TEST(RestClientTest, BrakeRefusesBotRequestsWithoutSending) {
  FakeDiscord discord;
  RateLimiterOptions limiter_options;
  limiter_options.brake_threshold = 1;
  InMemoryRateLimiter limiter(limiter_options);
  limiter.update(route_key("GET", "/channels/1"), {}, 403, std::chrono::steady_clock::now());
  auto result = run<Result<RestResponse>>(discord, limiter, [](RestClient& client) {
    return client.request("GET", "/channels/1", "");
  });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kResourceExhausted);
  EXPECT_TRUE(discord.requests().empty());
}

TEST(RestClientTest, BadTokenIsRefusedBeforeSending) {
  FakeDiscord discord;
  InMemoryRateLimiter limiter;
  auto result = run<Result<json::value>>(discord, limiter, [](RestClient& client) {
    json::object payload;
    return client.edit_original_response("111", "../../channels/1", std::move(payload));
  });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(discord.requests().empty());
}

}  // namespace
}  // namespace mando::discord
