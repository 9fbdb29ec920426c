#include "queue/remote_task_queue.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "queue/rest_api.hpp"
#include "support/fake_task_queue.hpp"
#include "support/loopback_server.hpp"
#include "support/run_awaitable.hpp"

namespace mando::queue {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::string_view kParent = "projects/demo-project/locations/us-central1";
constexpr std::string_view kToken = "remote-test-token";
const TimePoint kNow{1714564800s};  // 2024-05-01T12:00:00Z

// RestApi over a FakeTaskQueue, served on 127.0.0.1:0 from its own thread.
class Server {
 public:
  explicit Server(RestApiOptions options) : api_(fake_, std::move(options)) {
    net::Router router;
    api_.install(router);
    server_ = std::make_unique<testing::LoopbackServer>(std::move(router));
  }

  const std::string& url() const { return server_->url(); }
  testing::FakeTaskQueue& fake() { return fake_; }

 private:
  testing::FakeTaskQueue fake_{kNow};
  RestApi api_;
  std::unique_ptr<testing::LoopbackServer> server_;
};

class RemoteTaskQueueTest : public ::testing::Test {
 protected:
  ~RemoteTaskQueueTest() override {
    client_.reset();
    ioc_.restart();
    ioc_.run();  // the client's posted cleanup
  }

  RemoteTaskQueue remote(std::string token = std::string(kToken)) {
    return RemoteTaskQueue(*client_, {server_.url() + "/", std::move(token), 10s});
  }

  // Runs one call of the remote queue to completion on the test's io_context.
  template <typename T>
  T run(asio::awaitable<T> call) {
    return testing::run_awaitable(ioc_, std::move(call));
  }

  Queue queue(std::string_view id) {
    Queue q;
    q.name = *QueueName::from_parent(kParent, id);
    return q;
  }

  Server server_{{.api_token = std::string(kToken)}};
  asio::io_context ioc_;
  std::unique_ptr<net::HttpClient> client_ = std::make_unique<net::HttpClient>(ioc_.get_executor());
};

TEST_F(RemoteTaskQueueTest, QueueCallsRoundTrip) {
  auto tasks = remote();
  Queue images = queue("images");
  images.rate_limits = {7.5, 3, 9};
  images.retry_config = {4, 600s, 200ms, 60s, 2};
  images.worker_base_url = "http://workers.internal:8080";
  auto created = run(tasks.create_queue(images));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->name, images.name);
  EXPECT_EQ(created->rate_limits.max_dispatches_per_second, 7.5);
  EXPECT_EQ(created->rate_limits.max_burst_size, 3);
  EXPECT_EQ(created->retry_config.min_backoff, 200ms);
  EXPECT_EQ(created->worker_base_url, images.worker_base_url);

  auto got = run(tasks.get_queue(images.name));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->retry_config.max_retry_duration, 600s);

  ASSERT_TRUE(run(tasks.create_queue(queue("a"))));
  auto first = run(tasks.list_queues(std::string(kParent), 1, ""));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(first->items.size(), 1u);
  EXPECT_EQ(first->items[0].name.queue, "a");
  ASSERT_FALSE(first->next_page_token.empty());
  auto second = run(tasks.list_queues(std::string(kParent), 1, first->next_page_token));
  ASSERT_TRUE(second);
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_EQ(second->items[0].name.queue, "images");
  EXPECT_TRUE(second->next_page_token.empty());

  Queue patch = queue("images");
  patch.rate_limits.max_dispatches_per_second = 1;
  patch.retry_config.max_attempts = 99;
  auto updated = run(tasks.update_queue(patch, {"rate_limits.max_dispatches_per_second"}));
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->rate_limits.max_dispatches_per_second, 1);
  EXPECT_EQ(updated->retry_config.max_attempts, 4);

  EXPECT_EQ(run(tasks.pause_queue(images.name))->state, QueueState::kPaused);
  EXPECT_EQ(run(tasks.resume_queue(images.name))->state, QueueState::kRunning);
  EXPECT_EQ(run(tasks.purge_queue(images.name))->purge_time, kNow);
  ASSERT_TRUE(run(tasks.delete_queue(images.name)));
  EXPECT_EQ(run(tasks.get_queue(images.name)).error().kind, ErrorKind::kNotFound);
}

TEST_F(RemoteTaskQueueTest, TaskCallsRoundTrip) {
  auto tasks = remote();
  ASSERT_TRUE(run(tasks.create_queue(queue("images"))));
  Task task;
  task.name.queue = queue("images").name;
  task.request.url = "https://workers.example/render";
  task.request.method = HttpMethod::kPut;
  task.request.headers = {{"Content-Type", "application/octet-stream"}};
  task.request.body = std::string("\x00\x01\xfe\xff", 4);
  task.schedule_time = kNow + 90s;
  task.dispatch_deadline = 45s;
  auto created = run(tasks.create_task(task));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->name.queue, task.name.queue);
  EXPECT_FALSE(created->name.task.empty());
  EXPECT_EQ(created->request.url, task.request.url);
  EXPECT_EQ(created->request.method, HttpMethod::kPut);
  EXPECT_EQ(created->request.headers, task.request.headers);
  EXPECT_EQ(created->request.body, task.request.body);
  EXPECT_EQ(created->schedule_time, task.schedule_time);
  EXPECT_EQ(created->create_time, kNow);
  EXPECT_EQ(created->dispatch_deadline, 45s);

  auto got = run(tasks.get_task(created->name));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->request.body, task.request.body);

  Task named = task;
  named.name.task = "interaction-1";
  ASSERT_TRUE(run(tasks.create_task(named)));
  auto page = run(tasks.list_tasks(task.name.queue, TaskFilter::kAll, 1, ""));
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->items.size(), 1u);
  auto rest = run(tasks.list_tasks(task.name.queue, TaskFilter::kAll, 1, page->next_page_token));
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_NE(rest->items[0].name, page->items[0].name);
  EXPECT_TRUE(rest->next_page_token.empty());

  ASSERT_TRUE(server_.fake().fail_task(named.name));
  auto dead = run(tasks.list_tasks(task.name.queue, TaskFilter::kFailed, 10, ""));
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->items.size(), 1u);
  EXPECT_EQ(dead->items[0].name, named.name);
  EXPECT_EQ(dead->items[0].state, TaskState::kFailed);
  EXPECT_EQ(run(tasks.list_tasks(task.name.queue, TaskFilter::kPending, 10, ""))->items.size(), 1u);

  auto ran = run(tasks.run_task(named.name));
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->dispatch_count, 1);
  EXPECT_EQ(ran->state, TaskState::kLeased);
  ASSERT_TRUE(ran->last_attempt);
  EXPECT_EQ(ran->last_attempt->dispatch_time, kNow);

  ASSERT_TRUE(run(tasks.delete_task(named.name)));
  EXPECT_EQ(run(tasks.get_task(named.name)).error().kind, ErrorKind::kNotFound);
}

TEST_F(RemoteTaskQueueTest, ErrorsKeepTheirKind) {
  auto tasks = remote();
  ASSERT_TRUE(run(tasks.create_queue(queue("images"))));
  auto again = run(tasks.create_queue(queue("images")));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kAlreadyExists);
  EXPECT_EQ(again.error().message,
            fmt::format("queue \"{}/queues/images\" already exists", kParent));

  Queue bad = queue("fast");
  bad.rate_limits.max_dispatches_per_second = 1000;
  auto invalid = run(tasks.create_queue(bad));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(invalid.error().message,
            "queue.rateLimits.maxDispatchesPerSecond: must be in (0, 500], got 1000");

  auto state = run(tasks.update_queue(queue("images"), {"state"}));
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().kind, ErrorKind::kInvalidArgument);

  Task task;
  task.name = *TaskName::parse(fmt::format("{}/queues/images/tasks/t1", kParent));
  task.request.url = "https://workers.example/";
  ASSERT_TRUE(run(tasks.create_task(task)));
  EXPECT_EQ(run(tasks.create_task(task)).error().kind, ErrorKind::kAlreadyExists);
  EXPECT_EQ(run(tasks.get_task(*TaskName::parse(fmt::format("{}/queues/images/tasks/t2", kParent))))
                .error()
                .kind,
            ErrorKind::kNotFound);

  auto anonymous = remote("");
  // The API is served on loopback but has a token: without one, the caller is refused.
  EXPECT_EQ(run(anonymous.get_queue(queue("images").name)).error().kind,
            ErrorKind::kUnauthenticated);
  EXPECT_EQ(run(remote("wrong").get_queue(queue("images").name)).error().kind,
            ErrorKind::kUnauthenticated);
}

TEST_F(RemoteTaskQueueTest, TransportErrorsAreUnavailable) {
  // A port nothing listens on: the listener of a server that has been shut down.
  std::string url;
  {
    Server gone{{}};
    url = gone.url();
  }
  RemoteTaskQueue tasks(*client_, {url, "", 10s});
  auto result = run(tasks.get_queue(queue("images").name));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace mando::queue
