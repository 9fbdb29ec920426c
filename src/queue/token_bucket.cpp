#include "queue/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace mando::queue {

TokenBucket::TokenBucket(double rate, double burst, SteadyTime now)
    : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

void TokenBucket::configure(double rate, double burst, SteadyTime now) {
  refill(now);
  rate_ = rate;
  burst_ = burst;
  tokens_ = std::min(tokens_, burst_);
}

void TokenBucket::refill(SteadyTime now) {
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

int TokenBucket::take(int want, SteadyTime now) {
  refill(now);
  const int taken = std::clamp(static_cast<int>(std::floor(tokens_)), 0, std::max(want, 0));
  tokens_ -= taken;
  return taken;
}

void TokenBucket::give_back(int tokens) {
  tokens_ = std::min(burst_, tokens_ + std::max(tokens, 0));
}

SteadyTime TokenBucket::next_token(SteadyTime now) {
  refill(now);
  if (tokens_ >= 1.0) return now;
  const double wait = (1.0 - tokens_) / rate_;
  // From the last refill, which may be later than `now`. Round up: waking a nanosecond early
  // would find no token and spin once more.
  return last_ + std::chrono::ceil<SteadyDuration>(std::chrono::duration<double>(wait));
}

void PushBack::on_push_back(SteadyTime now, std::optional<SteadyDuration> retry_after) {
  scale_ = std::max(kMinScale, scale_ / 2);
  last_change_ = now;
  if (retry_after) {
    hold_until_ = std::max(hold_until_, now + std::min(*retry_after, kMaxRetryAfter));
  }
}

void PushBack::on_answer(SteadyTime now) {
  if (scale_ < 1.0 && now - last_change_ >= kQuietPeriod) {
    scale_ = std::min(1.0, scale_ * 2);
    last_change_ = now;
  }
}

}  // namespace mando::queue
