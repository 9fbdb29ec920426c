// Blob storage through BlobStore (issue 5): the local backend always, the S3 backend as well when
// MANDO_S3_BENCH_ENDPOINT is set (bench/s3_bench.sh --storage starts s3rver and sets it).
//
//   BM_StorePut/local/C   C puts of distinct 1 MiB blobs in flight at once through BlobStore (a
//                         marker put, then the blob), on a LocalBackend in a fresh directory
//                         under TMPDIR; bytes/s and items/s. BM_StorePut/s3/C: the same on S3.
//   BM_StoreGet/local/C   C gets in flight of blobs put beforehand (expiry checked on each).
//   BM_Cleanup/local/stored:N/expired_pct:P
//                         one BlobStore::cleanup() (default options: 16 metadata reads in flight)
//                         over N blobs of 1 KiB of which P% have expired. The N blobs are written
//                         first through BlobStore with a fake clock and are not timed (manual
//                         time: only the cleanup is). Expired blobs are spread over 5 minute
//                         buckets of the index, the others over 50 later buckets; the clock then
//                         moves 10 minutes on and cleanup runs. Counters: the backend calls the
//                         cleanup made by kind (CountingBackend), blobs deleted, markers deleted,
//                         the setup's duration, the duration of one listing of the index's
//                         buckets made before the cleanup (index_list_ms, see below) and the
//                         1-minute load average when it ended.
//   BM_Cleanup/s3/...     the same on S3, each run in a fresh bucket taken from
//                         MANDO_S3_BENCH_CLEANUP_BUCKETS (a comma-separated list the script
//                         creates); N is MANDO_S3_BENCH_CLEANUP_STORED (default 100000) and
//                         N / 10.
//
//   build/storage-bench/bench/storage_bench [benchmark flags]     (local only)
//   bench/s3_bench.sh --storage [benchmark flags]                  (local and s3rver)

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include "core/cpu_pool.hpp"
#include "net/http_client.hpp"
#include "storage/blob_store.hpp"
#include "storage/counting_backend.hpp"
#include "storage/local_backend.hpp"
#include "storage/s3_backend.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace asio = boost::asio;
using namespace mando::storage;

constexpr std::size_t kBlobBytes = 1024 * 1024;
constexpr int kObjects = 64;  // distinct keys the put/get benchmarks write and read in turn
constexpr std::size_t kSmallBlobBytes = 1024;
constexpr std::size_t kFileThreads = 4;  // LocalBackend's file pool, as in `mando serve`
constexpr int kSetupInFlight = 32;       // puts in flight while the cleanup benchmarks fill up
constexpr int kExpiredBuckets = 5;
constexpr int kLiveBuckets = 50;
// 2026-11-23T06:00:30Z: the fake clock of the cleanup benchmarks.
constexpr std::int64_t kStart = 1795413630;

enum class Kind { kLocal, kS3 };

std::string env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

double load1() {
  double load[1] = {0};
  return ::getloadavg(load, 1) == 1 ? load[0] : -1;
}

// The cleanup benchmarks' S3 buckets, each used once.
std::vector<std::string> cleanup_buckets = [] {
  std::vector<std::string> names;
  std::stringstream list(env("MANDO_S3_BENCH_CLEANUP_BUCKETS", ""));
  for (std::string name; std::getline(list, name, ',');) {
    if (!name.empty()) names.push_back(name);
  }
  return names;
}();
std::size_t next_cleanup_bucket = 0;

// A BlobStore over a CountingBackend over the real backend, on an io_context run by one thread
// as in `mando serve`. The store's clock is fake when `fake_clock` (S3 signs with the real one).
class Harness {
 public:
  Harness(Kind kind, std::string bucket, bool fake_clock) : work_(io_.get_executor()) {
    if (kind == Kind::kLocal) {
      LocalBackendOptions options;
      options.root = dir_.path() / "blobs";
      options.public_base_url = "http://127.0.0.1:8080";
      auto local = LocalBackend::open(std::move(options), pool_);
      if (!local) {
        error_ = local.error().to_string();
        return;
      }
      backend_ = std::move(*local);
    } else {
      S3Options base;
      base.endpoint = env("MANDO_S3_BENCH_ENDPOINT", "");
      base.bucket = std::move(bucket);
      base.region = env("AWS_REGION", "us-east-1");
      base.path_style = env("MANDO_S3_BENCH_PATH_STYLE", "1") == "1";
      std::map<std::string, std::string> vars{
          {"AWS_ACCESS_KEY_ID", env("AWS_ACCESS_KEY_ID", "S3RVER")},
          {"AWS_SECRET_ACCESS_KEY", env("AWS_SECRET_ACCESS_KEY", "S3RVER")}};
      auto options = s3_options_from_environment(base, vars);
      if (!options) {
        error_ = options.error().to_string();
        return;
      }
      client_ = std::make_unique<mando::net::HttpClient>(io_.get_executor());
      backend_ = std::make_unique<S3Backend>(*options, *client_);
    }
    counting_ = std::make_unique<CountingBackend>(*backend_);
    BlobStoreOptions store_options;
    if (fake_clock) store_options.now = [this] { return TimePoint(std::chrono::seconds(clock_)); };
    store_ = std::make_unique<BlobStore>(*counting_, std::move(store_options));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Harness() {
    // The store and backends first, the HttpClient before its io_context.
    store_.reset();
    counting_.reset();
    backend_.reset();
    client_.reset();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  const std::string& error() const { return error_; }
  BlobStore& store() { return *store_; }
  CountingBackend& counting() { return *counting_; }
  BlobBackend& backend() { return *backend_; }
  asio::io_context& io() { return io_; }
  void set_clock(std::int64_t seconds) { clock_ = seconds; }

  template <typename T>
  T run(asio::awaitable<T> call) {
    return asio::co_spawn(io_, std::move(call), asio::use_future).get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  mando::testing::TempDir dir_;  // under TMPDIR (unused for S3)
  mando::core::CpuPool pool_{kFileThreads};
  std::unique_ptr<mando::net::HttpClient> client_;
  std::unique_ptr<BlobBackend> backend_;
  std::unique_ptr<CountingBackend> counting_;
  std::unique_ptr<BlobStore> store_;
  std::atomic<std::int64_t> clock_{kStart};
  std::thread thread_;
  std::string error_;
};

// ---- Put and get of 1 MiB blobs -------------------------------------------------------------

std::string key_of(int i) { return fmt::format("bench/{:03}.bin", i % kObjects); }

// Runs `start(i)` for `count` consecutive i at once; false on any error.
template <typename Start>
bool run_batch(int first, int count, Start start, benchmark::State& state) {
  std::vector<std::future<bool>> inflight;
  for (int i = first; i < first + count; ++i) inflight.push_back(start(i));
  bool ok = true;
  for (auto& f : inflight) ok = f.get() && ok;
  if (!ok) state.SkipWithError("a request failed");
  return ok;
}

asio::awaitable<bool> put_one(BlobStore* store, std::string key, const std::string* bytes) {
  PutOptions options;  // the default TTL of 24 h
  auto ref = co_await store->put(std::move(key), *bytes, std::move(options));
  co_return ref.has_value();
}

asio::awaitable<bool> get_one(BlobStore* store, std::string key) {
  auto object = co_await store->get(std::move(key));
  co_return object.has_value() && object->bytes.size() == kBlobBytes;
}

std::string put_get_bucket(Kind kind) {
  return kind == Kind::kS3 ? env("MANDO_S3_BENCH_BUCKET", "mando-bench") : "";
}

void BM_StorePut(benchmark::State& state, Kind kind) {
  Harness h(kind, put_get_bucket(kind), false);
  if (!h.error().empty()) return state.SkipWithError(h.error().c_str());
  const std::string bytes(kBlobBytes, 'x');
  const int concurrency = static_cast<int>(state.range(0));
  int next = 0;
  for (auto _ : state) {
    const auto start = [&](int i) {
      return asio::co_spawn(h.io(), put_one(&h.store(), key_of(i), &bytes), asio::use_future);
    };
    if (!run_batch(next, concurrency, start, state)) break;
    next += concurrency;
  }
  state.SetBytesProcessed(state.iterations() * concurrency * static_cast<int64_t>(kBlobBytes));
  state.SetItemsProcessed(state.iterations() * concurrency);
  state.counters["load1"] = load1();
}

void BM_StoreGet(benchmark::State& state, Kind kind) {
  Harness h(kind, put_get_bucket(kind), false);
  if (!h.error().empty()) return state.SkipWithError(h.error().c_str());
  const std::string bytes(kBlobBytes, 'y');
  const auto put = [&](int i) {
    return asio::co_spawn(h.io(), put_one(&h.store(), key_of(i), &bytes), asio::use_future);
  };
  if (!run_batch(0, kObjects, put, state)) return;
  const int concurrency = static_cast<int>(state.range(0));
  int next = 0;
  for (auto _ : state) {
    const auto start = [&](int i) {
      return asio::co_spawn(h.io(), get_one(&h.store(), key_of(i)), asio::use_future);
    };
    if (!run_batch(next, concurrency, start, state)) break;
    next += concurrency;
  }
  state.SetBytesProcessed(state.iterations() * concurrency * static_cast<int64_t>(kBlobBytes));
  state.SetItemsProcessed(state.iterations() * concurrency);
  state.counters["load1"] = load1();
}

// ---- Cleanup ----------------------------------------------------------------------------------

// Keys spread over 100 "directories" (img/00/ .. img/99/), as a real key scheme would shard
// them: s3rver's file store reads the whole directory of a key after deleting it, so one flat
// directory of 100,000 keys would measure that directory, not the cleanup. Shard j holds runs of
// 100 consecutive indexes, so every shard holds the same share of expired blobs and none is
// emptied by the cleanup.
std::string small_key(int i) { return fmt::format("img/{:02}/{:06}.bin", (i / 100) % 100, i); }

// Blob i has expired at cleanup time when i is a multiple of `every` (100 / expired_pct).
TimePoint expiry_of_blob(int i, int every) {
  const TimePoint start{std::chrono::seconds(kStart)};
  if (i % every == 0) return start + std::chrono::minutes(1 + (i / every) % kExpiredBuckets);
  return start + std::chrono::minutes(60 + i % kLiveBuckets);
}

// One of the writers that fill the store: takes the next index until `stored` are written.
asio::awaitable<bool> fill_worker(BlobStore* store, std::atomic<int>* next, int stored, int every,
                                  const std::string* bytes) {
  for (int i = (*next)++; i < stored; i = (*next)++) {
    PutOptions options;
    options.expires_at = expiry_of_blob(i, every);
    auto ref = co_await store->put(small_key(i), *bytes, std::move(options));
    if (!ref) co_return false;
  }
  co_return true;
}

void BM_Cleanup(benchmark::State& state, Kind kind) {
  const int stored = static_cast<int>(state.range(0));
  const int expired_pct = static_cast<int>(state.range(1));
  const int every = 100 / expired_pct;
  const std::uint64_t expected = static_cast<std::uint64_t>((stored + every - 1) / every);
  for (auto _ : state) {
    std::string bucket;
    if (kind == Kind::kS3) {
      if (next_cleanup_bucket == cleanup_buckets.size()) {
        return state.SkipWithError(
            "no fresh bucket left in MANDO_S3_BENCH_CLEANUP_BUCKETS (each run needs one)");
      }
      bucket = cleanup_buckets[next_cleanup_bucket++];
    }
    Harness h(kind, bucket, true);
    if (!h.error().empty()) return state.SkipWithError(h.error().c_str());

    // Setup, not timed.
    const auto setup_start = std::chrono::steady_clock::now();
    const std::string bytes(kSmallBlobBytes, 'z');
    std::atomic<int> next{0};
    std::vector<std::future<bool>> writers;
    for (int w = 0; w < kSetupInFlight; ++w) {
      writers.push_back(asio::co_spawn(
          h.io(), fill_worker(&h.store(), &next, stored, every, &bytes), asio::use_future));
    }
    bool filled = true;
    for (auto& writer : writers) filled = writer.get() && filled;
    if (!filled) return state.SkipWithError("a put failed while filling the store");
    const std::chrono::duration<double> setup = std::chrono::steady_clock::now() - setup_start;

    // One listing of the index's buckets (what cleanup starts with), timed apart: on s3rver it
    // walks every marker under _expiry/, so it is the one request whose cost follows the blobs
    // stored (S3 itself answers it from its index).
    ListOptions buckets;
    buckets.prefix = "_expiry/";
    buckets.delimiter = "/";
    const auto list_start = std::chrono::steady_clock::now();
    auto listed = h.run(h.backend().list(buckets));
    const std::chrono::duration<double> list_took = std::chrono::steady_clock::now() - list_start;
    if (!listed) return state.SkipWithError(listed.error().to_string().c_str());

    // The cleanup, timed.
    h.set_clock(kStart + 10 * 60);
    h.counting().reset_counts();
    const auto start = std::chrono::steady_clock::now();
    auto report = h.run(h.store().cleanup(CleanupOptions{}));
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(took.count());

    if (!report) return state.SkipWithError(report.error().to_string().c_str());
    if (report->deleted != expected || report->failures != 0) {
      const std::string why = fmt::format(
          "deleted {} of {} expired, {} failures{}{}", report->deleted, expected, report->failures,
          report->errors.empty() ? "" : ": ", report->errors.empty() ? "" : report->errors.front());
      return state.SkipWithError(why.c_str());
    }
    const auto& c = h.counting();
    state.counters["lists"] = static_cast<double>(c.lists.load());
    state.counters["heads"] = static_cast<double>(c.heads.load());
    state.counters["delete_calls"] = static_cast<double>(c.removes.load());
    state.counters["requests"] = static_cast<double>(
        c.lists.load() + c.heads.load() + c.removes.load() + c.gets.load() + c.puts.load());
    state.counters["deleted"] = static_cast<double>(report->deleted);
    state.counters["markers_deleted"] = static_cast<double>(report->markers_deleted);
    state.counters["buckets"] = static_cast<double>(report->buckets);
    state.counters["us_per_expired"] = took.count() * 1e6 / static_cast<double>(expected);
    state.counters["setup_s"] = setup.count();
    state.counters["index_list_ms"] = list_took.count() * 1e3;
    state.counters["load1"] = load1();
  }
}

void register_all() {
  std::vector<Kind> kinds{Kind::kLocal};
  if (!env("MANDO_S3_BENCH_ENDPOINT", "").empty()) kinds.push_back(Kind::kS3);
  for (const Kind kind : kinds) {
    const std::string name = kind == Kind::kLocal ? "local" : "s3";
    for (const auto& [label, fn] :
         {std::pair{"BM_StorePut/", &BM_StorePut}, std::pair{"BM_StoreGet/", &BM_StoreGet}}) {
      benchmark::RegisterBenchmark((label + name).c_str(), fn, kind)
          ->Arg(1)
          ->Arg(8)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
    const int stored = kind == Kind::kLocal
                           ? 100000
                           : std::atoi(env("MANDO_S3_BENCH_CLEANUP_STORED", "100000").c_str());
    benchmark::RegisterBenchmark(("BM_Cleanup/" + name).c_str(), &BM_Cleanup, kind)
        ->ArgNames({"stored", "expired_pct"})
        ->Args({stored / 10, 10})
        ->Args({stored, 1})
        ->Args({stored, 10})
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
