#pragma once
// An in-memory TaskQueue for tests of what sits on top of one (the REST API, RemoteTaskQueue,
// bot modules). It keeps the contract of task_queue.hpp where callers can see it: validation,
// names ordered, paging with opaque tokens, deduplication of task names (a deleted name stays
// taken for good: the fake's deduplication window never ends), update masks, pause, resume and
// purge. Nothing is dispatched: run_task() only counts a dispatch and leases the task.
//
// Time is the test's: set_now(). Thread-safe (the REST API may call it from server threads).

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "queue/task_queue.hpp"

namespace mando::testing {

class FakeTaskQueue : public queue::TaskQueue {
 public:
  // Page size when a caller passes 0 or less.
  static constexpr int kDefaultPageSize = 100;

  explicit FakeTaskQueue(queue::TimePoint now);

  void set_now(queue::TimePoint now);
  // Marks a task as a dead letter, as the dispatcher does when retries run out.
  Result<void> fail_task(const queue::TaskName& name);
  // Every task of `queue` (any state), in name order: what a test checks after the fact.
  std::vector<queue::Task> tasks_in(const queue::QueueName& queue);

  boost::asio::awaitable<Result<queue::Queue>> create_queue(queue::Queue queue) override;
  boost::asio::awaitable<Result<queue::Queue>> get_queue(queue::QueueName name) override;
  boost::asio::awaitable<Result<queue::Page<queue::Queue>>> list_queues(
      std::string parent, int page_size, std::string page_token) override;
  boost::asio::awaitable<Result<queue::Queue>> update_queue(
      queue::Queue patch, std::vector<std::string> update_mask) override;
  boost::asio::awaitable<Result<void>> delete_queue(queue::QueueName name) override;
  boost::asio::awaitable<Result<queue::Queue>> pause_queue(queue::QueueName name) override;
  boost::asio::awaitable<Result<queue::Queue>> resume_queue(queue::QueueName name) override;
  boost::asio::awaitable<Result<queue::Queue>> purge_queue(queue::QueueName name) override;

  boost::asio::awaitable<Result<queue::Task>> create_task(queue::Task task) override;
  boost::asio::awaitable<Result<queue::Task>> get_task(queue::TaskName name) override;
  boost::asio::awaitable<Result<queue::Page<queue::Task>>> list_tasks(
      queue::QueueName queue, queue::TaskFilter filter, int page_size,
      std::string page_token) override;
  boost::asio::awaitable<Result<void>> delete_task(queue::TaskName name) override;
  boost::asio::awaitable<Result<queue::Task>> run_task(queue::TaskName name) override;

 private:
  Result<queue::Queue> set_state(const queue::QueueName& name, queue::QueueState state);

  std::mutex mutex_;
  queue::TimePoint now_;
  std::map<std::string, queue::Queue> queues_;  // by full name, so in list order
  std::map<std::string, queue::Task> tasks_;    // likewise
  std::set<std::string> used_task_names_;       // deleted tasks: deduplication
};

}  // namespace mando::testing
