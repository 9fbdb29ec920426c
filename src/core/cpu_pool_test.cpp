#include "core/cpu_pool.hpp"

#include <algorithm>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

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
  auto job = [&o]() -> Result<int> {
    o.job_thread = std::this_thread::get_id();
    return 6 * 7;
  };
  auto result = co_await pool.run(std::move(job));
  o.resumed_thread = std::this_thread::get_id();
  o.value = result.value();
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
    pool.run([i]() -> Result<int> { return i; },
             asio::bind_executor(
                 ioc, [&done, i](Result<int> r) { done.fetch_add(r && *r == i ? 1 : 0); }));
  }
  // Each pending job holds work on the io_context, so run() returns once all handlers ran.
  ioc.run();
  EXPECT_EQ(done.load(), 100);
}

TEST(CpuPool, JobsRunBelowTheCallersPriority) {
  asio::io_context ioc;
  CpuPool pool(1, nullptr, 7);
  std::atomic<int> seen{-100};
  pool.run([]() -> Result<int> { return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); },
           asio::bind_executor(ioc, [&seen](Result<int> nice) { seen = nice.value(); }));
  ioc.run();
  EXPECT_EQ(seen.load(), std::min(19, getpriority(PRIO_PROCESS, 0) + 7));
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), getpriority(PRIO_PROCESS, 0))
      << "the calling thread keeps its own priority";
}

TEST(CpuPool, AJobThatThrowsCompletesWithAnErrorAndThePoolLivesOn) {
  asio::io_context ioc;
  CpuPool pool(1);
  std::vector<Result<int>> seen;
  auto record = [&seen](Result<int> r) { seen.push_back(std::move(r)); };
  pool.run([]() -> Result<int> { throw std::bad_alloc(); }, asio::bind_executor(ioc, record));
  pool.run([]() -> Result<int> { throw std::runtime_error("cairo said no"); },
           asio::bind_executor(ioc, record));
  pool.run([]() -> Result<int> { throw 17; }, asio::bind_executor(ioc, record));
  pool.run([]() -> Result<int> { return 5; }, asio::bind_executor(ioc, record));
  ioc.run();
  ASSERT_EQ(seen.size(), 4u);
  ASSERT_FALSE(seen[0]);
  EXPECT_EQ(seen[0].error().kind, ErrorKind::kResourceExhausted);
  ASSERT_FALSE(seen[1]);
  EXPECT_EQ(seen[1].error().kind, ErrorKind::kInternal);
  EXPECT_NE(seen[1].error().message.find("cairo said no"), std::string::npos);
  ASSERT_FALSE(seen[2]);
  EXPECT_EQ(seen[2].error().kind, ErrorKind::kInternal);
  ASSERT_TRUE(seen[3]);
  EXPECT_EQ(*seen[3], 5);
}

asio::awaitable<std::string> await_throwing_plain_job(CpuPool& pool) {
  auto job = []() -> int { throw std::runtime_error("plain job failed"); };
  try {
    co_await pool.run(std::move(job));
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
  co_return "no exception";
}

TEST(CpuPool, APlainJobsExceptionIsRethrownInTheAwaitingCoroutine) {
  asio::io_context ioc;
  CpuPool pool(1);
  auto future = asio::co_spawn(ioc, await_throwing_plain_job(pool), asio::use_future);
  ioc.run();
  EXPECT_EQ(future.get(), "plain job failed");
}

}  // namespace
}  // namespace mando::core
