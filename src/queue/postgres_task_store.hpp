#pragma once
// PostgresTaskStore: the TaskStore that many mando processes on many machines share, on
// PostgreSQL 15 through libpq ([queue] backend = "postgres", [database] url).
//
// How it keeps TaskStore's promises without one writer thread:
//   - Live tasks and tombstones are rows of one table under one primary key (queue, name); a
//     tombstone is a task in state 3 ("ended") with the time it ended. A create is one
//     `INSERT ... ON CONFLICT DO UPDATE ... WHERE <the tombstone is older than the window>`, so
//     two creates of one name racing on two machines cannot both win under READ COMMITTED:
//     the unique index decides, and the loser finds the row (live or a recent tombstone).
//   - lease_due() picks due rows with `FOR UPDATE SKIP LOCKED`: leasers never wait on each
//     other's rows and never take the same one.
//   - A report (complete, retry, fail) is one compare-and-set UPDATE fenced by the lease's
//     dispatch_count and state; zero rows means a stale report, answered kFailedPrecondition
//     without aborting the transaction, so report_all() commits the others in the same one.
//   - Time: every `now` its callers pass comes from now(), this machine's clock corrected by
//     the offset to the database server's clock_timestamp() (measured at open and every
//     `clock_sync_interval`, the sample with the shortest round trip of a few): nodes whose
//     clocks disagree still agree on when a lease expires or a dedup window ends.
//   - Durability is the server's: a call returns after its transaction committed, as
//     synchronous_commit promises; concurrent commits share WAL flushes on the server.
//
// The schema is the "queue" component's migrations (migrations()), applied by `mando db
// migrate`; open() refuses a database whose queue schema is older or newer than this build's.
//
// Thread-safety: every method may be called from any thread at once; each takes a connection
// from the pool for its duration. Methods block on the network.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include "core/postgres.hpp"
#include "queue/task_store.hpp"

namespace mando::queue {

struct PostgresOptions {
  core::pg::PoolOptions pool;
  // How often the offset to the database's clock is measured again.
  Micros clock_sync_interval = std::chrono::seconds(10);
  // This machine's clock (tests skew it to play a node whose clock is wrong).
  std::function<TimePoint()> local_clock = [] { return queue::now(); };
};

class PostgresTaskStore final : public TaskStore {
 public:
  // The name of this store's tables in mando_schema, and their migrations.
  static constexpr std::string_view kComponent = "queue";
  static std::span<const core::pg::Migration> migrations();

  // Connects, checks the schema and measures the clock offset. kUnavailable when the server
  // cannot be reached; kFailedPrecondition when the schema is not this build's.
  static Result<std::unique_ptr<PostgresTaskStore>> open(PostgresOptions options);
  ~PostgresTaskStore() override;

  PostgresTaskStore(const PostgresTaskStore&) = delete;
  PostgresTaskStore& operator=(const PostgresTaskStore&) = delete;

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

  bool elects_leaders() const override { return true; }
  Result<std::optional<Term>> claim_leadership(const QueueName& queue, const std::string& node,
                                               Micros ttl) override;
  void resign_leadership(const std::string& node) override;
  // LISTEN on its own connection (reconnecting, then reporting "anything may have changed");
  // returns once subscribed (or once the first attempt failed);
  // every store sends NOTIFY after the commits of creates and queue changes, from a thread of
  // its own, at most once per queue while the previous round is being sent.
  void watch(std::function<void(const Change&)> on_change) override;

  // A round trip on a pooled connection and the schema check.
  Result<void> check() override;

  TimePoint now() override;
  // The database clock minus this machine's, as last measured.
  Micros clock_offset() const { return Micros(offset_us_.load()); }

  core::pg::Pool& pool() { return pool_; }

 private:
  explicit PostgresTaskStore(PostgresOptions options);
  // One clock measurement; keeps the old offset when the server cannot be reached.
  Result<void> sync_clock();
  void clock_loop();

  // The term this store leases `queue` under (node, epoch; epoch -1 while another node leads).
  std::optional<std::pair<std::string, std::int64_t>> term_of(const QueueName& queue);
  // Queues `queue` for a NOTIFY on `channel` by the notifier thread.
  void announce(std::string_view channel, const std::string& queue);
  void notifier_loop();
  void listen(const std::function<void(const Change&)>& on_change, std::promise<void>& subscribed);
  // Waits until `fd` is readable (-1: none), the store stops or `limit` passes; false when
  // stopping.
  bool wait_for_stop_or(int fd, std::chrono::milliseconds limit);

  PostgresOptions options_;
  core::pg::Pool pool_;
  std::atomic<std::int64_t> offset_us_{0};
  std::atomic<bool> stopping_{false};
  const int stop_fd_;  // an eventfd, written once to wake the listener for good

  std::mutex terms_mutex_;
  std::map<std::string, std::pair<std::string, std::int64_t>> terms_;  // by full queue name

  std::mutex clock_mutex_;
  std::condition_variable clock_stop_;
  std::thread clock_thread_;

  std::mutex notify_mutex_;
  std::condition_variable notify_ready_;
  std::set<std::pair<std::string, std::string>> to_notify_;  // (channel, queue)
  std::thread notifier_thread_;
  std::thread listener_thread_;
};

}  // namespace mando::queue
