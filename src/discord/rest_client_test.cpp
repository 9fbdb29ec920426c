#include "discord/rest_client.hpp"

#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "discord/wakeup.hpp"
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
// then 200 with a message object; every answer carries realistic rate-limit headers. It keeps
// the content of the message the last PATCH left, and can hold the answer to one request
// until the test lets it go.
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
  std::string content() const {
    std::lock_guard lock(mutex_);
    return content_;
  }
  // The next request to `path` gets no answer until release_held().
  void hold_next(std::string path) {
    std::lock_guard lock(mutex_);
    hold_path_ = std::move(path);
  }
  void release_held() {
    std::lock_guard lock(mutex_);
    if (held_) held_->set();
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
    const std::string path(request.path());
    const auto executor = co_await asio::this_coro::executor;
    std::shared_ptr<Wakeup> gate;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back({request.method, request.target, request.headers, request.body,
                           std::chrono::steady_clock::now()});
      if (hold_path_ == path) {
        hold_path_.reset();
        gate = held_ = std::make_shared<Wakeup>(executor);
      }
    }
    if (gate) {
      co_await gate->wait();
      std::lock_guard lock(mutex_);
      held_.reset();  // no Wakeup may outlive the server's io_context
    }
    co_return answer(path, request);
  }

  net::Response answer(const std::string& path, const net::Request& request) {
    std::lock_guard lock(mutex_);
    auto& queue = scripts_[path];
    net::Response response =
        with_limits(net::Response::json(200, R"({"id":"999","content":"done"})"), "4", "1.0");
    if (!queue.empty()) {
      response = std::move(queue.front());
      queue.pop_front();
    }
    if (request.method == "PATCH" && response.status / 100 == 2) {
      boost::system::error_code ec;
      const json::value body = json::parse(request.body, ec);
      if (!ec && body.is_object() && body.as_object().contains("content")) {
        content_ = std::string(body.at("content").as_string());
      }
    }
    return response;
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::deque<net::Response>> scripts_;
  std::vector<Recorded> requests_;
  std::string content_;
  std::optional<std::string> hold_path_;
  std::shared_ptr<Wakeup> held_;

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
  EXPECT_EQ(limiter.invalid_requests(), 1u);
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
  EXPECT_EQ(limiter.invalid_requests(), 1u);
}

TEST(RestClientTest, BrakeRefusesBotRequestsWithoutSending) {
  FakeDiscord discord;
  discord.script("/api/v10/channels/1",
                 net::Response::json(403, R"({"message":"Missing Access"})"));
  RateLimiterOptions limiter_options;
  limiter_options.brake_threshold = 1;
  InMemoryRateLimiter limiter(limiter_options);
  auto get = [](RestClient& client) { return client.request("GET", "/channels/1", ""); };
  auto forbidden = run<Result<RestResponse>>(discord, limiter, get);
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_EQ(forbidden.error().message, "discord: GET /channels/1: HTTP 403 Missing Access");
  auto result = run<Result<RestResponse>>(discord, limiter, get);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kResourceExhausted);
  EXPECT_EQ(discord.requests().size(), 1u);
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

// ---------------------------------------------------------------------------------------------
// Order: the progress line of a job and its finished message are two PATCHes of @original, in
// one bucket. The client and its limiter run on a manual clock, their io_context on a thread of
// its own; the test parks requests, checks what reached the fake Discord, and moves time on.

constexpr std::string_view kProgress = "Waiting in line: 1 of 1\u2026";
constexpr std::string_view kFinished = "here is your mandala";
constexpr auto kBound = 10s;  // how long the test waits for a state it expects

class EditOrderTest : public ::testing::Test {
 protected:
  EditOrderTest() {
    http_.emplace(ioc_.get_executor());
    client_.emplace(*http_, limiter_, options_for(discord_), clock_);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~EditOrderTest() override {
    client_.reset();
    http_.reset();
    work_.reset();
    thread_.join();
  }

  std::future<Result<json::value>> edit(std::string_view content) {
    json::object payload{{"content", content}};
    return asio::co_spawn(ioc_, client_->edit_original_response("111", "tok-A", std::move(payload)),
                          asio::use_future);
  }

  // Polls `condition` until it holds or kBound passes.
  template <typename Condition>
  static bool eventually(Condition condition) {
    for (const auto deadline = std::chrono::steady_clock::now() + kBound;
         std::chrono::steady_clock::now() < deadline;) {
      if (condition()) return true;
      std::this_thread::sleep_for(1ms);  // a poll interval, not a synchronisation
    }
    return condition();
  }

  static Result<json::value> finish(std::future<Result<json::value>>& edit) {
    if (edit.wait_for(kBound) != std::future_status::ready) {
      return fail(ErrorKind::kDeadlineExceeded, "the edit did not finish");
    }
    return edit.get();
  }

  // Both edits are parked, the progress one on the clock and the finished one behind it, with
  // `sent` requests at Discord; once time moves on by `by`, both land and Discord has received
  // `expected`, the finished content last.
  void expect_parked_then_in_order(std::future<Result<json::value>>& progress,
                                   std::future<Result<json::value>>& finished, std::size_t sent,
                                   SteadyDuration by, const std::vector<std::string>& expected) {
    ASSERT_TRUE(eventually([&] { return clock_.sleepers() == 1 && limiter_.queued() == 1; }));
    EXPECT_EQ(discord_.requests().size(), sent);
    clock_.advance(by);
    ASSERT_TRUE(finish(progress));
    ASSERT_TRUE(finish(finished));
    EXPECT_EQ(received(), expected);
    EXPECT_EQ(discord_.content(), kFinished);
  }

  // The contents of the PATCHes Discord received, in order.
  std::vector<std::string> received() const {
    std::vector<std::string> out;
    for (const Recorded& r : discord_.requests()) {
      out.emplace_back(json::parse(r.body).at("content").as_string());
    }
    return out;
  }

  FakeDiscord discord_;
  ManualClock clock_;
  InMemoryRateLimiter limiter_{RateLimiterOptions{}, clock_};
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::optional<net::HttpClient> http_;
  std::optional<RestClient> client_;
  std::thread thread_;
};

TEST_F(EditOrderTest, LateProgressEditNeverOverwritesTheFinishedMessage) {
  // The bucket of the message is exhausted: Remaining 0 for two seconds.
  discord_.script(std::string(kEditPath),
                  FakeDiscord::with_limits(net::Response::json(200, "{}"), "0", "2.0"));
  auto thinking = edit("mando is thinking");
  ASSERT_TRUE(finish(thinking));

  // The progress edit waits for the reset, the finished one behind it.
  auto progress = edit(kProgress);
  auto finished = edit(kFinished);
  expect_parked_then_in_order(
      progress, finished, 1, 2s,
      {"mando is thinking", std::string(kProgress), std::string(kFinished)});
}

TEST_F(EditOrderTest, OneEditDiscoversTheBucketWhileTheOtherWaits) {
  discord_.script(std::string(kEditPath),
                  FakeDiscord::with_limits(net::Response::json(200, "{}"), "0", "1.0"));
  discord_.hold_next(std::string(kEditPath));
  auto progress = edit(kProgress);
  auto finished = edit(kFinished);
  // The bucket is unknown: the progress edit is in flight alone, the finished one queued.
  ASSERT_TRUE(
      eventually([&] { return discord_.requests().size() == 1 && limiter_.queued() == 1; }));

  // Its answer says the bucket is exhausted: the finished edit now waits for the reset.
  discord_.release_held();
  ASSERT_TRUE(finish(progress));
  ASSERT_TRUE(eventually([&] { return clock_.sleepers() == 1; }));
  EXPECT_EQ(discord_.requests().size(), 1u);

  clock_.advance(1s);
  ASSERT_TRUE(finish(finished));
  EXPECT_EQ(received(), (std::vector<std::string>{std::string(kProgress), std::string(kFinished)}));
  EXPECT_EQ(discord_.content(), kFinished);
}

TEST_F(EditOrderTest, RateLimitedProgressEditIsRetriedBeforeTheFinishedOne) {
  discord_.script(std::string(kEditPath), FakeDiscord::too_many("1.0"));
  // The progress edit gets a 429 and waits it out without giving up its turn.
  auto progress = edit(kProgress);
  auto finished = edit(kFinished);
  expect_parked_then_in_order(
      progress, finished, 1, 1s,
      {std::string(kProgress), std::string(kProgress), std::string(kFinished)});
}

}  // namespace
}  // namespace mando::discord
