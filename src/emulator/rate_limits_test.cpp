#include "emulator/rate_limits.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace mando::emulator {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kRoute = "PATCH /webhooks/{application.id}/{interaction.token}";

// The limiter with a fake clock: `now` only moves when the test moves it.
class RateLimitsTest : public ::testing::Test {
 protected:
  std::optional<net::Response> admit(std::string_view owner = "token-a",
                                     std::string_view family = "@original") {
    headers_ = {};
    return limits_.admit(kRoute, owner, "PATCH", family, now_, headers_);
  }
  std::int64_t stat(std::string_view key) { return limits_.stats().at(key).as_int64(); }

  RateLimits limits_{3, 1000ms};
  RateLimits::Clock::time_point now_ = RateLimits::Clock::now();
  RateHeaders headers_;
};

TEST_F(RateLimitsTest, FixedWindowPerOwnerThen429) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(admit()) << i;
    EXPECT_EQ(headers_.remaining, 2 - i);
    EXPECT_EQ(headers_.limit, 3);
  }
  EXPECT_DOUBLE_EQ(headers_.reset_after, 1.0);
  EXPECT_FALSE(admit("token-b"));  // another token: another bucket
  now_ += 400ms;
  auto limited = admit();
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->headers.get("Retry-After").value_or(""), "1");
  EXPECT_EQ(limited->headers.get("X-RateLimit-Scope").value_or(""), "user");
  EXPECT_EQ(limited->headers.get("X-RateLimit-Remaining").value_or(""), "0");
  EXPECT_FALSE(limited->headers.get("X-RateLimit-Bucket").value_or("").empty());
  const auto body = json::parse(limited->body).as_object();
  EXPECT_NEAR(body.at("retry_after").as_double(), 0.6, 1e-6);
  EXPECT_FALSE(body.at("global").as_bool());
  // The client had been told the bucket was empty: both counters see it.
  EXPECT_EQ(stat("ignored_exhausted"), 1);
  ASSERT_TRUE(admit());
  EXPECT_EQ(stat("consecutive_429"), 1);
  EXPECT_EQ(stat("responses_429"), 2);
  now_ += 600ms;  // the window is over
  EXPECT_FALSE(admit());
  EXPECT_EQ(headers_.remaining, 2);
}

TEST_F(RateLimitsTest, FaultsAnswerInOrderPerMethodAndRoute) {
  limits_.add_fault({"PATCH", "@original", 2, 503, 0});
  limits_.add_fault({"PATCH", "@original", 1, 400, 0});
  limits_.add_fault({"PATCH", "message", 0, 500, 0});  // count 0: ignored
  EXPECT_FALSE(admit("token-a", "message"));
  for (int i = 0; i < 2; ++i) {
    auto fault = admit();
    ASSERT_TRUE(fault);
    EXPECT_EQ(fault->status, 503);
    EXPECT_TRUE(fault->headers.get("X-RateLimit-Limit"));
  }
  now_ += 2s;  // a fresh window: the fault, not the bucket, answers
  auto automod = admit();
  ASSERT_TRUE(automod);
  EXPECT_EQ(automod->status, 400);
  const auto body = json::parse(automod->body).as_object();
  EXPECT_EQ(body.at("code").as_int64(), 200000);
  EXPECT_EQ(body.at("message").as_string(), "Message was blocked by automatic moderation");
  EXPECT_FALSE(admit());
  EXPECT_EQ(stat("faults_injected"), 3);
}

TEST_F(RateLimitsTest, Injected429BlocksTheBucketForRetryAfter) {
  limits_.add_fault({"PATCH", "@original", 1, 429, 2.5});
  auto fault = admit();
  ASSERT_TRUE(fault);
  EXPECT_EQ(fault->status, 429);
  EXPECT_EQ(fault->headers.get("Retry-After").value_or(""), "3");
  now_ += 2s;
  auto still = admit();
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 429);
  EXPECT_EQ(stat("consecutive_429"), 1);
  now_ += 600ms;
  EXPECT_FALSE(admit());
}

TEST_F(RateLimitsTest, DelaysTheNextAnswers) {
  EXPECT_EQ(limits_.take_delay(), 0ms);
  limits_.delay_responses(2, 250ms);
  EXPECT_EQ(limits_.take_delay(), 250ms);
  EXPECT_EQ(limits_.take_delay(), 250ms);
  EXPECT_EQ(limits_.take_delay(), 0ms);
}

}  // namespace
}  // namespace mando::emulator
