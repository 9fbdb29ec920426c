// Throughput of the SQLite task store on the machine it runs on, in a temp dir on its disk:
// durable enqueues (create_task returns only after the group commit) from 1, 8 and 32 producer
// threads, with synchronous=FULL and NORMAL, and dispatch (lease_due + complete).
//   cmake --preset bench -B build/bench && cmake --build build/bench --target queue_store_bench
//   build/bench/bench/queue_store_bench
// TMPDIR chooses the disk.

#include <atomic>
#include <filesystem>
#include <thread>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "queue/sqlite_task_store.hpp"
#include <stdlib.h>

namespace {

using namespace mando;
using namespace mando::queue;
namespace fs = std::filesystem;

constexpr Micros kWindow = std::chrono::hours(1);

// One store per benchmark run, shared by its threads; Setup and Teardown run once per run.
struct Shared {
  fs::path dir;
  std::unique_ptr<SqliteTaskStore> store;
  std::atomic<std::int64_t> next_id{0};
};
Shared shared;

const QueueName kQueue{"bench", "local", "images"};

Task make_task(std::int64_t id) {
  Task task;
  task.name = {kQueue, fmt::format("task-{}", id)};
  task.request.url = "https://worker.example/generate-image";
  task.request.headers = {{"Content-Type", "application/json"}};
  task.request.body = R"({"interaction":"1234567890123456789","token":"aW50ZXJhY3Rpb24tdG9rZW4"})";
  return task;
}

void open_store(SqliteOptions::Synchronous synchronous) {
  auto pattern = (fs::temp_directory_path() / "mando-bench-XXXXXX").string();
  shared.dir = ::mkdtemp(pattern.data());
  SqliteOptions options;
  options.path = shared.dir / "queue.sqlite3";
  options.synchronous = synchronous;
  shared.store = SqliteTaskStore::open(options).value();
  Queue queue;
  queue.name = kQueue;
  shared.store->create_queue(queue).value();
  shared.next_id = 0;
}

// range(0): 1 for synchronous=FULL, 0 for NORMAL.
void setup_store(const benchmark::State& state) {
  open_store(state.range(0) != 0 ? SqliteOptions::Synchronous::kFull
                                 : SqliteOptions::Synchronous::kNormal);
}

void teardown_store(const benchmark::State&) {
  shared.store.reset();
  fs::remove_all(shared.dir);
}

void BM_CreateTask(benchmark::State& state) {
  for (auto _ : state) {
    auto created = shared.store->create_task(make_task(shared.next_id++), kWindow, now());
    if (!created) state.SkipWithError(created.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CreateTask)
    ->Setup(setup_store)
    ->Teardown(teardown_store)
    ->ArgName("full")
    ->Arg(1)
    ->Arg(0)
    ->Threads(1)
    ->Threads(8)
    ->Threads(32)
    ->UseRealTime();

constexpr int kLeaseBatch = 10;
constexpr int kLeaseIterations = 500;
constexpr int kDispatchers = 8;

// A full store: enough due tasks for every lease of the run, written by 32 producers.
void setup_due_tasks(const benchmark::State& state) {
  setup_store(state);
  constexpr int kProducers = 32;
  constexpr int kPerProducer = kLeaseBatch * kLeaseIterations * kDispatchers / kProducers;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([] {
      for (int i = 0; i < kPerProducer; ++i) {
        shared.store->create_task(make_task(shared.next_id++), kWindow, now()).value();
      }
    });
  }
  for (auto& producer : producers) producer.join();
}

// What dispatchers do: lease a batch of due tasks and complete each (one write per task).
void BM_LeaseAndComplete(benchmark::State& state) {
  std::int64_t completed = 0;
  for (auto _ : state) {
    auto leased = shared.store->lease_due(kQueue, now(), kLeaseBatch, std::chrono::minutes(1));
    if (!leased) {
      state.SkipWithError(leased.error().message.c_str());
      break;
    }
    for (const auto& task : *leased) {
      Attempt attempt{task.schedule_time, now(), now(), 200, ""};
      if (auto ok = shared.store->complete(task.name, task.dispatch_count, attempt, now()); !ok) {
        state.SkipWithError(ok.error().message.c_str());
        break;
      }
    }
    completed += static_cast<std::int64_t>(leased->size());
  }
  state.SetItemsProcessed(completed);
}
BENCHMARK(BM_LeaseAndComplete)
    ->Setup(setup_due_tasks)
    ->Teardown(teardown_store)
    ->ArgName("full")
    ->Arg(1)
    ->Arg(0)
    ->Threads(kDispatchers)
    ->Iterations(kLeaseIterations)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
