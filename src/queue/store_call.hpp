#pragma once
// Runs one blocking TaskStore call on a pool (core::blocking_call) and resumes the calling
// coroutine on its own executor:
//
//   auto queue = co_await store_call(pool, store, &TaskStore::get_queue, name);

#include <utility>

#include "core/blocking_call.hpp"
#include "queue/task_store.hpp"

namespace mando::queue {

template <typename Method, typename... Args>
boost::asio::awaitable<std::invoke_result_t<Method, TaskStore&, const Args&...>> store_call(
    core::CpuPool& pool, TaskStore& store, Method method, Args... args) {
  co_return co_await core::blocking_call(pool, store, method, std::move(args)...);
}

}  // namespace mando::queue
