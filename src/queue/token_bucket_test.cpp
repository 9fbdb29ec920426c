#include "queue/token_bucket.hpp"

#include <gtest/gtest.h>

namespace mando::queue {
namespace {

using namespace std::chrono_literals;

const SteadyTime t0{std::chrono::seconds(1000)};

TEST(TokenBucket, StartsFullThenHoldsTheRate) {
  TokenBucket bucket(10, 5, t0);
  EXPECT_EQ(bucket.take(100, t0), 5);  // the burst
  EXPECT_EQ(bucket.take(1, t0), 0);
  EXPECT_EQ(bucket.take(100, t0 + 100ms), 1);
  EXPECT_EQ(bucket.take(100, t0 + 350ms), 2);  // 2.5 earned, 0.5 kept
  EXPECT_EQ(bucket.take(100, t0 + 400ms), 1);
}

TEST(TokenBucket, NeverHoldsMoreThanTheBurst) {
  TokenBucket bucket(100, 3, t0);
  EXPECT_EQ(bucket.take(3, t0), 3);
  EXPECT_EQ(bucket.take(1000, t0 + 1h), 3);
}

TEST(TokenBucket, DispatchesOverTimeMatchTheRate) {
  TokenBucket bucket(500, 100, t0);
  ASSERT_EQ(bucket.take(1'000'000, t0), 100);  // drain the burst
  int taken = 0;
  for (int ms = 1; ms <= 10'000; ++ms) {
    taken += bucket.take(1000, t0 + std::chrono::milliseconds(ms));
  }
  EXPECT_NEAR(taken, 5000, 1);  // 10 s at 500/s (one token may still be in the making)
}

TEST(TokenBucket, NextTokenSaysWhenToWake) {
  TokenBucket bucket(4, 1, t0);
  EXPECT_EQ(bucket.next_token(t0), t0);
  ASSERT_EQ(bucket.take(1, t0), 1);
  EXPECT_EQ(bucket.next_token(t0), t0 + 250ms);
  EXPECT_EQ(bucket.next_token(t0 + 100ms), t0 + 250ms);
  EXPECT_EQ(bucket.take(1, bucket.next_token(t0)), 1);
}

TEST(TokenBucket, ConfigureKeepsEarnedTokensWithinTheNewBurst) {
  TokenBucket bucket(1, 10, t0);
  bucket.configure(1000, 2, t0);
  EXPECT_EQ(bucket.take(10, t0), 2);
  EXPECT_EQ(bucket.take(10, t0 + 5ms), 2);  // 5 earned at the new rate, burst 2
}

TEST(TokenBucket, GiveBackReturnsUnusedTokensUpToTheBurst) {
  TokenBucket bucket(1, 4, t0);
  ASSERT_EQ(bucket.take(4, t0), 4);
  bucket.give_back(3);
  EXPECT_EQ(bucket.take(10, t0), 3);
  bucket.give_back(100);
  EXPECT_EQ(bucket.take(10, t0), 4);
}

TEST(PushBack, HalvesOnEachPushBackAndRecoversWhenQuiet) {
  PushBack push_back;
  push_back.on_push_back(t0, std::nullopt);
  push_back.on_push_back(t0, std::nullopt);
  EXPECT_DOUBLE_EQ(push_back.scale(), 0.25);
  push_back.on_answer(t0 + 1s);  // not quiet long enough
  EXPECT_DOUBLE_EQ(push_back.scale(), 0.25);
  push_back.on_answer(t0 + PushBack::kQuietPeriod);
  EXPECT_DOUBLE_EQ(push_back.scale(), 0.5);
  push_back.on_answer(t0 + 2 * PushBack::kQuietPeriod);
  EXPECT_DOUBLE_EQ(push_back.scale(), 1.0);
  push_back.on_answer(t0 + 10 * PushBack::kQuietPeriod);
  EXPECT_DOUBLE_EQ(push_back.scale(), 1.0);
}

TEST(PushBack, ScaleHasAFloor) {
  PushBack push_back;
  for (int i = 0; i < 100; ++i) push_back.on_push_back(t0, std::nullopt);
  EXPECT_DOUBLE_EQ(push_back.scale(), PushBack::kMinScale);
}

TEST(PushBack, RetryAfterHoldsDispatchWithinACap) {
  PushBack push_back;
  EXPECT_EQ(push_back.hold_until(), SteadyTime{});
  push_back.on_push_back(t0, 30s);
  EXPECT_EQ(push_back.hold_until(), t0 + 30s);
  push_back.on_push_back(t0 + 1s, 5s);  // an earlier end never shortens the hold
  EXPECT_EQ(push_back.hold_until(), t0 + 30s);
  push_back.on_push_back(t0, 24h);
  EXPECT_EQ(push_back.hold_until(), t0 + PushBack::kMaxRetryAfter);
}

}  // namespace
}  // namespace mando::queue
