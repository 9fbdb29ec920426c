#pragma once
// Runs one blocking TaskStore call on a pool and resumes the calling coroutine on its own
// executor:
//
//   auto queue = co_await store_call(pool, store, &TaskStore::get_queue, name);
//
// The arguments are copied into the job. The closure is a named local of this coroutine on
// purpose: g++ 12 miscompiles a capturing lambda written as a temporary inside a co_await
// expression (its captured strings are freed from the wrong address; ASan reports a bad-free),
// so mando never writes `co_await pool.run([x] {...})`.

#include <functional>
#include <type_traits>

#include <boost/asio/awaitable.hpp>

#include "core/cpu_pool.hpp"
#include "queue/task_store.hpp"

namespace mando::queue {

template <typename Method, typename... Args>
boost::asio::awaitable<std::invoke_result_t<Method, TaskStore&, const Args&...>> store_call(
    core::CpuPool& pool, TaskStore& store, Method method, Args... args) {
  auto job = [&store, method, args...] { return std::invoke(method, store, args...); };
  co_return co_await pool.run(std::move(job));
}

}  // namespace mando::queue
