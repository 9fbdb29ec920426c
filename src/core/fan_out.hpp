#pragma once
// Bounded fan-out for coroutines: run `work(i)` for every i in [0, count), at most `concurrency`
// at a time, and hear about each as it ends.
//
// Each work(i) runs in a coroutine of its own on the caller's executor; the caller's coroutine
// calls `finished(i)` (an awaitable, so that it may send a progress line) in completion order,
// one at a time, and starts the next work item after each. A work item that throws counts as
// finished (the caller's slots must start out as errors, so that it reads as a failure).
// (Boost 1.81's ranged parallel_group reads its operations after they may be gone when they
// complete on another thread, so this counts completions through a channel instead.)
//
// Everything `work` and `finished` refer to must outlive the call: it returns only once every
// work item has ended.

#include <algorithm>
#include <cstddef>
#include <exception>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mando::core {

template <typename Work, typename Finished>
boost::asio::awaitable<void> fan_out(std::size_t count, int concurrency, Work work,
                                     Finished finished) {
  namespace asio = boost::asio;
  const auto executor = co_await asio::this_coro::executor;
  // Room for every completion, so that try_send never fails.
  asio::experimental::concurrent_channel<void(boost::system::error_code, std::size_t)> ended(
      executor, count);
  auto launch = [&](std::size_t i) {
    asio::co_spawn(executor, work(i), [&ended, i](std::exception_ptr) {
      ended.try_send(boost::system::error_code{}, i);
    });
  };
  const std::size_t window = std::min(count, static_cast<std::size_t>(std::max(concurrency, 1)));
  for (std::size_t i = 0; i < window; ++i) launch(i);
  for (std::size_t done = 0, next = window; done < count; ++done) {
    const std::size_t i = co_await ended.async_receive(asio::use_awaitable);
    if (next < count) launch(next++);
    co_await finished(i);
  }
}

// fan_out() without a completion step.
template <typename Work>
boost::asio::awaitable<void> fan_out(std::size_t count, int concurrency, Work work) {
  // Named, not a temporary in the co_await: g++ 12 mishandles those (docs/ARCHITECTURE.md).
  auto nothing = [](std::size_t) -> boost::asio::awaitable<void> { co_return; };
  co_await fan_out(count, concurrency, std::move(work), nothing);
}

}  // namespace mando::core
