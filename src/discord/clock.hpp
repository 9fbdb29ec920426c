#pragma once
// The time the Discord REST client and its rate limiter see: the seam that lets their waits be
// tested without sleeping.
//
//   SteadyClock  std::chrono::steady_clock, and Asio timers for sleep_until(); production.
//   ManualClock  time moves only when advance() is called; the sleepers whose time has come
//                wake then (on their own executors). For tests, which park coroutines on it,
//                check what happened, and move time on.
//
// Thread-safety: both may be used from any thread; sleep_until() completes on the caller's
// executor. Failure: none; a sleep cannot fail. The caller keeps the clock alive while any
// sleep_until() it started is pending.

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>

#include <boost/asio/awaitable.hpp>

namespace mando::discord {

using SteadyTime = std::chrono::steady_clock::time_point;
using SteadyDuration = std::chrono::steady_clock::duration;

class Wakeup;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() = 0;
  // Completes once now() >= at: at once for a time already past.
  virtual boost::asio::awaitable<void> sleep_until(SteadyTime at) = 0;
};

class SteadyClock final : public Clock {
 public:
  SteadyTime now() override;
  boost::asio::awaitable<void> sleep_until(SteadyTime at) override;
};

// The process's steady clock: the default of every limiter and client.
Clock& steady_clock();

class ManualClock final : public Clock {
 public:
  explicit ManualClock(SteadyTime start = SteadyTime{} + std::chrono::hours(1));
  ~ManualClock() override;

  SteadyTime now() override;
  boost::asio::awaitable<void> sleep_until(SteadyTime at) override;

  // Moves time on by `by` and wakes every sleeper whose time has come.
  void advance(SteadyDuration by);
  // Coroutines parked in sleep_until() (tests wait for this before advancing).
  std::size_t sleepers();

 private:
  std::mutex mutex_;
  SteadyTime now_;
  std::multimap<SteadyTime, std::shared_ptr<Wakeup>> sleepers_;
};

}  // namespace mando::discord
