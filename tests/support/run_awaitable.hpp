#pragma once
// Runs one coroutine to completion on a test's own io_context (not running elsewhere) and
// answers its value: the context runs until it has no work left.

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace mando::testing {

template <typename T>
T run_awaitable(boost::asio::io_context& ioc, boost::asio::awaitable<T> call) {
  auto future = boost::asio::co_spawn(ioc, std::move(call), boost::asio::use_future);
  ioc.restart();
  ioc.run();
  return future.get();
}

}  // namespace mando::testing
