// Throughput of the task stores on the machine it runs on: durable enqueues (create_task
// returns only after the commit) from 1, 8 and 32 producer threads, and dispatch (lease_due +
// complete). store:1 is SQLite with synchronous=FULL, store:0 SQLite with NORMAL, both in a
// temp dir on its disk (TMPDIR chooses it); store:2 is PostgreSQL at $MANDO_BENCH_PG_URL (a
// libpq connection string of a migrated, empty database; skipped when unset), whose durability
// is the server's synchronous_commit. bench/queue_postgres.sh starts a cluster and runs both.
//   cmake --preset bench -B build/bench && cmake --build build/bench --target queue_store_bench
//   build/bench/bench/queue_store_bench

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "core/postgres.hpp"
#include "queue/postgres_task_store.hpp"
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
  std::unique_ptr<TaskStore> store;
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

constexpr int kPostgres = 2;

void create_queue() {
  Queue queue;
  queue.name = kQueue;
  shared.store->create_queue(queue).value();
  shared.next_id = 0;
}

void open_sqlite(SqliteOptions::Synchronous synchronous) {
  auto pattern = (fs::temp_directory_path() / "mando-bench-XXXXXX").string();
  shared.dir = ::mkdtemp(pattern.data());
  SqliteOptions options;
  options.path = shared.dir / "queue.sqlite3";
  options.synchronous = synchronous;
  shared.store = SqliteTaskStore::open(options).value();
}

// The queue of the previous run goes first (with its tasks), so each run starts empty.
bool open_postgres() {
  const char* url = std::getenv("MANDO_BENCH_PG_URL");
  if (url == nullptr || *url == '\0') return false;
  PostgresOptions options;
  options.pool.connect.url = url;
  options.pool.size = 64;
  shared.store = PostgresTaskStore::open(options).value();
  (void)shared.store->delete_queue(kQueue);
  (void)shared.store->reset_deduplication();
  return true;
}

// range(0): 1 for SQLite with synchronous=FULL, 0 for NORMAL, 2 for PostgreSQL.
void setup_store(const benchmark::State& state) {
  if (state.range(0) == kPostgres) {
    if (!open_postgres()) return;
  } else {
    open_sqlite(state.range(0) != 0 ? SqliteOptions::Synchronous::kFull
                                    : SqliteOptions::Synchronous::kNormal);
  }
  create_queue();
}

void teardown_store(const benchmark::State&) {
  shared.store.reset();
  if (!shared.dir.empty()) fs::remove_all(shared.dir);
  shared.dir.clear();
}

// Skips the run of a store that is not configured (PostgreSQL without MANDO_BENCH_PG_URL).
bool skipped(benchmark::State& state) {
  if (shared.store) return false;
  state.SkipWithError("no MANDO_BENCH_PG_URL");
  return true;
}

void BM_CreateTask(benchmark::State& state) {
  if (skipped(state)) return;
  for (auto _ : state) {
    auto created = shared.store->create_task(make_task(shared.next_id++), kWindow, now());
    if (!created) state.SkipWithError(created.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CreateTask)
    ->Setup(setup_store)
    ->Teardown(teardown_store)
    ->ArgName("store")
    ->Arg(1)
    ->Arg(0)
    ->Arg(kPostgres)
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
  if (!shared.store) return;
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
  if (skipped(state)) return;
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
    ->ArgName("store")
    ->Arg(1)
    ->Arg(0)
    ->Arg(kPostgres)
    ->Threads(kDispatchers)
    ->Iterations(kLeaseIterations)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
