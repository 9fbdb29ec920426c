#pragma once
// Cloud Tasks' retry policy as pure functions of a RetryConfig: when the next attempt of a
// failed task is due, and when a task has used up its retries.
//
// The backoff after the n-th failed attempt (n = 1, 2, ...) starts at min_backoff, doubles
// max_doublings times, then grows linearly by the last doubled interval, and is capped at
// max_backoff. Cloud Tasks' own example: min 10 s, max 300 s, 3 doublings gives
// 10, 20, 40, 80, 160, 240, 300, 300, ...
//
// Stop conditions: Cloud Tasks stops "once max_retry_duration has passed and the task has been
// attempted max_attempts times". A limit that is off (max_attempts -1, max_retry_duration 0)
// never holds a task back on its own: with both set a task stops when both are used up; with
// one set, when that one is; with neither, never.
//
// A worker's Retry-After is outside input: it is clamped to kMaxRetryAfter when parsed, so a
// huge value never overflows a conversion; it then lengthens the failed task's delay up to the
// queue's max_backoff (the dispatcher), and holds the whole queue for at most 10 minutes
// (token_bucket.hpp).

#include <optional>
#include <string_view>

#include "queue/model.hpp"

namespace mando::queue {

// The delay before the next attempt after `failed_attempts` failed attempts (>= 1).
Micros backoff(const RetryConfig& config, int failed_attempts);

// Whether a task that has been attempted `attempts` times, first at `first_attempt`, may be
// attempted again at `now`.
bool may_retry(const RetryConfig& config, int attempts, TimePoint first_attempt, TimePoint now);

// The longest delay a Retry-After can ask for, whatever the queue's max_backoff.
inline constexpr Micros kMaxRetryAfter = kMaxScheduleAhead;

// A Retry-After value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) as a delay from `now`,
// clamped to [0, min(cap, kMaxRetryAfter)]. nullopt when it is neither form.
std::optional<Micros> parse_retry_after(std::string_view value, Micros cap, TimePoint now);

}  // namespace mando::queue
