#include "queue/retry.hpp"

#include <algorithm>

namespace mando::queue {

Micros backoff(const RetryConfig& config, int failed_attempts) {
  const int n = std::max(failed_attempts, 1);
  const auto min = config.min_backoff.count();
  const auto max = config.max_backoff.count();
  if (min >= max) return Micros(std::max<Micros::rep>(max, 0));
  // Doubling stops as soon as the interval reaches max, so the shift never overflows.
  const int doublings = std::min(n - 1, std::max(config.max_doublings, 0));
  Micros::rep interval = min;
  for (int i = 0; i < doublings && interval < max; ++i) interval *= 2;
  if (interval >= max) return Micros(max);
  if (interval <= 0) return Micros(0);
  // Linear growth after the doublings: one more doubled step per further attempt. Comparing
  // before multiplying keeps a huge attempt count from overflowing.
  const Micros::rep linear_steps = n - 1 - doublings;
  if (linear_steps > (max - interval) / interval) return Micros(max);
  return Micros(interval + linear_steps * interval);
}

bool may_retry(const RetryConfig& config, int attempts, TimePoint first_attempt, TimePoint now) {
  const bool attempts_limited = config.max_attempts > 0;
  const bool duration_limited = config.max_retry_duration.count() > 0;
  const bool attempts_used = attempts_limited && attempts >= config.max_attempts;
  const bool duration_used = duration_limited && now - first_attempt >= config.max_retry_duration;
  if (attempts_limited && duration_limited) return !(attempts_used && duration_used);
  if (attempts_limited) return !attempts_used;
  if (duration_limited) return !duration_used;
  return true;
}

}  // namespace mando::queue
