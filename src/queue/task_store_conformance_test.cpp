// The TaskStore conformance suite: every case runs over each store (SQLite in a temp dir,
// PostgreSQL in a throwaway cluster of its own), so both keep exactly the promises of
// task_store.hpp. What only one store has is tested beside it (sqlite_task_store_test.cpp,
// postgres_task_store_test.cpp).

#include <atomic>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "queue/postgres_task_store.hpp"
#include "queue/sqlite_task_store.hpp"
#include "support/postgres_cluster.hpp"
#include "support/task_store_cases.hpp"
#include "support/temp_dir.hpp"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mando::queue {
namespace {

using namespace std::chrono_literals;
using namespace testing::store_cases;

// A store in a temp dir, opened again on the same file.
struct SqliteBackend {
  testing::TempDir dir;
  std::unique_ptr<TaskStore> open() {
    SqliteOptions options;
    options.path = dir.path() / "db" / "queue.sqlite3";
    auto store = SqliteTaskStore::open(options);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  void check_integrity() {
    SqliteOptions options;
    options.path = dir.path() / "db" / "queue.sqlite3";
    auto store = SqliteTaskStore::open(options);
    ASSERT_TRUE(store) << store.error().message;
    auto ok = (*store)->check_integrity();
    EXPECT_TRUE(ok) << ok.error().message;
  }
};

// A cluster of its own, migrated; a store opened again is a new pool of connections.
struct PostgresBackend {
  PostgresBackend() {
    auto c = core::pg::Connection::open({.url = cluster.url()});
    EXPECT_TRUE(c) << c.error().message;
    if (!c) return;
    auto migrated =
        core::pg::migrate(**c, PostgresTaskStore::kComponent, PostgresTaskStore::migrations());
    EXPECT_TRUE(migrated) << migrated.error().message;
  }
  std::unique_ptr<TaskStore> open() {
    PostgresOptions options;
    options.pool.connect.url = cluster.url();
    auto store = PostgresTaskStore::open(options);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  // PostgreSQL checks its own pages; what can be checked here is that the tables agree.
  void check_integrity() {
    auto c = core::pg::Connection::open({.url = cluster.url()});
    ASSERT_TRUE(c) << c.error().message;
    auto orphans = (*c)->exec(
        "SELECT count(*) FROM mando_tasks t LEFT JOIN mando_queues q ON q.id = t.queue_id "
        "WHERE q.id IS NULL");
    ASSERT_TRUE(orphans) << orphans.error().message;
    EXPECT_EQ(orphans->int64(0, 0), 0);
  }
  testing::PostgresCluster cluster;
};

template <typename Backend>
class TaskStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = backend_.open();
    ASSERT_TRUE(store_);
    ASSERT_TRUE(store_->create_queue(make_queue(queue_name())));
  }

  void reopen() {
    store_.reset();
    store_ = backend_.open();
    ASSERT_TRUE(store_);
  }

  // Creates `id` and asserts it worked.
  void create(const std::string& id, TimePoint schedule = kT0, TimePoint now = kT0) {
    auto created = store_->create_task(make_task(id, schedule), kWindow, now);
    ASSERT_TRUE(created) << created.error().message;
  }

  // Leases `id` alone (it must be the only due task) and answers its dispatch count.
  int lease_one(TimePoint now) {
    auto leased = store_->lease_due(queue_name(), now, 10, kMargin);
    EXPECT_TRUE(leased) << leased.error().message;
    EXPECT_EQ(leased->size(), 1u);
    return leased->empty() ? -1 : leased->front().dispatch_count;
  }

  Backend backend_;
  std::unique_ptr<TaskStore> store_;
};

struct BackendNames {
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, SqliteBackend> ? "Sqlite" : "Postgres";
  }
};
using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;
TYPED_TEST_SUITE(TaskStoreConformance, Backends, BackendNames);

TYPED_TEST(TaskStoreConformance, QueueLifecycle) {
  EXPECT_EQ(this->store_->create_queue(make_queue(queue_name())).error().kind,
            ErrorKind::kAlreadyExists);
  auto bad = make_queue(queue_name("other"));
  bad.rate_limits.max_dispatches_per_second = 0;
  EXPECT_EQ(this->store_->create_queue(bad).error().kind, ErrorKind::kInvalidArgument);

  auto changed = make_queue(queue_name());
  changed.rate_limits.max_dispatches_per_second = 2.5;
  changed.retry_config.max_attempts = -1;
  changed.retry_config.min_backoff = 1s;
  changed.state = QueueState::kPaused;
  changed.worker_base_url = "http://127.0.0.1:9000";
  auto updated = this->store_->update_queue(changed);
  ASSERT_TRUE(updated) << updated.error().message;
  auto got = this->store_->get_queue(queue_name());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->rate_limits.max_dispatches_per_second, 2.5);
  EXPECT_EQ(got->retry_config.max_attempts, -1);
  EXPECT_EQ(got->retry_config.min_backoff, 1s);
  EXPECT_EQ(got->state, QueueState::kPaused);
  EXPECT_EQ(got->worker_base_url, "http://127.0.0.1:9000");
  EXPECT_FALSE(got->purge_time);

  EXPECT_EQ(this->store_->update_queue(make_queue(queue_name("missing"))).error().kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(this->store_->get_queue(queue_name("missing")).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(this->store_->delete_queue(queue_name("missing")).error().kind, ErrorKind::kNotFound);
}

TYPED_TEST(TaskStoreConformance, ListQueuesPagesThroughEveryQueueOnce) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(this->store_->create_queue(make_queue(queue_name(fmt::format("q{}", i)))));
  }
  ASSERT_TRUE(this->store_->create_queue(make_queue({"proj", "elsewhere", "hidden"})));
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = this->store_->list_queues("projects/proj/locations/here", 3, token);
    ASSERT_TRUE(page) << page.error().message;
    for (const auto& q : page->items) seen.push_back(q.name.queue);
    token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"images", "q0", "q1", "q2", "q3", "q4", "q5", "q6"}));

  auto bad = this->store_->list_queues("projects/proj/locations/here", 3, "%%%");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(bad.error().message.starts_with("pageToken:"));
  auto first = this->store_->list_queues("projects/proj/locations/here", 3, "");
  auto foreign =
      this->store_->list_queues("projects/proj/locations/elsewhere", 3, first->next_page_token);
  EXPECT_EQ(foreign.error().kind, ErrorKind::kInvalidArgument);

  // An empty parent lists every queue of every project and location.
  auto all = this->store_->list_queues("", 100, "");
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->items.size(), 9u);
}

TYPED_TEST(TaskStoreConformance, CreateAndGetTask) {
  auto created = this->store_->create_task(make_task("a", TimePoint()), kWindow, kT0);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->schedule_time, kT0) << "an unset schedule time means now";
  EXPECT_EQ(created->create_time, kT0);

  auto task = make_task("b", kT0 + 5s);
  task.request.kind = TaskRequest::Kind::kAppEngine;
  task.request.url = "/work";
  task.request.method = HttpMethod::kPut;
  task.dispatch_deadline = 20s;
  ASSERT_TRUE(this->store_->create_task(task, kWindow, kT0));
  auto got = this->store_->get_task(task.name);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->name, task.name);
  EXPECT_EQ(got->request.kind, TaskRequest::Kind::kAppEngine);
  EXPECT_EQ(got->request.url, "/work");
  EXPECT_EQ(got->request.method, HttpMethod::kPut);
  EXPECT_EQ(got->request.headers, task.request.headers);
  EXPECT_EQ(got->request.body, task.request.body);
  EXPECT_EQ(got->schedule_time, kT0 + 5s);
  EXPECT_EQ(got->create_time, kT0);
  EXPECT_EQ(got->dispatch_deadline, 20s);
  EXPECT_EQ(got->dispatch_count, 0);
  EXPECT_EQ(got->state, TaskState::kPending);
  EXPECT_FALSE(got->first_attempt);

  EXPECT_EQ(this->store_->get_task(task_name("nope")).error().kind, ErrorKind::kNotFound);
  auto orphan = make_task("x");
  orphan.name.queue = queue_name("missing");
  EXPECT_EQ(this->store_->create_task(orphan, kWindow, kT0).error().kind, ErrorKind::kNotFound);
}

TYPED_TEST(TaskStoreConformance, DeduplicatesAgainstLiveTasksAndRecentTombstones) {
  this->create("a");
  auto again = this->store_->create_task(make_task("a"), kWindow, kT0 + 1s);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kAlreadyExists);

  ASSERT_TRUE(this->store_->delete_task(task_name("a"), kT0 + 10s));
  EXPECT_EQ(this->store_->delete_task(task_name("a"), kT0 + 10s).error().kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(
      this->store_->create_task(make_task("a"), kWindow, kT0 + 10s + kWindow - 1us).error().kind,
      ErrorKind::kAlreadyExists);
  EXPECT_TRUE(this->store_->create_task(make_task("a", kT0 + 24h), kWindow, kT0 + 10s + kWindow));

  // A completed task leaves a tombstone too.
  this->create("c");
  const int count = this->lease_one(kT0 + 10s + kWindow);
  ASSERT_TRUE(this->store_->complete(task_name("c"), count, attempt_at(kT0, 200), kT0 + 2h));
  EXPECT_EQ(this->store_->get_task(task_name("c")).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(this->store_->create_task(make_task("c"), kWindow, kT0 + 2h + 1s).error().kind,
            ErrorKind::kAlreadyExists);

  ASSERT_TRUE(this->store_->reset_deduplication());
  EXPECT_TRUE(this->store_->create_task(make_task("c"), kWindow, kT0 + 2h + 1s));
}

TYPED_TEST(TaskStoreConformance, PruneTombstonesForgetsOnlyOldNames) {
  for (auto [id, at] : {std::pair{"old", kT0}, std::pair{"new", kT0 + 1h}}) {
    this->create(id);
    ASSERT_TRUE(this->store_->delete_task(task_name(id), at));
  }
  auto pruned = this->store_->prune_tombstones(kT0 + 30min);
  ASSERT_TRUE(pruned);
  EXPECT_EQ(*pruned, 1);
  // With an infinite window only a remaining tombstone refuses the name.
  EXPECT_TRUE(this->store_->create_task(make_task("old"), Micros::max(), kT0 + 2h));
  EXPECT_EQ(this->store_->create_task(make_task("new"), Micros::max(), kT0 + 2h).error().kind,
            ErrorKind::kAlreadyExists);
}

TYPED_TEST(TaskStoreConformance, ListTasksPagesAndFilters) {
  for (int i = 0; i < 25; ++i) this->create(fmt::format("t{:02}", i));
  // t00 becomes a dead letter.
  ASSERT_TRUE(this->store_->run_task(task_name("t00"), kT0, kMargin));
  ASSERT_TRUE(this->store_->fail(task_name("t00"), 1, attempt_at(kT0, 500)));

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = this->store_->list_tasks(queue_name(), TaskFilter::kAll, 10, token);
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_LE(page->items.size(), 10u);
    for (const auto& t : page->items) seen.push_back(t.name.task);
    token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 25u);

  auto failed = this->store_->list_tasks(queue_name(), TaskFilter::kFailed, 0, "");
  ASSERT_TRUE(failed);
  ASSERT_EQ(failed->items.size(), 1u);
  EXPECT_EQ(failed->items[0].name.task, "t00");
  auto pending = this->store_->list_tasks(queue_name(), TaskFilter::kPending, 0, "");
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->items.size(), 24u);
  EXPECT_TRUE(pending->next_page_token.empty());

  EXPECT_EQ(
      this->store_->list_tasks(queue_name(), TaskFilter::kAll, 10, "bm90IGEgdG9rZW4").error().kind,
      ErrorKind::kInvalidArgument);
  EXPECT_EQ(this->store_->list_tasks(queue_name("missing"), TaskFilter::kAll, 10, "").error().kind,
            ErrorKind::kNotFound);
}

TYPED_TEST(TaskStoreConformance, PageSizeDefaultsToOneHundred) {
  // Created from several threads so the group commit keeps this test fast.
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 101; i += 8) {
        EXPECT_TRUE(this->store_->create_task(make_task(fmt::format("t{:03}", i)), kWindow, kT0));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto first = this->store_->list_tasks(queue_name(), TaskFilter::kAll, 0, "");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->items.size(), 100u);
  auto rest = this->store_->list_tasks(queue_name(), TaskFilter::kAll, -1, first->next_page_token);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].name.task, "t100");
  EXPECT_TRUE(rest->next_page_token.empty());
}

TYPED_TEST(TaskStoreConformance, LeaseDuePicksDueTasksInOrder) {
  this->create("late", kT0 + 20s);
  this->create("early", kT0 + 5s);
  this->create("future", kT0 + 1h);
  auto next = this->store_->next_due(queue_name());
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kT0 + 5s);

  EXPECT_TRUE(this->store_->lease_due(queue_name(), kT0, 10, kMargin)->empty());
  auto leased = this->store_->lease_due(queue_name(), kT0 + 30s, 10, kMargin);
  ASSERT_TRUE(leased) << leased.error().message;
  ASSERT_EQ(leased->size(), 2u);
  EXPECT_EQ((*leased)[0].name.task, "early");
  EXPECT_EQ((*leased)[1].name.task, "late");
  EXPECT_EQ((*leased)[0].state, TaskState::kLeased);
  EXPECT_EQ((*leased)[0].dispatch_count, 1);
  EXPECT_EQ(*this->store_->next_due(queue_name()), kT0 + 30s + kLease);

  // `max` bounds a lease.
  EXPECT_EQ(this->store_->lease_due(queue_name(), kT0 + 2h, 1, kMargin)->size(), 1u);
  EXPECT_EQ(this->store_->lease_due(queue_name("missing"), kT0, 1, kMargin).error().kind,
            ErrorKind::kNotFound);
}

TYPED_TEST(TaskStoreConformance, ExpiredLeasesAreLeasedAgainAndFenced) {
  this->create("a");
  const int first = this->lease_one(kT0);
  EXPECT_TRUE(this->store_->lease_due(queue_name(), kT0 + kLease - 1us, 10, kMargin)->empty());
  const int second = this->lease_one(kT0 + kLease);
  EXPECT_EQ(second, first + 1);

  // The first dispatcher's report comes late: refused, whatever it says.
  for (auto result : {this->store_->complete(task_name("a"), first, attempt_at(kT0, 200), kT0),
                      this->store_->retry(task_name("a"), first, attempt_at(kT0, 503), kT0 + 1h),
                      this->store_->fail(task_name("a"), first, attempt_at(kT0, 503))}) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ErrorKind::kFailedPrecondition);
  }
  EXPECT_TRUE(this->store_->complete(task_name("a"), second, attempt_at(kT0, 200), kT0 + kLease));
  EXPECT_EQ(this->store_->complete(task_name("a"), second, attempt_at(kT0, 200), kT0).error().kind,
            ErrorKind::kNotFound);
}

TYPED_TEST(TaskStoreConformance, LeaseLastsTheDispatchDeadlinePlusMargin) {
  auto task = make_task("short");
  task.dispatch_deadline = 20s;
  ASSERT_TRUE(this->store_->create_task(task, kWindow, kT0));
  auto leased = this->store_->lease_due(queue_name(), kT0, 10, kMargin);
  ASSERT_TRUE(leased);
  EXPECT_EQ(*this->store_->next_due(queue_name()), kT0 + 20s + kMargin);
  auto run = this->store_->run_task(task.name, kT0 + 1s, 5s);
  ASSERT_TRUE(run);
  EXPECT_EQ(*this->store_->next_due(queue_name()), kT0 + 1s + 20s + 5s);
}

TYPED_TEST(TaskStoreConformance, ReleaseLeasesMakesLeasedTasksDueInTheirPlace) {
  this->create("leased");
  this->create("waiting", kT0 + 1h);
  const int count = this->lease_one(kT0);
  auto released = this->store_->release_leases(queue_name(), kT0 + 1s);
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_EQ(*released, 1);
  EXPECT_EQ(*this->store_->next_due(queue_name()), kT0) << "due at its schedule time, not behind";
  EXPECT_EQ(this->store_->get_task(task_name("leased"))->state, TaskState::kPending);
  // The crashed dispatcher's report is stale; the next lease is a new dispatch.
  EXPECT_EQ(
      this->store_->complete(task_name("leased"), count, attempt_at(kT0, 200), kT0).error().kind,
      ErrorKind::kFailedPrecondition);
  EXPECT_EQ(this->lease_one(kT0 + 1s), count + 1);
  EXPECT_EQ(this->store_->release_leases(queue_name("missing"), kT0).error().kind,
            ErrorKind::kNotFound);
}

TYPED_TEST(TaskStoreConformance, ReportAllAppliesEachReportAndAnswersEachOnItsOwn) {
  for (const char* id : {"done", "again", "dead"}) this->create(id);
  auto leased = this->store_->lease_due(queue_name(), kT0, 10, kMargin);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->size(), 3u);
  using Kind = TaskStore::Report::Kind;
  auto report = [&](Kind kind, const char* id, int count, TimePoint at, int status) {
    return TaskStore::Report{kind, task_name(id), count, attempt_at(kT0, status), at};
  };
  const int count = leased->front().dispatch_count;
  auto results = this->store_->report_all({report(Kind::kComplete, "done", count, kT0, 200),
                                           report(Kind::kRetry, "again", count, kT0 + 1min, 503),
                                           report(Kind::kFail, "dead", count, kT0, 500),
                                           report(Kind::kComplete, "again", count + 7, kT0, 200)});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0]);
  EXPECT_TRUE(results[1]);
  EXPECT_TRUE(results[2]);
  ASSERT_FALSE(results[3]) << "a stale lease is refused, and only that report";
  EXPECT_EQ(results[3].error().kind, ErrorKind::kFailedPrecondition);

  EXPECT_EQ(this->store_->get_task(task_name("done")).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(this->store_->create_task(make_task("done", kT0), kWindow, kT0).error().kind,
            ErrorKind::kAlreadyExists)
      << "completed: its name is a tombstone";
  auto again = this->store_->get_task(task_name("again"));
  EXPECT_EQ(again->state, TaskState::kPending);
  EXPECT_EQ(again->schedule_time, kT0 + 1min);
  EXPECT_EQ(again->last_attempt->http_status, 503);
  EXPECT_EQ(this->store_->get_task(task_name("dead"))->state, TaskState::kFailed);
}

TYPED_TEST(TaskStoreConformance, RetryAndFailRecordAttempts) {
  this->create("a");
  int count = this->lease_one(kT0);
  const auto first = attempt_at(kT0, 503);
  ASSERT_TRUE(this->store_->retry(task_name("a"), count, first, kT0 + 1min));
  // A report is accepted once: the task is pending again.
  EXPECT_EQ(this->store_->retry(task_name("a"), count, first, kT0 + 1min).error().kind,
            ErrorKind::kFailedPrecondition);
  auto task = this->store_->get_task(task_name("a"));
  ASSERT_TRUE(task);
  EXPECT_EQ(task->state, TaskState::kPending);
  EXPECT_EQ(task->schedule_time, kT0 + 1min);
  EXPECT_EQ(task->response_count, 1);
  ASSERT_TRUE(task->first_attempt);
  EXPECT_EQ(task->first_attempt->http_status, 503);
  EXPECT_EQ(task->first_attempt->response_time, kT0 + 2ms);
  EXPECT_EQ(*this->store_->next_due(queue_name()), kT0 + 1min);

  EXPECT_TRUE(this->store_->lease_due(queue_name(), kT0 + 59s, 10, kMargin)->empty());
  count = this->lease_one(kT0 + 1min);
  EXPECT_EQ(count, 2);
  const auto second = attempt_at(kT0 + 1min, 0);
  ASSERT_TRUE(this->store_->fail(task_name("a"), count, second));
  task = this->store_->get_task(task_name("a"));
  ASSERT_TRUE(task);
  EXPECT_EQ(task->state, TaskState::kFailed);
  EXPECT_EQ(task->response_count, 1) << "no HTTP response, no response_count";
  EXPECT_EQ(task->first_attempt->schedule_time, kT0);
  EXPECT_EQ(task->last_attempt->schedule_time, kT0 + 1min);
  EXPECT_EQ(task->last_attempt->error, "connection refused");
  EXPECT_FALSE(task->last_attempt->response_time);
  // A dead letter is never due, but run_task leases it at once.
  EXPECT_FALSE(*this->store_->next_due(queue_name()));
  EXPECT_TRUE(this->store_->lease_due(queue_name(), kT0 + 1h, 10, kMargin)->empty());
  auto run = this->store_->run_task(task_name("a"), kT0 + 1h, kMargin);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->state, TaskState::kLeased);
  EXPECT_EQ(run->dispatch_count, 3);
  EXPECT_TRUE(this->store_->complete(task_name("a"), 3, attempt_at(kT0 + 1h, 200), kT0 + 1h));
  EXPECT_EQ(this->store_->run_task(task_name("a"), kT0, kMargin).error().kind,
            ErrorKind::kNotFound);
}

TYPED_TEST(TaskStoreConformance, PurgeRemovesOnlyOlderTasks) {
  this->create("old", kT0, kT0);
  this->create("new", kT0, kT0 + 1min);
  auto purged = this->store_->purge_queue(queue_name(), kT0 + 30s);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(purged->purge_time, kT0 + 30s);
  EXPECT_EQ(this->store_->get_task(task_name("old")).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(this->store_->get_task(task_name("new")));
  EXPECT_EQ(this->store_->purge_queue(queue_name("missing"), kT0).error().kind,
            ErrorKind::kNotFound);
}

TYPED_TEST(TaskStoreConformance, DeleteQueueRemovesItsTasks) {
  this->create("a");
  ASSERT_TRUE(this->store_->delete_queue(queue_name()));
  EXPECT_EQ(this->store_->get_queue(queue_name()).error().kind, ErrorKind::kNotFound);
  ASSERT_TRUE(this->store_->create_queue(make_queue(queue_name())));
  auto tasks = this->store_->list_tasks(queue_name(), TaskFilter::kAll, 0, "");
  ASSERT_TRUE(tasks);
  EXPECT_TRUE(tasks->items.empty());
  EXPECT_TRUE(this->store_->create_task(make_task("a"), kWindow, kT0));
}

TYPED_TEST(TaskStoreConformance, ReopenFindsEverythingCommitted) {
  this->create("a");
  this->create("b", kT0 + 1min);
  ASSERT_TRUE(this->store_->delete_task(task_name("b"), kT0));
  this->reopen();
  EXPECT_TRUE(this->store_->get_queue(queue_name()));
  auto a = this->store_->get_task(task_name("a"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->request.body, make_task("a").request.body);
  EXPECT_EQ(this->store_->create_task(make_task("b"), kWindow, kT0 + 1s).error().kind,
            ErrorKind::kAlreadyExists);
  this->backend_.check_integrity();
}

TYPED_TEST(TaskStoreConformance, ConcurrentCreatesAllCommitAndDuplicatesLoseOnce) {
  constexpr int kThreads = 32;
  constexpr int kPerThread = 40;
  constexpr int kSharedNames = 8;  // each created by every thread: one wins
  std::atomic<int> created{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const bool shared = i < kSharedNames;
        auto id = shared ? fmt::format("shared-{}", i) : fmt::format("t{}-{}", t, i);
        auto result = this->store_->create_task(make_task(id), kWindow, kT0);
        if (result) {
          ++created;
        } else if (result.error().kind == ErrorKind::kAlreadyExists) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(created.load(), kThreads * (kPerThread - kSharedNames) + kSharedNames);
  EXPECT_EQ(refused.load(), (kThreads - 1) * kSharedNames);
  int listed = 0;
  std::string token;
  do {
    auto page = this->store_->list_tasks(queue_name(), TaskFilter::kAll, 1000, token);
    ASSERT_TRUE(page);
    listed += static_cast<int>(page->items.size());
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(listed, created.load());
}

// The child of the crash test: enqueues from several threads and reports each name on `fd`
// after create_task returned, until it is killed. Never returns.
template <typename Backend>
[[noreturn]] void enqueue_until_killed(Backend& backend, int fd) {
  auto store = backend.open();
  if (!store) _exit(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1'000'000; ++i) {
        auto id = fmt::format("c{}-{}", t, i);
        if (!store->create_task(make_task(id), kWindow, kT0)) _exit(3);
        auto line = id + "\n";
        if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  _exit(0);
}

TYPED_TEST(TaskStoreConformance, AcknowledgedTasksSurviveKill9) {
  constexpr int kAcknowledgements = 2000;
  this->store_.reset();  // the child owns the database until it dies
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    enqueue_until_killed(this->backend_, fds[1]);
  }
  ::close(fds[1]);

  std::vector<std::string> acknowledged;
  std::string buffer;
  char chunk[4096];
  bool killed = false;
  for (;;) {  // ends at EOF: the child died and its end of the pipe closed
    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, n);
    for (auto end = buffer.find('\n'); end != std::string::npos; end = buffer.find('\n')) {
      acknowledged.push_back(buffer.substr(0, end));
      buffer.erase(0, end + 1);
    }
    if (!killed && acknowledged.size() >= kAcknowledgements) {
      ASSERT_EQ(::kill(child, SIGKILL), 0);
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited on its own with status " << status;
  ASSERT_GE(acknowledged.size(), static_cast<std::size_t>(kAcknowledgements));

  this->reopen();
  this->backend_.check_integrity();
  int missing = 0;
  for (const auto& id : acknowledged) {
    if (!this->store_->get_task(task_name(id))) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << acknowledged.size() << " acknowledged tasks";
}

}  // namespace
}  // namespace mando::queue
