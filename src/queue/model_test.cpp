#include "queue/model.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace mando::queue {
namespace {

using namespace std::chrono_literals;

// Asserts that `result` is kInvalidArgument and that its message starts with `field`.
template <typename T>
void expect_invalid(const Result<T>& result, std::string_view field) {
  ASSERT_FALSE(result.has_value()) << "expected an error naming " << field;
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(result.error().message.starts_with(std::string(field) + ":"))
      << result.error().message;
}

Queue valid_queue() {
  Queue queue;
  queue.name = {"my-project", "us-central1", "images"};
  return queue;
}

Task valid_task(TimePoint now) {
  Task task;
  task.name = {{"my-project", "us-central1", "images"}, "task-1"};
  task.request.url = "https://worker.example.com/generate";
  task.request.headers = {{"Content-Type", "application/json"}};
  task.schedule_time = now;
  return task;
}

TEST(QueueNameTest, ParsesAndRoundTrips) {
  constexpr std::string_view kText = "projects/my-project/locations/us-central1/queues/images-1";
  auto name = QueueName::parse(kText);
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(name->project, "my-project");
  EXPECT_EQ(name->location, "us-central1");
  EXPECT_EQ(name->queue, "images-1");
  EXPECT_EQ(name->full(), kText);
  EXPECT_EQ(name->parent(), "projects/my-project/locations/us-central1");
}

TEST(QueueNameTest, AcceptsLocalProjectIds) {
  auto name = QueueName::parse("projects/example.com:Local_1/locations/here/queues/q");
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(name->project, "example.com:Local_1");
}

TEST(QueueNameTest, RefusesMalformedNames) {
  for (std::string_view text : {
           "",
           "projects/p/locations/l",
           "projects/p/queues/q",
           "project/p/locations/l/queues/q",
           "projects//locations/l/queues/q",
           "projects/p/locations/UPPER/queues/q",
           "projects/p/locations/l/queues/",
           "projects/p/locations/l/queues/under_score",
           "projects/p/locations/l/queues/a/b",
           "projects/p q/locations/l/queues/q",
       }) {
    SCOPED_TRACE(text);
    expect_invalid(QueueName::parse(text), "name");
  }
  expect_invalid(QueueName::parse("projects/p/locations/l/queues/" + std::string(101, 'q')),
                 "name");
  EXPECT_TRUE(QueueName::parse("projects/p/locations/l/queues/" + std::string(100, 'q')));
}

TEST(QueueNameTest, BuildsFromParent) {
  auto name = QueueName::from_parent("projects/p/locations/l", "q");
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(name->full(), "projects/p/locations/l/queues/q");
  expect_invalid(QueueName::from_parent("projects/p", "q"), "parent");
  expect_invalid(QueueName::from_parent("projects/p/locations/L", "q"), "parent");
  expect_invalid(QueueName::from_parent("projects/p/locations/l", "bad/id"), "name");
}

TEST(TaskNameTest, ParsesAndRoundTrips) {
  constexpr std::string_view kText = "projects/p/locations/l/queues/q/tasks/Abc_123-x";
  auto name = TaskName::parse(kText);
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(name->queue.queue, "q");
  EXPECT_EQ(name->task, "Abc_123-x");
  EXPECT_EQ(name->full(), kText);
}

TEST(TaskNameTest, RefusesMalformedNames) {
  for (std::string_view text : {
           "projects/p/locations/l/queues/q",
           "projects/p/locations/l/queues/q/tasks/",
           "projects/p/locations/l/queues/q/tasks/a.b",
           "projects/p/locations/l/tasks/t",
       }) {
    SCOPED_TRACE(text);
    expect_invalid(TaskName::parse(text), "name");
  }
  expect_invalid(TaskName::parse("projects/p/locations/l/queues/q/tasks/" + std::string(501, 't')),
                 "name");
}

TEST(HttpMethodTest, RoundTripsEveryMethod) {
  for (auto method : {HttpMethod::kPost, HttpMethod::kGet, HttpMethod::kHead, HttpMethod::kPut,
                      HttpMethod::kDelete, HttpMethod::kPatch, HttpMethod::kOptions}) {
    EXPECT_EQ(parse_http_method(to_string(method)), method);
  }
  EXPECT_EQ(to_string(HttpMethod::kPatch), "PATCH");
  EXPECT_FALSE(parse_http_method("post"));
  EXPECT_FALSE(parse_http_method("CONNECT"));
}

TEST(TaskStateTest, NamesEveryState) {
  EXPECT_EQ(to_string(TaskState::kPending), "pending");
  EXPECT_EQ(to_string(TaskState::kLeased), "leased");
  EXPECT_EQ(to_string(TaskState::kFailed), "failed");
}

TEST(ValidateQueueTest, AcceptsDefaultsAndBounds) {
  auto queue = valid_queue();
  EXPECT_TRUE(validate(queue));
  queue.rate_limits.max_dispatches_per_second = 500;
  queue.rate_limits.max_concurrent_dispatches = 5000;
  queue.retry_config.max_attempts = -1;
  queue.retry_config.min_backoff = queue.retry_config.max_backoff = 0us;
  queue.worker_base_url = "http://127.0.0.1:8080";
  EXPECT_TRUE(validate(queue));
}

TEST(ValidateQueueTest, NamesTheFieldOutOfRange) {
  struct Case {
    std::string_view field;
    void (*spoil)(Queue&);
  };
  const Case cases[] = {
      {"queue.name", [](Queue& q) { q.name.queue = "bad queue"; }},
      {"queue.rateLimits.maxDispatchesPerSecond",
       [](Queue& q) { q.rate_limits.max_dispatches_per_second = 0; }},
      {"queue.rateLimits.maxDispatchesPerSecond",
       [](Queue& q) { q.rate_limits.max_dispatches_per_second = 500.5; }},
      {"queue.rateLimits.maxBurstSize", [](Queue& q) { q.rate_limits.max_burst_size = 0; }},
      {"queue.rateLimits.maxConcurrentDispatches",
       [](Queue& q) { q.rate_limits.max_concurrent_dispatches = 0; }},
      {"queue.rateLimits.maxConcurrentDispatches",
       [](Queue& q) { q.rate_limits.max_concurrent_dispatches = 5001; }},
      {"queue.retryConfig.maxAttempts", [](Queue& q) { q.retry_config.max_attempts = -2; }},
      {"queue.retryConfig.maxRetryDuration",
       [](Queue& q) { q.retry_config.max_retry_duration = -1us; }},
      {"queue.retryConfig.minBackoff", [](Queue& q) { q.retry_config.min_backoff = -1us; }},
      {"queue.retryConfig.maxBackoff", [](Queue& q) { q.retry_config.max_backoff = -1us; }},
      {"queue.retryConfig.minBackoff", [](Queue& q) { q.retry_config.min_backoff = 3601s; }},
      {"queue.retryConfig.maxDoublings", [](Queue& q) { q.retry_config.max_doublings = -1; }},
      {"queue.appEngineRoutingOverride.host",
       [](Queue& q) { q.worker_base_url = "ftp://example.com"; }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    auto queue = valid_queue();
    c.spoil(queue);
    expect_invalid(validate(queue), c.field);
  }
}

TEST(ValidateTaskTest, AcceptsAValidTaskAndAnEmptyId) {
  const auto now = queue::now();
  auto task = valid_task(now);
  EXPECT_TRUE(validate_new_task(task, now));
  task.name.task.clear();
  task.schedule_time = now + kMaxScheduleAhead;
  task.dispatch_deadline = kMinDispatchDeadline;
  EXPECT_TRUE(validate_new_task(task, now));
  task.request.kind = TaskRequest::Kind::kAppEngine;
  task.request.url = "/work?x=1";
  task.dispatch_deadline = kMaxDispatchDeadline;
  EXPECT_TRUE(validate_new_task(task, now));
}

TEST(ValidateTaskTest, NamesTheFieldThatIsWrong) {
  struct Case {
    std::string_view field;
    void (*spoil)(Task&);
  };
  const Case cases[] = {
      {"task.name", [](Task& t) { t.name.task = "has space"; }},
      {"task.name", [](Task& t) { t.name.queue.location = "Bad"; }},
      {"task.httpRequest.url", [](Task& t) { t.request.url = "/relative"; }},
      {"task.httpRequest.url", [](Task& t) { t.request.url = "file:///etc/passwd"; }},
      {"task.httpRequest.url", [](Task& t) { t.request.url = "not a url"; }},
      {"task.appEngineHttpRequest.relativeUri",
       [](Task& t) {
         t.request.kind = TaskRequest::Kind::kAppEngine;
         t.request.url = "work";
       }},
      {"task.httpRequest.headers",
       [](Task& t) {
         t.request.headers = {{"Bad Name", "v"}};
       }},
      {"task.httpRequest.headers",
       [](Task& t) {
         t.request.headers = {{"", "v"}};
       }},
      {"task.httpRequest.headers",
       [](Task& t) {
         t.request.headers = {{"X-A", "v\r\nX-B: 1"}};
       }},
      {"task.scheduleTime", [](Task& t) { t.schedule_time += kMaxScheduleAhead + 1us; }},
      {"task.dispatchDeadline", [](Task& t) { t.dispatch_deadline = 14s; }},
      {"task.dispatchDeadline", [](Task& t) { t.dispatch_deadline = 30min + 1us; }},
  };
  const auto now = queue::now();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.field);
    auto task = valid_task(now);
    c.spoil(task);
    expect_invalid(validate_new_task(task, now), c.field);
  }
}

TEST(GenerateTaskIdTest, TwentySixDigitsInCreationOrderThatDoNotRepeat) {
  std::set<std::string> seen;
  const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    auto id = generate_task_id();
    ASSERT_EQ(id.size(), 26u);
    EXPECT_EQ(id.find_first_not_of("0123456789"), std::string::npos) << id;
    // The time prefix never goes back, so names sort by creation (up to the microsecond).
    EXPECT_GE(id.substr(0, 16), previous.substr(0, std::min<std::size_t>(16, previous.size())));
    EXPECT_GE(std::stoll(id.substr(0, 16)), before);
    previous = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace mando::queue
