// The embedded task queue against issue 3's targets, in-process: the real EmbeddedTaskQueue
// (SQLite store, dispatcher, outbound client) as `mando serve` builds it, dispatching to a no-op
// loopback worker.
//   BM_Enqueue           durable create_task from 32 producer coroutines (FULL and NORMAL,
//                        16 store threads as `mando serve` has by default, and 64);
//   BM_Dispatch          pre-filled queues drained to the worker: completed tasks per second;
//   BM_RateLimited       one queue at 200 dispatches/s for about 10 s: achieved / configured;
//   BM_Lateness          tasks scheduled 5 ms apart over 10 s: receipt minus schedule time.
// Each result carries the 1-minute load average when it ended (`load1`): the machine is shared.
// full:1 is SQLite with synchronous=FULL, full:0 with NORMAL; full:2 (BM_Lateness) is
// PostgreSQL at $MANDO_BENCH_PG_URL, a migrated database (bench/queue_postgres.sh), skipped
// when unset.
//
//   cmake --preset bench -B build/bench && cmake --build build/bench --target queue_bench -j2
//   build/bench/bench/queue_bench [--benchmark_filter=Lateness]
// TMPDIR chooses the disk of the database.

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include "core/cpu_pool.hpp"
#include "core/metrics.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "queue/embedded_task_queue.hpp"
#include "queue/postgres_task_store.hpp"
#include "queue/sqlite_task_store.hpp"
#include "support/temp_dir.hpp"
#include <sys/resource.h>

namespace {

namespace asio = boost::asio;
using namespace mando;
using namespace mando::queue;
using namespace std::chrono_literals;

// As `mando serve` runs on this machine: one I/O thread per core, [queue] store_threads = 16.
// The store threads bound the writes that share one group commit: each blocks until its commit.
constexpr int kIoThreads = 2;
constexpr int kStoreThreads = 16;
constexpr int kProducers = 32;
// Each dispatch in flight holds its own connection, and here both of its ends are in this
// process: with Cloud Tasks' default of 1000 per queue, 20 queues that outrun the worker would
// need 40,000 descriptors, past `ulimit -n` (the worker's accepts then fail with EMFILE).
constexpr int kMaxConcurrent = 100;
// Every wait is bounded: a dispatcher that stalls fails the run instead of hanging it.
constexpr auto kWaitBound = 5min;

// The store a run measures: SQLite FULL or NORMAL, or PostgreSQL.
enum class Store { kSqliteNormal = 0, kSqliteFull = 1, kPostgres = 2 };

Store store_of(const benchmark::State& state) { return static_cast<Store>(state.range(0)); }

const char* postgres_url() {
  const char* url = std::getenv("MANDO_BENCH_PG_URL");
  return url != nullptr && *url != '\0' ? url : nullptr;
}

// Skips a PostgreSQL run without a server to run on.
bool unavailable(benchmark::State& state) {
  if (store_of(state) != Store::kPostgres || postgres_url() != nullptr) return false;
  state.SkipWithError("no MANDO_BENCH_PG_URL");
  return true;
}

// The 1-minute load average, so every figure says how busy the shared machine was.
double load_average() {
  double load = -1;
  std::ifstream("/proc/loadavg") >> load;
  return load;
}

// X-CloudTasks-TaskETA, "seconds.micros": the schedule time of the dispatched task.
TimePoint parse_eta(std::string_view eta) {
  std::int64_t seconds = 0;
  std::int64_t micros = 0;
  const auto dot = eta.find('.');
  std::from_chars(eta.data(), eta.data() + std::min(dot, eta.size()), seconds);
  if (dot != std::string_view::npos) {
    std::from_chars(eta.data() + dot + 1, eta.data() + eta.size(), micros);
  }
  return TimePoint(Micros(seconds * 1'000'000 + micros));
}

// What the worker saw of one dispatch.
struct Receipt {
  TimePoint received;
  TimePoint eta;
};

// A loopback worker on its own thread that answers 200 at once and keeps only when each task
// arrived and when it was due. (The bench preset builds no test support, and the tests'
// RecordingWorker keeps whole requests, which would weigh on the figures.)
class NoopWorker {
 public:
  NoopWorker() : work_(ioc_.get_executor()) {
    net::Router router;
    router.add("POST", "/*", [this](net::Request request) { return serve(this, request); });
    server_ =
        std::make_unique<net::HttpServer>(ioc_, std::move(router), net::ServerOptions{}, metrics_);
    url_ = server_->listen("127.0.0.1:0").value().url();
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~NoopWorker() {
    asio::co_spawn(ioc_, server_->shutdown(100ms), asio::use_future).get();
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  NoopWorker(const NoopWorker&) = delete;
  NoopWorker& operator=(const NoopWorker&) = delete;

  std::string url() const { return url_; }

  // Waits until `count` dispatches arrived; false after kWaitBound.
  bool wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, kWaitBound, [&] { return receipts_.size() >= count; });
  }
  std::vector<Receipt> receipts() const {
    std::lock_guard lock(mutex_);
    return receipts_;
  }

 private:
  static asio::awaitable<net::Response> serve(NoopWorker* self, net::Request request) {
    const Receipt receipt{now(),
                          parse_eta(request.headers.get("X-CloudTasks-TaskETA").value_or(""))};
    {
      std::lock_guard lock(self->mutex_);
      self->receipts_.push_back(receipt);
    }
    self->arrived_.notify_all();
    co_return net::Response::text(200, "");
  }

  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<Receipt> receipts_;

  core::MetricsRegistry metrics_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<net::HttpServer> server_;
  std::string url_;
  std::thread thread_;
};

using TaskMaker = std::function<Task(int index)>;

// One producer: creates tasks [begin, end) one after another; answers the first error.
asio::awaitable<Result<void>> produce(EmbeddedTaskQueue* queue, const TaskMaker* make, int begin,
                                      int end) {
  for (int i = begin; i < end; ++i) {
    Task task = (*make)(i);
    auto created = co_await queue->create_task(std::move(task));
    if (!created) co_return tl::unexpected(created.error());
  }
  co_return Result<void>{};
}

// The dispatcher's client as `mando serve` configures it (queue_service.cpp): at most 256
// connections to one worker host, all kept open between dispatches.
net::HttpClientOptions client_options() {
  net::HttpClientOptions options;
  options.max_connections_per_host = 256;
  options.max_idle_connections = 256;
  return options;
}

// The embedded queue as `mando serve` builds it (queue_service.cpp), over a fresh database,
// started and dispatching to a NoopWorker.
class Harness {
 public:
  Harness(Store store, int store_threads) : pool_(static_cast<std::size_t>(store_threads)) {
    if (store == Store::kPostgres) {
      PostgresOptions options;
      options.pool.connect.url = postgres_url();
      options.pool.size = store_threads;
      store_ = PostgresTaskStore::open(options).value();
      // The queues of an earlier run go, with their tasks and tombstones.
      for (const Queue& q : store_->list_queues("", 1000, "").value().items) {
        (void)store_->delete_queue(q.name);
      }
    } else {
      SqliteOptions options;
      options.path = dir_.path() / "queue.sqlite3";
      options.synchronous = store == Store::kSqliteFull ? SqliteOptions::Synchronous::kFull
                                                        : SqliteOptions::Synchronous::kNormal;
      store_ = SqliteTaskStore::open(options).value();
    }
    for (int i = 0; i < kIoThreads; ++i) threads_.emplace_back([this] { ioc_.run(); });
    client_ = std::make_unique<net::HttpClient>(ioc_.get_executor(), client_options());
    queue_ = EmbeddedTaskQueue::open(
        {ioc_.get_executor(), pool_, *store_, *client_, signer_, metrics_}, EmbeddedOptions{});
    if (auto started = queue_->start_dispatch(worker_.url()); !started) {
      fmt::print(stderr, "queue_bench: starting the dispatcher: {}\n", started.error().message);
      std::abort();
    }
  }
  ~Harness() {
    // As the tests do: stop the I/O threads first, so attempts in flight are destroyed with the
    // io_context and never resume into a client that is gone.
    work_.reset();
    ioc_.stop();
    for (auto& thread : threads_) thread.join();
    queue_.reset();
    client_.reset();
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  NoopWorker& worker() { return worker_; }

  template <typename T>
  T run(asio::awaitable<T> call) {
    return asio::co_spawn(ioc_, std::move(call), asio::use_future).get();
  }

  // A queue named `id` with Cloud Tasks' defaults but `rate` dispatches per second and at most
  // kMaxConcurrent dispatches in flight.
  QueueName make_queue(const std::string& id, QueueState state, double rate = 500) {
    Queue queue;
    queue.name = {"bench", "local", id};
    queue.rate_limits.max_dispatches_per_second = rate;
    queue.rate_limits.max_concurrent_dispatches = kMaxConcurrent;
    queue.state = state;
    return run(queue_->create_queue(queue)).value().name;
  }
  void set_state(const QueueName& name, QueueState state) {
    auto changed =
        run(state == QueueState::kRunning ? queue_->resume_queue(name) : queue_->pause_queue(name));
    changed.value();
  }

  // Creates tasks make(0) .. make(count - 1) from kProducers coroutines at once.
  Result<void> enqueue(int count, const TaskMaker& make) {
    std::vector<std::future<Result<void>>> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.push_back(asio::co_spawn(
          ioc_, produce(queue_.get(), &make, count * p / kProducers, count * (p + 1) / kProducers),
          asio::use_future));
    }
    Result<void> outcome;
    for (auto& producer : producers) {
      auto done = producer.get();
      if (!done && outcome) outcome = done;
    }
    return outcome;
  }

  // Tasks of `queue` that ended with a 2xx (the dispatcher's mando_queue_attempts_total).
  std::uint64_t completed(const QueueName& queue) {
    return metrics_.counter("mando_queue_attempts_total", "", {"queue", "outcome"})
        .labels({queue.queue, "ok"})
        .value();
  }

  // A task to the worker, in `queue`, named by mando, due at `schedule_time` (epoch: now).
  Task task(const QueueName& queue, TimePoint schedule_time = {}) const {
    Task task;
    task.name.queue = queue;
    task.schedule_time = schedule_time;
    task.request.url = worker_.url() + "/generate-image";
    task.request.headers = {{"Content-Type", "application/json"}};
    task.request.body =
        R"({"interaction":"1234567890123456789","token":"aW50ZXJhY3Rpb24tdG9rZW4"})";
    return task;
  }

 private:
  mando::testing::TempDir dir_;
  std::unique_ptr<TaskStore> store_;
  core::MetricsRegistry metrics_;
  RequestSigner signer_ = RequestSigner::random();
  NoopWorker worker_;
  asio::io_context ioc_;
  // After the io_context: the pool joins (its last jobs post their results) before it goes.
  core::CpuPool pool_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::vector<std::thread> threads_;
  std::unique_ptr<net::HttpClient> client_;
  std::unique_ptr<EmbeddedTaskQueue> queue_;
};

// CPU time of the whole process (every thread: producers, store, dispatcher, worker), which a
// busy machine does not inflate the way it inflates wall time.
double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Process CPU microseconds per task: on an idle machine with two cores the ceiling is
// 2,000,000 / this tasks per second.
void report_cpu_per_task(benchmark::State& state, double cpu_before, std::int64_t tasks) {
  state.counters["cpu_us_per_task"] =
      (process_cpu_seconds() - cpu_before) * 1e6 / static_cast<double>(tasks);
}

double seconds_between(TimePoint from, TimePoint to) {
  return std::chrono::duration<double>(to - from).count();
}

// Durable enqueues: each create_task returns after the group commit that holds it. The queue
// is paused, so the dispatcher does not compete for the disk or the cores. range(1) is the
// number of store threads: at most that many creates share one commit.
void BM_Enqueue(benchmark::State& state) {
  constexpr int kPerIteration = kProducers * 100;
  Harness harness(store_of(state), static_cast<int>(state.range(1)));
  const QueueName queue = harness.make_queue("enqueue", QueueState::kPaused);
  const TaskMaker make = [&](int) { return harness.task(queue); };
  const double cpu_before = process_cpu_seconds();
  for (auto _ : state) {
    if (auto ok = harness.enqueue(kPerIteration, make); !ok) {
      state.SkipWithError(ok.error().message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kPerIteration);
  report_cpu_per_task(state, cpu_before, state.iterations() * kPerIteration);
  state.counters["load1"] = load_average();
}
BENCHMARK(BM_Enqueue)
    ->ArgNames({"full", "store_threads"})
    ->ArgsProduct({{1, 0}, {kStoreThreads, 2 * kProducers}})
    ->UseRealTime()
    ->MinTime(3);

// Dispatch throughput: range(1) queues (each at most 500 dispatches/s, Cloud Tasks' cap) are
// filled while paused, then resumed; the time runs until the dispatcher has recorded every
// task's 2xx in the store. range(2) is the number of store threads (leases and completions
// are writes, so they too share commits only as far as the threads allow).
void BM_Dispatch(benchmark::State& state) {
  constexpr int kPerQueue = 1000;
  const int queues = static_cast<int>(state.range(1));
  const int total = queues * kPerQueue;
  Harness harness(store_of(state), static_cast<int>(state.range(2)));
  std::vector<QueueName> names;
  for (int q = 0; q < queues; ++q) {
    names.push_back(harness.make_queue(fmt::format("dispatch-{}", q), QueueState::kPaused));
  }
  const TaskMaker make = [&](int i) { return harness.task(names[i % queues]); };
  if (auto ok = harness.enqueue(total, make); !ok) {
    state.SkipWithError(ok.error().message.c_str());
    return;
  }
  auto completed = [&] {
    std::uint64_t sum = 0;
    for (const auto& name : names) sum += harness.completed(name);
    return sum;
  };
  const double cpu_before = process_cpu_seconds();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    for (const auto& name : names) harness.set_state(name, QueueState::kRunning);
    // Polled, not waited on: the store commits completions after the worker's answer. The
    // 1 ms sleep keeps the poll off the two cores the dispatcher needs.
    while (completed() < static_cast<std::uint64_t>(total)) {
      if (std::chrono::steady_clock::now() - start > kWaitBound) {
        state.SkipWithError("the dispatcher did not complete every task");
        return;
      }
      std::this_thread::sleep_for(1ms);
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(elapsed.count());
    state.counters["tasks_per_second"] = total / elapsed.count();
  }
  state.SetItemsProcessed(total);
  report_cpu_per_task(state, cpu_before, total);
  state.counters["load1"] = load_average();
}
BENCHMARK(BM_Dispatch)
    ->ArgNames({"full", "queues", "store_threads"})
    ->Args({1, 1, kStoreThreads})
    ->Args({1, 10, kStoreThreads})
    ->Args({1, 20, kStoreThreads})
    ->Args({1, 20, 64})
    ->Args({0, 20, kStoreThreads})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// Rate-limit accuracy: one queue at 200 dispatches/s with the default burst of 100. The first
// 100 leave at once (the bucket starts full); every later one waits for its token, so the rate
// is measured over the arrivals after the burst: 2,000 of them, about 10 s.
void BM_RateLimited(benchmark::State& state) {
  constexpr double kRate = 200;
  constexpr int kBurst = RateLimits{}.max_burst_size;
  constexpr int kTasks = kBurst + 2000;
  Harness harness(store_of(state), kStoreThreads);
  const QueueName queue = harness.make_queue("limited", QueueState::kPaused, kRate);
  if (auto ok = harness.enqueue(kTasks, [&](int) { return harness.task(queue); }); !ok) {
    state.SkipWithError(ok.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    harness.set_state(queue, QueueState::kRunning);
    if (!harness.worker().wait_for(kTasks)) {
      state.SkipWithError("the dispatcher did not deliver every task");
      return;
    }
  }
  auto receipts = harness.worker().receipts();
  std::vector<TimePoint> arrivals;
  for (const auto& receipt : receipts) arrivals.push_back(receipt.received);
  std::sort(arrivals.begin(), arrivals.end());
  const double achieved =
      (kTasks - kBurst) / seconds_between(arrivals[kBurst - 1], arrivals.back());
  state.counters["configured"] = kRate;
  state.counters["achieved"] = achieved;
  state.counters["achieved_over_configured"] = achieved / kRate;
  state.counters["load1"] = load_average();
}
BENCHMARK(BM_RateLimited)
    ->ArgName("full")
    ->Arg(1)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

// Lateness: 2,000 tasks due 5 ms apart (200/s, under the queue's 500/s), created ahead of
// time; each one's lateness is when the worker received it minus its schedule time (the
// X-CloudTasks-TaskETA header), so it includes the lease commit and the HTTP hop.
void BM_Lateness(benchmark::State& state) {
  if (unavailable(state)) return;
  constexpr int kTasks = 2000;
  constexpr auto kSpacing = 5ms;
  constexpr auto kLead = 3s;  // time to create every task before the first is due
  Harness harness(store_of(state), kStoreThreads);
  const QueueName queue = harness.make_queue("scheduled", QueueState::kRunning);
  const TimePoint first_due = now() + kLead;
  const TaskMaker make = [&](int i) { return harness.task(queue, first_due + i * kSpacing); };
  if (auto ok = harness.enqueue(kTasks, make); !ok) {
    state.SkipWithError(ok.error().message.c_str());
    return;
  }
  if (now() > first_due) {
    state.SkipWithError("creating the tasks took longer than the lead: raise kLead");
    return;
  }
  for (auto _ : state) {
    if (!harness.worker().wait_for(kTasks)) {
      state.SkipWithError("the dispatcher did not deliver every task");
      return;
    }
  }
  std::vector<double> lateness_ms;
  for (const auto& receipt : harness.worker().receipts()) {
    lateness_ms.push_back(seconds_between(receipt.eta, receipt.received) * 1000);
  }
  std::sort(lateness_ms.begin(), lateness_ms.end());
  auto percentile = [&](double p) {
    return lateness_ms[static_cast<std::size_t>(p * static_cast<double>(lateness_ms.size() - 1))];
  };
  state.counters["p50_ms"] = percentile(0.50);
  state.counters["p99_ms"] = percentile(0.99);
  state.counters["max_ms"] = lateness_ms.back();
  state.counters["early"] = static_cast<double>(
      std::count_if(lateness_ms.begin(), lateness_ms.end(), [](double ms) { return ms < 0; }));
  state.counters["load1"] = load_average();
}
BENCHMARK(BM_Lateness)
    ->ArgName("full")
    ->Arg(1)
    ->Arg(0)
    ->Arg(static_cast<int>(Store::kPostgres))
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
