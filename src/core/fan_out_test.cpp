#include "core/fan_out.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace mando::core {
namespace {

namespace asio = boost::asio;

TEST(FanOut, RunsEveryItemAtMostConcurrencyAtOnceAndReportsEach) {
  asio::thread_pool pool(4);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::vector<int> results(25, 0);
  std::vector<std::size_t> reported;
  auto work = [&](std::size_t i) -> asio::awaitable<void> {
    const int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);  // a real hop
    results[i] = static_cast<int>(i) * 2;
    --running;
  };
  auto finished = [&](std::size_t i) -> asio::awaitable<void> {
    reported.push_back(i);
    co_return;
  };
  auto all = [&]() -> asio::awaitable<void> {
    co_await fan_out(results.size(), 3, work, finished);
  };
  asio::co_spawn(pool, all(), asio::use_future).get();
  EXPECT_LE(peak.load(), 3);
  EXPECT_EQ(reported.size(), results.size());
  for (std::size_t i = 0; i < results.size(); ++i) EXPECT_EQ(results[i], static_cast<int>(i) * 2);
  std::sort(reported.begin(), reported.end());
  for (std::size_t i = 0; i < reported.size(); ++i) EXPECT_EQ(reported[i], i);
  pool.join();
}

TEST(FanOut, AThrowingItemCountsAsFinishedAndTheRestGoOn) {
  asio::io_context ioc;
  int done = 0;
  auto work = [&](std::size_t i) -> asio::awaitable<void> {
    if (i == 1) throw std::runtime_error("broken item");
    ++done;
    co_return;
  };
  auto all = [&]() -> asio::awaitable<void> { co_await fan_out(4, 2, work); };
  auto future = asio::co_spawn(ioc, all(), asio::use_future);
  ioc.run();
  future.get();
  EXPECT_EQ(done, 3);
}

TEST(FanOut, NothingToDoEndsAtOnce) {
  asio::io_context ioc;
  auto work = [](std::size_t) -> asio::awaitable<void> { co_return; };
  auto all = [&]() -> asio::awaitable<void> { co_await fan_out(0, 4, work); };
  auto future = asio::co_spawn(ioc, all(), asio::use_future);
  ioc.run();
  EXPECT_NO_THROW(future.get());
}

}  // namespace
}  // namespace mando::core
