#pragma once
// Runs one blocking method of a store (SQLite, files) on a CpuPool and resumes the calling
// coroutine on its own executor, so that disk I/O never stalls an I/O thread:
//
//   auto record = co_await core::blocking_call(pool, store, &JobStore::get, job_id);
//
// The arguments are copied into the job. The closure is a named local of this coroutine on
// purpose: g++ 12 miscompiles a capturing lambda written as a temporary inside a co_await
// expression (its captured strings are freed from the wrong address; ASan reports a bad-free),
// so mando never writes `co_await pool.run([x] {...})`.

#include <functional>
#include <type_traits>

#include <boost/asio/awaitable.hpp>

#include "core/cpu_pool.hpp"

namespace mando::core {

template <typename Object, typename Method, typename... Args>
boost::asio::awaitable<std::invoke_result_t<Method, Object&, const Args&...>> blocking_call(
    CpuPool& pool, Object& object, Method method, Args... args) {
  auto job = [&object, method, args...] { return std::invoke(method, object, args...); };
  co_return co_await pool.run(std::move(job));
}

}  // namespace mando::core
