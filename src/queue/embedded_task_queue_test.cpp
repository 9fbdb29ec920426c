#include "queue/embedded_task_queue.hpp"

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "queue/sqlite_task_store.hpp"
#include "support/recording_worker.hpp"
#include "support/temp_dir.hpp"

namespace mando::queue {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

const QueueName kQueue{"test-project", "local", "images"};

// A TaskStore that forwards to another and fails complete() while told to: what a disk error
// or a crash between the worker's answer and the commit looks like to the dispatcher.
class FaultInjectingStore final : public TaskStore {
 public:
  explicit FaultInjectingStore(TaskStore& inner) : inner_(inner) {}
  std::atomic<bool> fail_complete{false};

  Result<Queue> create_queue(const Queue& q) override { return inner_.create_queue(q); }
  Result<Queue> get_queue(const QueueName& n) override { return inner_.get_queue(n); }
  Result<Page<Queue>> list_queues(const std::string& p, int s, const std::string& t) override {
    return inner_.list_queues(p, s, t);
  }
  Result<Queue> update_queue(const Queue& q) override { return inner_.update_queue(q); }
  Result<void> delete_queue(const QueueName& n) override { return inner_.delete_queue(n); }
  Result<Queue> purge_queue(const QueueName& n, TimePoint b) override {
    return inner_.purge_queue(n, b);
  }
  Result<Task> create_task(const Task& t, Micros w, TimePoint n) override {
    return inner_.create_task(t, w, n);
  }
  Result<Task> get_task(const TaskName& n) override { return inner_.get_task(n); }
  Result<Page<Task>> list_tasks(const QueueName& q, TaskFilter f, int s,
                                const std::string& t) override {
    return inner_.list_tasks(q, f, s, t);
  }
  Result<void> delete_task(const TaskName& n, TimePoint t) override {
    return inner_.delete_task(n, t);
  }
  Result<Task> run_task(const TaskName& n, TimePoint t, Micros m) override {
    return inner_.run_task(n, t, m);
  }
  Result<void> reset_deduplication() override { return inner_.reset_deduplication(); }
  Result<std::int64_t> prune_tombstones(TimePoint b) override { return inner_.prune_tombstones(b); }
  Result<std::vector<Task>> lease_due(const QueueName& q, TimePoint n, int m,
                                      Micros margin) override {
    return inner_.lease_due(q, n, m, margin);
  }
  Result<std::int64_t> release_leases(const QueueName& q, TimePoint n) override {
    return inner_.release_leases(q, n);
  }
  Result<std::optional<TimePoint>> next_due(const QueueName& q) override {
    return inner_.next_due(q);
  }
  Result<void> complete(const TaskName& n, int d, const Attempt& a, TimePoint t) override {
    if (fail_complete) return mando::fail(ErrorKind::kUnavailable, "injected: disk I/O error");
    return inner_.complete(n, d, a, t);
  }
  Result<void> retry(const TaskName& n, int d, const Attempt& a, TimePoint t) override {
    return inner_.retry(n, d, a, t);
  }
  Result<void> fail(const TaskName& n, int d, const Attempt& a) override {
    return inner_.fail(n, d, a);
  }
  std::vector<Result<void>> report_all(const std::vector<Report>& reports) override {
    if (!fail_complete) return inner_.report_all(reports);
    std::vector<Result<void>> results;
    for (const Report& r : reports) {
      results.push_back(r.kind == Report::Kind::kComplete
                            ? complete(r.name, r.dispatch_count, r.attempt, r.at)
                            : inner_.report_all({r}).front());
    }
    return results;
  }

 private:
  TaskStore& inner_;
};

// The embedded queue with a real SQLite store, the real dispatcher and outbound client, and a
// loopback worker that records what arrives.
class EmbeddedQueueTest : public ::testing::Test {
 protected:
  EmbeddedQueueTest() {
    SqliteOptions options;
    options.path = dir_.path() / "queue.sqlite3";
    options.synchronous = SqliteOptions::Synchronous::kNormal;
    store_ = SqliteTaskStore::open(options).value();
    faulty_ = std::make_unique<FaultInjectingStore>(*store_);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    start_queue();
  }
  ~EmbeddedQueueTest() override {
    // Stop the I/O threads first: attempts still in flight are then destroyed with the
    // io_context, never resumed, so they cannot touch the client after it is gone.
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    queue_.reset();
    client_.reset();
  }

  void start_queue() {
    queue_.reset();
    if (!client_) client_ = std::make_unique<net::HttpClient>(ioc_.get_executor());
    DispatcherDeps deps{ioc_.get_executor(), pool_, *faulty_, *client_, signer_, metrics_};
    queue_ = EmbeddedTaskQueue::open(deps, EmbeddedOptions{});
    ASSERT_TRUE(queue_->start_dispatch(worker_.url()));
  }

  // Polls `done` until it holds; false after 30 s (a bound, not a timing assumption).
  template <typename F>
  bool eventually(F done) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  template <typename T>
  T run(asio::awaitable<T> call) {
    return asio::co_spawn(ioc_, std::move(call), asio::use_future).get();
  }

  Queue make_queue(std::function<void(Queue&)> tweak = {}) {
    Queue queue;
    queue.name = kQueue;
    queue.retry_config.min_backoff = 1ms;
    queue.retry_config.max_backoff = 10ms;
    if (tweak) tweak(queue);
    return run(queue_->create_queue(queue)).value();
  }

  Task http_task(std::string id, std::string path = "/work") {
    Task task;
    task.name = {kQueue, std::move(id)};
    task.request.url = worker_.url() + path;
    task.request.body = "payload";
    task.request.headers = {{"Content-Type", "application/json"}, {"X-Custom", "1"}};
    return task;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteTaskStore> store_;
  std::unique_ptr<FaultInjectingStore> faulty_;
  core::MetricsRegistry metrics_;
  RequestSigner signer_ = RequestSigner::random();
  testing::RecordingWorker worker_;
  asio::io_context ioc_;
  // After the io_context: the pool joins (its last jobs post their results) before it goes.
  core::CpuPool pool_{4};
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::vector<std::thread> threads_;
  std::unique_ptr<net::HttpClient> client_;
  std::unique_ptr<EmbeddedTaskQueue> queue_;
};

TEST_F(EmbeddedQueueTest, DispatchesWithCloudTasksHeadersAndASignature) {
  make_queue();
  auto created = run(queue_->create_task(http_task("t1", "/work?x=1")));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->name.full(), "projects/test-project/locations/local/queues/images/tasks/t1");
  ASSERT_TRUE(worker_.wait_for(1));
  const net::Request request = worker_.deliveries()[0].request;
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/work?x=1");
  EXPECT_EQ(request.body, "payload");
  EXPECT_EQ(request.headers.get("Content-Type"), "application/json");
  EXPECT_EQ(request.headers.get("X-Custom"), "1");
  EXPECT_EQ(request.headers.get("User-Agent"), "Google-Cloud-Tasks");
  EXPECT_EQ(request.headers.get("X-CloudTasks-QueueName"), "images");
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskName"), "t1");
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskRetryCount"), "0");
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskExecutionCount"), "0");
  EXPECT_TRUE(request.headers.contains("X-CloudTasks-TaskETA"));
  EXPECT_FALSE(request.headers.contains("X-CloudTasks-TaskPreviousResponse"));
  EXPECT_TRUE(signer_.verify(request, std::chrono::system_clock::now()));

  // A 2xx ends the task, and its name stays taken for the deduplication window.
  ASSERT_TRUE(eventually([&] { return !run(queue_->get_task(created->name)); }));
  auto gone = run(queue_->get_task(created->name));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound);
  auto again = run(queue_->create_task(http_task("t1")));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kAlreadyExists);
}

TEST_F(EmbeddedQueueTest, RetriesWithThePreviousResponseThenSucceeds) {
  make_queue();
  worker_.set_answer([](const net::Request&, int index) {
    return net::Response::text(index == 0 ? 500 : 200, "");
  });
  ASSERT_TRUE(run(queue_->create_task(http_task("flaky"))));
  ASSERT_TRUE(worker_.wait_for(2));
  const net::Request retry = worker_.deliveries()[1].request;
  EXPECT_EQ(retry.headers.get("X-CloudTasks-TaskRetryCount"), "1");
  EXPECT_EQ(retry.headers.get("X-CloudTasks-TaskExecutionCount"), "1");
  EXPECT_EQ(retry.headers.get("X-CloudTasks-TaskPreviousResponse"), "500");
  EXPECT_EQ(retry.headers.get("X-CloudTasks-TaskRetryReason"), "HTTP 500");
}

TEST_F(EmbeddedQueueTest, KeepsTasksThatUsedUpTheirAttemptsAsDeadLetters) {
  make_queue([](Queue& q) { q.retry_config.max_attempts = 3; });
  worker_.set_answer([](const net::Request&, int) { return net::Response::text(503, ""); });
  auto task = run(queue_->create_task(http_task("doomed"))).value();
  ASSERT_TRUE(worker_.wait_for(3));
  Result<Task> stored;
  ASSERT_TRUE(eventually([&] {
    stored = run(queue_->get_task(task.name));
    return !stored || stored->state == TaskState::kFailed;
  }));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, TaskState::kFailed);
  EXPECT_EQ(stored->dispatch_count, 3);
  ASSERT_TRUE(stored->last_attempt);
  EXPECT_EQ(stored->last_attempt->http_status, 503);
  auto failed = run(queue_->list_tasks(kQueue, TaskFilter::kFailed, 10, "")).value();
  ASSERT_EQ(failed.items.size(), 1u);

  // A dead letter runs again on demand, and a 2xx ends it.
  worker_.set_answer([](const net::Request&, int) { return net::Response::text(200, ""); });
  ASSERT_TRUE(run(queue_->run_task(task.name)));
  ASSERT_TRUE(worker_.wait_for(4));
  EXPECT_EQ(worker_.count(), 4u);
}

TEST_F(EmbeddedQueueTest, ScheduledTasksWaitForTheirTime) {
  make_queue();
  Task task = http_task("later");
  task.schedule_time = now() + 300ms;
  ASSERT_TRUE(run(queue_->create_task(task)));
  ASSERT_TRUE(worker_.wait_for(1));
  EXPECT_GE(worker_.deliveries()[0].received, task.schedule_time);
}

TEST_F(EmbeddedQueueTest, PausedQueuesHoldTheirTasksUntilResumed) {
  make_queue();
  auto paused = run(queue_->pause_queue(kQueue));
  ASSERT_TRUE(paused);
  EXPECT_EQ(paused->state, QueueState::kPaused);
  ASSERT_TRUE(run(queue_->create_task(http_task("held"))));
  // A second, running queue delivers: the dispatcher is alive, yet the paused one stays put.
  Queue other;
  other.name = {kQueue.project, kQueue.location, "other"};
  ASSERT_TRUE(run(queue_->create_queue(other)));
  Task probe = http_task("probe", "/probe");
  probe.name.queue = other.name;
  ASSERT_TRUE(run(queue_->create_task(probe)));
  ASSERT_TRUE(worker_.wait_for(1));
  EXPECT_EQ(worker_.deliveries()[0].request.target, "/probe");
  EXPECT_EQ(run(queue_->get_task({kQueue, "held"}))->dispatch_count, 0);

  ASSERT_TRUE(run(queue_->resume_queue(kQueue)));
  ASSERT_TRUE(worker_.wait_for(2));
  EXPECT_EQ(worker_.deliveries()[1].request.target, "/work");
}

TEST_F(EmbeddedQueueTest, HoldsTheRateLimit) {
  make_queue([](Queue& q) {
    q.rate_limits.max_dispatches_per_second = 50;
    q.rate_limits.max_burst_size = 1;
  });
  constexpr int kTasks = 11;
  const auto before = std::chrono::system_clock::now();
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(run(queue_->create_task(http_task("r" + std::to_string(i)))));
  }
  ASSERT_TRUE(worker_.wait_for(kTasks));
  // The bucket holds one token: the other ten take 20 ms each to earn, after `before`, however
  // fast or slow the machine (receipt times alone would not do: a late first delivery shortens
  // the span between first and last).
  EXPECT_GE(worker_.deliveries().back().received - before, 200ms);
}

TEST_F(EmbeddedQueueTest, RetryAfterHoldsTheWholeQueue) {
  make_queue([](Queue& q) { q.rate_limits.max_concurrent_dispatches = 1; });
  worker_.set_answer([](const net::Request&, int index) {
    net::Response response = net::Response::text(index == 0 ? 429 : 200, "");
    if (index == 0) response.headers.set("Retry-After", "1");
    return response;
  });
  ASSERT_TRUE(run(queue_->create_task(http_task("first"))));
  ASSERT_TRUE(worker_.wait_for(1));
  ASSERT_TRUE(run(queue_->create_task(http_task("second"))));
  ASSERT_TRUE(worker_.wait_for(2));
  auto deliveries = worker_.deliveries();
  EXPECT_GE(deliveries[1].received - deliveries[0].received, 990ms);
}

TEST_F(EmbeddedQueueTest, AppEngineTasksGoToTheQueuesWorkerBaseUrl) {
  make_queue([this](Queue& q) { q.worker_base_url = worker_.url() + "/base/"; });
  Task task;
  task.name = {kQueue, "ae"};
  task.request.kind = TaskRequest::Kind::kAppEngine;
  task.request.url = "/tasks/render?size=64";
  task.request.method = HttpMethod::kPut;
  ASSERT_TRUE(run(queue_->create_task(task)));
  ASSERT_TRUE(worker_.wait_for(1));
  const net::Request request = worker_.deliveries()[0].request;
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.target, "/base/tasks/render?size=64");
  EXPECT_TRUE(signer_.verify(request, std::chrono::system_clock::now()));
}

TEST_F(EmbeddedQueueTest, AnUnreportedAttemptRunsAgainAfterARestart) {
  make_queue();
  faulty_->fail_complete = true;  // the worker's 2xx never reaches the store
  ASSERT_TRUE(run(queue_->create_task(http_task("once"))));
  ASSERT_TRUE(worker_.wait_for(1));
  ASSERT_TRUE(eventually(
      [&] { return metrics_.render().find("outcome=\"unreported\"") != std::string::npos; }));
  EXPECT_EQ(run(queue_->get_task({kQueue, "once"}))->state, TaskState::kLeased);

  faulty_->fail_complete = false;
  start_queue();  // a new run hands back the old run's leases at once
  ASSERT_TRUE(worker_.wait_for(2));
  EXPECT_EQ(worker_.deliveries()[1].request.headers.get("X-CloudTasks-TaskName"), "once");
}

TEST_F(EmbeddedQueueTest, RefusesBadTasksAndUnknownQueues) {
  make_queue();
  Task far = http_task("far");
  far.schedule_time = now() + 31 * 24h;
  auto refused = run(queue_->create_task(far));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("scheduleTime"), std::string::npos);

  Task orphan = http_task("orphan");
  orphan.name.queue.queue = "missing";
  EXPECT_EQ(run(queue_->create_task(orphan)).error().kind, ErrorKind::kNotFound);
}

TEST_F(EmbeddedQueueTest, GeneratesNamesAndAppliesCloudTasksDefaults) {
  Queue bare;
  bare.name = kQueue;
  bare.retry_config.max_attempts = 0;  // proto3's "unset"
  bare.rate_limits.max_dispatches_per_second = 0;
  auto created = run(queue_->create_queue(bare)).value();
  EXPECT_EQ(created.retry_config.max_attempts, 100);
  EXPECT_EQ(created.rate_limits.max_dispatches_per_second, 500);
  Task task = http_task("");
  auto stored = run(queue_->create_task(task)).value();
  EXPECT_FALSE(stored.name.task.empty());
  EXPECT_EQ(stored.dispatch_deadline, kDefaultDispatchDeadline);
}

TEST_F(EmbeddedQueueTest, UpdateMaskChangesOnlyTheNamedFields) {
  make_queue();
  Queue patch;
  patch.name = kQueue;
  patch.rate_limits.max_dispatches_per_second = 7;
  patch.retry_config.max_attempts = 9;
  auto updated = run(queue_->update_queue(patch, {"rate_limits.max_dispatches_per_second"}));
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->rate_limits.max_dispatches_per_second, 7);
  EXPECT_EQ(updated->retry_config.max_attempts, 100);
  auto bad = run(queue_->update_queue(patch, {"state"}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidArgument);

  // Updating a queue that does not exist creates it, as Cloud Tasks does.
  patch.name.queue = "fresh";
  auto fresh = run(queue_->update_queue(patch, {}));
  ASSERT_TRUE(fresh) << fresh.error().message;
  EXPECT_EQ(fresh->retry_config.max_attempts, 9);
}

TEST_F(EmbeddedQueueTest, PurgeDeletesTasksCreatedBefore) {
  make_queue();
  ASSERT_TRUE(run(queue_->pause_queue(kQueue)));
  ASSERT_TRUE(run(queue_->create_task(http_task("a"))));
  ASSERT_TRUE(run(queue_->create_task(http_task("b"))));
  auto purged = run(queue_->purge_queue(kQueue));
  ASSERT_TRUE(purged);
  EXPECT_TRUE(purged->purge_time.has_value());
  EXPECT_TRUE(run(queue_->list_tasks(kQueue, TaskFilter::kAll, 10, ""))->items.empty());
}

}  // namespace
}  // namespace mando::queue
