#include "discord/rate_limit_protocol.hpp"

#include <gtest/gtest.h>

namespace mando::discord {
namespace {

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

}  // namespace
}  // namespace mando::discord
