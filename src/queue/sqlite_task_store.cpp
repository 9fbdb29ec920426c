#include "queue/sqlite_task_store.hpp"

#include <string>

#include <fmt/format.h>

#include "core/log.hpp"
#include "core/sqlite.hpp"
#include "queue/store_rows.hpp"

namespace mando::queue {
namespace {

using namespace rows;

constexpr std::size_t kMaxBatch = 1024;     // writes per group-commit transaction
constexpr std::size_t kMaxIdleReaders = 4;  // read connections kept open between reads

// The schema of version 1. `due` is what lease_due() and next_due() read: the schedule time of
// a pending task, the lease expiry of a leased one, NULL for a dead letter; the partial index
// holds only the tasks that can become due.
constexpr const char* kSchema = R"sql(
CREATE TABLE queues (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  parent TEXT NOT NULL,
  max_dispatches_per_second REAL NOT NULL,
  max_burst_size INTEGER NOT NULL,
  max_concurrent_dispatches INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  max_retry_duration INTEGER NOT NULL,
  min_backoff INTEGER NOT NULL,
  max_backoff INTEGER NOT NULL,
  max_doublings INTEGER NOT NULL,
  state INTEGER NOT NULL,
  worker_base_url TEXT NOT NULL,
  purge_time INTEGER
);
CREATE INDEX queues_by_parent ON queues (parent, name);
CREATE TABLE tasks (
  queue_id INTEGER NOT NULL,
  task TEXT NOT NULL,
  kind INTEGER NOT NULL,
  url TEXT NOT NULL,
  method INTEGER NOT NULL,
  headers BLOB NOT NULL,
  body BLOB NOT NULL,
  schedule_time INTEGER NOT NULL,
  create_time INTEGER NOT NULL,
  dispatch_deadline INTEGER NOT NULL,
  dispatch_count INTEGER NOT NULL,
  response_count INTEGER NOT NULL,
  fa_schedule INTEGER, fa_dispatch INTEGER, fa_response INTEGER, fa_status INTEGER, fa_error TEXT,
  la_schedule INTEGER, la_dispatch INTEGER, la_response INTEGER, la_status INTEGER, la_error TEXT,
  state INTEGER NOT NULL,
  due INTEGER,
  UNIQUE (queue_id, task)
);
CREATE INDEX tasks_by_due ON tasks (queue_id, due) WHERE due IS NOT NULL;
CREATE TABLE tombstones (
  queue_id INTEGER NOT NULL,
  task TEXT NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (queue_id, task)
) WITHOUT ROWID;
CREATE INDEX tombstones_by_time ON tombstones (time);
)sql";

// Leases a task (state kLeased) until the bound time (now + margin) plus its dispatch deadline.
constexpr std::string_view kLeaseUpdate =
    "UPDATE tasks SET state = 1, due = ? + dispatch_deadline, dispatch_count = dispatch_count + 1";

using core::sqlite::Blob;
using core::sqlite::Connection;
using core::sqlite::Statement;

core::sqlite::OpenOptions open_options(const SqliteOptions& options, bool writer) {
  return core::sqlite::OpenOptions{
      .path = options.path,
      .writer = writer,
      .synchronous_full = options.synchronous == SqliteOptions::Synchronous::kFull,
      .busy_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.busy_timeout),
      .cache_kib = options.cache_kib};
}

Result<void> migrate(Connection& c) {
  return core::sqlite::migrate(c, "database", SqliteTaskStore::kSchemaVersion, kSchema);
}

Result<std::int64_t> queue_id(Connection& c, const QueueName& name) {
  auto st = c.prepare("SELECT id FROM queues WHERE name = ?");
  auto full = name.full();
  auto row = st.bind(full).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return tl::unexpected(not_found("queue", full));
  return st.int64(0);
}

Result<Queue> select_queue(Connection& c, const QueueName& name) {
  static const std::string kSql =
      fmt::format("SELECT {} FROM queues WHERE name = ?", kQueueColumns);
  auto st = c.prepare(kSql);
  auto full = name.full();
  auto row = st.bind(full).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return tl::unexpected(not_found("queue", full));
  return read_queue(st);
}

// Binds the settings of `q` as the first ten parameters, in the order of kQueueColumns.
void bind_settings(Statement& st, const Queue& q) {
  st.bind(q.rate_limits.max_dispatches_per_second, q.rate_limits.max_burst_size,
          q.rate_limits.max_concurrent_dispatches, q.retry_config.max_attempts,
          micros(q.retry_config.max_retry_duration), micros(q.retry_config.min_backoff),
          micros(q.retry_config.max_backoff), q.retry_config.max_doublings,
          static_cast<int>(q.state), q.worker_base_url);
}

// Every row of `st` as a task (lists, leases).
Result<void> read_tasks(Statement& st, const QueueName& queue, std::vector<Task>& out) {
  for (;;) {
    auto row = st.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return {};
    auto task = read_task(st, queue);
    if (!task) return tl::unexpected(task.error());
    out.push_back(std::move(*task));
  }
}

// The rowid of `name` when its lease is the one numbered `dispatch_count` (step 3 of
// task_store.hpp): kFailedPrecondition when another dispatch or a report came since.
Result<std::int64_t> fenced_rowid(Connection& c, std::int64_t queue, const TaskName& name,
                                  int dispatch_count) {
  auto st =
      c.prepare("SELECT rowid, dispatch_count, state FROM tasks WHERE queue_id = ? AND task = ?");
  auto row = st.bind(queue, name.task).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return tl::unexpected(not_found("task", name.full()));
  const auto current = st.int64(1);
  if (current != dispatch_count || st.int64(2) != static_cast<int>(TaskState::kLeased)) {
    return tl::unexpected(
        stale_lease(name, dispatch_count, current, static_cast<TaskState>(st.int64(2))));
  }
  return st.int64(0);
}

Result<void> write_tombstone(Connection& c, std::int64_t queue, const std::string& task,
                             TimePoint now) {
  return c.prepare("INSERT OR REPLACE INTO tombstones (queue_id, task, time) VALUES (?, ?, ?)")
      .bind(queue, task, micros(now))
      .run();
}

}  // namespace

Result<std::unique_ptr<SqliteTaskStore>> SqliteTaskStore::open(SqliteOptions options) {
  std::error_code ec;
  if (options.path.has_parent_path()) {
    std::filesystem::create_directories(options.path.parent_path(), ec);
    if (ec) {
      return mando::fail(ErrorKind::kUnavailable,
                         fmt::format("sqlite: cannot create the directory of {}: {}",
                                     options.path.string(), ec.message()));
    }
  }
  std::optional<core::FileLock> owner;
  if (options.exclusive) {
    auto lock = core::FileLock::acquire(options.path.string() + ".lock");
    if (!lock) {
      if (lock.error().kind != ErrorKind::kFailedPrecondition) return tl::unexpected(lock.error());
      return mando::fail(
          ErrorKind::kFailedPrecondition,
          fmt::format("another mando dispatches from this store ({}): two dispatchers on one "
                      "SQLite file would take each other's leases and double every rate limit. "
                      "Stop the other one, give this one its own data_dir, or run it without "
                      "the dispatcher role (--role ingress,worker with [queue] url)",
                      lock.error().message));
    }
    owner = std::move(*lock);
  }
  auto writer = Connection::open(open_options(options, true));
  if (!writer) return tl::unexpected(writer.error());
  if (auto ok = migrate(**writer); !ok) return tl::unexpected(ok.error());
  return std::unique_ptr<SqliteTaskStore>(
      new SqliteTaskStore(std::move(options), std::move(owner), std::move(*writer)));
}

SqliteTaskStore::SqliteTaskStore(SqliteOptions options, std::optional<core::FileLock> owner,
                                 std::unique_ptr<Connection> writer)
    : options_(std::move(options)), owner_(std::move(owner)), writer_(std::move(writer)) {
  writer_thread_ = std::thread([this] { writer_loop(); });
}

SqliteTaskStore::~SqliteTaskStore() {
  {
    std::lock_guard lock(write_mutex_);
    stop_ = true;
  }
  write_ready_.notify_one();
  writer_thread_.join();
}

template <typename T>
Result<T> SqliteTaskStore::write(std::function<Result<T>(Connection&)> fn) {
  std::optional<Result<T>> answer;
  Write w([&](Connection& c) -> Result<void> {
    answer = fn(c);
    if (!*answer) return tl::unexpected(answer->error());
    return {};
  });
  {
    std::lock_guard lock(write_mutex_);
    pending_.push_back(&w);
  }
  write_ready_.notify_one();
  w.finished.acquire();
  if (!w.outcome) return tl::unexpected(w.outcome.error());
  return std::move(*answer);
}

void SqliteTaskStore::writer_loop() {
  std::vector<Write*> batch;
  for (;;) {
    {
      std::unique_lock lock(write_mutex_);
      write_ready_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and every write was answered
      while (!pending_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(pending_.front());
        pending_.pop_front();
      }
    }
    run_batch(batch);
    // `w` may be gone as soon as its semaphore is released.
    for (Write* w : batch) w->finished.release();
    batch.clear();
  }
}

void SqliteTaskStore::run_batch(std::vector<Write*>& batch) {
  Connection& c = *writer_;
  auto fail_all = [&](const Error& error) {
    if (c.in_transaction()) (void)c.exec("ROLLBACK");
    core::logger("queue")->error("sqlite batch failed writes={} error=\"{}\"", batch.size(),
                                 error.message);
    for (Write* w : batch) w->outcome = tl::unexpected(error);
  };
  if (auto ok = c.exec("BEGIN IMMEDIATE"); !ok) return fail_all(ok.error());
  for (Write* w : batch) {
    if (auto ok = c.exec("SAVEPOINT write"); !ok) return fail_all(ok.error());
    w->outcome = w->run(c);
    if (!c.in_transaction()) {
      // SQLite rolled the whole transaction back (disk full, I/O error): the writes before this
      // one are gone too.
      return fail_all(
          w->outcome ? Error{ErrorKind::kUnavailable, "sqlite: the transaction was rolled back"}
                     : w->outcome.error());
    }
    auto end = w->outcome ? c.exec("RELEASE write") : c.exec("ROLLBACK TO write");
    if (end && !w->outcome) end = c.exec("RELEASE write");
    if (!end) return fail_all(end.error());
  }
  if (auto ok = c.exec("COMMIT"); !ok) return fail_all(ok.error());
}

void SqliteTaskStore::ReaderDeleter::operator()(Connection* connection) const {
  std::unique_ptr<Connection> owned(connection);
  std::lock_guard lock(store->readers_mutex_);
  if (store->idle_readers_.size() < kMaxIdleReaders) {
    store->idle_readers_.push_back(std::move(owned));
  }
}

Result<SqliteTaskStore::Reader> SqliteTaskStore::reader() {
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      Reader r(idle_readers_.back().release(), ReaderDeleter{this});
      idle_readers_.pop_back();
      return r;
    }
  }
  auto opened = Connection::open(open_options(options_, false));
  if (!opened) return tl::unexpected(opened.error());
  return Reader(opened->release(), ReaderDeleter{this});
}

// Queues.

Result<Queue> SqliteTaskStore::create_queue(const Queue& queue) {
  if (auto ok = validate(queue); !ok) return tl::unexpected(ok.error());
  return write<Queue>([&](Connection& c) -> Result<Queue> {
    static const std::string kSql = fmt::format(
        "INSERT INTO queues ({}, name, parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        kQueueColumns.substr(kQueueColumns.find(',') + 2));
    auto st = c.prepare(kSql);
    bind_settings(st, queue);
    auto ok = st.bind(micros(queue.purge_time), queue.name.full(), queue.name.parent()).run();
    if (!ok && ok.error().kind == ErrorKind::kAlreadyExists) {
      return mando::fail(ErrorKind::kAlreadyExists,
                         fmt::format("queue {} already exists", queue.name.full()));
    }
    if (!ok) return tl::unexpected(ok.error());
    return queue;
  });
}

Result<Queue> SqliteTaskStore::get_queue(const QueueName& name) {
  auto c = reader();
  if (!c) return tl::unexpected(c.error());
  return select_queue(**c, name);
}

Result<Page<Queue>> SqliteTaskStore::list_queues(const std::string& parent, int page_size,
                                                 const std::string& page_token) {
  auto after = decode_page_token('q', page_token);
  if (!after) return tl::unexpected(after.error());
  // An empty parent lists every queue (the dispatcher's start-up).
  const auto prefix = parent + "/queues/";
  if (!parent.empty() && !after->empty() && !after->starts_with(prefix)) {
    return mando::fail(ErrorKind::kInvalidArgument, "pageToken: belongs to another parent");
  }
  auto c = reader();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "SELECT {} FROM queues WHERE (?1 = '' OR parent = ?1) AND name > ?2 ORDER BY name LIMIT ?3",
      kQueueColumns);
  const int size = page_size_or_default(page_size);
  auto st = (*c)->prepare(kSql);
  st.bind(parent, *after, size + 1);
  Page<Queue> page;
  for (;;) {
    auto row = st.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    if (static_cast<int>(page.items.size()) == size) {
      page.next_page_token = encode_page_token('q', page.items.back().name.full());
      break;
    }
    auto queue = read_queue(st);
    if (!queue) return tl::unexpected(queue.error());
    page.items.push_back(std::move(*queue));
  }
  return page;
}

Result<Queue> SqliteTaskStore::update_queue(const Queue& queue) {
  if (auto ok = validate(queue); !ok) return tl::unexpected(ok.error());
  return write<Queue>([&](Connection& c) -> Result<Queue> {
    auto st = c.prepare(
        "UPDATE queues SET max_dispatches_per_second = ?1, max_burst_size = ?2, "
        "max_concurrent_dispatches = ?3, max_attempts = ?4, max_retry_duration = ?5, "
        "min_backoff = ?6, max_backoff = ?7, max_doublings = ?8, state = ?9, "
        "worker_base_url = ?10 WHERE name = ?11");
    bind_settings(st, queue);
    if (auto ok = st.bind(queue.name.full()).run(); !ok) return tl::unexpected(ok.error());
    if (c.changes() == 0) return tl::unexpected(not_found("queue", queue.name.full()));
    return select_queue(c, queue.name);
  });
}

Result<void> SqliteTaskStore::delete_queue(const QueueName& name) {
  return write<void>([&](Connection& c) -> Result<void> {
    auto id = queue_id(c, name);
    if (!id) return tl::unexpected(id.error());
    for (const char* sql :
         {"DELETE FROM tasks WHERE queue_id = ?", "DELETE FROM tombstones WHERE queue_id = ?",
          "DELETE FROM queues WHERE id = ?"}) {
      if (auto ok = c.prepare(sql).bind(*id).run(); !ok) return ok;
    }
    return {};
  });
}

Result<Queue> SqliteTaskStore::purge_queue(const QueueName& name, TimePoint before) {
  return write<Queue>([&](Connection& c) -> Result<Queue> {
    auto id = queue_id(c, name);
    if (!id) return tl::unexpected(id.error());
    auto purged = c.prepare("DELETE FROM tasks WHERE queue_id = ? AND create_time < ?")
                      .bind(*id, micros(before))
                      .run();
    if (!purged) return tl::unexpected(purged.error());
    auto ok =
        c.prepare("UPDATE queues SET purge_time = ? WHERE id = ?").bind(micros(before), *id).run();
    if (!ok) return tl::unexpected(ok.error());
    return select_queue(c, name);
  });
}

// Tasks.

Result<Task> SqliteTaskStore::create_task(const Task& task, Micros dedup_window, TimePoint now) {
  return write<Task>([&](Connection& c) -> Result<Task> {
    auto id = queue_id(c, task.name.queue);
    if (!id) return tl::unexpected(id.error());
    auto tombstone = c.prepare("SELECT time FROM tombstones WHERE queue_id = ? AND task = ?");
    auto row = tombstone.bind(*id, task.name.task).step();
    if (!row) return tl::unexpected(row.error());
    if (*row && now - time_point(tombstone.int64(0)) < dedup_window) {
      return tl::unexpected(duplicate_task(task.name, true));
    }

    const Task stored = new_task(task, now);
    auto insert = c.prepare(
        "INSERT INTO tasks (queue_id, task, kind, url, method, headers, body, schedule_time, "
        "create_time, dispatch_deadline, dispatch_count, response_count, state, due) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0, 0, ?8)");
    const auto headers = encode_headers(stored.request.headers);
    insert.bind(*id, stored.name.task, static_cast<int>(stored.request.kind), stored.request.url,
                static_cast<int>(stored.request.method), Blob{headers}, Blob{stored.request.body},
                micros(stored.schedule_time), micros(now), micros(stored.dispatch_deadline));
    auto ok = insert.run();
    if (!ok && ok.error().kind == ErrorKind::kAlreadyExists) {
      return tl::unexpected(duplicate_task(task.name, false));
    }
    if (!ok) return tl::unexpected(ok.error());
    return stored;
  });
}

Result<Task> SqliteTaskStore::get_task(const TaskName& name) {
  auto c = reader();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "SELECT {} FROM tasks WHERE queue_id = (SELECT id FROM queues WHERE name = ?) AND task = ?",
      kTaskColumns);
  auto st = (*c)->prepare(kSql);
  auto row = st.bind(name.queue.full(), name.task).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return tl::unexpected(not_found("task", name.full()));
  return read_task(st, name.queue);
}

Result<Page<Task>> SqliteTaskStore::list_tasks(const QueueName& queue, TaskFilter filter,
                                               int page_size, const std::string& page_token) {
  auto after = decode_page_token('t', page_token);
  if (!after) return tl::unexpected(after.error());
  auto c = reader();
  if (!c) return tl::unexpected(c.error());
  auto id = queue_id(**c, queue);
  if (!id) return tl::unexpected(id.error());
  static const std::string kSql = fmt::format(
      "SELECT {} FROM tasks WHERE queue_id = ?1 AND task > ?2 AND (?3 = 0 OR (?3 = 1 AND state "
      "!= 2) OR (?3 = 2 AND state = 2)) ORDER BY task LIMIT ?4",
      kTaskColumns);
  static_assert(static_cast<int>(TaskState::kFailed) == 2);
  const int size = page_size_or_default(page_size);
  const int filter_code = filter == TaskFilter::kAll ? 0 : filter == TaskFilter::kPending ? 1 : 2;
  auto st = (*c)->prepare(kSql);
  st.bind(*id, *after, filter_code, size + 1);
  Page<Task> page;
  if (auto ok = read_tasks(st, queue, page.items); !ok) return tl::unexpected(ok.error());
  if (static_cast<int>(page.items.size()) > size) {
    page.items.pop_back();
    page.next_page_token = encode_page_token('t', page.items.back().name.task);
  }
  return page;
}

Result<void> SqliteTaskStore::delete_task(const TaskName& name, TimePoint now) {
  return write<void>([&](Connection& c) -> Result<void> {
    auto id = queue_id(c, name.queue);
    if (!id) return tl::unexpected(id.error());
    auto ok =
        c.prepare("DELETE FROM tasks WHERE queue_id = ? AND task = ?").bind(*id, name.task).run();
    if (!ok) return ok;
    if (c.changes() == 0) return tl::unexpected(not_found("task", name.full()));
    return write_tombstone(c, *id, name.task, now);
  });
}

Result<Task> SqliteTaskStore::run_task(const TaskName& name, TimePoint now, Micros margin) {
  return write<Task>([&](Connection& c) -> Result<Task> {
    auto id = queue_id(c, name.queue);
    if (!id) return tl::unexpected(id.error());
    static const std::string kSql =
        fmt::format("{} WHERE queue_id = ? AND task = ? RETURNING {}", kLeaseUpdate, kTaskColumns);
    auto st = c.prepare(kSql);
    auto row = st.bind(micros(now + margin), *id, name.task).step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return tl::unexpected(not_found("task", name.full()));
    return read_task(st, name.queue);
  });
}

Result<void> SqliteTaskStore::reset_deduplication() {
  return write<void>([](Connection& c) { return c.exec("DELETE FROM tombstones"); });
}

Result<std::int64_t> SqliteTaskStore::prune_tombstones(TimePoint before) {
  return write<std::int64_t>([&](Connection& c) -> Result<std::int64_t> {
    auto ok = c.prepare("DELETE FROM tombstones WHERE time < ?").bind(micros(before)).run();
    if (!ok) return tl::unexpected(ok.error());
    return c.changes();
  });
}

// Dispatch.

Result<std::vector<Task>> SqliteTaskStore::lease_due(const QueueName& queue, TimePoint now, int max,
                                                     Micros margin) {
  return write<std::vector<Task>>([&](Connection& c) -> Result<std::vector<Task>> {
    auto id = queue_id(c, queue);
    if (!id) return tl::unexpected(id.error());
    std::vector<std::int64_t> rowids;
    {
      // Pending tasks whose schedule time came and leased ones whose lease expired alike: both
      // have due <= now. The index gives them in due order.
      auto st =
          c.prepare("SELECT rowid FROM tasks WHERE queue_id = ? AND due <= ? ORDER BY due LIMIT ?");
      st.bind(*id, micros(now), std::max(max, 0));
      for (;;) {
        auto row = st.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        rowids.push_back(st.int64(0));
      }
    }
    static const std::string kSql =
        fmt::format("{} WHERE rowid = ? RETURNING {}", kLeaseUpdate, kTaskColumns);
    std::vector<Task> leased;
    leased.reserve(rowids.size());
    for (auto rowid : rowids) {
      auto st = c.prepare(kSql);
      st.bind(micros(now + margin), rowid);
      if (auto ok = read_tasks(st, queue, leased); !ok) return tl::unexpected(ok.error());
    }
    return leased;
  });
}

Result<std::int64_t> SqliteTaskStore::release_leases(const QueueName& queue, TimePoint now) {
  return write<std::int64_t>([&](Connection& c) -> Result<std::int64_t> {
    auto id = queue_id(c, queue);
    if (!id) return tl::unexpected(id.error());
    // The dispatch count stays: a late report of a released lease finds the task pending and is
    // refused as stale. Due at their schedule time (or now, for a task run ahead of it), the
    // released tasks keep their place instead of queueing behind the whole backlog.
    auto ok = c.prepare(
                   "UPDATE tasks SET state = 0, due = MIN(schedule_time, ?) "
                   "WHERE queue_id = ? AND state = 1")
                  .bind(micros(now), *id)
                  .run();
    if (!ok) return tl::unexpected(ok.error());
    return c.changes();
  });
}

Result<std::optional<TimePoint>> SqliteTaskStore::next_due(const QueueName& queue) {
  auto c = reader();
  if (!c) return tl::unexpected(c.error());
  auto id = queue_id(**c, queue);
  if (!id) return tl::unexpected(id.error());
  auto st = (*c)->prepare(
      "SELECT due FROM tasks WHERE queue_id = ? AND due IS NOT NULL ORDER BY due LIMIT 1");
  auto row = st.bind(*id).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return std::optional<TimePoint>();
  return std::optional<TimePoint>(time_point(st.int64(0)));
}

Result<void> SqliteTaskStore::complete_on(Connection& c, const TaskName& name, int dispatch_count,
                                          TimePoint now) {
  auto id = queue_id(c, name.queue);
  if (!id) return tl::unexpected(id.error());
  auto rowid = fenced_rowid(c, *id, name, dispatch_count);
  if (!rowid) return tl::unexpected(rowid.error());
  if (auto ok = c.prepare("DELETE FROM tasks WHERE rowid = ?").bind(*rowid).run(); !ok) {
    return ok;
  }
  return write_tombstone(c, *id, name.task, now);
}

Result<void> SqliteTaskStore::complete(const TaskName& name, int dispatch_count, const Attempt&,
                                       TimePoint now) {
  return write<void>(
      [&](Connection& c) -> Result<void> { return complete_on(c, name, dispatch_count, now); });
}

Result<void> SqliteTaskStore::retry(const TaskName& name, int dispatch_count,
                                    const Attempt& attempt, TimePoint next_schedule_time) {
  return write<void>([&](Connection& c) -> Result<void> {
    return report_on(c, name, dispatch_count, attempt, TaskState::kPending, next_schedule_time);
  });
}

Result<void> SqliteTaskStore::fail(const TaskName& name, int dispatch_count,
                                   const Attempt& attempt) {
  return write<void>([&](Connection& c) -> Result<void> {
    return report_on(c, name, dispatch_count, attempt, TaskState::kFailed, std::nullopt);
  });
}

Result<void> SqliteTaskStore::report_on(Connection& c, const TaskName& name, int dispatch_count,
                                        const Attempt& attempt, TaskState state,
                                        std::optional<TimePoint> next_schedule_time) {
  auto id = queue_id(c, name.queue);
  if (!id) return tl::unexpected(id.error());
  auto rowid = fenced_rowid(c, *id, name, dispatch_count);
  if (!rowid) return tl::unexpected(rowid.error());
  // Right-hand sides read the row as it was, so `fa_schedule IS NULL` means "first report".
  auto st = c.prepare(
      "UPDATE tasks SET state = ?1, schedule_time = COALESCE(?2, schedule_time), due = ?2, "
      "response_count = response_count + ?3, "
      "la_schedule = ?4, la_dispatch = ?5, la_response = ?6, la_status = ?7, la_error = ?8, "
      "fa_dispatch = CASE WHEN fa_schedule IS NULL THEN ?5 ELSE fa_dispatch END, "
      "fa_response = CASE WHEN fa_schedule IS NULL THEN ?6 ELSE fa_response END, "
      "fa_status = CASE WHEN fa_schedule IS NULL THEN ?7 ELSE fa_status END, "
      "fa_error = CASE WHEN fa_schedule IS NULL THEN ?8 ELSE fa_error END, "
      "fa_schedule = COALESCE(fa_schedule, ?4) "
      "WHERE rowid = ?9");
  st.bind(static_cast<int>(state), micros(next_schedule_time), attempt.http_status != 0 ? 1 : 0,
          micros(attempt.schedule_time), micros(attempt.dispatch_time),
          micros(attempt.response_time), attempt.http_status, attempt.error, *rowid);
  return st.run();
}

std::vector<Result<void>> SqliteTaskStore::report_all(const std::vector<Report>& reports) {
  std::vector<Result<void>> results(reports.size());
  // One write for the whole batch; each report's own failure (a stale lease) is its answer and
  // leaves the others alone, since each fails before it changes anything.
  auto batch = write<void>([&](Connection& c) -> Result<void> {
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
    }
    return {};
  });
  if (!batch) std::fill(results.begin(), results.end(), batch);
  return results;
}

Result<void> SqliteTaskStore::check_integrity() {
  auto c = reader();
  if (!c) return tl::unexpected(c.error());
  auto st = (*c)->prepare("PRAGMA integrity_check");
  std::string findings;
  for (;;) {
    auto row = st.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    auto line = st.text(0);
    if (line != "ok") findings += (findings.empty() ? "" : "; ") + line;
  }
  if (!findings.empty())
    return mando::fail(ErrorKind::kInternal, "sqlite integrity_check: " + findings);
  return {};
}

}  // namespace mando::queue
