#pragma once
// SqliteTaskStore: the embedded TaskStore, one SQLite 3 database file in WAL mode.
//
// How a write becomes durable (group commit):
//   1. A caller (create_task, lease_due, complete, ... every method that writes) hands its write
//      to the store's single writer thread and blocks.
//   2. The writer takes every write waiting at that moment (up to kMaxBatch), opens one
//      transaction, and runs each write inside its own SAVEPOINT: a write that fails
//      (kAlreadyExists, kNotFound, a stale lease) is rolled back alone, the others stay.
//   3. The writer commits the transaction once (one WAL sync for the whole batch), then wakes
//      every caller of the batch with its own answer. A caller returns only after that commit,
//      so a task acknowledged to anyone survives a crash as far as `synchronous` promises.
//   4. If the commit itself fails (disk full, I/O error), every write of the batch answers that
//      error (kUnavailable) and nothing of the batch is kept.
// While one batch commits, the next one gathers: the more concurrent writers, the more writes
// share one sync. Reads run on separate read-only connections beside the writer (WAL lets
// readers see the last commit without waiting for the writer).
//
// Storage notes: a task row carries a `due` column (its schedule time when pending, its lease
// expiry when leased, NULL when failed) indexed with its queue, so lease_due() and next_due()
// read only the front of that index, however many tasks wait. The page cache of each
// connection is bounded (`cache_kib`), so a million pending tasks stay on disk.
//
// The store sets what a create decides: create_time is `now`, schedule_time is `now` when it
// is the epoch (unset), counts and attempts start empty. TaskFilter::kPending lists every task
// that is not a dead letter (pending or leased). delete_queue() and purge_queue() leave no
// tombstones: they are bulk resets, not deletions of single names.
//
// Thread-safety: every method may be called from any thread at once. Methods block on disk I/O.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/file_lock.hpp"
#include "queue/model.hpp"
#include "queue/task_store.hpp"

namespace mando::core::sqlite {
class Connection;
}  // namespace mando::core::sqlite

namespace mando::queue {

struct SqliteOptions {
  // The database file; its directory is created when missing. SQLite adds `-wal` and `-shm`
  // files beside it.
  std::filesystem::path path = "data/queue.sqlite3";
  enum class Synchronous {
    // Every commit is synced to disk before create_task() and friends return: an acknowledged
    // write survives a process crash, an OS crash and a power cut.
    kFull,
    // Commits reach the OS but are synced only at checkpoints: an acknowledged write survives a
    // process crash (kill -9), but an OS crash or power cut may lose the last commits. Faster
    // on disks with slow syncs.
    kNormal,
  };
  Synchronous synchronous = Synchronous::kFull;
  // How long a connection waits for a lock another process holds before answering kUnavailable.
  Micros busy_timeout = std::chrono::seconds(5);
  // Page cache per connection, in KiB (the writer and each reader have one).
  int cache_kib = 8 * 1024;
  // Claim the store for this process: an exclusive lock on `<path>.lock` for the store's life.
  // A dispatcher sets it: two dispatchers on one store would take each other's leases and
  // double every rate limit. Maintenance commands (reset-dedup) leave it off and share the file
  // through SQLite's own locks.
  bool exclusive = false;
};

class SqliteTaskStore final : public TaskStore {
 public:
  // The schema version this build writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 1;

  // Opens (creating when missing) the database and starts the writer thread. kUnavailable when
  // the file cannot be opened or written; kFailedPrecondition when it was written by a newer
  // mando (a schema version above kSchemaVersion) or, with `exclusive`, when another process
  // holds the store.
  static Result<std::unique_ptr<SqliteTaskStore>> open(SqliteOptions options);

  // Finishes the writes already handed over, then stops the writer thread.
  ~SqliteTaskStore() override;

  SqliteTaskStore(const SqliteTaskStore&) = delete;
  SqliteTaskStore& operator=(const SqliteTaskStore&) = delete;

  Result<Queue> create_queue(const Queue& queue) override;
  Result<Queue> get_queue(const QueueName& name) override;
  Result<Page<Queue>> list_queues(const std::string& parent, int page_size,
                                  const std::string& page_token) override;
  Result<Queue> update_queue(const Queue& queue) override;
  Result<void> delete_queue(const QueueName& name) override;
  Result<Queue> purge_queue(const QueueName& name, TimePoint before) override;

  Result<Task> create_task(const Task& task, Micros dedup_window, TimePoint now) override;
  Result<Task> get_task(const TaskName& name) override;
  Result<Page<Task>> list_tasks(const QueueName& queue, TaskFilter filter, int page_size,
                                const std::string& page_token) override;
  Result<void> delete_task(const TaskName& name, TimePoint now) override;
  Result<Task> run_task(const TaskName& name, TimePoint now, Micros margin) override;
  Result<void> reset_deduplication() override;
  Result<std::int64_t> prune_tombstones(TimePoint before) override;

  Result<std::vector<Task>> lease_due(const QueueName& queue, TimePoint now, int max,
                                      Micros margin) override;
  Result<std::int64_t> release_leases(const QueueName& queue, TimePoint now) override;
  Result<std::optional<TimePoint>> next_due(const QueueName& queue) override;
  Result<void> complete(const TaskName& name, int dispatch_count, const Attempt& attempt,
                        TimePoint now) override;
  Result<void> retry(const TaskName& name, int dispatch_count, const Attempt& attempt,
                     TimePoint next_schedule_time) override;
  Result<void> fail(const TaskName& name, int dispatch_count, const Attempt& attempt) override;
  std::vector<Result<void>> report_all(const std::vector<Report>& reports) override;

  // Runs PRAGMA integrity_check on a reader: Result<void> when the database is sound,
  // kInternal with SQLite's findings otherwise (tests and `mando` maintenance commands).
  Result<void> check_integrity();

  // Internal: a SQLite connection with its prepared statements (defined in the .cpp).
  using Connection = core::sqlite::Connection;

 private:
  // One write waiting for the writer thread (step 1 of the walkthrough).
  struct Write {
    explicit Write(std::function<Result<void>(Connection&)> fn) : run(std::move(fn)) {}

    std::function<Result<void>(Connection&)> run;
    Result<void> outcome;
    // Released by the writer once `outcome` is final. One per write, so a commit wakes exactly
    // the callers whose writes it held (a shared condition variable woke every waiting store
    // thread on every commit).
    std::binary_semaphore finished{0};
  };

  SqliteTaskStore(SqliteOptions options, std::optional<core::FileLock> owner,
                  std::unique_ptr<Connection> writer);

  // Hands `fn` to the writer thread and blocks until the transaction holding it committed (or
  // failed). The answer is fn's, unless the batch failed to commit.
  template <typename T>
  Result<T> write(std::function<Result<T>(Connection&)> fn);
  void writer_loop();
  void run_batch(std::vector<Write*>& batch);

  // A read-only connection from the pool, handed back when the guard goes away.
  struct ReaderDeleter {
    SqliteTaskStore* store;
    void operator()(Connection* connection) const;
  };
  using Reader = std::unique_ptr<Connection, ReaderDeleter>;
  Result<Reader> reader();

  // The writes of complete(), retry() and fail() (and of report_all()), on the writer's
  // connection.
  static Result<void> complete_on(Connection& c, const TaskName& name, int dispatch_count,
                                  TimePoint now);
  static Result<void> report_on(Connection& c, const TaskName& name, int dispatch_count,
                                const Attempt& attempt, TaskState state,
                                std::optional<TimePoint> next_schedule_time);

  const SqliteOptions options_;
  std::optional<core::FileLock> owner_;  // with options_.exclusive
  std::unique_ptr<Connection> writer_;

  std::mutex write_mutex_;
  std::condition_variable write_ready_;  // the writer waits for writes or stop_
  std::deque<Write*> pending_;
  bool stop_ = false;
  std::thread writer_thread_;

  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace mando::queue
