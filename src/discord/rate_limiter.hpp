#pragma once
// Waiting for Discord's REST rate limits: a queue per bucket, served in order.
//
// The life of one request (the protocol itself is in rate_limit_protocol.hpp):
//   1. acquire(route) queues it behind the requests of its bucket, first come first served.
//      A bucket is (hash, top-level resource); while Discord has not named the hash of a route,
//      the route has a provisional bucket of its own, keyed by its template and resource.
//   2. At the head of the queue the request holds its bucket's turn: no other request of the
//      bucket is in flight until it lets go. So a bucket Discord has not described yet is
//      discovered by one request while the rest wait for its headers, and two edits of the same
//      message reach Discord in the order they were asked for.
//   3. Holding the turn, it waits for the time-based limits: the bucket's reset when Remaining
//      is 0 (the reset Discord named; refills then follow its window), a 429's retry_after, the
//      global window (at most global_per_second bot-route requests in any second, a sliding
//      window over their send times), and the invalid-request brake. Then one request is
//      reserved and acquire() answers a permit. A wait that would end more than max_wait after
//      the call fails instead; the queue wait before it is bounded by the requests ahead, each
//      bounded the same way.
//   4. The caller sends, and hands every response to permit.update(): X-RateLimit-Bucket maps
//      the route to its hash (the waiters of its provisional bucket move to the real one, in
//      order), Limit, Remaining and Reset-After describe the bucket, and a 429 blocks it (or,
//      global, every route of its kind) for retry_after.
//   5. To send again (after a 429 or a 5xx) the caller awaits permit.ready(), which waits as in
//      3 without giving up the turn: a retried request is never overtaken by a later one.
//   6. Destroying the permit gives the turn to the next request of the bucket.
//   7. 401, 403 and 429 (except scope shared) are counted in a sliding 10-minute window; from
//      brake_threshold (5,000; Discord bans at 10,000) on, non-essential requests are refused
//      and essential ones (replies to users) spaced out, with one error log per episode.
//
// RateLimiter is the seam: InMemoryRateLimiter serves one process; a limiter shared by many
// processes (through the database) can be plugged in behind the same interface later.
// Thread-safety: InMemoryRateLimiter and its permits may be used from any thread; a waiter
// resumes on its own executor. The clock must outlive every permit and pending acquire(); the
// limiter need not (its state is shared with them, so an io_context torn down after the
// limiter is safe). A coroutine destroyed while queued leaves the queue, or passes on the turn
// it was given.

#include <chrono>
#include <cstddef>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "discord/clock.hpp"
#include "discord/rate_limit_protocol.hpp"

namespace mando::discord {

// One request's turn at the head of its bucket, from acquire() until it is destroyed.
class RateLimitPermit {
 public:
  virtual ~RateLimitPermit() = default;  // the next request of the bucket goes
  // What the response to a send said: every response, whatever its status.
  virtual void update(const RateLimitHeaders& headers, int status) = 0;
  // Waits until the request may be sent again, keeping the turn, and reserves it. Errors as
  // RateLimiter::acquire().
  virtual boost::asio::awaitable<Result<void>> ready() = 0;
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Steps 1-3. kResourceExhausted: refused by the invalid-request brake, or the wait would end
  // more than `max_wait` after the call.
  virtual boost::asio::awaitable<Result<std::unique_ptr<RateLimitPermit>>> acquire(
      RouteKey route, SteadyDuration max_wait) = 0;
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
  explicit InMemoryRateLimiter(RateLimiterOptions options = {}, Clock& clock = steady_clock());
  ~InMemoryRateLimiter() override;

  boost::asio::awaitable<Result<std::unique_ptr<RateLimitPermit>>> acquire(
      RouteKey route, SteadyDuration max_wait) override;

  // For metrics and tests.
  std::size_t invalid_requests();  // in the current window
  bool braking();
  std::size_t queued();  // requests waiting for a turn, in every bucket

 private:
  struct State;  // shared with permits and waiters, so it outlives a limiter destroyed first
  class Permit;
  class QueueGuard;
  std::shared_ptr<State> state_;
};

}  // namespace mando::discord
