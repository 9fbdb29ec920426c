// Put and get throughput of 1 MB blobs through S3Backend against an S3-compatible server (issue
// 5), normally s3rver on loopback as bench/s3_bench.sh starts it:
//   BM_Put/C   C puts of distinct 1 MB objects in flight at once; bytes/s and items/s;
//   BM_Get/C   C gets in flight of objects put beforehand.
// Each result carries the 1-minute load average when it ended (`load1`): the machine is shared.
//
//   bench/s3_bench.sh [benchmark flags]            (starts s3rver, runs this, stops s3rver)
//   MANDO_S3_BENCH_ENDPOINT=http://127.0.0.1:PORT MANDO_S3_BENCH_BUCKET=NAME
//     build/s3-bench/bench/s3_bench                (any other server; AWS_* credentials)

#include <cstdlib>
#include <future>
#include <map>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include "net/http_client.hpp"
#include "storage/s3_backend.hpp"

namespace {

namespace asio = boost::asio;
using mando::storage::S3Backend;

constexpr std::size_t kBlobBytes = 1024 * 1024;
constexpr int kObjects = 64;  // distinct keys written and read in turn

std::string env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

double load1() {
  double load[1] = {0};
  return ::getloadavg(load, 1) == 1 ? load[0] : -1;
}

// One client and backend on an io_context run by one thread, as in `mando serve`.
class Harness {
 public:
  Harness() : work_(io_.get_executor()) {
    mando::storage::S3Options base;
    base.endpoint = env("MANDO_S3_BENCH_ENDPOINT", "");
    base.bucket = env("MANDO_S3_BENCH_BUCKET", "mando-bench");
    base.region = env("AWS_REGION", "us-east-1");
    base.path_style = env("MANDO_S3_BENCH_PATH_STYLE", "1") == "1";
    std::map<std::string, std::string> vars{
        {"AWS_ACCESS_KEY_ID", env("AWS_ACCESS_KEY_ID", "S3RVER")},
        {"AWS_SECRET_ACCESS_KEY", env("AWS_SECRET_ACCESS_KEY", "S3RVER")}};
    auto options = mando::storage::s3_options_from_environment(base, vars);
    if (!options) {
      error_ = options.error().to_string() + " (set MANDO_S3_BENCH_ENDPOINT or run s3_bench.sh)";
      return;
    }
    client_ = std::make_unique<mando::net::HttpClient>(io_.get_executor());
    backend_ = std::make_unique<S3Backend>(*options, *client_);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Harness() {
    backend_.reset();
    client_.reset();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }

  const std::string& error() const { return error_; }
  S3Backend& backend() { return *backend_; }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<mando::net::HttpClient> client_;
  std::unique_ptr<S3Backend> backend_;
  std::thread thread_;
  std::string error_;
};

std::string key_of(int i) { return fmt::format("bench/{:03}.bin", i % kObjects); }

// Runs `start(i)` for `count` consecutive i with `concurrency` in flight; false on any error.
template <typename Start>
bool run_batch(int first, int count, Start start, benchmark::State& state) {
  std::vector<std::future<bool>> inflight;
  for (int i = first; i < first + count; ++i) inflight.push_back(start(i));
  bool ok = true;
  for (auto& f : inflight) ok = f.get() && ok;
  if (!ok) state.SkipWithError("a request failed");
  return ok;
}

asio::awaitable<bool> put_one(S3Backend* backend, std::string key, const std::string* bytes) {
  mando::storage::Metadata metadata{{"expiry-time", "2030-01-01T00:00:00Z"}};
  auto result = co_await backend->put(std::move(key), *bytes, "application/octet-stream",
                                      std::move(metadata));
  co_return result.has_value();
}

asio::awaitable<bool> get_one(S3Backend* backend, std::string key) {
  auto result = co_await backend->get(std::move(key));
  co_return result.has_value() && result->bytes.size() == kBlobBytes;
}

void BM_Put(benchmark::State& state) {
  Harness h;
  if (!h.error().empty()) return state.SkipWithError(h.error().c_str());
  const std::string bytes(kBlobBytes, 'x');
  const int concurrency = static_cast<int>(state.range(0));
  int next = 0;
  for (auto _ : state) {
    const auto start = [&](int i) {
      return asio::co_spawn(h.io(), put_one(&h.backend(), key_of(i), &bytes), asio::use_future);
    };
    if (!run_batch(next, concurrency, start, state)) break;
    next += concurrency;
  }
  state.SetBytesProcessed(state.iterations() * concurrency * static_cast<int64_t>(kBlobBytes));
  state.SetItemsProcessed(state.iterations() * concurrency);
  state.counters["load1"] = load1();
}

void BM_Get(benchmark::State& state) {
  Harness h;
  if (!h.error().empty()) return state.SkipWithError(h.error().c_str());
  const std::string bytes(kBlobBytes, 'y');
  const auto put = [&](int i) {
    return asio::co_spawn(h.io(), put_one(&h.backend(), key_of(i), &bytes), asio::use_future);
  };
  if (!run_batch(0, kObjects, put, state)) return;
  const int concurrency = static_cast<int>(state.range(0));
  int next = 0;
  for (auto _ : state) {
    const auto start = [&](int i) {
      return asio::co_spawn(h.io(), get_one(&h.backend(), key_of(i)), asio::use_future);
    };
    if (!run_batch(next, concurrency, start, state)) break;
    next += concurrency;
  }
  state.SetBytesProcessed(state.iterations() * concurrency * static_cast<int64_t>(kBlobBytes));
  state.SetItemsProcessed(state.iterations() * concurrency);
  state.counters["load1"] = load1();
}

BENCHMARK(BM_Put)->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Get)->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
