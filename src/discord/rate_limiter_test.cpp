#include "discord/rate_limiter.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace mando::discord {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

RateLimitHeaders headers(long limit, long remaining, double reset_after, std::string bucket) {
  RateLimitHeaders h;
  h.limit = limit;
  h.remaining = remaining;
  h.reset_after = reset_after;
  h.bucket = std::move(bucket);
  return h;
}

RateLimitHeaders too_many(double retry_after, std::string scope = "user", bool global = false) {
  RateLimitHeaders h;
  h.retry_after = retry_after;
  h.scope = std::move(scope);
  h.global = global;
  return h;
}

// One acquire(): its outcome once it has one, and the order in which it was granted.
struct Grant {
  std::optional<Result<std::unique_ptr<RateLimitPermit>>> result;
  int order = -1;

  bool granted() const { return result && result->has_value(); }
  bool refused() const { return result && !result->has_value(); }
  RateLimitPermit& permit() { return ***result; }
  void release() { result->value().reset(); }
};

struct Ready {
  std::optional<Result<void>> result;
};

asio::awaitable<void> acquire_into(RateLimiter* limiter, RouteKey route, SteadyDuration max_wait,
                                   std::shared_ptr<Grant> grant, std::shared_ptr<int> granted) {
  auto result = co_await limiter->acquire(std::move(route), max_wait);
  grant->order = (*granted)++;
  grant->result = std::move(result);
}

asio::awaitable<void> ready_into(RateLimitPermit* permit, std::shared_ptr<Ready> ready) {
  ready->result = co_await permit->ready();
}

// The limiter on a manual clock, its waiters on a test-owned io_context that only runs when
// the test settles it: every step is deterministic and nothing sleeps.
class LimiterTest : public ::testing::Test {
 protected:
  void configure(RateLimiterOptions options) {
    limiter_ = std::make_unique<InMemoryRateLimiter>(options, clock_);
  }

  std::shared_ptr<Grant> acquire(std::string_view method, std::string_view path,
                                 SteadyDuration max_wait = 1h) {
    auto grant = std::make_shared<Grant>();
    asio::co_spawn(ioc_,
                   acquire_into(limiter_.get(), route_key(method, path), max_wait, grant, granted_),
                   asio::detached);
    settle();
    return grant;
  }

  std::shared_ptr<Ready> ready(Grant& grant) {
    auto ready = std::make_shared<Ready>();
    asio::co_spawn(ioc_, ready_into(&grant.permit(), ready), asio::detached);
    settle();
    return ready;
  }

  void settle() {
    ioc_.restart();
    ioc_.poll();
  }
  void advance(SteadyDuration by) {
    clock_.advance(by);
    settle();
  }

  ManualClock clock_;
  std::unique_ptr<InMemoryRateLimiter> limiter_ =
      std::make_unique<InMemoryRateLimiter>(RateLimiterOptions{}, clock_);
  std::shared_ptr<int> granted_ = std::make_shared<int>(0);
  asio::io_context ioc_;  // last: parked coroutines go before the limiter and the clock
};

constexpr std::string_view kEdit = "/webhooks/1/tok/messages/@original";

TEST_F(LimiterTest, UnknownRouteGoesAtOnce) {
  auto grant = acquire("GET", "/channels/1");
  EXPECT_TRUE(grant->granted());
  EXPECT_EQ(limiter_->queued(), 0u);
}

TEST_F(LimiterTest, OneRequestDiscoversAnUnknownBucketWhileTheRestWait) {
  auto first = acquire("PATCH", kEdit);
  auto second = acquire("PATCH", kEdit);
  auto third = acquire("PATCH", kEdit);
  ASSERT_TRUE(first->granted());
  EXPECT_FALSE(second->result);
  EXPECT_FALSE(third->result);
  EXPECT_EQ(limiter_->queued(), 2u);

  // The discoverer's headers name the bucket (room for more); its waiters follow the route there.
  first->permit().update(headers(5, 4, 1.0, "hash-w"), 200);
  first->release();
  settle();
  ASSERT_TRUE(second->granted());
  EXPECT_FALSE(third->result);  // still one at a time: the next edit waits for this one
  second->release();
  settle();
  EXPECT_TRUE(third->granted());
  EXPECT_EQ(limiter_->queued(), 0u);
}

TEST_F(LimiterTest, BucketIsServedFirstComeFirstServed) {
  auto head = acquire("PATCH", kEdit);
  head->permit().update(headers(5, 0, 1.0, "hash-w"), 200);
  std::vector<std::shared_ptr<Grant>> queue;
  for (int i = 0; i < 4; ++i) queue.push_back(acquire("PATCH", kEdit));
  head->release();
  settle();
  // The first in line waits for the reset; the others wait behind it, not beside it.
  EXPECT_FALSE(queue[0]->result);
  EXPECT_EQ(clock_.sleepers(), 1u);
  EXPECT_EQ(limiter_->queued(), 3u);
  auto late = acquire("PATCH", kEdit);  // arrives while the bucket is exhausted

  advance(1s);
  for (auto& grant : queue) {
    ASSERT_TRUE(grant->granted());
    grant->permit().update(headers(5, 3, 1.0, "hash-w"), 200);
    grant->release();
    settle();
  }
  ASSERT_TRUE(late->granted());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(queue[i]->order, i + 1);
  EXPECT_EQ(late->order, 5);
}

TEST_F(LimiterTest, ExhaustedBucketWaitsForTheResetDiscordNamed) {
  auto head = acquire("POST", "/channels/1/messages");
  head->permit().update(headers(2, 0, 2.5, "bucket-a"), 200);
  head->release();
  auto next = acquire("POST", "/channels/1/messages");
  advance(2400ms);
  EXPECT_FALSE(next->result);
  advance(100ms);
  EXPECT_TRUE(next->granted());
}

TEST_F(LimiterTest, RefillKeepsDiscordsResetWindow) {
  // Limit 2 per second, the reset Discord named at T0 + 1 s. Then responses without headers
  // (transport errors): the limiter counts on its own from the real reset times.
  const SteadyTime t0 = clock_.now();
  auto head = acquire("POST", "/channels/1/messages");
  head->permit().update(headers(2, 1, 1.0, "bucket-a"), 200);
  head->release();
  auto second = acquire("POST", "/channels/1/messages");  // the last of this window
  ASSERT_TRUE(second->granted());
  second->release();
  auto third = acquire("POST", "/channels/1/messages");
  EXPECT_FALSE(third->result);
  advance(1s);  // the reset: full again
  ASSERT_TRUE(third->granted());
  third->release();

  // Idle past T0 + 1.5 s: the next reset is still T0 + 2 s, one window after the real one, not
  // one window after the refill.
  advance(t0 + 1500ms - clock_.now());
  auto fourth = acquire("POST", "/channels/1/messages");
  ASSERT_TRUE(fourth->granted());
  fourth->release();
  auto fifth = acquire("POST", "/channels/1/messages");
  EXPECT_FALSE(fifth->result);
  advance(t0 + 2s - clock_.now());
  EXPECT_TRUE(fifth->granted());
}

TEST_F(LimiterTest, RoutesSharingABucketQueueTogetherPerResource) {
  auto edit = acquire("PATCH", "/channels/1/messages/5");
  edit->permit().update(headers(5, 4, 1.0, "shared-hash"), 200);
  auto remove = acquire("DELETE", "/channels/1/messages/5");
  remove->permit().update(headers(5, 3, 1.0, "shared-hash"), 200);  // learns the same hash
  remove->release();

  auto remove_again = acquire("DELETE", "/channels/1/messages/6");  // same hash, same channel
  EXPECT_FALSE(remove_again->result);
  auto other_channel = acquire("DELETE", "/channels/2/messages/5");
  EXPECT_TRUE(other_channel->granted());
  edit->release();
  settle();
  EXPECT_TRUE(remove_again->granted());
}

TEST_F(LimiterTest, WebhookTokensHaveTheirOwnBuckets) {
  auto alice = acquire("PATCH", "/webhooks/1/token-alice/messages/@original");
  alice->permit().update(headers(5, 0, 4.0, "webhook-hash"), 200);
  alice->release();
  EXPECT_FALSE(acquire("PATCH", "/webhooks/1/token-alice/messages/@original")->result);
  EXPECT_TRUE(acquire("PATCH", "/webhooks/1/token-bob/messages/@original")->granted());
}

TEST_F(LimiterTest, GlobalLimitIsASlidingWindowForBotRoutesOnly) {
  const SteadyTime t0 = clock_.now();
  int channel = 0;
  auto bot_request = [&] {
    auto grant = acquire("GET", "/channels/" + std::to_string(++channel));
    if (grant->granted()) grant->release();
    return grant;
  };
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(bot_request()->granted()) << i;
  advance(500ms);
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(bot_request()->granted()) << i;
  EXPECT_FALSE(bot_request()->result);  // 50 in the last second

  // At T0 + 1 s the first 25 leave the window, the other 25 are still in it: a fixed window
  // would let 50 more go here.
  advance(t0 + 1s - clock_.now());
  std::vector<std::shared_ptr<Grant>> more;
  for (int i = 0; i < 25; ++i) more.push_back(bot_request());
  EXPECT_EQ(std::count_if(more.begin(), more.end(), [](auto& g) { return g->granted(); }), 24);
  auto waiting = bot_request();
  EXPECT_FALSE(waiting->result);
  advance(t0 + 1500ms - clock_.now());
  EXPECT_TRUE(waiting->granted());

  // Interaction webhooks are not bound by it.
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(acquire("PATCH", "/webhooks/1/t" + std::to_string(i) + "/messages/2")->granted());
  }
}

TEST_F(LimiterTest, TooManyRequestsIsWaitedOutKeepingTheTurn) {
  auto head = acquire("PATCH", kEdit);
  auto behind = acquire("PATCH", kEdit);
  head->permit().update(too_many(0.05), 429);
  auto retry = ready(*head);
  EXPECT_FALSE(retry->result);
  advance(20ms);
  EXPECT_FALSE(retry->result);
  advance(30ms);
  ASSERT_TRUE(retry->result);
  EXPECT_TRUE(retry->result->has_value());
  EXPECT_FALSE(behind->result);  // the retry was not overtaken
  head->permit().update(headers(5, 4, 1.0, "hash-w"), 200);
  head->release();
  settle();
  EXPECT_TRUE(behind->granted());
  EXPECT_EQ(limiter_->invalid_requests(), 1u);

  // Another token's bucket never waited.
  EXPECT_TRUE(acquire("PATCH", "/webhooks/1/other/messages/@original")->granted());
}

TEST_F(LimiterTest, GlobalTooManyRequestsBlocksRoutesOfItsKind) {
  auto head = acquire("GET", "/channels/1");
  head->permit().update(too_many(2.0, "global", true), 429);
  head->release();
  advance(1s);
  auto bot = acquire("GET", "/guilds/9");
  EXPECT_FALSE(bot->result);
  EXPECT_TRUE(acquire("PATCH", "/webhooks/1/t/messages/2")->granted());
  advance(1s);
  EXPECT_TRUE(bot->granted());
}

TEST_F(LimiterTest, WaitBeyondMaxWaitFailsAndPassesTheTurn) {
  auto head = acquire("PATCH", kEdit);
  head->permit().update(headers(5, 0, 10.0, "hash-w"), 200);
  auto impatient = acquire("PATCH", kEdit, 1s);
  auto patient = acquire("PATCH", kEdit);
  head->release();
  settle();
  ASSERT_TRUE(impatient->refused());
  EXPECT_EQ(impatient->result->error().kind, ErrorKind::kResourceExhausted);
  EXPECT_NE(impatient->result->error().message.find("10000 ms"), std::string::npos)
      << impatient->result->error().message;
  advance(10s);
  EXPECT_TRUE(patient->granted());
}

TEST_F(LimiterTest, WaiterWhoseCoroutineIsDestroyedLeavesTheQueue) {
  auto head = acquire("PATCH", kEdit);
  auto gone = std::make_shared<Grant>();
  {
    asio::io_context other;
    asio::co_spawn(other,
                   acquire_into(limiter_.get(), route_key("PATCH", kEdit), 1h, gone, granted_),
                   asio::detached);
    other.poll();
    EXPECT_EQ(limiter_->queued(), 1u);
  }  // its io_context goes, and the parked coroutine with it
  EXPECT_EQ(limiter_->queued(), 0u);
  EXPECT_FALSE(gone->result);
  auto next = acquire("PATCH", kEdit);
  head->release();
  settle();
  EXPECT_TRUE(next->granted());
}

TEST_F(LimiterTest, LimiterMayGoBeforeItsWaiters) {
  auto head = acquire("PATCH", kEdit);
  auto behind = acquire("PATCH", kEdit);
  limiter_.reset();
  head->release();  // the shared state outlives the limiter
  settle();
  EXPECT_TRUE(behind->granted());
}

TEST_F(LimiterTest, SharedScopeTooManyRequestsIsNotCounted) {
  auto head = acquire("GET", "/channels/1");
  head->permit().update(too_many(1.0, "shared"), 429);
  EXPECT_EQ(limiter_->invalid_requests(), 0u);
  auto retry = ready(*head);
  EXPECT_FALSE(retry->result);  // still waited out
  advance(1s);
  ASSERT_TRUE(retry->result);
  head->permit().update(too_many(1.0, "user"), 429);
  head->permit().update({}, 401);
  head->permit().update({}, 403);
  head->permit().update({}, 404);
  head->permit().update({}, 500);
  EXPECT_EQ(limiter_->invalid_requests(), 3u);
}

TEST_F(LimiterTest, BrakesWellBeforeTenThousandInvalidRequests) {
  const SteadyTime t0 = clock_.now();
  auto bot = acquire("GET", "/channels/1");
  for (int i = 0; i < 4999; ++i) {
    bot->permit().update({}, 403);
    clock_.advance(1ms);
  }
  bot->release();
  advance(t0 + 5s - clock_.now());
  EXPECT_FALSE(limiter_->braking());
  auto allowed = acquire("GET", "/channels/1");
  ASSERT_TRUE(allowed->granted());
  allowed->permit().update({}, 401);
  allowed->release();
  EXPECT_TRUE(limiter_->braking());

  auto refused = acquire("GET", "/channels/1");
  ASSERT_TRUE(refused->refused());
  EXPECT_EQ(refused->result->error().kind, ErrorKind::kResourceExhausted);
  EXPECT_NE(refused->result->error().message.find("brake"), std::string::npos);

  // Essential requests (replies to users) still go, spaced out.
  auto reply = acquire("PATCH", kEdit);
  ASSERT_TRUE(reply->granted());
  reply->release();
  auto spaced = acquire("PATCH", kEdit);
  EXPECT_FALSE(spaced->result);
  advance(250ms);
  ASSERT_TRUE(spaced->granted());
  spaced->release();

  // Ten minutes after the first ones the window has slid and the brake is off.
  advance(t0 + 10min + 5s - clock_.now());
  EXPECT_FALSE(limiter_->braking());
  EXPECT_TRUE(acquire("GET", "/channels/1")->granted());
}

TEST_F(LimiterTest, BrakeThresholdIsConfigurable) {
  RateLimiterOptions options;
  options.brake_threshold = 3;
  configure(options);
  auto bot = acquire("GET", "/channels/1");
  for (int i = 0; i < 3; ++i) bot->permit().update({}, 401);
  bot->release();
  EXPECT_TRUE(acquire("GET", "/channels/1")->refused());
}

}  // namespace
}  // namespace mando::discord
