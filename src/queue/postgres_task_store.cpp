#include "queue/postgres_task_store.hpp"

#include <array>
#include <limits>

#include <fmt/format.h>

#include "core/log.hpp"
#include "queue/store_rows.hpp"
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace mando::queue {
namespace {

using namespace rows;
using core::pg::Connection;

// The state of a tombstone: a task that completed or was deleted, kept for deduplication. Never
// leaves the store (TaskState has no such value).
constexpr int kEnded = 3;
static_assert(static_cast<int>(TaskState::kFailed) == kEnded - 1);

// Version 1 of the queue's tables. Names sort byte by byte (COLLATE "C"), as in SQLite and
// Cloud Tasks, whatever the database's locale. `due` is what lease_due() and next_due() read:
// the schedule time of a pending task, the lease expiry of a leased one, NULL for a dead letter
// or a tombstone; `ended` is a tombstone's time.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE mando_queues (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  parent text COLLATE "C" NOT NULL,
  max_dispatches_per_second double precision NOT NULL,
  max_burst_size integer NOT NULL,
  max_concurrent_dispatches integer NOT NULL,
  max_attempts integer NOT NULL,
  max_retry_duration bigint NOT NULL,
  min_backoff bigint NOT NULL,
  max_backoff bigint NOT NULL,
  max_doublings integer NOT NULL,
  state smallint NOT NULL,
  worker_base_url text NOT NULL,
  purge_time bigint
);
CREATE INDEX mando_queues_by_parent ON mando_queues (parent, name);
CREATE TABLE mando_tasks (
  queue_id bigint NOT NULL REFERENCES mando_queues (id) ON DELETE CASCADE,
  task text COLLATE "C" NOT NULL,
  kind smallint NOT NULL,
  url text NOT NULL,
  method smallint NOT NULL,
  headers bytea NOT NULL,
  body bytea NOT NULL,
  schedule_time bigint NOT NULL,
  create_time bigint NOT NULL,
  dispatch_deadline bigint NOT NULL,
  dispatch_count integer NOT NULL,
  response_count integer NOT NULL,
  fa_schedule bigint, fa_dispatch bigint, fa_response bigint, fa_status integer, fa_error text,
  la_schedule bigint, la_dispatch bigint, la_response bigint, la_status integer, la_error text,
  state smallint NOT NULL,
  due bigint,
  ended bigint,
  PRIMARY KEY (queue_id, task)
);
CREATE INDEX mando_tasks_by_due ON mando_tasks (queue_id, due) WHERE due IS NOT NULL;
CREATE INDEX mando_tombstones_by_time ON mando_tasks (ended) WHERE state = 3;
)sql";

// Version 2: one row per queue that a dispatcher leads (task_store.hpp, "Dispatch
// leadership"); `expires` and `taken` (when this epoch began) are in the database's time.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE mando_leaders (
  queue_id bigint PRIMARY KEY REFERENCES mando_queues (id) ON DELETE CASCADE,
  node text NOT NULL,
  epoch bigint NOT NULL,
  expires bigint NOT NULL,
  taken bigint NOT NULL
);
)sql";

constexpr std::array kMigrations = {
    core::pg::Migration{1, "queues, tasks and tombstones", kSchemaV1},
    core::pg::Migration{2, "dispatch leadership per queue", kSchemaV2},
};

// The database server's clock, in microseconds since the epoch.
constexpr std::string_view kDbNow = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

// The channels other processes hear of changes on (LISTEN/NOTIFY), the payload a full queue
// name.
constexpr std::string_view kTaskChannel = "mando_tasks";
constexpr std::string_view kQueueChannel = "mando_queues";

constexpr std::string_view kQueueId = "(SELECT id FROM mando_queues WHERE name = $1)";

// Runs `statement` with a queue's settings as $1..$10, in the order of kQueueColumns, then
// `extra` as $11 onwards.
template <typename... Extra>
Result<core::pg::Rows> exec_with_settings(Connection& c, const std::string& statement,
                                          const Queue& q, const Extra&... extra) {
  return c.exec(statement, q.rate_limits.max_dispatches_per_second, q.rate_limits.max_burst_size,
                q.rate_limits.max_concurrent_dispatches, q.retry_config.max_attempts,
                micros(q.retry_config.max_retry_duration), micros(q.retry_config.min_backoff),
                micros(q.retry_config.max_backoff), q.retry_config.max_doublings,
                static_cast<int>(q.state), q.worker_base_url, extra...);
}

Result<std::vector<Task>> read_tasks(const core::pg::Rows& rows, const QueueName& queue) {
  std::vector<Task> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    auto task = read_task(rows.row(i), queue);
    if (!task) return tl::unexpected(task.error());
    out.push_back(std::move(*task));
  }
  return out;
}

// What the store holds under a task's name, read after a statement on it touched no row.
struct Found {
  bool queue = false;                 // the queue exists
  std::optional<std::int64_t> state;  // the row's state (kEnded: a tombstone); none: no row
  std::int64_t dispatch_count = 0;
};

Result<Found> find(Connection& c, const TaskName& name) {
  static const std::string kSql = fmt::format(
      "SELECT (SELECT id FROM mando_queues WHERE name = $1) IS NOT NULL, t.state, "
      "t.dispatch_count FROM (SELECT 1) one LEFT JOIN mando_tasks t ON t.queue_id = {} AND "
      "t.task = $2",
      kQueueId);
  auto rows = c.exec(kSql, name.queue.full(), name.task);
  if (!rows) return tl::unexpected(rows.error());
  return Found{rows->boolean(0, 0), rows->optional_int64(0, 1), rows->int64(0, 2)};
}

// Why a statement on one task touched no row: the queue or the task is missing (a tombstone
// counts as missing), or, for a report of lease `dispatch_count`, the lease is stale.
Error explain_miss(Connection& c, const TaskName& name, std::optional<int> dispatch_count) {
  auto found = find(c, name);
  if (!found) return found.error();
  if (!found->queue) return not_found("queue", name.queue.full());
  if (!found->state || *found->state == kEnded || !dispatch_count) {
    return not_found("task", name.full());
  }
  return stale_lease(name, *dispatch_count, found->dispatch_count,
                     static_cast<TaskState>(*found->state));
}

// Why a create returned no row: the queue is missing, or the name is taken by a live task or
// by a tombstone within the deduplication window.
Error explain_conflict(Connection& c, const TaskName& name) {
  auto found = find(c, name);
  if (!found) return found.error();
  if (!found->queue) return not_found("queue", name.queue.full());
  return duplicate_task(name, found->state == kEnded);
}

// kNotFound unless `queue` exists: what a statement that touched no row of it means.
Result<void> check_queue(Connection& c, const QueueName& queue) {
  auto rows = c.exec("SELECT 1 FROM mando_queues WHERE name = $1", queue.full());
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return tl::unexpected(not_found("queue", queue.full()));
  return {};
}

// The fenced writes of step 3 of task_store.hpp: each one compare-and-set UPDATE.
Result<void> complete_on(Connection& c, const TaskName& name, int dispatch_count, TimePoint now) {
  static const std::string kSql = fmt::format(
      "UPDATE mando_tasks SET state = 3, ended = $4, due = NULL, headers = '', body = '' "
      "WHERE queue_id = {} AND task = $2 AND state = 1 AND dispatch_count = $3",
      kQueueId);
  auto rows = c.exec(kSql, name.queue.full(), name.task, dispatch_count, micros(now));
  if (!rows) return tl::unexpected(rows.error());
  if (rows->affected() == 0) return tl::unexpected(explain_miss(c, name, dispatch_count));
  return {};
}

Result<void> report_on(Connection& c, const TaskName& name, int dispatch_count,
                       const Attempt& attempt, TaskState state,
                       std::optional<TimePoint> next_schedule_time) {
  // Right-hand sides read the row as it was, so `fa_schedule IS NULL` means "first report".
  static const std::string kSql = fmt::format(
      "UPDATE mando_tasks SET state = $3, schedule_time = COALESCE($4, schedule_time), "
      "due = $4, response_count = response_count + $5, "
      "la_schedule = $6, la_dispatch = $7, la_response = $8, la_status = $9, la_error = $10, "
      "fa_dispatch = CASE WHEN fa_schedule IS NULL THEN $7 ELSE fa_dispatch END, "
      "fa_response = CASE WHEN fa_schedule IS NULL THEN $8 ELSE fa_response END, "
      "fa_status = CASE WHEN fa_schedule IS NULL THEN $9 ELSE fa_status END, "
      "fa_error = CASE WHEN fa_schedule IS NULL THEN $10 ELSE fa_error END, "
      "fa_schedule = COALESCE(fa_schedule, $6) "
      "WHERE queue_id = {} AND task = $2 AND state = 1 AND dispatch_count = $11",
      kQueueId);
  auto rows =
      c.exec(kSql, name.queue.full(), name.task, static_cast<int>(state),
             micros(next_schedule_time), attempt.http_status != 0 ? 1 : 0,
             micros(attempt.schedule_time), micros(attempt.dispatch_time),
             micros(attempt.response_time), attempt.http_status, attempt.error, dispatch_count);
  if (!rows) return tl::unexpected(rows.error());
  if (rows->affected() == 0) return tl::unexpected(explain_miss(c, name, dispatch_count));
  return {};
}

// The answer of one report that does not abort report_all(): the report's own verdict.
bool verdict(const Result<void>& r) {
  return r || r.error().kind == ErrorKind::kFailedPrecondition ||
         r.error().kind == ErrorKind::kNotFound;
}

}  // namespace

std::span<const core::pg::Migration> PostgresTaskStore::migrations() { return kMigrations; }

Result<std::unique_ptr<PostgresTaskStore>> PostgresTaskStore::open(PostgresOptions options) {
  std::unique_ptr<PostgresTaskStore> store(new PostgresTaskStore(std::move(options)));
  {
    auto c = store->pool_.acquire();
    if (!c) return tl::unexpected(c.error());
    if (auto ok = core::pg::check_schema(**c, kComponent, kMigrations); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  if (auto ok = store->sync_clock(); !ok) return tl::unexpected(ok.error());
  store->clock_thread_ = std::thread([s = store.get()] { s->clock_loop(); });
  store->notifier_thread_ = std::thread([s = store.get()] { s->notifier_loop(); });
  return store;
}

PostgresTaskStore::PostgresTaskStore(PostgresOptions options)
    : options_(std::move(options)), pool_(options_.pool), stop_fd_(::eventfd(0, EFD_CLOEXEC)) {}

PostgresTaskStore::~PostgresTaskStore() {
  {
    std::scoped_lock lock(clock_mutex_, notify_mutex_);
    stopping_.store(true);
  }
  clock_stop_.notify_all();
  notify_ready_.notify_all();
  const std::uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) != sizeof one) {
    // The listener then notices at its next minute's wake-up.
  }
  for (auto* t : {&clock_thread_, &notifier_thread_, &listener_thread_}) {
    if (t->joinable()) t->join();
  }
  ::close(stop_fd_);
}

Result<void> PostgresTaskStore::check() {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  return core::pg::check_schema(**c, kComponent, kMigrations);
}

TimePoint PostgresTaskStore::now() { return options_.local_clock() + clock_offset(); }

Result<void> PostgresTaskStore::sync_clock() {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  // The sample with the shortest round trip bounds the error best (half of that trip).
  std::optional<Micros> best_rtt;
  std::int64_t best_offset = 0;
  for (int i = 0; i < 3; ++i) {
    const TimePoint sent = options_.local_clock();
    auto rows = (*c)->exec("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint");
    const TimePoint received = options_.local_clock();
    if (!rows) return tl::unexpected(rows.error());
    const Micros rtt = received - sent;
    const TimePoint local = sent + rtt / 2;
    if (!best_rtt || rtt < *best_rtt) {
      best_rtt = rtt;
      best_offset = rows->int64(0, 0) - micros(local);
    }
  }
  offset_us_.store(best_offset);
  return {};
}

void PostgresTaskStore::clock_loop() {
  std::unique_lock lock(clock_mutex_);
  while (
      !clock_stop_.wait_for(lock, options_.clock_sync_interval, [&] { return stopping_.load(); })) {
    lock.unlock();
    if (auto ok = sync_clock(); !ok) {
      core::logger("queue")->warn("postgres clock sync failed, keeping offset_us={} error=\"{}\"",
                                  offset_us_.load(), ok.error().message);
    }
    lock.lock();
  }
}

// Queues.

Result<Queue> PostgresTaskStore::create_queue(const Queue& queue) {
  if (auto ok = validate(queue); !ok) return tl::unexpected(ok.error());
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "INSERT INTO mando_queues ({}, name, parent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
      "$9, $10, $11, $12, $13)",
      kQueueColumns.substr(kQueueColumns.find(',') + 2));
  auto ok = exec_with_settings(**c, kSql, queue, micros(queue.purge_time), queue.name.full(),
                               queue.name.parent());
  if (!ok && ok.error().kind == ErrorKind::kAlreadyExists) {
    return mando::fail(ErrorKind::kAlreadyExists,
                       fmt::format("queue {} already exists", queue.name.full()));
  }
  if (!ok) return tl::unexpected(ok.error());
  announce(kQueueChannel, queue.name.full());
  return queue;
}

Result<Queue> PostgresTaskStore::get_queue(const QueueName& name) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql =
      fmt::format("SELECT {} FROM mando_queues WHERE name = $1", kQueueColumns);
  auto rows = (*c)->exec(kSql, name.full());
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return tl::unexpected(not_found("queue", name.full()));
  return read_queue(rows->row(0));
}

Result<Page<Queue>> PostgresTaskStore::list_queues(const std::string& parent, int page_size,
                                                   const std::string& page_token) {
  auto after = decode_page_token('q', page_token);
  if (!after) return tl::unexpected(after.error());
  const auto prefix = parent + "/queues/";
  if (!parent.empty() && !after->empty() && !after->starts_with(prefix)) {
    return mando::fail(ErrorKind::kInvalidArgument, "pageToken: belongs to another parent");
  }
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "SELECT {} FROM mando_queues WHERE ($1 = '' OR parent = $1) AND name > $2 ORDER BY name "
      "LIMIT $3",
      kQueueColumns);
  const int size = page_size_or_default(page_size);
  auto rows = (*c)->exec(kSql, parent, *after, size + 1);
  if (!rows) return tl::unexpected(rows.error());
  Page<Queue> page;
  for (int i = 0; i < std::min(rows->size(), size); ++i) {
    auto queue = read_queue(rows->row(i));
    if (!queue) return tl::unexpected(queue.error());
    page.items.push_back(std::move(*queue));
  }
  if (rows->size() > size) {
    page.next_page_token = encode_page_token('q', page.items.back().name.full());
  }
  return page;
}

Result<Queue> PostgresTaskStore::update_queue(const Queue& queue) {
  if (auto ok = validate(queue); !ok) return tl::unexpected(ok.error());
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "UPDATE mando_queues SET max_dispatches_per_second = $1, max_burst_size = $2, "
      "max_concurrent_dispatches = $3, max_attempts = $4, max_retry_duration = $5, "
      "min_backoff = $6, max_backoff = $7, max_doublings = $8, state = $9, "
      "worker_base_url = $10 WHERE name = $11 RETURNING {}",
      kQueueColumns);
  auto rows = exec_with_settings(**c, kSql, queue, queue.name.full());
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return tl::unexpected(not_found("queue", queue.name.full()));
  announce(kQueueChannel, queue.name.full());
  return read_queue(rows->row(0));
}

Result<void> PostgresTaskStore::delete_queue(const QueueName& name) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  // Its tasks and tombstones go with it (ON DELETE CASCADE), in the same statement.
  auto rows = (*c)->exec("DELETE FROM mando_queues WHERE name = $1", name.full());
  if (!rows) return tl::unexpected(rows.error());
  if (rows->affected() == 0) return tl::unexpected(not_found("queue", name.full()));
  announce(kQueueChannel, name.full());
  return {};
}

Result<Queue> PostgresTaskStore::purge_queue(const QueueName& name, TimePoint before) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  // One statement: the purge time and the deletion commit together.
  static const std::string kSql = fmt::format(
      "WITH q AS (UPDATE mando_queues SET purge_time = $2 WHERE name = $1 RETURNING id, {0}), "
      "gone AS (DELETE FROM mando_tasks t USING q WHERE t.queue_id = q.id AND "
      "t.create_time < $2 AND t.state <> 3) SELECT {0} FROM q",
      kQueueColumns);
  auto rows = (*c)->exec(kSql, name.full(), micros(before));
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return tl::unexpected(not_found("queue", name.full()));
  announce(kQueueChannel, name.full());
  return read_queue(rows->row(0));
}

// Tasks.

Result<Task> PostgresTaskStore::create_task(const Task& task, Micros dedup_window, TimePoint now) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  const Task stored = new_task(task, now);
  // A live row or a tombstone within the window wins the conflict (no row returned); an older
  // tombstone is brought back to life as the new task.
  static const std::string kSql = fmt::format(
      "INSERT INTO mando_tasks (queue_id, task, kind, url, method, headers, body, schedule_time, "
      "create_time, dispatch_deadline, dispatch_count, response_count, state, due) "
      "SELECT id, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, 0, $8 FROM mando_queues "
      "WHERE name = $1 "
      "ON CONFLICT (queue_id, task) DO UPDATE SET kind = EXCLUDED.kind, url = EXCLUDED.url, "
      "method = EXCLUDED.method, headers = EXCLUDED.headers, body = EXCLUDED.body, "
      "schedule_time = EXCLUDED.schedule_time, create_time = EXCLUDED.create_time, "
      "dispatch_deadline = EXCLUDED.dispatch_deadline, dispatch_count = 0, response_count = 0, "
      "fa_schedule = NULL, fa_dispatch = NULL, fa_response = NULL, fa_status = NULL, "
      "fa_error = NULL, la_schedule = NULL, la_dispatch = NULL, la_response = NULL, "
      "la_status = NULL, la_error = NULL, state = 0, due = EXCLUDED.due, ended = NULL "
      "WHERE mando_tasks.state = 3 AND mando_tasks.ended <= $11 RETURNING 1");
  const auto headers = encode_headers(stored.request.headers);
  // Tombstones that ended at or before this are outside the window (an endless window, as
  // Micros::max(), forgets none).
  const std::int64_t forgotten_until = dedup_window.count() > micros(now)
                                           ? std::numeric_limits<std::int64_t>::min()
                                           : micros(now) - dedup_window.count();
  auto rows = (*c)->exec(kSql, task.name.queue.full(), stored.name.task,
                         static_cast<int>(stored.request.kind), stored.request.url,
                         static_cast<int>(stored.request.method), core::pg::Bytea{headers},
                         core::pg::Bytea{stored.request.body}, micros(stored.schedule_time),
                         micros(now), micros(stored.dispatch_deadline), forgotten_until);
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) {
    return tl::unexpected(explain_conflict(**c, task.name));
  }
  announce(kTaskChannel, task.name.queue.full());
  return stored;
}

Result<Task> PostgresTaskStore::get_task(const TaskName& name) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql =
      fmt::format("SELECT {} FROM mando_tasks WHERE queue_id = {} AND task = $2 AND state <> 3",
                  kTaskColumns, kQueueId);
  auto rows = (*c)->exec(kSql, name.queue.full(), name.task);
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return tl::unexpected(not_found("task", name.full()));
  return read_task(rows->row(0), name.queue);
}

Result<Page<Task>> PostgresTaskStore::list_tasks(const QueueName& queue, TaskFilter filter,
                                                 int page_size, const std::string& page_token) {
  auto after = decode_page_token('t', page_token);
  if (!after) return tl::unexpected(after.error());
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  if (auto ok = check_queue(**c, queue); !ok) return tl::unexpected(ok.error());
  static const std::string kSql = fmt::format(
      "SELECT {} FROM mando_tasks WHERE queue_id = {} AND task > $2 AND state <> 3 AND "
      "($3 = 0 OR ($3 = 1 AND state <> 2) OR ($3 = 2 AND state = 2)) ORDER BY task LIMIT $4",
      kTaskColumns, kQueueId);
  const int size = page_size_or_default(page_size);
  const int filter_code = filter == TaskFilter::kAll ? 0 : filter == TaskFilter::kPending ? 1 : 2;
  auto rows = (*c)->exec(kSql, queue.full(), *after, filter_code, size + 1);
  if (!rows) return tl::unexpected(rows.error());
  auto tasks = read_tasks(*rows, queue);
  if (!tasks) return tl::unexpected(tasks.error());
  Page<Task> page;
  page.items = std::move(*tasks);
  if (static_cast<int>(page.items.size()) > size) {
    page.items.pop_back();
    page.next_page_token = encode_page_token('t', page.items.back().name.task);
  }
  return page;
}

Result<void> PostgresTaskStore::delete_task(const TaskName& name, TimePoint now) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "UPDATE mando_tasks SET state = 3, ended = $3, due = NULL, headers = '', body = '' "
      "WHERE queue_id = {} AND task = $2 AND state <> 3",
      kQueueId);
  auto rows = (*c)->exec(kSql, name.queue.full(), name.task, micros(now));
  if (!rows) return tl::unexpected(rows.error());
  if (rows->affected() == 0) return tl::unexpected(explain_miss(**c, name, std::nullopt));
  return {};
}

Result<Task> PostgresTaskStore::run_task(const TaskName& name, TimePoint now, Micros margin) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "UPDATE mando_tasks SET state = 1, due = $3 + dispatch_deadline, "
      "dispatch_count = dispatch_count + 1 WHERE queue_id = {} AND task = $2 AND state <> 3 "
      "RETURNING {}",
      kQueueId, kTaskColumns);
  auto rows = (*c)->exec(kSql, name.queue.full(), name.task, micros(now + margin));
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return tl::unexpected(explain_miss(**c, name, std::nullopt));
  return read_task(rows->row(0), name.queue);
}

Result<void> PostgresTaskStore::reset_deduplication() {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  auto rows = (*c)->exec("DELETE FROM mando_tasks WHERE state = 3");
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

Result<std::int64_t> PostgresTaskStore::prune_tombstones(TimePoint before) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  auto rows = (*c)->exec("DELETE FROM mando_tasks WHERE state = 3 AND ended < $1", micros(before));
  if (!rows) return tl::unexpected(rows.error());
  return rows->affected();
}

// Dispatch.

Result<std::vector<Task>> PostgresTaskStore::lease_due(const QueueName& queue, TimePoint now,
                                                       int max, Micros margin) {
  auto term = term_of(queue);
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  // Due rows in due order, skipping those another leaser holds right now; leased in the same
  // statement, answered in the order they were due. Under a term, only while the term lasts in
  // the database's own time and clock: a deposed leader's lease takes nothing.
  constexpr std::string_view kLease =
      "WITH picked AS (SELECT ctid AS row, due AS was_due FROM mando_tasks "
      "WHERE queue_id = {0} AND due <= $2 {1} ORDER BY due LIMIT $3 FOR UPDATE SKIP LOCKED), "
      "leased AS (UPDATE mando_tasks t SET state = 1, due = $4 + t.dispatch_deadline, "
      "dispatch_count = t.dispatch_count + 1 FROM picked WHERE t.ctid = picked.row "
      "RETURNING {2}, was_due) SELECT {2} FROM leased ORDER BY was_due, task";
  static const std::string kFree = fmt::format(fmt::runtime(kLease), kQueueId, "", kTaskColumns);
  static const std::string kFenced =
      fmt::format(fmt::runtime(kLease), kQueueId,
                  fmt::format("AND EXISTS (SELECT 1 FROM mando_leaders l WHERE l.queue_id = {} AND "
                              "l.node = $5 AND l.epoch = $6 AND l.expires > {})",
                              kQueueId, kDbNow),
                  kTaskColumns);
  auto rows =
      term ? (*c)->exec(kFenced, queue.full(), micros(now), std::max(max, 0), micros(now + margin),
                        term->first, term->second)
           : (*c)->exec(kFree, queue.full(), micros(now), std::max(max, 0), micros(now + margin));
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) {
    if (auto ok = check_queue(**c, queue); !ok) return tl::unexpected(ok.error());
  }
  return read_tasks(*rows, queue);
}

Result<std::int64_t> PostgresTaskStore::release_leases(const QueueName& queue, TimePoint now) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  // As in SQLite: the dispatch count stays, so a late report of a released lease is stale.
  static const std::string kSql = fmt::format(
      "UPDATE mando_tasks SET state = 0, due = LEAST(schedule_time, $2) "
      "WHERE queue_id = {} AND state = 1",
      kQueueId);
  auto rows = (*c)->exec(kSql, queue.full(), micros(now));
  if (!rows) return tl::unexpected(rows.error());
  if (rows->affected() == 0) {
    if (auto ok = check_queue(**c, queue); !ok) return tl::unexpected(ok.error());
  }
  return rows->affected();
}

Result<std::optional<TimePoint>> PostgresTaskStore::next_due(const QueueName& queue) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "SELECT due FROM mando_tasks WHERE queue_id = {} AND due IS NOT NULL ORDER BY due LIMIT 1",
      kQueueId);
  auto rows = (*c)->exec(kSql, queue.full());
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) {
    if (auto ok = check_queue(**c, queue); !ok) return tl::unexpected(ok.error());
    return std::optional<TimePoint>();
  }
  return std::optional<TimePoint>(time_point(rows->int64(0, 0)));
}

Result<void> PostgresTaskStore::complete(const TaskName& name, int dispatch_count, const Attempt&,
                                         TimePoint now) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  return complete_on(**c, name, dispatch_count, now);
}

Result<void> PostgresTaskStore::retry(const TaskName& name, int dispatch_count,
                                      const Attempt& attempt, TimePoint next_schedule_time) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  return report_on(**c, name, dispatch_count, attempt, TaskState::kPending, next_schedule_time);
}

Result<void> PostgresTaskStore::fail(const TaskName& name, int dispatch_count,
                                     const Attempt& attempt) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  return report_on(**c, name, dispatch_count, attempt, TaskState::kFailed, std::nullopt);
}

std::vector<Result<void>> PostgresTaskStore::report_all(const std::vector<Report>& reports) {
  std::vector<Result<void>> results(reports.size());
  // One transaction: a stale report touches no row and is its own answer, the others commit
  // together; a failure of the database itself fails them all.
  auto batch = pool_.transaction<void>([&](Connection& c) -> Result<void> {
    for (std::size_t i = 0; i < reports.size(); ++i) {
      const Report& r = reports[i];
      switch (r.kind) {
        case Report::Kind::kComplete:
          results[i] = complete_on(c, r.name, r.dispatch_count, r.at);
          break;
        case Report::Kind::kRetry:
          results[i] = report_on(c, r.name, r.dispatch_count, r.attempt, TaskState::kPending, r.at);
          break;
        case Report::Kind::kFail:
          results[i] =
              report_on(c, r.name, r.dispatch_count, r.attempt, TaskState::kFailed, std::nullopt);
          break;
      }
      if (!verdict(results[i])) return results[i];
    }
    return {};
  });
  if (!batch) std::fill(results.begin(), results.end(), batch);
  return results;
}

// Leadership.

std::optional<std::pair<std::string, std::int64_t>> PostgresTaskStore::term_of(
    const QueueName& queue) {
  std::lock_guard lock(terms_mutex_);
  auto it = terms_.find(queue.full());
  if (it == terms_.end()) return std::nullopt;
  return it->second;
}

Result<std::optional<TaskStore::Term>> PostgresTaskStore::claim_leadership(const QueueName& queue,
                                                                           const std::string& node,
                                                                           Micros ttl) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  // Renewed by its holder, taken over (next epoch) once expired, refused otherwise: one
  // statement, so two claimants racing leave exactly one leader.
  static const std::string kSql = fmt::format(
      "INSERT INTO mando_leaders (queue_id, node, epoch, expires, taken) "
      "SELECT id, $2, 1, {0} + $3, {0} FROM mando_queues WHERE name = $1 "
      "ON CONFLICT (queue_id) DO UPDATE SET node = EXCLUDED.node, expires = EXCLUDED.expires, "
      "epoch = CASE WHEN mando_leaders.node = EXCLUDED.node THEN mando_leaders.epoch "
      "ELSE mando_leaders.epoch + 1 END, "
      "taken = CASE WHEN mando_leaders.node = EXCLUDED.node THEN mando_leaders.taken "
      "ELSE EXCLUDED.taken END "
      "WHERE mando_leaders.node = EXCLUDED.node OR mando_leaders.expires <= {0} "
      "RETURNING epoch",
      kDbNow);
  auto rows = (*c)->exec(kSql, queue.full(), node, micros(ttl));
  if (!rows) return tl::unexpected(rows.error());
  std::lock_guard lock(terms_mutex_);
  if (rows->empty()) {
    // Another node leads. Leasing without a term would be unfenced: keep a term that can
    // never match, so this store leases nothing of the queue until it leads again.
    terms_.insert_or_assign(queue.full(), std::pair<std::string, std::int64_t>{node, -1});
    return std::optional<Term>();
  }
  const std::int64_t epoch = rows->int64(0, 0);
  terms_.insert_or_assign(queue.full(), std::pair<std::string, std::int64_t>{node, epoch});
  return std::optional<Term>(Term{epoch});
}

void PostgresTaskStore::resign_leadership(const std::string& node) {
  {
    std::lock_guard lock(terms_mutex_);
    std::erase_if(terms_, [&](const auto& entry) { return entry.second.first == node; });
  }
  auto c = pool_.acquire();
  if (!c) return;
  // Expired rather than deleted, so epochs keep counting up.
  if (auto ok = (*c)->exec("UPDATE mando_leaders SET expires = 0 WHERE node = $1", node); !ok) {
    core::logger("queue")->warn("resigning the leadership of node={} failed: {}", node,
                                ok.error().message);
  }
}

// Changes.

void PostgresTaskStore::announce(std::string_view channel, const std::string& queue) {
  {
    std::lock_guard lock(notify_mutex_);
    to_notify_.emplace(channel, queue);
  }
  notify_ready_.notify_one();
}

void PostgresTaskStore::notifier_loop() {
  auto log = core::logger("queue");
  std::unique_lock lock(notify_mutex_);
  for (;;) {
    notify_ready_.wait(lock, [&] { return stopping_.load() || !to_notify_.empty(); });
    if (to_notify_.empty()) return;  // stopping, and everything was said
    auto batch = std::move(to_notify_);
    to_notify_.clear();
    lock.unlock();
    // Creates that committed while this batch was being sent gather into the next one: one
    // NOTIFY per queue and round, never one per task, and never inside a create's commit.
    auto c = pool_.acquire();
    for (const auto& [channel, queue] : batch) {
      auto ok = c ? (*c)->exec("SELECT pg_notify($1, $2)", channel, queue)
                  : Result<core::pg::Rows>(tl::unexpected(c.error()));
      if (!ok) {
        log->warn("postgres notify channel={} queue={} failed (the dispatchers' poll finds it): {}",
                  channel, queue, ok.error().message);
      }
    }
    lock.lock();
  }
}

void PostgresTaskStore::watch(std::function<void(const Change&)> on_change) {
  std::promise<void> subscribed;
  auto first = subscribed.get_future();
  listener_thread_ = std::thread(
      [this, on_change = std::move(on_change), subscribed = std::move(subscribed)]() mutable {
        listen(on_change, subscribed);
      });
  // Changes made after watch() returns are heard (unless the server cannot be reached now, in
  // which case the listener keeps trying and reports "anything may have changed" once in).
  first.wait();
}

void PostgresTaskStore::listen(const std::function<void(const Change&)>& on_change,
                               std::promise<void>& subscribed) {
  auto log = core::logger("queue");
  bool heard_before = false;
  bool told = false;
  auto tell = [&] {
    if (!told) subscribed.set_value();
    told = true;
  };
  while (!stopping_.load()) {
    auto c = core::pg::Connection::open(options_.pool.connect);
    if (c) {
      if (auto ok =
              (*c)->exec_script(fmt::format("LISTEN {}; LISTEN {}", kTaskChannel, kQueueChannel));
          !ok) {
        c = tl::unexpected(ok.error());
      }
    }
    if (!c) {
      log->warn("postgres listener cannot connect, retrying in 1 s: {}", c.error().message);
      heard_before = true;  // whatever happens until it connects is missed
      tell();
      wait_for_stop_or(-1, std::chrono::seconds(1));
      continue;
    }
    // What was said while nobody listened is lost: everything may have changed.
    if (heard_before) on_change(Change{Change::Kind::kQueue, ""});
    heard_before = true;
    tell();
    while (!stopping_.load()) {
      if (!wait_for_stop_or((*c)->socket(), std::chrono::minutes(1))) break;
      auto heard = (*c)->notifications();
      if (!heard) {
        log->warn("postgres listener lost its connection, reconnecting: {}", heard.error().message);
        break;
      }
      for (auto& [channel, queue] : *heard) {
        on_change(Change{channel == kQueueChannel ? Change::Kind::kQueue : Change::Kind::kTask,
                         std::move(queue)});
      }
    }
  }
  tell();
}

bool PostgresTaskStore::wait_for_stop_or(int fd, std::chrono::milliseconds limit) {
  pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
  ::poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(limit.count()));
  return !stopping_.load();
}

}  // namespace mando::queue
