#include "discord/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace mando::discord {
namespace {

using namespace std::chrono_literals;

// A fake clock: plain time points, advanced by hand.
const SteadyTime kT0 = SteadyTime{} + 1h;

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

SteadyDuration wait_of(InMemoryRateLimiter& limiter, const RouteKey& route, SteadyTime now) {
  auto wait = limiter.acquire(route, now);
  EXPECT_TRUE(wait.has_value()) << (wait ? "" : wait.error().to_string());
  return wait.value_or(SteadyDuration::max());
}

TEST(RouteKeyTest, WebhookRoutesAreKeyedByIdAndToken) {
  const RouteKey key = route_key("PATCH", "/webhooks/111/tok.en_A/messages/@original");
  EXPECT_EQ(key.route, "PATCH /webhooks/{id}/{token}/messages/@original");
  EXPECT_EQ(key.resource, "webhooks/111/tok.en_A");
  EXPECT_TRUE(key.global_exempt);
  EXPECT_FALSE(key.needs_authorization);
  EXPECT_TRUE(key.essential);

  const RouteKey followup = route_key("PATCH", "/webhooks/111/tok/messages/222?wait=true");
  EXPECT_EQ(followup.route, "PATCH /webhooks/{id}/{token}/messages/{id}");

  const RouteKey callback = route_key("POST", "/interactions/333/tok/callback");
  EXPECT_EQ(callback.resource, "interactions/333/tok");
  EXPECT_TRUE(callback.global_exempt);
  EXPECT_FALSE(callback.needs_authorization);
}

TEST(RouteKeyTest, BotRoutesAreKeyedByChannelOrGuild) {
  const RouteKey channel = route_key("POST", "/channels/42/messages");
  EXPECT_EQ(channel.route, "POST /channels/{id}/messages");
  EXPECT_EQ(channel.resource, "channels/42");
  EXPECT_FALSE(channel.global_exempt);
  EXPECT_TRUE(channel.needs_authorization);
  EXPECT_FALSE(channel.essential);

  EXPECT_EQ(route_key("PUT", "/applications/1/guilds/2/commands").route,
            "PUT /applications/{id}/guilds/{id}/commands");
  EXPECT_EQ(route_key("GET", "/guilds/7/members/8").resource, "guilds/7");
  EXPECT_EQ(route_key("GET", "/webhooks/9").resource, "webhooks/9");
  EXPECT_TRUE(route_key("GET", "/webhooks/9").needs_authorization);
}

TEST(RateLimitHeadersTest, ParsesDiscordHeadersAndRetryAfter) {
  net::Headers h;
  h.set("X-RateLimit-Limit", "5");
  h.set("X-RateLimit-Remaining", "0");
  h.set("X-RateLimit-Reset-After", "1.25");
  h.set("X-RateLimit-Bucket", "abcd1234");
  h.set("X-RateLimit-Scope", "shared");
  h.set("Retry-After", "3");
  const auto parsed =
      RateLimitHeaders::parse(h, R"({"message":"You are being rate limited.","retry_after":0.5,
                                    "global":false})");
  EXPECT_EQ(parsed.limit, 5);
  EXPECT_EQ(parsed.remaining, 0);
  EXPECT_DOUBLE_EQ(parsed.reset_after.value(), 1.25);
  EXPECT_EQ(parsed.bucket, "abcd1234");
  EXPECT_EQ(parsed.scope, "shared");
  EXPECT_FALSE(parsed.global);
  EXPECT_DOUBLE_EQ(parsed.retry_after.value(), 0.5);  // the body wins over the header

  const auto header_only = RateLimitHeaders::parse(h, "not json");
  EXPECT_DOUBLE_EQ(header_only.retry_after.value(), 3.0);

  net::Headers bad;
  bad.set("X-RateLimit-Remaining", "-1");
  bad.set("X-RateLimit-Reset-After", "soon");
  bad.set("X-RateLimit-Global", "true");
  const auto ignored = RateLimitHeaders::parse(bad, "");
  EXPECT_FALSE(ignored.remaining);
  EXPECT_FALSE(ignored.reset_after);
  EXPECT_TRUE(ignored.global);
}

TEST(InMemoryRateLimiterTest, UnknownRouteGoesAtOnce) {
  InMemoryRateLimiter limiter;
  EXPECT_EQ(wait_of(limiter, route_key("GET", "/channels/1"), kT0), 0s);
}

TEST(InMemoryRateLimiterTest, LearnsBucketFromHeaders) {
  InMemoryRateLimiter limiter;
  const RouteKey route = route_key("POST", "/channels/1/messages");
  ASSERT_EQ(wait_of(limiter, route, kT0), 0s);
  limiter.update(route, headers(2, 1, 2.5, "bucket-a"), 200, kT0);

  EXPECT_EQ(wait_of(limiter, route, kT0), 0s);  // the last one of the bucket
  EXPECT_EQ(wait_of(limiter, route, kT0 + 1s), 1500ms);
  EXPECT_EQ(wait_of(limiter, route, kT0 + 2500ms), 0s);  // reset: full again
  EXPECT_EQ(wait_of(limiter, route, kT0 + 2500ms), 0s);
  EXPECT_GT(wait_of(limiter, route, kT0 + 2500ms), 0s);
}

TEST(InMemoryRateLimiterTest, RoutesSharingABucketWaitTogetherPerResource) {
  InMemoryRateLimiter limiter;
  const RouteKey edit = route_key("PATCH", "/channels/1/messages/5");
  const RouteKey remove = route_key("DELETE", "/channels/1/messages/5");
  const RouteKey other_channel = route_key("DELETE", "/channels/2/messages/5");
  limiter.update(edit, headers(5, 0, 1.0, "shared-hash"), 200, kT0);
  limiter.update(remove, headers(5, 0, 1.0, "shared-hash"), 200, kT0);

  EXPECT_EQ(wait_of(limiter, edit, kT0), 1s);
  EXPECT_EQ(wait_of(limiter, remove, kT0), 1s);         // same hash, same channel
  EXPECT_EQ(wait_of(limiter, other_channel, kT0), 0s);  // same hash, another channel
}

TEST(InMemoryRateLimiterTest, WebhookTokensHaveTheirOwnBuckets) {
  InMemoryRateLimiter limiter;
  const RouteKey alice = route_key("PATCH", "/webhooks/1/token-alice/messages/@original");
  const RouteKey bob = route_key("PATCH", "/webhooks/1/token-bob/messages/@original");
  limiter.update(alice, headers(5, 0, 4.0, "webhook-hash"), 200, kT0);
  EXPECT_EQ(wait_of(limiter, alice, kT0), 4s);
  EXPECT_EQ(wait_of(limiter, bob, kT0), 0s);
}

TEST(InMemoryRateLimiterTest, GlobalLimitOnlyForBotRoutes) {
  InMemoryRateLimiter limiter;  // 50 per second
  for (int i = 0; i < 50; ++i) {
    const RouteKey route = route_key("GET", "/channels/" + std::to_string(i));
    ASSERT_EQ(wait_of(limiter, route, kT0 + 100ms), 0s) << i;
  }
  EXPECT_EQ(wait_of(limiter, route_key("GET", "/channels/99"), kT0 + 400ms), 700ms);
  for (int i = 0; i < 100; ++i) {
    const RouteKey hook = route_key("PATCH", "/webhooks/1/t" + std::to_string(i) + "/messages/2");
    ASSERT_EQ(wait_of(limiter, hook, kT0 + 400ms), 0s) << i;
  }
  EXPECT_EQ(wait_of(limiter, route_key("GET", "/channels/99"), kT0 + 1100ms), 0s);
}

TEST(InMemoryRateLimiterTest, TooManyRequestsBlocksTheBucketForRetryAfter) {
  InMemoryRateLimiter limiter;
  const RouteKey route = route_key("PATCH", "/webhooks/1/tok/messages/@original");
  const RouteKey other = route_key("PATCH", "/webhooks/1/other/messages/@original");
  limiter.update(route, too_many(0.05), 429, kT0);
  EXPECT_EQ(wait_of(limiter, route, kT0), 50ms);
  EXPECT_EQ(wait_of(limiter, route, kT0 + 20ms), 30ms);
  EXPECT_EQ(wait_of(limiter, other, kT0), 0s);
  EXPECT_EQ(wait_of(limiter, route, kT0 + 50ms), 0s);
  EXPECT_EQ(limiter.invalid_requests(kT0 + 50ms), 1u);
}

TEST(InMemoryRateLimiterTest, GlobalTooManyRequestsBlocksEverything) {
  InMemoryRateLimiter limiter;
  limiter.update(route_key("GET", "/channels/1"), too_many(2.0, "global", true), 429, kT0);
  EXPECT_EQ(wait_of(limiter, route_key("GET", "/guilds/9"), kT0 + 1s), 1s);
  EXPECT_EQ(wait_of(limiter, route_key("PATCH", "/webhooks/1/t/messages/2"), kT0 + 1s), 1s);
  EXPECT_EQ(wait_of(limiter, route_key("GET", "/guilds/9"), kT0 + 2s), 0s);
}

TEST(InMemoryRateLimiterTest, SharedScopeTooManyRequestsIsNotCounted) {
  InMemoryRateLimiter limiter;
  const RouteKey route = route_key("GET", "/channels/1");
  limiter.update(route, too_many(1.0, "shared"), 429, kT0);
  EXPECT_EQ(limiter.invalid_requests(kT0), 0u);
  EXPECT_EQ(wait_of(limiter, route, kT0), 1s);  // still waited out
  limiter.update(route, too_many(1.0, "user"), 429, kT0);
  limiter.update(route, {}, 401, kT0);
  limiter.update(route, {}, 403, kT0);
  limiter.update(route, {}, 404, kT0);
  limiter.update(route, {}, 500, kT0);
  EXPECT_EQ(limiter.invalid_requests(kT0), 3u);
}

TEST(InMemoryRateLimiterTest, BrakesWellBeforeTenThousandInvalidRequests) {
  InMemoryRateLimiter limiter;  // brakes at 5,000
  const RouteKey bot = route_key("GET", "/channels/1");
  const RouteKey reply = route_key("PATCH", "/webhooks/1/tok/messages/@original");
  for (int i = 0; i < 4999; ++i) limiter.update(bot, {}, 403, kT0 + std::chrono::milliseconds(i));
  const SteadyTime t1 = kT0 + 5s;
  EXPECT_FALSE(limiter.braking(t1));
  EXPECT_EQ(wait_of(limiter, bot, t1), 0s);

  limiter.update(bot, {}, 401, t1);
  EXPECT_TRUE(limiter.braking(t1));
  auto refused = limiter.acquire(bot, t1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kResourceExhausted);
  EXPECT_NE(refused.error().message.find("brake"), std::string::npos);

  // Essential requests (replies to users) still go, spaced out.
  EXPECT_EQ(wait_of(limiter, reply, t1), 0s);
  EXPECT_EQ(wait_of(limiter, reply, t1), 250ms);
  EXPECT_EQ(wait_of(limiter, reply, t1 + 250ms), 0s);

  // Ten minutes after the first ones the window has slid and the brake is off.
  const SteadyTime later = kT0 + 10min + 5s;
  EXPECT_FALSE(limiter.braking(later));
  EXPECT_EQ(wait_of(limiter, bot, later), 0s);
}

TEST(InMemoryRateLimiterTest, BrakeThresholdIsConfigurable) {
  RateLimiterOptions options;
  options.brake_threshold = 3;
  InMemoryRateLimiter limiter(options);
  const RouteKey bot = route_key("GET", "/channels/1");
  for (int i = 0; i < 3; ++i) limiter.update(bot, {}, 401, kT0);
  EXPECT_FALSE(limiter.acquire(bot, kT0));
}

}  // namespace
}  // namespace mando::discord
