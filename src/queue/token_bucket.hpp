#pragma once
// Rate control of one queue: a token bucket for rateLimits {maxDispatchesPerSecond,
// maxBurstSize}, and the back-off a queue applies when its workers push back.
//
// Token bucket: the bucket holds at most `burst` tokens and refills at `rate` per second; a
// dispatch takes one token. A full bucket lets `burst` dispatches go at once, then the rate
// holds. Both classes take the current time as an argument (a steady clock in production,
// plain values in tests), so they never read a clock and never sleep.
//
// Push-back: Cloud Tasks slows a whole queue down when its target answers 429 or 503. mando
// halves the queue's effective rate on each such answer (down to 1/64 of the configured rate),
// holds every dispatch until a Retry-After the worker sent has passed (capped at
// kMaxRetryAfter), and doubles the rate back after each quiet period without push-back.

#include <chrono>
#include <optional>

namespace mando::queue {

using SteadyTime = std::chrono::steady_clock::time_point;
using SteadyDuration = std::chrono::steady_clock::duration;

class TokenBucket {
 public:
  // Starts full. rate > 0, burst >= 1.
  TokenBucket(double rate, double burst, SteadyTime now);

  // Changes rate and burst, keeping the tokens earned so far (capped to the new burst).
  void configure(double rate, double burst, SteadyTime now);
  // Takes up to `want` whole tokens; answers how many it took.
  int take(int want, SteadyTime now);
  // Returns tokens taken but not used (fewer tasks were due than tokens taken).
  void give_back(int tokens);
  // When the next whole token is there: `now` if one is.
  SteadyTime next_token(SteadyTime now);

 private:
  void refill(SteadyTime now);

  double rate_;
  double burst_;
  double tokens_;
  SteadyTime last_;
};

class PushBack {
 public:
  static constexpr SteadyDuration kQuietPeriod = std::chrono::seconds(5);
  static constexpr SteadyDuration kMaxRetryAfter = std::chrono::minutes(10);
  static constexpr double kMinScale = 1.0 / 64;

  // A 429 or 503, with the Retry-After the worker sent, if any.
  void on_push_back(SteadyTime now, std::optional<SteadyDuration> retry_after);
  // Any other answer (or none).
  void on_answer(SteadyTime now);

  double scale() const { return scale_; }  // multiply the configured rate by this
  SteadyTime hold_until() const { return hold_until_; }

 private:
  double scale_ = 1.0;
  SteadyTime hold_until_{};
  SteadyTime last_change_{};
};

}  // namespace mando::queue
