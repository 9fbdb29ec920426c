#include "transform/pool.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <memory>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"
#include "support/temp_dir.hpp"
#include "transform/pipeline.hpp"
#include "transform/test_images.hpp"
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mando::transform {
namespace {

namespace asio = boost::asio;
using testing::decode;
using testing::distance;
using testing::Pixels;

constexpr testing::Rgb kGreen{20, 200, 20};
constexpr TransformSpec kSmall{96, Crop::kCentre, Format::kPng};

// The test worker (test_worker.cpp): the real worker loop with inputs that misbehave.
PoolOptions test_options(int workers = 1) {
  PoolOptions options;
  options.workers = workers;
  options.executable = MANDO_TEST_WORKER;
  options.args = {};
  return options;
}

class Pool : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { init_vips(); }

  void start(PoolOptions options) {
    pool_ = std::make_unique<WorkerPool>(ioc_.get_executor(), std::move(options));
  }
  Result<std::string> thumbnail(std::string input, TransformSpec spec = kSmall) {
    return mando::testing::run_awaitable(ioc_, pool_->thumbnail(std::move(input), spec, {}));
  }
  // Several jobs submitted at once; their results in submission order, and the order in which
  // they completed.
  std::vector<Result<std::string>> concurrently(const std::vector<std::string>& inputs,
                                                std::vector<int>* completion_order = nullptr) {
    std::vector<std::optional<Result<std::string>>> results(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      auto job = [](WorkerPool& pool, std::string input, std::optional<Result<std::string>>& out,
                    std::vector<int>* order, int index) -> asio::awaitable<void> {
        out = co_await pool.thumbnail(std::move(input), kSmall, {});
        if (order != nullptr) order->push_back(index);
      };
      asio::co_spawn(ioc_,
                     job(*pool_, inputs[i], results[i], completion_order, static_cast<int>(i)),
                     asio::detached);
    }
    ioc_.restart();
    ioc_.run();
    std::vector<Result<std::string>> out;
    for (auto& r : results) out.push_back(r ? std::move(*r) : fail(ErrorKind::kInternal, "lost"));
    return out;
  }
  static std::string picture() { return testing::encode(Pixels::solid(200, 150, kGreen), "jpeg"); }
  static void expect_picture(const Result<std::string>& result) {
    ASSERT_TRUE(result) << result.error().to_string();
    const auto out = decode(*result);
    EXPECT_EQ(out.width, kSmall.size);
    EXPECT_LT(distance(out.at(48, 48), kGreen), 10);
  }
  static void expect_died(const Result<std::string>& result, std::string_view reason) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ErrorKind::kInternal);
    EXPECT_EQ(result.error().message, fmt::format("could not be read ({})", reason));
  }

  asio::io_context ioc_;
  std::unique_ptr<WorkerPool> pool_;
};

TEST_F(Pool, ThumbnailAndSheetRoundTrip) {
  start(test_options());
  const auto result = thumbnail(picture());
  expect_picture(result);
  EXPECT_EQ(*result, transform::thumbnail(picture(), kSmall, {}).value());  // same bytes
  std::vector<std::string> tiles{*result, ""};
  auto sheet = mando::testing::run_awaitable(ioc_, pool_->sheet(tiles, {64, Format::kPng}));
  ASSERT_TRUE(sheet) << sheet.error().message;
  EXPECT_EQ(*sheet, contact_sheet(tiles, {64, Format::kPng}).value());
}

TEST_F(Pool, PipelineErrorsKeepTheirKindAndMessage) {
  start(test_options());
  const std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
  const auto direct = transform::thumbnail(svg, kSmall, {});
  const auto pooled = thumbnail(svg);
  ASSERT_FALSE(direct);
  ASSERT_FALSE(pooled);
  EXPECT_EQ(pooled.error().kind, direct.error().kind);
  EXPECT_EQ(pooled.error().message, direct.error().message);
  // The worker that refused it is still the one serving.
  const auto pid = thumbnail("test:pid");
  EXPECT_EQ(thumbnail("test:pid").value(), pid.value());
}

TEST_F(Pool, ACrashFailsOnlyItsJob) {
  start(test_options(2));
  const auto results = concurrently({picture(), "test:crash", picture(), picture()});
  expect_picture(results[0]);
  expect_died(results[1],
              fmt::format("the decoder was killed by signal {} ({})", SIGABRT, strsignal(SIGABRT)));
  expect_picture(results[2]);
  expect_picture(results[3]);
  expect_picture(thumbnail(picture()));
}

TEST_F(Pool, WorkerPidsAreTheLiveWorkers) {
  start(test_options(2));
  const auto pids = mando::testing::run_awaitable(ioc_, pool_->worker_pids());
  ASSERT_EQ(pids.size(), 2u);
  const auto listed = [&](pid_t pid) {
    return std::find(pids.begin(), pids.end(), pid) != pids.end();
  };
  EXPECT_TRUE(listed(std::stoi(thumbnail("test:pid").value())));
  // The worker that crashes goes from the list; a replacement starts only when a job needs it.
  ASSERT_FALSE(thumbnail("test:crash"));
  const auto after = mando::testing::run_awaitable(ioc_, pool_->worker_pids());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_TRUE(listed(after[0]));
}

TEST_F(Pool, AnIdleWorkerKilledFromOutsideIsReplacedBeforeItsNextJob) {
  start(test_options());
  const pid_t first = std::stoi(thumbnail("test:pid").value());
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  // Wait for it to be dead without reaping it (WNOWAIT): reaping stays the pool's job.
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, first, &info, WEXITED | WNOWAIT), 0);
  const auto next = thumbnail("test:pid");
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_NE(std::stoi(*next), first);
}

TEST_F(Pool, JobTimeoutKillsTheWorker) {
  auto options = test_options();
  options.job_timeout = std::chrono::milliseconds(300);
  start(options);
  const auto first = thumbnail("test:pid");
  ASSERT_TRUE(first) << first.error().message;
  expect_died(thumbnail("test:spin"), "the decoder took longer than 0.3 s");
  // A replacement serves the next job (one that takes microseconds, well inside 0.3 s).
  const auto next = thumbnail("test:pid");
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_NE(*next, *first);
}

TEST_F(Pool, CpuLimitEndsASpinningDecoder) {
  auto options = test_options();
  options.cpu_seconds = std::chrono::seconds(1);
  start(options);
  expect_died(thumbnail("test:spin"), "the decoder used more than 1 s of CPU");
  expect_picture(thumbnail(picture()));
}

TEST_F(Pool, MemoryBombWithoutThePixelCapFailsOnlyItsJob) {
  auto options = test_options();
  options.address_space_bytes = 1ull << 30;
  start(options);
  // 30,000 x 30,000 RGB, interlaced: libvips must hold all 2.7 GB at once. The worker's budget
  // (RLIMIT_AS, or ASan's allocation limit in sanitizer builds) refuses the allocation and
  // libvips reports it; the worker lives on.
  const auto bomb = thumbnail("test:uncapped:" + testing::png_bomb(30'000, 30'000, true));
  ASSERT_FALSE(bomb);
  EXPECT_EQ(bomb.error().kind, ErrorKind::kResourceExhausted) << bomb.error().message;
  EXPECT_EQ(bomb.error().message, "could not be read (out of memory)");
  expect_picture(thumbnail(picture()));
  // The same file through the real pipeline never reaches the decoder.
  EXPECT_EQ(thumbnail(testing::png_bomb(30'000, 30'000, true)).error().message,
            "larger than 50 megapixels (30000 × 30000)");
}

TEST_F(Pool, WorkerCannotOpenSockets) {
  start(test_options());
  EXPECT_EQ(thumbnail("test:socket").value(), "inet=Permission denied\nunix=Permission denied\n");
}

TEST_F(Pool, WorkerRunsSandboxed) {
  // A descriptor mando leaks (no O_CLOEXEC) must not reach the worker.
  mando::testing::TempDir dir;
  const auto leaked_path = dir.path() / "leaked";
  const int leaked = ::open(leaked_path.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(leaked, 0);
  start(test_options());
  const std::string report = thumbnail("test:sandbox").value();
  ::close(leaked);
  EXPECT_NE(report.find("core=0\n"), std::string::npos) << report;
  EXPECT_NE(report.find(fmt::format("pdeathsig={}\n", SIGKILL)), std::string::npos) << report;
  EXPECT_NE(report.find("seccomp=2\n"), std::string::npos) << report;
  EXPECT_EQ(report.find(leaked_path.string()), std::string::npos) << report;
  // stdin is /dev/null and stdout is stderr: the protocol runs on descriptors of its own.
  EXPECT_NE(report.find("fd 0 /dev/null\n"), std::string::npos) << report;
  const auto target = [&](int fd) {
    const auto at = report.find(fmt::format("fd {} ", fd));
    return at == std::string::npos ? std::string("none")
                                   : report.substr(at + 5, report.find('\n', at) - at - 5);
  };
  EXPECT_EQ(target(1), target(2)) << report;
}

TEST_F(Pool, WorkerAddressSpaceIsLimited) {
  if (!kAddressSpaceLimited) {
    GTEST_SKIP() << "RLIMIT_AS is not set under AddressSanitizer (its shadow memory needs "
                    "terabytes of address space); MemoryBombWithoutThePixelCapFailsOnlyItsJob "
                    "covers the sanitizer build's budget";
  }
  auto options = test_options();
  options.address_space_bytes = 768ull << 20;
  start(options);
  const std::string report = thumbnail("test:sandbox").value();
  EXPECT_NE(report.find(fmt::format("as={}\n", 768ull << 20)), std::string::npos) << report;
}

TEST_F(Pool, JobsWaitInFifoOrder) {
  start(test_options());
  std::vector<int> order;
  const auto results =
      concurrently({picture(), picture(), picture(), picture(), picture()}, &order);
  for (const auto& r : results) expect_picture(r);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(Pool, WorkersThatCannotStartAreUnavailable) {
  auto missing = test_options();
  missing.executable = "/nonexistent/transform-worker";
  start(missing);
  auto result = thumbnail(picture());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(result.error().message,
            "transform worker: cannot start /nonexistent/transform-worker: No such file or "
            "directory");

  auto quits = test_options();
  quits.executable = "/bin/false";
  start(quits);
  result = thumbnail(picture());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(result.error().message, "the transform worker did not start (it exited with status 1)");

  auto silent = test_options();
  silent.executable = "/bin/sleep";
  silent.args = {"600"};
  silent.startup_timeout = std::chrono::milliseconds(300);
  start(silent);
  result = thumbnail(picture());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(result.error().message,
            "the transform worker did not start (it took longer than 0.3 s)");
}

TEST_F(Pool, OversizedInputIsRefusedBeforeSending) {
  start(test_options());
  DecodeLimits limits;
  limits.max_input_bytes = 1000;
  auto result =
      mando::testing::run_awaitable(ioc_, pool_->thumbnail(std::string(2000, 'x'), kSmall, limits));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument);
}

TEST_F(Pool, ShutdownFailsRunningAndWaitingJobsAndReapsEveryWorker) {
  start(test_options());
  std::optional<Result<std::string>> running, waiting;
  auto job = [](WorkerPool& pool, std::string input,
                std::optional<Result<std::string>>& out) -> asio::awaitable<void> {
    out = co_await pool.thumbnail(std::move(input), kSmall, {});
  };
  asio::co_spawn(ioc_, job(*pool_, "test:spin", running), asio::detached);
  asio::co_spawn(ioc_, job(*pool_, picture(), waiting), asio::detached);
  // Runs after both jobs reached the pool's strand (one on the worker, one in the queue).
  auto destroy = [this] { pool_.reset(); };
  asio::post(ioc_, destroy);
  ioc_.run();
  ASSERT_TRUE(running && waiting);
  for (const auto* r : {&*running, &*waiting}) {
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().kind, ErrorKind::kUnavailable);
    EXPECT_EQ(r->error().message, "the transform pool is shutting down");
  }
  siginfo_t info{};
  EXPECT_EQ(::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace mando::transform
