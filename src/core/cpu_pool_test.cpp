#include "core/cpu_pool.hpp"

#include <algorithm>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

namespace mando::core {
namespace {

namespace asio = boost::asio;

struct Observed {
  std::thread::id job_thread;
  std::thread::id resumed_thread;
  int value = 0;
};

asio::awaitable<Observed> run_job(CpuPool& pool) {
  Observed o;
  auto result = co_await pool.run([&o] {
    o.job_thread = std::this_thread::get_id();
    return 6 * 7;
  });
  o.resumed_thread = std::this_thread::get_id();
  o.value = result;
  co_return o;
}

TEST(CpuPool, RunsJobOffTheIoThreadAndResumesOnIt) {
  asio::io_context ioc;
  CpuPool pool(2);
  auto future = asio::co_spawn(ioc, run_job(pool), asio::use_future);
  std::thread::id io_thread = std::this_thread::get_id();
  ioc.run();
  auto o = future.get();
  EXPECT_EQ(o.value, 42);
  EXPECT_NE(o.job_thread, io_thread);
  EXPECT_EQ(o.resumed_thread, io_thread);
}

TEST(CpuPool, ZeroThreadsMeansOnePerCore) {
  CpuPool pool(0);
  EXPECT_GE(pool.size(), 1u);
}

TEST(CpuPool, ExportsQueueAndBusyGauges) {
  MetricsRegistry metrics;
  CpuPool pool(3, &metrics);
  auto text = metrics.render();
  EXPECT_NE(text.find("mando_cpu_pool_threads 3"), std::string::npos);
  EXPECT_NE(text.find("mando_cpu_pool_queued_jobs 0"), std::string::npos);
}

TEST(CpuPool, ManyJobsAllComplete) {
  asio::io_context ioc;
  CpuPool pool(2);
  std::atomic<int> done{0};
  for (int i = 0; i < 100; ++i) {
    pool.run([i] { return i; },
             asio::bind_executor(ioc, [&done, i](int r) { done.fetch_add(r == i ? 1 : 0); }));
  }
  // Each pending job holds work on the io_context, so run() returns once all handlers ran.
  ioc.run();
  EXPECT_EQ(done.load(), 100);
}

TEST(CpuPool, JobsRunBelowTheCallersPriority) {
  asio::io_context ioc;
  CpuPool pool(1, nullptr, 7);
  std::atomic<int> seen{-100};
  pool.run([] { return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); },
           asio::bind_executor(ioc, [&seen](int nice) { seen = nice; }));
  ioc.run();
  EXPECT_EQ(seen.load(), std::min(19, getpriority(PRIO_PROCESS, 0) + 7));
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), getpriority(PRIO_PROCESS, 0))
      << "the calling thread keeps its own priority";
}

}  // namespace
}  // namespace mando::core
