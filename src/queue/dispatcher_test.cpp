#include "queue/dispatcher.hpp"

#include <gtest/gtest.h>

namespace mando::queue {
namespace {

using namespace std::chrono_literals;

Task sample_task() {
  Task task;
  task.name = {{"p", "l", "images"}, "t-1"};
  task.request.url = "https://worker.example/render?x=1";
  task.request.method = HttpMethod::kPatch;
  task.request.body = "abc";
  task.request.headers = {{"X-Mine", "yes"},
                          {"User-Agent", "sneaky"},
                          {"Host", "elsewhere"},
                          {"x-cloudtasks-taskname", "forged"},
                          {"X-Mando-Signature", "forged"}};
  task.schedule_time = TimePoint(1'700'000'000'123'456us);
  task.dispatch_deadline = 20s;
  task.dispatch_count = 1;
  return task;
}

TEST(WorkerRequest, CarriesTheTaskAndCloudTasksHeaders) {
  const auto signer = RequestSigner::random();
  const auto request = build_worker_request(Queue{}, sample_task(), {}, signer);
  EXPECT_EQ(request.method, "PATCH");
  EXPECT_EQ(request.url, "https://worker.example/render?x=1");
  EXPECT_EQ(request.body, "abc");
  EXPECT_EQ(request.timeout, 20s);
  EXPECT_EQ(request.connect_timeout, 5s);
  EXPECT_EQ(request.headers.get("X-Mine"), "yes");
  EXPECT_EQ(request.headers.get("User-Agent"), "Google-Cloud-Tasks");
  EXPECT_FALSE(request.headers.contains("Host"));
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskName"), "t-1");
  EXPECT_EQ(request.headers.get("X-CloudTasks-QueueName"), "images");
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskRetryCount"), "0");
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskETA"), "1700000000.123456");
  EXPECT_EQ(request.headers.get("Content-Type"), "application/octet-stream");

  // The worker sees the signature it can check against its own request line.
  net::Request seen;
  seen.method = request.method;
  seen.target = "/render?x=1";
  seen.body = request.body;
  seen.headers = request.headers;
  EXPECT_TRUE(signer.verify(seen, std::chrono::system_clock::now()));
}

TEST(WorkerRequest, RetriesSayWhy) {
  Task task = sample_task();
  task.dispatch_count = 3;
  task.response_count = 1;
  task.last_attempt = Attempt{};
  task.last_attempt->error = "deadline exceeded";
  auto request = build_worker_request(Queue{}, task, {}, RequestSigner::random());
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskRetryCount"), "2");
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskExecutionCount"), "1");
  EXPECT_FALSE(request.headers.contains("X-CloudTasks-TaskPreviousResponse"));
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskRetryReason"), "deadline exceeded");
  task.last_attempt->http_status = 502;
  task.last_attempt->error = "HTTP 502";
  request = build_worker_request(Queue{}, task, {}, RequestSigner::random());
  EXPECT_EQ(request.headers.get("X-CloudTasks-TaskPreviousResponse"), "502");
}

TEST(WorkerRequest, AppEngineUrisResolveAgainstTheBaseUrl) {
  Task task = sample_task();
  task.request.kind = TaskRequest::Kind::kAppEngine;
  task.request.url = "/tasks/a";
  DispatcherOptions options;
  options.default_worker_base_url = "http://127.0.0.1:8080";
  EXPECT_EQ(build_worker_request(Queue{}, task, options, RequestSigner::random()).url,
            "http://127.0.0.1:8080/tasks/a");
  Queue queue;
  queue.worker_base_url = "http://workers.internal:9000/";
  EXPECT_EQ(build_worker_request(queue, task, options, RequestSigner::random()).url,
            "http://workers.internal:9000/tasks/a");
}

TEST(WorkerRequest, KeepsTheTasksContentType) {
  Task task = sample_task();
  task.request.headers = {{"content-type", "application/json"}};
  auto request = build_worker_request(Queue{}, task, {}, RequestSigner::random());
  EXPECT_EQ(request.headers.get("Content-Type"), "application/json");
}

}  // namespace
}  // namespace mando::queue
