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
// Jobs must not throw: mando reports failures as Result values. A job that throws anyway is a
// bug and terminates the process (Envoy's rule: crash loudly on broken invariants).

#include <cstddef>
#include <exception>
#include <type_traits>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/metrics.hpp"

namespace mando::core {

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
    return boost::asio::async_initiate<Token, void(R)>(
        [this](auto handler, F job) {
          auto work = boost::asio::make_work_guard(handler);
          queued_->add(1);
          boost::asio::post(pool_, [this, handler = std::move(handler), work = std::move(work),
                                    job = std::move(job)]() mutable {
            queued_->add(-1);
            lower_priority();
            busy_->add(1);
            R result = job();
            busy_->add(-1);
            auto ex = work.get_executor();
            boost::asio::post(ex, boost::asio::append(std::move(handler), std::move(result)));
          });
        },
        token, std::move(job));
  }

  // Finishes queued jobs and joins the threads. Called by the destructor.
  void stop();

 private:
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
