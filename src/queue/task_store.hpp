#pragma once
// TaskStore: where queues and tasks live durably. The seam between the queue's logic and the
// database; SqliteTaskStore is the embedded implementation, PostgresTaskStore the one many
// machines share, and tests plug in a fault-injecting wrapper.
//
// The life of a task in a store:
//   1. create_task() commits it as kPending (or fails with kAlreadyExists when the name exists
//      or was used within the deduplication window). Only after the commit does the caller
//      acknowledge the task to anyone: an acknowledged task is durable.
//   2. lease_due() picks pending tasks whose schedule time has come, and leased tasks whose
//      lease expired (their dispatcher crashed), marks them kLeased until now + the task's
//      dispatch deadline + a margin, and increments dispatch_count, the lease's fencing token.
//      release_leases() hands a crashed dispatcher's leases back at once.
//   3. The dispatcher reports the attempt with exactly one of
//        complete()   2xx: the task is deleted, its name kept as a tombstone for deduplication;
//        retry()      back to kPending at the next schedule time;
//        fail()       retries used up: kept as a dead letter (kFailed).
//      Each takes the dispatch_count of the lease; a report whose lease was since taken by
//      another dispatch (the lease expired) is ignored and answers kFailedPrecondition.
//   4. run_task() leases a task at once, whatever its state or schedule time (a dead letter runs
//      again); delete_task() removes it (and keeps the tombstone).
//   5. prune_tombstones() forgets names completed or deleted before a time: the deduplication
//      window has passed for them.
//
// Thread-safety: every method may be called from any thread. Methods block on I/O: call them
// from a blocking pool, never from an I/O thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "queue/model.hpp"

namespace mando::queue {

enum class TaskFilter { kAll, kPending, kFailed };

class TaskStore {
 public:
  virtual ~TaskStore() = default;

  // Queues. Errors: kAlreadyExists, kNotFound.
  virtual Result<Queue> create_queue(const Queue& queue) = 0;
  virtual Result<Queue> get_queue(const QueueName& name) = 0;
  // Queues under `parent` (projects/{p}/locations/{l}) ordered by name; an empty `parent`
  // lists every queue of every project and location (the dispatcher's start-up).
  virtual Result<Page<Queue>> list_queues(const std::string& parent, int page_size,
                                          const std::string& page_token) = 0;
  // Replaces the queue's settings (everything but the name).
  virtual Result<Queue> update_queue(const Queue& queue) = 0;
  // Deletes the queue and every task in it.
  virtual Result<void> delete_queue(const QueueName& name) = 0;
  // Deletes every task created before `before` and records it as the queue's purge time.
  virtual Result<Queue> purge_queue(const QueueName& name, TimePoint before) = 0;

  // Tasks. `task.name` must be set (the caller generates one when the client gave none).
  // kAlreadyExists when a task of that name exists, or was completed or deleted less than
  // `dedup_window` before `now`. kNotFound when the queue does not exist.
  virtual Result<Task> create_task(const Task& task, Micros dedup_window, TimePoint now) = 0;
  virtual Result<Task> get_task(const TaskName& name) = 0;
  // Tasks of `queue` ordered by name.
  virtual Result<Page<Task>> list_tasks(const QueueName& queue, TaskFilter filter, int page_size,
                                        const std::string& page_token) = 0;
  virtual Result<void> delete_task(const TaskName& name, TimePoint now) = 0;
  // Leases the task from `now` (as lease_due() does, for its dispatch_deadline plus `margin`),
  // whatever its state or schedule time, and answers it with its new dispatch_count.
  virtual Result<Task> run_task(const TaskName& name, TimePoint now, Micros margin) = 0;
  // Forgets every tombstone: the next create of any name succeeds (tests, local development).
  virtual Result<void> reset_deduplication() = 0;
  // Forgets tombstones older than `before`; answers how many went.
  virtual Result<std::int64_t> prune_tombstones(TimePoint before) = 0;

  // Dispatch (steps 2 and 3 above).
  // A task's lease lasts its dispatch_deadline plus `margin` from `now`.
  virtual Result<std::vector<Task>> lease_due(const QueueName& queue, TimePoint now, int max,
                                              Micros margin) = 0;
  // Makes every leased task of `queue` pending again, due at its schedule time (or `now` if that
  // is earlier: a task run ahead of its time), so it keeps its place; answers how many. Called by
  // a queue's only dispatcher when it starts: leases left by a crashed run of it need not wait
  // for their expiry.
  virtual Result<std::int64_t> release_leases(const QueueName& queue, TimePoint now) = 0;
  // The earliest time something in `queue` becomes due (a schedule time or a lease expiry);
  // nullopt when nothing is pending or leased.
  virtual Result<std::optional<TimePoint>> next_due(const QueueName& queue) = 0;
  virtual Result<void> complete(const TaskName& name, int dispatch_count, const Attempt& attempt,
                                TimePoint now) = 0;
  virtual Result<void> retry(const TaskName& name, int dispatch_count, const Attempt& attempt,
                             TimePoint next_schedule_time) = 0;
  virtual Result<void> fail(const TaskName& name, int dispatch_count, const Attempt& attempt) = 0;

  // Several reports of step 3 at once, in one transaction where the store has them: what a
  // dispatcher with many attempts ending together uses, so they share one commit and one
  // thread hop. Answers one result per report, in order, as the single calls would.
  struct Report {
    enum class Kind { kComplete, kRetry, kFail };
    Kind kind = Kind::kComplete;
    TaskName name;
    int dispatch_count = 0;
    Attempt attempt;
    TimePoint at;  // kComplete: now (the tombstone's time); kRetry: the next schedule time
  };
  virtual std::vector<Result<void>> report_all(const std::vector<Report>& reports) = 0;

  // Dispatch leadership, where several dispatchers share the store: one node at a time runs a
  // queue's loop, so its rate limits and maxConcurrentDispatches hold for the whole system.
  // claim_leadership() takes or renews `node`'s term over `queue` for `ttl` of the store's
  // time and answers it, or nullopt while another node's term lasts. The epoch of a term
  // changes only when another node takes over: the node that sees a new epoch hands the
  // previous leader's leases back (release_leases()). While a node holds a term, lease_due()
  // of its store leases for that term only: a leader whose term ran out (paused, cut off)
  // leases nothing, even before it notices. resign_leadership() ends every term of `node` at
  // once (a clean shutdown fails over without waiting for the ttl).
  // An embedded store has a single dispatcher (its file lock): it always answers epoch 1.
  struct Term {
    std::int64_t epoch = 1;
  };
  virtual bool elects_leaders() const { return false; }
  virtual Result<std::optional<Term>> claim_leadership(const QueueName& /*queue*/,
                                                       const std::string& /*node*/,
                                                       Micros /*ttl*/) {
    return Term{};
  }
  virtual void resign_leadership(const std::string& /*node*/) {}

  // What other processes sharing the store changed: a task became due (created, run), or a
  // queue was created, updated, paused, purged or deleted. An empty `queue` means "anything may
  // have changed" (the store lost its way of hearing and found it again).
  struct Change {
    enum class Kind { kTask, kQueue };
    Kind kind = Kind::kTask;
    std::string queue;  // the full name
  };
  // Starts calling `on_change`, from a thread of the store's, for the changes of every
  // process (this one's too). Embedded stores have no other process and never call it: their
  // queue tells its dispatcher itself. Call once, before anything is dispatched.
  virtual void watch(std::function<void(const Change&)> /*on_change*/) {}

  // Whether the store can serve now (/readyz): reachable, with this build's schema. An embedded
  // store opened is a store that serves.
  virtual Result<void> check() { return {}; }

  // The clock every caller reads `now` from: this machine's for an embedded store; the database
  // server's for a shared one, so that leases, schedule times and deduplication windows written
  // by one node mean the same on every other, whatever their clocks say. Never blocks.
  virtual TimePoint now() { return queue::now(); }
};

}  // namespace mando::queue
