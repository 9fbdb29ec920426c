#include "discord/clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "discord/wakeup.hpp"

namespace mando::discord {

namespace asio = boost::asio;

SteadyTime SteadyClock::now() { return std::chrono::steady_clock::now(); }

asio::awaitable<void> SteadyClock::sleep_until(SteadyTime at) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_at(at);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

Clock& steady_clock() {
  static SteadyClock clock;
  return clock;
}

ManualClock::ManualClock(SteadyTime start) : now_(start) {}

ManualClock::~ManualClock() = default;

SteadyTime ManualClock::now() {
  std::lock_guard lock(mutex_);
  return now_;
}

asio::awaitable<void> ManualClock::sleep_until(SteadyTime at) {
  // A sleeper whose coroutine is destroyed (its io_context went) leaves the list, so no Wakeup
  // outlives the io_context it belongs to.
  struct Forget {
    ManualClock& clock;
    SteadyTime at;
    const Wakeup* wakeup;
    ~Forget() {
      std::lock_guard lock(clock.mutex_);
      const auto [first, last] = clock.sleepers_.equal_range(at);
      for (auto it = first; it != last; ++it) {
        if (it->second.get() == wakeup) {
          clock.sleepers_.erase(it);
          break;
        }
      }
    }
  };
  auto wakeup = std::make_shared<Wakeup>(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(mutex_);
    if (at <= now_) co_return;
    sleepers_.emplace(at, wakeup);
  }
  const Forget forget{*this, at, wakeup.get()};
  co_await wakeup->wait();
}

void ManualClock::advance(SteadyDuration by) {
  std::lock_guard lock(mutex_);
  now_ += by;
  const auto due = sleepers_.upper_bound(now_);
  for (auto it = sleepers_.begin(); it != due; ++it) it->second->set();
  sleepers_.erase(sleepers_.begin(), due);
}

std::size_t ManualClock::sleepers() {
  std::lock_guard lock(mutex_);
  return sleepers_.size();
}

}  // namespace mando::discord
