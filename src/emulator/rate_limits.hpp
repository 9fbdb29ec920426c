#pragma once
// The emulator's rate limits and injected faults: what the REST routes answer before they do
// anything. Pure policy over a caller-given time, so tests drive it with a fake clock.
//
// One request, as admit() sees it:
//   1. Its bucket is (route template, owner): the interaction token for webhook routes, the
//      application for the others. A bucket allows `limit` requests per `window`, counted from
//      the first request of the window (Discord's fixed windows).
//   2. Over the limit, or while an injected 429 blocks the bucket: a real 429 (scope user) with
//      Retry-After and the X-RateLimit-* headers. Counted: every 429, a 429 that follows a 429
//      in a bucket the client had been told was exhausted ("consecutive"), and every request
//      sent into a bucket the client had been told was exhausted ("ignored_exhausted").
//   3. Else the next fault of the FIFO of (method, route family) answers, if one is queued:
//      a 5xx, a 429 that blocks the bucket for retry_after, or a 400 from AutoMod.
//   4. Else the request goes on; its answer carries the headers admit() filled in.
// delay_responses() delays the next N answers (whatever they are) by a fixed time.
//
// Not thread-safe: the emulator calls it under its one mutex.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "emulator/emulator_types.hpp"
#include "net/http_message.hpp"

namespace mando::emulator {

struct RateHeaders {
  int limit = 0;
  int remaining = 0;
  double reset_after = 0;  // seconds
  std::string bucket;
};

// X-RateLimit-Limit, -Remaining, -Reset (epoch seconds), -Reset-After and -Bucket.
void set_rate_headers(net::Response& response, const RateHeaders& headers);

class RateLimits {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimits(int limit, std::chrono::milliseconds window) : limit_(limit), window_(window) {}

  // 1. to 4. above. nullopt: go on, and set `headers` on the answer.
  std::optional<net::Response> admit(std::string_view route_template, std::string_view owner,
                                     std::string_view method, std::string_view family,
                                     Clock::time_point now, RateHeaders& headers);
  // How long to hold this answer back (0 when no delay is queued); counts one delayed answer.
  std::chrono::milliseconds take_delay();

  void add_fault(Fault fault);  // ignored when fault.count <= 0
  void delay_responses(int count, std::chrono::milliseconds delay);

  // {"responses_429", "consecutive_429", "ignored_exhausted", "faults_injected"}
  boost::json::object stats() const;

 private:
  struct Bucket {
    Clock::time_point reset_at{};
    int used = 0;
    Clock::time_point blocked_until{};    // an (injected) 429's retry_after
    Clock::time_point exhausted_until{};  // what the client was told: nothing before this
    bool last_was_429 = false;
  };

  std::optional<net::Response> take_bucket(Bucket& bucket, Clock::time_point now,
                                           RateHeaders& headers);
  std::optional<net::Response> take_fault(Bucket& bucket, std::string_view method,
                                          std::string_view family, Clock::time_point now,
                                          RateHeaders& headers);

  const int limit_;
  const std::chrono::milliseconds window_;
  std::map<std::string, Bucket, std::less<>> buckets_;
  std::map<std::string, std::deque<Fault>, std::less<>> faults_;  // "PATCH @original" -> FIFO
  int delay_count_ = 0;
  std::chrono::milliseconds delay_{0};
  std::int64_t responses_429_ = 0;
  std::int64_t consecutive_429_ = 0;
  std::int64_t ignored_exhausted_ = 0;
  std::int64_t faults_injected_ = 0;
};

}  // namespace mando::emulator
