#pragma once
// The CPU pool: a fixed set of threads, separate from the I/O threads, for rendering, encoding
// and other CPU-heavy jobs. A coroutine on an I/O thread hands a job over and resumes on its own
// executor when the job is done:
//
//   auto job = [spec] { return render(spec); };
//   Result<Image> image = co_await pool.run(std::move(job));
//
// Name the job: g++ 12 miscompiles a capturing lambda written as a temporary inside a co_await
// expression (its captured strings are freed from the wrong address; ASan reports a bad-free).
//
// When every thread is busy, jobs wait in the pool's queue (never on an I/O thread).
// A job that throws (std::bad_alloc drawing a huge picture, a library's exception) never lets
// the exception escape the pool thread, which would terminate the process and every job of
// every user with it. A job returning Result<T> completes with an Error instead
// (kResourceExhausted for bad_alloc, kInternal naming the exception otherwise); a job returning
// any other (default-constructible) type rethrows the exception in the awaiting coroutine.

#include <cstddef>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/error.hpp"
#include "core/metrics.hpp"

namespace mando::core {

namespace detail {
template <typename R>
struct IsResult : std::false_type {};
template <typename T>
struct IsResult<Result<T>> : std::true_type {};

// The Error a job's exception becomes; call from a catch block only.
Error current_exception_error();

// A Result job completes with its value; any other job with (exception, value).
template <typename R>
using Completion = std::conditional_t<IsResult<R>::value, void(R), void(std::exception_ptr, R)>;
}  // namespace detail

class CpuPool {
 public:
  // threads == 0 means one per hardware core. `nice` (0-19) lowers the pool threads' scheduling
  // priority by that much below the process's, so that when the cores are all busy the I/O threads,
  // which answer Discord, get one first: an acknowledgement must not queue behind a render.
  explicit CpuPool(std::size_t threads, MetricsRegistry* metrics = nullptr, int nice = 0);
  ~CpuPool();
  CpuPool(const CpuPool&) = delete;
  CpuPool& operator=(const CpuPool&) = delete;

  std::size_t size() const { return size_; }

  // Runs `job` on a pool thread and completes with its return value on the caller's executor.
  template <typename F, typename Token = boost::asio::use_awaitable_t<>>
  auto run(F job, Token token = {}) {
    using R = std::invoke_result_t<F&>;
    static_assert(!std::is_void_v<R>, "CpuPool::run jobs return a value (use Result<void>)");
    return boost::asio::async_initiate<Token, detail::Completion<R>>(
        [this](auto handler, F job) {
          auto work = boost::asio::make_work_guard(handler);
          queued_->add(1);
          boost::asio::post(pool_, [this, handler = std::move(handler), work = std::move(work),
                                    job = std::move(job)]() mutable {
            queued_->add(-1);
            lower_priority();
            busy_->add(1);
            auto completion = run_guarded(job);
            busy_->add(-1);
            auto ex = work.get_executor();
            std::apply(
                [&](auto&&... args) {
                  boost::asio::post(ex,
                                    boost::asio::append(std::move(handler), std::move(args)...));
                },
                std::move(completion));
          });
        },
        token, std::move(job));
  }

  // Finishes queued jobs and joins the threads. Called by the destructor.
  void stop();

 private:
  // The job's completion arguments, as a tuple: (result) or (exception, result).
  template <typename F>
  static auto run_guarded(F& job) {
    using R = std::invoke_result_t<F&>;
    if constexpr (detail::IsResult<R>::value) {
      try {
        return std::tuple<R>(job());
      } catch (...) {
        return std::tuple<R>(tl::unexpected<Error>(detail::current_exception_error()));
      }
    } else {
      try {
        return std::tuple<std::exception_ptr, R>(nullptr, job());
      } catch (...) {
        return std::tuple<std::exception_ptr, R>(std::current_exception(), R{});
      }
    }
  }

  // Applies `nice` to the calling pool thread, once per thread.
  void lower_priority() const;
  std::size_t size_;
  boost::asio::thread_pool pool_;
  Gauge own_queued_;
  Gauge own_busy_;
  Gauge* queued_;
  Gauge* busy_;
  int nice_;
};

}  // namespace mando::core
