#include "discord/rate_limiter.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "discord/wakeup.hpp"

namespace mando::discord {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kPruneAbove = 4096;  // buckets kept before idle expired ones are dropped
constexpr SteadyDuration kGlobalWindow = std::chrono::seconds(1);

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("discord");
  return logger;
}

SteadyDuration seconds(double s) {
  return std::chrono::duration_cast<SteadyDuration>(std::chrono::duration<double>(s));
}

long long milliseconds(SteadyDuration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// A bucket whose reset time has come is full again, and its next reset is one window after the
// one Discord named (not one window after now: the window does not move because we were idle).
void refill(long limit, long& remaining, SteadyTime& reset_at, SteadyDuration window,
            SteadyTime now) {
  if (now < reset_at) return;
  remaining = limit;
  if (window > SteadyDuration::zero()) reset_at += ((now - reset_at) / window + 1) * window;
}

}  // namespace

struct InMemoryRateLimiter::State {
  struct Waiter {
    Waiter(asio::any_io_executor executor, std::string route_template, std::string bucket)
        : wakeup(std::move(executor)), route(std::move(route_template)), key(std::move(bucket)) {}
    Wakeup wakeup;
    const std::string route;  // its template: a waiter moves with its route to the named bucket
    std::string key;          // the bucket it waits in
    bool granted = false;     // the turn was passed to it
  };
  struct Bucket {
    bool known = false;  // Discord's headers described it
    long limit = 1;
    long remaining = 1;
    SteadyTime reset_at{};
    SteadyDuration window{};     // the last Reset-After: the time between two resets
    SteadyTime blocked_until{};  // a 429
    bool busy = false;           // a request holds the turn
    std::deque<std::shared_ptr<Waiter>> waiting;
  };
  // What the head of a bucket may do now: go (a request is reserved), wait, or give up.
  struct Step {
    Result<void> outcome;
    std::optional<SteadyTime> wait_until;  // set: not yet, ask again then
  };

  State(RateLimiterOptions o, Clock& c) : options(o), clock(c) {}

  Step step(const Permit& permit);
  SteadyDuration time_to_go(const RouteKey& route, Bucket& bucket, bool brake, SteadyTime now);
  void reserve(const RouteKey& route, Bucket& bucket, bool brake, SteadyTime now);
  void learn(Permit& permit, const RateLimitHeaders& headers, int status);
  void move_route(Permit& permit, const std::string& to);
  void release(const Permit& permit);
  void pass_turn(const std::string& key);
  void abandon(const std::shared_ptr<Waiter>& waiter);
  std::string bucket_key(const RouteKey& route) const;
  void count_invalid(const RouteKey& route, const RateLimitHeaders& headers, int status,
                     SteadyTime now);
  void prune_invalid(SteadyTime now);
  void prune_buckets(SteadyTime now);

  const RateLimiterOptions options;
  Clock& clock;
  std::mutex mutex;  // guards everything below, and the permits' key and holds_turn
  std::map<std::string, std::string> route_to_bucket;  // route template -> Discord's hash
  std::map<std::string, Bucket> buckets;
  std::deque<SteadyTime> global_sends;   // bot-route sends of the last second
  SteadyTime global_blocked_until[2]{};  // a global 429: [0] bot routes, [1] exempt routes
  std::deque<SteadyTime> invalid_times;  // of the invalid requests in the window
  bool brake_logged = false;
  SteadyTime brake_next{};
};

// Leaves the queue if the waiting coroutine is destroyed (its io_context stopped), or passes on
// the turn it was given and never used.
class InMemoryRateLimiter::QueueGuard {
 public:
  QueueGuard(std::shared_ptr<State> state, std::shared_ptr<State::Waiter> waiter)
      : state_(std::move(state)), waiter_(std::move(waiter)) {}
  ~QueueGuard() {
    if (waiter_) state_->abandon(waiter_);
  }
  QueueGuard(const QueueGuard&) = delete;
  QueueGuard& operator=(const QueueGuard&) = delete;
  void done() { waiter_.reset(); }

 private:
  std::shared_ptr<State> state_;
  std::shared_ptr<State::Waiter> waiter_;
};

// The members are the limiter's to read and change, under its mutex.
class InMemoryRateLimiter::Permit final : public RateLimitPermit {
 public:
  Permit(std::shared_ptr<State> state, RouteKey route_key, std::string bucket, SteadyTime deadline)
      : state(std::move(state)),
        route(std::move(route_key)),
        key(std::move(bucket)),
        deadline(deadline) {}
  ~Permit() override { state->release(*this); }

  void update(const RateLimitHeaders& headers, int status) override {
    state->learn(*this, headers, status);
  }

  asio::awaitable<Result<void>> ready() override {
    for (;;) {
      State::Step next = state->step(*this);
      if (!next.outcome) co_return tl::unexpected(std::move(next.outcome.error()));
      if (!next.wait_until) co_return Result<void>{};
      co_await state->clock.sleep_until(*next.wait_until);
    }
  }

  const std::shared_ptr<State> state;
  const RouteKey route;
  std::string key;         // the bucket whose turn it holds
  bool holds_turn = true;  // false once its route moved into a bucket another request holds
  const SteadyTime deadline;
};

InMemoryRateLimiter::InMemoryRateLimiter(RateLimiterOptions options, Clock& clock)
    : state_(std::make_shared<State>(options, clock)) {}

InMemoryRateLimiter::~InMemoryRateLimiter() = default;

asio::awaitable<Result<std::unique_ptr<RateLimitPermit>>> InMemoryRateLimiter::acquire(
    RouteKey route, SteadyDuration max_wait) {
  const auto executor = co_await asio::this_coro::executor;
  const std::shared_ptr<State> state = state_;
  const SteadyTime start = state->clock.now();
  const SteadyTime deadline =
      max_wait >= SteadyTime::max() - start ? SteadyTime::max() : start + max_wait;

  // 1. The queue.
  std::shared_ptr<State::Waiter> waiter;
  std::string key;
  {
    std::lock_guard lock(state->mutex);
    key = state->bucket_key(route);
    State::Bucket& bucket = state->buckets[key];
    if (bucket.busy) {
      waiter = std::make_shared<State::Waiter>(executor, route.route, key);
      bucket.waiting.push_back(waiter);
    } else {
      bucket.busy = true;
    }
  }
  if (waiter) {
    QueueGuard guard(state, waiter);
    co_await waiter->wakeup.wait();
    std::lock_guard lock(state->mutex);
    key = waiter->key;  // the route may have moved to its named bucket meanwhile
    guard.done();
  }

  // 2-3. The turn is ours; the time-based limits.
  auto permit = std::make_unique<Permit>(state, std::move(route), std::move(key), deadline);
  Result<void> ready = co_await permit->ready();
  if (!ready) co_return tl::unexpected(std::move(ready.error()));
  co_return std::unique_ptr<RateLimitPermit>(std::move(permit));
}

InMemoryRateLimiter::State::Step InMemoryRateLimiter::State::step(const Permit& permit) {
  std::lock_guard lock(mutex);
  const SteadyTime now = clock.now();
  // The brake first: refusing is cheaper for Discord than any request.
  prune_invalid(now);
  const bool brake = invalid_times.size() >= options.brake_threshold;
  if (brake && !permit.route.essential) {
    return {
        fail(ErrorKind::kResourceExhausted,
             fmt::format("discord: rate limiter brake: {} invalid requests (401/403/429) in "
                         "the last {} minutes; non-essential request {} refused",
                         invalid_times.size(), options.invalid_window.count(), permit.route.route)),
        std::nullopt};
  }
  Bucket& bucket = buckets[permit.key];
  const SteadyDuration wait = time_to_go(permit.route, bucket, brake, now);
  if (wait <= SteadyDuration::zero()) {
    reserve(permit.route, bucket, brake, now);
    return {Result<void>{}, std::nullopt};
  }
  if (wait > permit.deadline - now) {
    return {fail(ErrorKind::kResourceExhausted,
                 fmt::format("discord: {}: rate limited: the next request may go in {} ms, "
                             "later than the request may wait",
                             permit.route.route, milliseconds(wait))),
            std::nullopt};
  }
  return {Result<void>{}, now + wait};
}

SteadyDuration InMemoryRateLimiter::State::time_to_go(const RouteKey& route, Bucket& bucket,
                                                      bool brake, SteadyTime now) {
  SteadyDuration wait{0};
  if (brake) wait = std::max(wait, brake_next - now);
  wait = std::max(wait, global_blocked_until[route.global_exempt ? 1 : 0] - now);
  wait = std::max(wait, bucket.blocked_until - now);
  if (bucket.known) {
    refill(bucket.limit, bucket.remaining, bucket.reset_at, bucket.window, now);
    if (bucket.remaining <= 0) wait = std::max(wait, bucket.reset_at - now);
  }
  if (!route.global_exempt) {
    while (!global_sends.empty() && global_sends.front() + kGlobalWindow <= now) {
      global_sends.pop_front();
    }
    if (global_sends.size() >= static_cast<std::size_t>(options.global_per_second)) {
      wait = std::max(wait, global_sends.front() + kGlobalWindow - now);
    }
  }
  return wait;
}

void InMemoryRateLimiter::State::reserve(const RouteKey& route, Bucket& bucket, bool brake,
                                         SteadyTime now) {
  if (bucket.known) --bucket.remaining;
  if (!route.global_exempt) global_sends.push_back(now);
  if (brake) brake_next = now + options.brake_interval;
}

void InMemoryRateLimiter::State::learn(Permit& permit, const RateLimitHeaders& headers,
                                       int status) {
  std::lock_guard lock(mutex);
  const SteadyTime now = clock.now();
  if (headers.bucket) {
    std::string& hash = route_to_bucket[permit.route.route];
    if (hash != *headers.bucket) {
      hash = *headers.bucket;
      move_route(permit, bucket_key(permit.route));
    }
  }

  Bucket& bucket = buckets[permit.key];
  if (headers.limit || headers.remaining || headers.reset_after) {
    bucket.known = true;
    if (headers.limit) bucket.limit = std::max(1L, *headers.limit);
    if (headers.remaining) bucket.remaining = *headers.remaining;
    if (headers.reset_after) {
      bucket.window = std::min(seconds(*headers.reset_after), options.max_block);
      bucket.reset_at = now + bucket.window;
    }
  }

  if (status == 429) {
    const SteadyDuration retry_after =
        headers.retry_after ? std::min(seconds(*headers.retry_after), options.max_block)
                            : options.default_retry_after;
    SteadyTime& blocked_until = headers.global
                                    ? global_blocked_until[permit.route.global_exempt ? 1 : 0]
                                    : bucket.blocked_until;
    blocked_until = std::max(blocked_until, now + retry_after);
    module_log()->warn("discord rate limited route=\"{}\" scope={} global={} retry_after_ms={}",
                       permit.route.route, headers.scope.value_or("user"), headers.global,
                       milliseconds(retry_after));
  }
  count_invalid(permit.route, headers, status, now);
  prune_buckets(now);
}

// The route's provisional (or outdated) bucket is `permit.key`; Discord named `to`. The route's
// waiters follow it in their order; the permit takes the turn of `to`, or rides along as a
// guest when another request holds it.
void InMemoryRateLimiter::State::move_route(Permit& permit, const std::string& to) {
  const std::string from = permit.key;
  if (from == to) return;
  Bucket& old_bucket = buckets[from];
  Bucket& new_bucket = buckets[to];  // std::map: references stay valid
  std::deque<std::shared_ptr<Waiter>> moving;
  std::erase_if(old_bucket.waiting, [&](const std::shared_ptr<Waiter>& waiter) {
    if (waiter->route != permit.route.route) return false;
    waiter->key = to;
    moving.push_back(waiter);
    return true;
  });
  if (permit.holds_turn) pass_turn(from);
  permit.holds_turn = !new_bucket.busy;
  new_bucket.busy = true;
  for (auto& waiter : moving) new_bucket.waiting.push_back(std::move(waiter));
  permit.key = to;
}

void InMemoryRateLimiter::State::release(const Permit& permit) {
  std::lock_guard lock(mutex);
  if (permit.holds_turn) pass_turn(permit.key);
}

void InMemoryRateLimiter::State::pass_turn(const std::string& key) {
  const auto it = buckets.find(key);
  if (it == buckets.end()) return;
  Bucket& bucket = it->second;
  if (bucket.waiting.empty()) {
    bucket.busy = false;
    return;
  }
  const std::shared_ptr<Waiter> next = std::move(bucket.waiting.front());
  bucket.waiting.pop_front();
  next->granted = true;
  next->wakeup.set();
}

void InMemoryRateLimiter::State::abandon(const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex);
  if (waiter->granted) {
    pass_turn(waiter->key);
    return;
  }
  if (auto it = buckets.find(waiter->key); it != buckets.end()) {
    std::erase(it->second.waiting, waiter);
  }
}

std::string InMemoryRateLimiter::State::bucket_key(const RouteKey& route) const {
  const auto it = route_to_bucket.find(route.route);
  const std::string& hash = it != route_to_bucket.end() ? it->second : "route:" + route.route;
  return hash + "|" + route.resource;
}

void InMemoryRateLimiter::State::count_invalid(const RouteKey& route,
                                               const RateLimitHeaders& headers, int status,
                                               SteadyTime now) {
  const bool invalid =
      status == 401 || status == 403 || (status == 429 && headers.scope.value_or("") != "shared");
  if (!invalid) return;
  invalid_times.push_back(now);
  prune_invalid(now);
  if (invalid_times.size() >= options.brake_threshold && !brake_logged) {
    brake_logged = true;
    module_log()->error(
        "DISCORD INVALID REQUEST BRAKE ON: invalid_requests={} window_minutes={} threshold={} "
        "last_route=\"{}\" (Discord bans the IP at 10000); non-essential requests are refused "
        "until the count drops",
        invalid_times.size(), options.invalid_window.count(), options.brake_threshold, route.route);
  }
}

void InMemoryRateLimiter::State::prune_invalid(SteadyTime now) {
  while (!invalid_times.empty() && now - invalid_times.front() >= options.invalid_window) {
    invalid_times.pop_front();
  }
  if (invalid_times.size() < options.brake_threshold && brake_logged) {
    brake_logged = false;
    module_log()->warn("rate limit brake released invalid_requests={}", invalid_times.size());
  }
}

void InMemoryRateLimiter::State::prune_buckets(SteadyTime now) {
  if (buckets.size() <= kPruneAbove) return;
  std::erase_if(buckets, [now](const auto& entry) {
    const Bucket& b = entry.second;
    return !b.busy && b.waiting.empty() && b.reset_at <= now && b.blocked_until <= now;
  });
}

std::size_t InMemoryRateLimiter::invalid_requests() {
  std::lock_guard lock(state_->mutex);
  state_->prune_invalid(state_->clock.now());
  return state_->invalid_times.size();
}

bool InMemoryRateLimiter::braking() {
  return invalid_requests() >= state_->options.brake_threshold;
}

std::size_t InMemoryRateLimiter::queued() {
  std::lock_guard lock(state_->mutex);
  std::size_t n = 0;
  for (const auto& [key, bucket] : state_->buckets) n += bucket.waiting.size();
  return n;
}

}  // namespace mando::discord
