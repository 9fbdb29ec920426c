#pragma once
// Discord's REST rate limits, as pure logic: no clock reads, no sleeping, no I/O.
//
// How a request goes through a limiter:
//   1. The caller turns method and path into a RouteKey (route_key()): the route template
//      ("PATCH /webhooks/{id}/{token}/messages/{id}"), the top-level resource it belongs to
//      ("webhooks/ID/TOKEN", "channels/ID", "guilds/ID", or empty) and whether the route is
//      exempt from the global limit (interaction callbacks and webhooks with a token).
//   2. acquire(route, now) answers how long to wait: zero means go (and reserves one request
//      of the bucket and of the global limit); anything else means "ask again after that long".
//      It refuses (kResourceExhausted) when the invalid-request brake is on and the request is
//      not essential.
//   3. After the response, update(route, headers, status, now) teaches the limiter:
//      X-RateLimit-Bucket maps the route template to a bucket hash, and the bucket of
//      (hash, resource) takes Limit, Remaining and Reset-After. Routes Discord has not named a
//      bucket for yet have a bucket of their own, keyed by template and resource.
//   4. A 429 blocks its bucket for retry_after (body) or Retry-After (header); a global 429
//      (X-RateLimit-Global or X-RateLimit-Scope: global) blocks every request.
//   5. 401, 403 and 429 (except scope "shared", which another bot caused) are invalid
//      requests: Discord bans an IP that sends 10,000 of them in 10 minutes. They are counted
//      in a sliding 10-minute window; from brake_threshold (5,000 by default) on, the limiter
//      refuses non-essential requests, spaces essential ones out, and logs an error once per
//      episode.
//
// RateLimiter is the seam: InMemoryRateLimiter serves one process; a limiter shared by many
// processes (Redis, the task queue) can be plugged in behind the same interface later.
// Thread-safety: InMemoryRateLimiter may be called from any thread.

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "net/http_message.hpp"

namespace mando::discord {

using SteadyTime = std::chrono::steady_clock::time_point;
using SteadyDuration = std::chrono::steady_clock::duration;

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

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Zero: go (one request is reserved). Positive: ask again after that long.
  // kResourceExhausted: refused by the invalid-request brake.
  virtual Result<SteadyDuration> acquire(const RouteKey& route, SteadyTime now) = 0;
  // Every response of a request that acquire() let go, whatever its status.
  virtual void update(const RouteKey& route, const RateLimitHeaders& headers, int status,
                      SteadyTime now) = 0;
};

struct RateLimiterOptions {
  int global_per_second = 50;
  std::size_t brake_threshold = 5000;  // Discord bans at 10,000 invalid requests per 10 minutes
  std::chrono::minutes invalid_window{10};
  SteadyDuration brake_interval = std::chrono::milliseconds(250);  // essential, while braking
  SteadyDuration default_retry_after = std::chrono::seconds(1);    // a 429 that names no delay
  SteadyDuration max_block = std::chrono::minutes(10);             // cap on what a peer asks
};

class InMemoryRateLimiter final : public RateLimiter {
 public:
  explicit InMemoryRateLimiter(RateLimiterOptions options = {});

  Result<SteadyDuration> acquire(const RouteKey& route, SteadyTime now) override;
  void update(const RouteKey& route, const RateLimitHeaders& headers, int status,
              SteadyTime now) override;

  // Invalid requests in the current window (for metrics and tests).
  std::size_t invalid_requests(SteadyTime now);
  bool braking(SteadyTime now);

 private:
  struct Bucket {
    long limit = 1;
    long remaining = 1;
    SteadyTime reset_at{};
    SteadyDuration window{};     // the last Reset-After: the next reset when we refill ourselves
    SteadyTime blocked_until{};  // a 429
  };

  std::string bucket_key(const RouteKey& route) const;
  void prune_invalid(SteadyTime now);

  const RateLimiterOptions options_;
  std::mutex mutex_;
  std::map<std::string, std::string> route_to_bucket_;
  std::map<std::string, Bucket> buckets_;
  SteadyTime global_window_start_{};
  int global_count_ = 0;
  SteadyTime global_blocked_until_{};
  std::deque<SteadyTime> invalid_;
  bool brake_logged_ = false;
  SteadyTime brake_next_{};
};

}  // namespace mando::discord
