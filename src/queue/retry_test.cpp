#include "queue/retry.hpp"

#include <vector>

#include <gtest/gtest.h>

namespace mando::queue {
namespace {

using namespace std::chrono_literals;

std::vector<Micros> sequence(const RetryConfig& config, int n) {
  std::vector<Micros> out;
  for (int i = 1; i <= n; ++i) out.push_back(backoff(config, i));
  return out;
}

TEST(Backoff, FollowsCloudTasksDocumentedExample) {
  RetryConfig config;
  config.min_backoff = 10s;
  config.max_backoff = 300s;
  config.max_doublings = 3;
  EXPECT_EQ(sequence(config, 9),
            (std::vector<Micros>{10s, 20s, 40s, 80s, 160s, 240s, 300s, 300s, 300s}));
}

TEST(Backoff, DefaultsDoubleFromATenthOfASecondUpToAnHour) {
  RetryConfig config;  // 0.1 s, 3600 s, 16 doublings
  EXPECT_EQ(backoff(config, 1), 100ms);
  EXPECT_EQ(backoff(config, 2), 200ms);
  EXPECT_EQ(backoff(config, 10), 51200ms);
  EXPECT_EQ(backoff(config, 16), 3276800ms);
  EXPECT_EQ(backoff(config, 17), 3600s);  // 6553.6 s capped
  EXPECT_EQ(backoff(config, 1'000'000), 3600s);
}

TEST(Backoff, ZeroDoublingsGrowsLinearly) {
  RetryConfig config;
  config.min_backoff = 1s;
  config.max_backoff = 5s;
  config.max_doublings = 0;
  EXPECT_EQ(sequence(config, 7), (std::vector<Micros>{1s, 2s, 3s, 4s, 5s, 5s, 5s}));
}

TEST(Backoff, DegenerateConfigsStayInRange) {
  RetryConfig equal;
  equal.min_backoff = equal.max_backoff = 7s;
  EXPECT_EQ(backoff(equal, 1), 7s);
  EXPECT_EQ(backoff(equal, 50), 7s);
  RetryConfig zero;
  zero.min_backoff = 0s;
  zero.max_backoff = 10s;
  EXPECT_EQ(backoff(zero, 5), 0s);
  RetryConfig huge;
  huge.min_backoff = 1us;
  huge.max_backoff = Micros(INT64_MAX / 2);
  huge.max_doublings = 1000;
  EXPECT_EQ(backoff(huge, 100), huge.max_backoff);  // no overflow on the way
  EXPECT_EQ(backoff(huge, 0), 1us);                 // treated as the first failure
}

TEST(MayRetry, StopsWhenAttemptsAreUsedUp) {
  RetryConfig config;
  config.max_attempts = 3;
  const TimePoint t0{};
  EXPECT_TRUE(may_retry(config, 1, t0, t0));
  EXPECT_TRUE(may_retry(config, 2, t0, t0 + 1h));
  EXPECT_FALSE(may_retry(config, 3, t0, t0));
}

TEST(MayRetry, NeedsBothLimitsUsedUpWhenBothAreSet) {
  RetryConfig config;
  config.max_attempts = 3;
  config.max_retry_duration = 60s;
  const TimePoint t0{};
  EXPECT_TRUE(may_retry(config, 5, t0, t0 + 59s));   // attempts used, time left
  EXPECT_TRUE(may_retry(config, 2, t0, t0 + 120s));  // time used, attempts left
  EXPECT_FALSE(may_retry(config, 3, t0, t0 + 60s));
}

TEST(MayRetry, UnlimitedAttemptsStopOnlyOnDuration) {
  RetryConfig config;
  config.max_attempts = -1;
  const TimePoint t0{};
  EXPECT_TRUE(may_retry(config, 1'000'000, t0, t0 + 24h * 365));
  config.max_retry_duration = 10s;
  EXPECT_TRUE(may_retry(config, 1000, t0, t0 + 9s));
  EXPECT_FALSE(may_retry(config, 1000, t0, t0 + 10s));
}

TEST(ParseRetryAfter, DelaySecondsAreUsedUpToTheCap) {
  const TimePoint t0 = now();
  EXPECT_EQ(parse_retry_after("7", 1h, t0), Micros(7s));
  EXPECT_EQ(parse_retry_after("0", 1h, t0), Micros(0));
  EXPECT_EQ(parse_retry_after("7200", 1h, t0), Micros(1h));
}

TEST(ParseRetryAfter, HugeValuesClampInsteadOfOverflowing) {
  const TimePoint t0 = now();
  EXPECT_EQ(parse_retry_after("9223372036854775807", 1h, t0), Micros(1h));
  EXPECT_EQ(parse_retry_after("99999999999999999999999999", 1h, t0), Micros(1h));
  // A max_backoff beyond the absolute cap is held to it.
  EXPECT_EQ(parse_retry_after("9223372036854775807", Micros::max(), t0), kMaxRetryAfter);
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 1h, t0), Micros(1h));
}

TEST(ParseRetryAfter, HttpDatesCountFromNow) {
  // 2026-01-01T00:00:00Z, and the same date 90 s later.
  const TimePoint t0{std::chrono::seconds(1767225600)};
  EXPECT_EQ(parse_retry_after("Thu, 01 Jan 2026 00:01:30 GMT", 1h, t0), Micros(90s));
  EXPECT_EQ(parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", 1h, t0), Micros(0));
}

TEST(ParseRetryAfter, OtherTextIsIgnored) {
  const TimePoint t0 = now();
  EXPECT_EQ(parse_retry_after("", 1h, t0), std::nullopt);
  EXPECT_EQ(parse_retry_after("soon", 1h, t0), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5", 1h, t0), std::nullopt);
}

}  // namespace
}  // namespace mando::queue
