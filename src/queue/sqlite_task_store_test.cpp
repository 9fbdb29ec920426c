#include "queue/sqlite_task_store.hpp"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mando::queue {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const TimePoint kT0 = TimePoint(Micros(1'700'000'000'000'000));
constexpr Micros kWindow = 1h;
constexpr Micros kMargin = 1min;
// How long a lease of a task with the default dispatch deadline lasts.
constexpr Micros kLease = kDefaultDispatchDeadline + kMargin;

using testing::TempDir;

QueueName queue_name(std::string id = "images") { return {"proj", "here", std::move(id)}; }
TaskName task_name(std::string id, std::string queue = "images") {
  return {queue_name(std::move(queue)), std::move(id)};
}

Queue make_queue(QueueName name) {
  Queue queue;
  queue.name = std::move(name);
  return queue;
}

SqliteOptions options_at(fs::path path) {
  SqliteOptions options;
  options.path = std::move(path);
  return options;
}

Task make_task(std::string id, TimePoint schedule = kT0) {
  Task task;
  task.name = task_name(std::move(id));
  task.request.url = "https://worker.example/run";
  task.request.headers = {{"Content-Type", "application/json"}, {"X-Empty", ""}};
  task.request.body = std::string("{\"a\":1}\0binary", 14);
  task.schedule_time = schedule;
  return task;
}

Attempt attempt_at(TimePoint t, int status) {
  return Attempt{t, t + 1ms, status != 0 ? std::optional(t + 2ms) : std::nullopt, status,
                 status != 0 ? fmt::format("HTTP {}", status) : "connection refused"};
}

std::unique_ptr<SqliteTaskStore> open_store(const fs::path& dir) {
  auto store = SqliteTaskStore::open(options_at(dir / "db" / "queue.sqlite3"));
  EXPECT_TRUE(store) << store.error().message;
  return store ? std::move(*store) : nullptr;
}

class SqliteTaskStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.path());
    ASSERT_TRUE(store_);
    ASSERT_TRUE(store_->create_queue(make_queue(queue_name())));
  }

  // Creates `id` at kT0 and asserts it worked.
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

  TempDir dir_;
  std::unique_ptr<SqliteTaskStore> store_;
};

TEST_F(SqliteTaskStoreTest, QueueLifecycle) {
  EXPECT_EQ(store_->create_queue(make_queue(queue_name())).error().kind, ErrorKind::kAlreadyExists);
  auto bad = make_queue(queue_name("other"));
  bad.rate_limits.max_dispatches_per_second = 0;
  EXPECT_EQ(store_->create_queue(bad).error().kind, ErrorKind::kInvalidArgument);

  auto changed = make_queue(queue_name());
  changed.rate_limits.max_dispatches_per_second = 2.5;
  changed.retry_config.max_attempts = -1;
  changed.retry_config.min_backoff = 1s;
  changed.state = QueueState::kPaused;
  changed.worker_base_url = "http://127.0.0.1:9000";
  auto updated = store_->update_queue(changed);
  ASSERT_TRUE(updated) << updated.error().message;
  auto got = store_->get_queue(queue_name());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->rate_limits.max_dispatches_per_second, 2.5);
  EXPECT_EQ(got->retry_config.max_attempts, -1);
  EXPECT_EQ(got->retry_config.min_backoff, 1s);
  EXPECT_EQ(got->state, QueueState::kPaused);
  EXPECT_EQ(got->worker_base_url, "http://127.0.0.1:9000");
  EXPECT_FALSE(got->purge_time);

  EXPECT_EQ(store_->update_queue(make_queue(queue_name("missing"))).error().kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(store_->get_queue(queue_name("missing")).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->delete_queue(queue_name("missing")).error().kind, ErrorKind::kNotFound);
}

TEST_F(SqliteTaskStoreTest, ListQueuesPagesThroughEveryQueueOnce) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(store_->create_queue(make_queue(queue_name(fmt::format("q{}", i)))));
  }
  ASSERT_TRUE(store_->create_queue(make_queue({"proj", "elsewhere", "hidden"})));
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = store_->list_queues("projects/proj/locations/here", 3, token);
    ASSERT_TRUE(page) << page.error().message;
    for (const auto& q : page->items) seen.push_back(q.name.queue);
    token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"images", "q0", "q1", "q2", "q3", "q4", "q5", "q6"}));

  auto bad = store_->list_queues("projects/proj/locations/here", 3, "%%%");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(bad.error().message.starts_with("pageToken:"));
  auto first = store_->list_queues("projects/proj/locations/here", 3, "");
  auto foreign =
      store_->list_queues("projects/proj/locations/elsewhere", 3, first->next_page_token);
  EXPECT_EQ(foreign.error().kind, ErrorKind::kInvalidArgument);

  // An empty parent lists every queue of every project and location.
  auto all = store_->list_queues("", 100, "");
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->items.size(), 9u);
}

TEST_F(SqliteTaskStoreTest, CreateAndGetTask) {
  auto created = store_->create_task(make_task("a", TimePoint()), kWindow, kT0);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->schedule_time, kT0) << "an unset schedule time means now";
  EXPECT_EQ(created->create_time, kT0);

  auto task = make_task("b", kT0 + 5s);
  task.request.kind = TaskRequest::Kind::kAppEngine;
  task.request.url = "/work";
  task.request.method = HttpMethod::kPut;
  task.dispatch_deadline = 20s;
  ASSERT_TRUE(store_->create_task(task, kWindow, kT0));
  auto got = store_->get_task(task.name);
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

  EXPECT_EQ(store_->get_task(task_name("nope")).error().kind, ErrorKind::kNotFound);
  auto orphan = make_task("x");
  orphan.name.queue = queue_name("missing");
  EXPECT_EQ(store_->create_task(orphan, kWindow, kT0).error().kind, ErrorKind::kNotFound);
}

TEST_F(SqliteTaskStoreTest, DeduplicatesAgainstLiveTasksAndRecentTombstones) {
  create("a");
  auto again = store_->create_task(make_task("a"), kWindow, kT0 + 1s);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kAlreadyExists);

  ASSERT_TRUE(store_->delete_task(task_name("a"), kT0 + 10s));
  EXPECT_EQ(store_->delete_task(task_name("a"), kT0 + 10s).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->create_task(make_task("a"), kWindow, kT0 + 10s + kWindow - 1us).error().kind,
            ErrorKind::kAlreadyExists);
  EXPECT_TRUE(store_->create_task(make_task("a", kT0 + 24h), kWindow, kT0 + 10s + kWindow));

  // A completed task leaves a tombstone too.
  create("c");
  const int count = lease_one(kT0 + 10s + kWindow);
  ASSERT_TRUE(store_->complete(task_name("c"), count, attempt_at(kT0, 200), kT0 + 2h));
  EXPECT_EQ(store_->get_task(task_name("c")).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->create_task(make_task("c"), kWindow, kT0 + 2h + 1s).error().kind,
            ErrorKind::kAlreadyExists);

  ASSERT_TRUE(store_->reset_deduplication());
  EXPECT_TRUE(store_->create_task(make_task("c"), kWindow, kT0 + 2h + 1s));
}

TEST_F(SqliteTaskStoreTest, PruneTombstonesForgetsOnlyOldNames) {
  for (auto [id, at] : {std::pair{"old", kT0}, std::pair{"new", kT0 + 1h}}) {
    create(id);
    ASSERT_TRUE(store_->delete_task(task_name(id), at));
  }
  auto pruned = store_->prune_tombstones(kT0 + 30min);
  ASSERT_TRUE(pruned);
  EXPECT_EQ(*pruned, 1);
  // With an infinite window only a remaining tombstone refuses the name.
  EXPECT_TRUE(store_->create_task(make_task("old"), Micros::max(), kT0 + 2h));
  EXPECT_EQ(store_->create_task(make_task("new"), Micros::max(), kT0 + 2h).error().kind,
            ErrorKind::kAlreadyExists);
}

TEST_F(SqliteTaskStoreTest, ListTasksPagesAndFilters) {
  for (int i = 0; i < 25; ++i) create(fmt::format("t{:02}", i));
  // t00 becomes a dead letter.
  ASSERT_TRUE(store_->run_task(task_name("t00"), kT0, kMargin));
  ASSERT_TRUE(store_->fail(task_name("t00"), 1, attempt_at(kT0, 500)));

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = store_->list_tasks(queue_name(), TaskFilter::kAll, 10, token);
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

  auto failed = store_->list_tasks(queue_name(), TaskFilter::kFailed, 0, "");
  ASSERT_TRUE(failed);
  ASSERT_EQ(failed->items.size(), 1u);
  EXPECT_EQ(failed->items[0].name.task, "t00");
  auto pending = store_->list_tasks(queue_name(), TaskFilter::kPending, 0, "");
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->items.size(), 24u);
  EXPECT_TRUE(pending->next_page_token.empty());

  EXPECT_EQ(store_->list_tasks(queue_name(), TaskFilter::kAll, 10, "bm90IGEgdG9rZW4").error().kind,
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(store_->list_tasks(queue_name("missing"), TaskFilter::kAll, 10, "").error().kind,
            ErrorKind::kNotFound);
}

TEST_F(SqliteTaskStoreTest, PageSizeDefaultsToOneHundred) {
  // Created from several threads so the group commit keeps this test fast.
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 101; i += 8) {
        EXPECT_TRUE(store_->create_task(make_task(fmt::format("t{:03}", i)), kWindow, kT0));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto first = store_->list_tasks(queue_name(), TaskFilter::kAll, 0, "");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->items.size(), 100u);
  auto rest = store_->list_tasks(queue_name(), TaskFilter::kAll, -1, first->next_page_token);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].name.task, "t100");
  EXPECT_TRUE(rest->next_page_token.empty());
}

TEST_F(SqliteTaskStoreTest, LeaseDuePicksDueTasksInOrder) {
  create("late", kT0 + 20s);
  create("early", kT0 + 5s);
  create("future", kT0 + 1h);
  auto next = store_->next_due(queue_name());
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kT0 + 5s);

  EXPECT_TRUE(store_->lease_due(queue_name(), kT0, 10, kMargin)->empty());
  auto leased = store_->lease_due(queue_name(), kT0 + 30s, 10, kMargin);
  ASSERT_TRUE(leased) << leased.error().message;
  ASSERT_EQ(leased->size(), 2u);
  EXPECT_EQ((*leased)[0].name.task, "early");
  EXPECT_EQ((*leased)[1].name.task, "late");
  EXPECT_EQ((*leased)[0].state, TaskState::kLeased);
  EXPECT_EQ((*leased)[0].dispatch_count, 1);
  EXPECT_EQ(*store_->next_due(queue_name()), kT0 + 30s + kLease);

  // `max` bounds a lease.
  EXPECT_EQ(store_->lease_due(queue_name(), kT0 + 2h, 1, kMargin)->size(), 1u);
  EXPECT_EQ(store_->lease_due(queue_name("missing"), kT0, 1, kMargin).error().kind,
            ErrorKind::kNotFound);
}

TEST_F(SqliteTaskStoreTest, ExpiredLeasesAreLeasedAgainAndFenced) {
  create("a");
  const int first = lease_one(kT0);
  EXPECT_TRUE(store_->lease_due(queue_name(), kT0 + kLease - 1us, 10, kMargin)->empty());
  const int second = lease_one(kT0 + kLease);
  EXPECT_EQ(second, first + 1);

  // The first dispatcher's report comes late: refused, whatever it says.
  for (auto result : {store_->complete(task_name("a"), first, attempt_at(kT0, 200), kT0),
                      store_->retry(task_name("a"), first, attempt_at(kT0, 503), kT0 + 1h),
                      store_->fail(task_name("a"), first, attempt_at(kT0, 503))}) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ErrorKind::kFailedPrecondition);
  }
  EXPECT_TRUE(store_->complete(task_name("a"), second, attempt_at(kT0, 200), kT0 + kLease));
  EXPECT_EQ(store_->complete(task_name("a"), second, attempt_at(kT0, 200), kT0).error().kind,
            ErrorKind::kNotFound);
}

TEST_F(SqliteTaskStoreTest, LeaseLastsTheDispatchDeadlinePlusMargin) {
  auto task = make_task("short");
  task.dispatch_deadline = 20s;
  ASSERT_TRUE(store_->create_task(task, kWindow, kT0));
  auto leased = store_->lease_due(queue_name(), kT0, 10, kMargin);
  ASSERT_TRUE(leased);
  EXPECT_EQ(*store_->next_due(queue_name()), kT0 + 20s + kMargin);
  auto run = store_->run_task(task.name, kT0 + 1s, 5s);
  ASSERT_TRUE(run);
  EXPECT_EQ(*store_->next_due(queue_name()), kT0 + 1s + 20s + 5s);
}

TEST_F(SqliteTaskStoreTest, ReleaseLeasesMakesLeasedTasksDueInTheirPlace) {
  create("leased");
  create("waiting", kT0 + 1h);
  const int count = lease_one(kT0);
  auto released = store_->release_leases(queue_name(), kT0 + 1s);
  ASSERT_TRUE(released) << released.error().message;
  EXPECT_EQ(*released, 1);
  EXPECT_EQ(*store_->next_due(queue_name()), kT0) << "due at its schedule time, not behind";
  EXPECT_EQ(store_->get_task(task_name("leased"))->state, TaskState::kPending);
  // The crashed dispatcher's report is stale; the next lease is a new dispatch.
  EXPECT_EQ(store_->complete(task_name("leased"), count, attempt_at(kT0, 200), kT0).error().kind,
            ErrorKind::kFailedPrecondition);
  EXPECT_EQ(lease_one(kT0 + 1s), count + 1);
  EXPECT_EQ(store_->release_leases(queue_name("missing"), kT0).error().kind, ErrorKind::kNotFound);
}

TEST_F(SqliteTaskStoreTest, ReportAllAppliesEachReportAndAnswersEachOnItsOwn) {
  for (const char* id : {"done", "again", "dead"}) create(id);
  auto leased = store_->lease_due(queue_name(), kT0, 10, kMargin);
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->size(), 3u);
  using Kind = TaskStore::Report::Kind;
  auto report = [&](Kind kind, const char* id, int count, TimePoint at, int status) {
    return TaskStore::Report{kind, task_name(id), count, attempt_at(kT0, status), at};
  };
  const int count = leased->front().dispatch_count;
  auto results = store_->report_all({report(Kind::kComplete, "done", count, kT0, 200),
                                     report(Kind::kRetry, "again", count, kT0 + 1min, 503),
                                     report(Kind::kFail, "dead", count, kT0, 500),
                                     report(Kind::kComplete, "again", count + 7, kT0, 200)});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0]);
  EXPECT_TRUE(results[1]);
  EXPECT_TRUE(results[2]);
  ASSERT_FALSE(results[3]) << "a stale lease is refused, and only that report";
  EXPECT_EQ(results[3].error().kind, ErrorKind::kFailedPrecondition);

  EXPECT_EQ(store_->get_task(task_name("done")).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store_->create_task(make_task("done", kT0), kWindow, kT0).error().kind,
            ErrorKind::kAlreadyExists)
      << "completed: its name is a tombstone";
  auto again = store_->get_task(task_name("again"));
  EXPECT_EQ(again->state, TaskState::kPending);
  EXPECT_EQ(again->schedule_time, kT0 + 1min);
  EXPECT_EQ(again->last_attempt->http_status, 503);
  EXPECT_EQ(store_->get_task(task_name("dead"))->state, TaskState::kFailed);
}

TEST_F(SqliteTaskStoreTest, RetryAndFailRecordAttempts) {
  create("a");
  int count = lease_one(kT0);
  const auto first = attempt_at(kT0, 503);
  ASSERT_TRUE(store_->retry(task_name("a"), count, first, kT0 + 1min));
  // A report is accepted once: the task is pending again.
  EXPECT_EQ(store_->retry(task_name("a"), count, first, kT0 + 1min).error().kind,
            ErrorKind::kFailedPrecondition);
  auto task = store_->get_task(task_name("a"));
  ASSERT_TRUE(task);
  EXPECT_EQ(task->state, TaskState::kPending);
  EXPECT_EQ(task->schedule_time, kT0 + 1min);
  EXPECT_EQ(task->response_count, 1);
  ASSERT_TRUE(task->first_attempt);
  EXPECT_EQ(task->first_attempt->http_status, 503);
  EXPECT_EQ(task->first_attempt->response_time, kT0 + 2ms);
  EXPECT_EQ(*store_->next_due(queue_name()), kT0 + 1min);

  EXPECT_TRUE(store_->lease_due(queue_name(), kT0 + 59s, 10, kMargin)->empty());
  count = lease_one(kT0 + 1min);
  EXPECT_EQ(count, 2);
  const auto second = attempt_at(kT0 + 1min, 0);
  ASSERT_TRUE(store_->fail(task_name("a"), count, second));
  task = store_->get_task(task_name("a"));
  ASSERT_TRUE(task);
  EXPECT_EQ(task->state, TaskState::kFailed);
  EXPECT_EQ(task->response_count, 1) << "no HTTP response, no response_count";
  EXPECT_EQ(task->first_attempt->schedule_time, kT0);
  EXPECT_EQ(task->last_attempt->schedule_time, kT0 + 1min);
  EXPECT_EQ(task->last_attempt->error, "connection refused");
  EXPECT_FALSE(task->last_attempt->response_time);
  // A dead letter is never due, but run_task leases it at once.
  EXPECT_FALSE(*store_->next_due(queue_name()));
  EXPECT_TRUE(store_->lease_due(queue_name(), kT0 + 1h, 10, kMargin)->empty());
  auto run = store_->run_task(task_name("a"), kT0 + 1h, kMargin);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->state, TaskState::kLeased);
  EXPECT_EQ(run->dispatch_count, 3);
  EXPECT_TRUE(store_->complete(task_name("a"), 3, attempt_at(kT0 + 1h, 200), kT0 + 1h));
  EXPECT_EQ(store_->run_task(task_name("a"), kT0, kMargin).error().kind, ErrorKind::kNotFound);
}

TEST_F(SqliteTaskStoreTest, PurgeRemovesOnlyOlderTasks) {
  create("old", kT0, kT0);
  create("new", kT0, kT0 + 1min);
  auto purged = store_->purge_queue(queue_name(), kT0 + 30s);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(purged->purge_time, kT0 + 30s);
  EXPECT_EQ(store_->get_task(task_name("old")).error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(store_->get_task(task_name("new")));
  EXPECT_EQ(store_->purge_queue(queue_name("missing"), kT0).error().kind, ErrorKind::kNotFound);
}

TEST_F(SqliteTaskStoreTest, DeleteQueueRemovesItsTasks) {
  create("a");
  ASSERT_TRUE(store_->delete_queue(queue_name()));
  EXPECT_EQ(store_->get_queue(queue_name()).error().kind, ErrorKind::kNotFound);
  ASSERT_TRUE(store_->create_queue(make_queue(queue_name())));
  auto tasks = store_->list_tasks(queue_name(), TaskFilter::kAll, 0, "");
  ASSERT_TRUE(tasks);
  EXPECT_TRUE(tasks->items.empty());
  EXPECT_TRUE(store_->create_task(make_task("a"), kWindow, kT0));
}

TEST_F(SqliteTaskStoreTest, ReopenFindsEverythingCommitted) {
  create("a");
  create("b", kT0 + 1min);
  ASSERT_TRUE(store_->delete_task(task_name("b"), kT0));
  store_.reset();
  store_ = open_store(dir_.path());
  ASSERT_TRUE(store_);
  EXPECT_TRUE(store_->get_queue(queue_name()));
  auto a = store_->get_task(task_name("a"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->request.body, make_task("a").request.body);
  EXPECT_EQ(store_->create_task(make_task("b"), kWindow, kT0 + 1s).error().kind,
            ErrorKind::kAlreadyExists);
  EXPECT_TRUE(store_->check_integrity());
}

TEST(SqliteTaskStoreOpenTest, AnExclusiveStoreRefusesASecondOwnerButNotAMaintenanceOpen) {
  TempDir dir;
  auto options = options_at(dir.path() / "queue.sqlite3");
  options.exclusive = true;
  auto first = SqliteTaskStore::open(options);
  ASSERT_TRUE(first) << first.error().message;
  auto second = SqliteTaskStore::open(options);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(second.error().message.find("another mando dispatches from this store"),
            std::string::npos)
      << second.error().message;
  options.exclusive = false;  // `mando queues reset-dedup` while a dispatcher runs
  auto maintenance = SqliteTaskStore::open(options);
  ASSERT_TRUE(maintenance) << maintenance.error().message;
  EXPECT_TRUE((*maintenance)->reset_deduplication());
  first->reset();
  options.exclusive = true;
  EXPECT_TRUE(SqliteTaskStore::open(options)) << "the lock goes with its owner";
}

TEST(SqliteTaskStoreOpenTest, RefusesANewerSchema) {
  TempDir dir;
  const auto options = options_at(dir.path() / "queue.sqlite3");
  ASSERT_TRUE(SqliteTaskStore::open(options));
  // What a future mando would leave behind: a higher user_version.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto refused = SqliteTaskStore::open(options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("99"), std::string::npos) << refused.error().message;
}

TEST(SqliteTaskStoreOpenTest, ReportsAnUnusablePath) {
  TempDir dir;
  const auto file = dir.path() / "file";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    std::fclose(f);
  }
  auto store = SqliteTaskStore::open(options_at(file / "sub" / "queue.sqlite3"));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kUnavailable);
}

TEST_F(SqliteTaskStoreTest, ConcurrentCreatesAllCommitAndDuplicatesLoseOnce) {
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
        auto result = store_->create_task(make_task(id), kWindow, kT0);
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
    auto page = store_->list_tasks(queue_name(), TaskFilter::kAll, 1000, token);
    ASSERT_TRUE(page);
    listed += static_cast<int>(page->items.size());
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(listed, created.load());
}

// The child of the crash test: enqueues from several threads and reports each name on `fd`
// after create_task returned, until it is killed. Never returns.
[[noreturn]] void enqueue_until_killed(const fs::path& dir, int fd) {
  auto store = SqliteTaskStore::open(options_at(dir / "db" / "queue.sqlite3"));
  if (!store) _exit(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1'000'000; ++i) {
        auto id = fmt::format("c{}-{}", t, i);
        if (!(*store)->create_task(make_task(id), kWindow, kT0)) _exit(3);
        auto line = id + "\n";
        if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  _exit(0);
}

TEST_F(SqliteTaskStoreTest, AcknowledgedTasksSurviveKill9) {
  constexpr int kAcknowledgements = 2000;
  store_.reset();  // the child owns the database until it dies
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    enqueue_until_killed(dir_.path(), fds[1]);
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

  store_ = open_store(dir_.path());
  ASSERT_TRUE(store_);
  auto integrity = store_->check_integrity();
  EXPECT_TRUE(integrity) << integrity.error().message;
  int missing = 0;
  for (const auto& id : acknowledged) {
    if (!store_->get_task(task_name(id))) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << acknowledged.size() << " acknowledged tasks";
}

}  // namespace
}  // namespace mando::queue
