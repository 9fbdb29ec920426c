#pragma once
// TaskQueue: what the rest of mando (bot modules, the REST API, the CLI) uses to talk to a
// Cloud Tasks-like queue. Two implementations:
//   - EmbeddedTaskQueue (embedded_task_queue.hpp): a TaskStore plus the dispatcher, in-process;
//   - RemoteTaskQueue: the Cloud Tasks v2 REST API of another mando or of Google's service.
// Both give the same answers for the same calls, so a bot moves from one machine to Cloud Tasks
// by configuration only.
//
// Errors are the google.rpc vocabulary of ErrorKind: kInvalidArgument (naming the field the way
// the REST API spells it), kNotFound, kAlreadyExists (a task name in use or within the
// deduplication window), kFailedPrecondition, kUnavailable.

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "queue/model.hpp"
#include "queue/task_store.hpp"

namespace mando::queue {

class TaskQueue {
 public:
  virtual ~TaskQueue() = default;

  virtual boost::asio::awaitable<Result<Queue>> create_queue(Queue queue) = 0;
  virtual boost::asio::awaitable<Result<Queue>> get_queue(QueueName name) = 0;
  virtual boost::asio::awaitable<Result<Page<Queue>>> list_queues(std::string parent, int page_size,
                                                                  std::string page_token) = 0;
  // Sets the fields of `patch` that `update_mask` names (proto field paths in snake_case, such
  // as "rate_limits.max_dispatches_per_second"; empty: every field). Creates the queue when it
  // does not exist, as Cloud Tasks does.
  virtual boost::asio::awaitable<Result<Queue>> update_queue(
      Queue patch, std::vector<std::string> update_mask) = 0;
  virtual boost::asio::awaitable<Result<void>> delete_queue(QueueName name) = 0;
  virtual boost::asio::awaitable<Result<Queue>> pause_queue(QueueName name) = 0;
  virtual boost::asio::awaitable<Result<Queue>> resume_queue(QueueName name) = 0;
  virtual boost::asio::awaitable<Result<Queue>> purge_queue(QueueName name) = 0;

  // `task.name.queue` must be set; an empty `task.name.task` gets a generated id. A task with
  // no schedule time (the epoch) is due now. Answers the task as stored.
  virtual boost::asio::awaitable<Result<Task>> create_task(Task task) = 0;
  virtual boost::asio::awaitable<Result<Task>> get_task(TaskName name) = 0;
  virtual boost::asio::awaitable<Result<Page<Task>>> list_tasks(QueueName queue, TaskFilter filter,
                                                                int page_size,
                                                                std::string page_token) = 0;
  virtual boost::asio::awaitable<Result<void>> delete_task(TaskName name) = 0;
  // Dispatches the task now, whatever its schedule time, its state (a dead letter runs again)
  // or the queue's rate limits, even when the queue is paused, as Cloud Tasks does. Answers the
  // task as it is once dispatched, before the worker's answer.
  virtual boost::asio::awaitable<Result<Task>> run_task(TaskName name) = 0;
};

}  // namespace mando::queue
