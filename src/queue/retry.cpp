#include "queue/retry.hpp"

#include <algorithm>
#include <charconv>
#include <string>

#include <curl/curl.h>

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

std::optional<Micros> parse_retry_after(std::string_view value, Micros cap, TimePoint now) {
  if (value.empty()) return std::nullopt;
  const Micros limit = std::clamp(cap, Micros(0), kMaxRetryAfter);
  const auto limit_seconds = std::chrono::duration_cast<std::chrono::seconds>(limit).count();
  // Whole seconds, compared with the limit before any conversion to a finer unit.
  auto clamped = [&](long long seconds) {
    if (seconds <= 0) return Micros(0);
    if (seconds >= limit_seconds) return limit;
    return Micros(std::chrono::seconds(seconds));
  };
  const bool all_digits =
      std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (all_digits) {
    long long seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) return limit;
    return clamped(seconds);
  }
  const time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when == -1) return std::nullopt;
  const auto now_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  // Both are seconds since the epoch of a 64-bit time_t: the difference cannot overflow.
  return clamped(static_cast<long long>(when) - now_seconds);
}

}  // namespace mando::queue
