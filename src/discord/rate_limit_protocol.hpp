#pragma once
// Discord's REST rate-limit protocol, as data: which bucket a request belongs to and what a
// response says about it. Pure functions; the waiting is rate_limiter.hpp's.
//
// The protocol (https://discord.com/developers/docs/topics/rate-limits):
//   1. Limits are per route (method and path template) and top-level resource: channel_id,
//      guild_id, or webhook_id + webhook_token (an interaction's webhook is per token). The
//      same route on two channels counts twice, independently.
//   2. Every response names its bucket: X-RateLimit-Bucket (a hash; several routes may share
//      one), -Limit, -Remaining, -Reset (epoch seconds), -Reset-After (seconds, fractional).
//      A client learns the hash of a route only from a response.
//   3. A 429 carries retry_after (seconds, float) and global in its JSON body, Retry-After in
//      its headers, and X-RateLimit-Scope: user (ours), global (every route of the bot), or
//      shared (a resource's limit that others used up).
//   4. A bot may make 50 requests a second in all (the global limit, per bot token).
//      Interaction endpoints are not bound by it: the callback and the interaction's webhook
//      (/interactions/ID/TOKEN/..., /webhooks/APP/TOKEN/...). mando treats every route that
//      carries a webhook token that way, since it cannot tell an interaction token from another
//      webhook's by the path.
//   5. 401, 403 and 429 (but a 429 of scope shared) are invalid requests; 10,000 of them in 10
//      minutes get the IP banned by Cloudflare for a while.
// Reset-After is used rather than Reset: it is relative, so the clocks of mando and Discord
// need not agree.

#include <optional>
#include <string>
#include <string_view>

#include "net/http_message.hpp"

namespace mando::discord {

struct RouteKey {
  std::string route;     // method and path template: "PATCH /webhooks/{id}/{token}/messages/{id}"
  std::string resource;  // top-level resource: "webhooks/ID/TOKEN", "channels/ID", or empty
  bool global_exempt = false;  // interaction and webhook routes do not count to the global limit
  bool essential = false;      // still allowed (spaced out) while the invalid-request brake is on
  bool needs_authorization = true;  // false for routes authenticated by their token
};

// The RouteKey of `path` (relative to the API base, with or without a query string). Webhook
// and interaction routes with a token are exempt from the global limit, need no bot token and
// are essential (they are replies to users, whose tokens expire).
RouteKey route_key(std::string_view method, std::string_view path);

// What a response says about rate limits.
struct RateLimitHeaders {
  std::optional<long> limit;          // X-RateLimit-Limit
  std::optional<long> remaining;      // X-RateLimit-Remaining
  std::optional<double> reset_after;  // X-RateLimit-Reset-After, seconds
  std::optional<std::string> bucket;  // X-RateLimit-Bucket
  std::optional<std::string> scope;   // X-RateLimit-Scope: user, global or shared
  bool global = false;                // X-RateLimit-Global: true
  std::optional<double> retry_after;  // a 429's body retry_after, else its Retry-After header

  // Malformed values are ignored, never an error: the headers come from the outside world.
  static RateLimitHeaders parse(const net::Headers& headers, std::string_view body);
};

}  // namespace mando::discord
