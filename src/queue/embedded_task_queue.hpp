#pragma once
// EmbeddedTaskQueue: the TaskQueue of one process, a TaskStore plus the dispatcher.
//
// It is where Cloud Tasks' rules that are not storage live: defaults for unset fields
// (proto3's zero means "unset": maxAttempts 0 is 100, maxDispatchesPerSecond 0 is 500, ...),
// validation, generated task names, the deduplication window, update masks
// (apply_queue_update() of json_mapping.hpp, which knows the settable paths), pause and resume,
// and keeping the dispatcher's loops in step with the queues in the store. Store calls run on
// the blocking pool; the awaitables resume on the caller's executor.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "queue/dispatcher.hpp"
#include "queue/store_call.hpp"
#include "queue/task_queue.hpp"

namespace mando::queue {

struct EmbeddedOptions {
  // A task name stays taken this long after its task completed or was deleted (Cloud Tasks:
  // about an hour). 0: only live tasks block a name.
  Micros dedup_window = std::chrono::hours(1);
  // How often tombstones older than the window are forgotten.
  Micros prune_interval = std::chrono::minutes(1);
  DispatcherOptions dispatcher;
};

// Fills what proto3 leaves unset (zeros) with Cloud Tasks' defaults.
void apply_defaults(Queue& queue);

class EmbeddedTaskQueue final : public TaskQueue {
 public:
  // A queue over `deps.store` that accepts calls but dispatches nothing until
  // start_dispatch(). `deps` must outlive the queue.
  static std::unique_ptr<EmbeddedTaskQueue> open(DispatcherDeps deps, EmbeddedOptions options);
  // Starts dispatching every queue in the store (and every later one) and the pruning of old
  // tombstones. `default_worker_base_url` (e.g. the server's own address once it listens)
  // resolves appEngineHttpRequest tasks of queues that set no base URL; empty keeps the one of
  // the options. Blocks on the store: call at start-up.
  Result<void> start_dispatch(std::string default_worker_base_url);
  ~EmbeddedTaskQueue() override;

  // Creates each queue that does not exist and gives existing ones these settings (their
  // state too): the queues an operator declares in the config file; errors name the queue as
  // the file does ("[queues.images] queue.rateLimits..."). Blocks: call at start-up.
  Result<void> declare(std::vector<Queue> queues);
  // Forgets every tombstone (tests, local development).
  boost::asio::awaitable<Result<void>> reset_deduplication();
  // Stops dispatching and pruning. Called by the destructor.
  void stop();
  // The queues whose dispatch this process leads (Dispatcher::leading()).
  std::vector<std::string> leading() const { return dispatcher_.leading(); }

  boost::asio::awaitable<Result<Queue>> create_queue(Queue queue) override;
  boost::asio::awaitable<Result<Queue>> get_queue(QueueName name) override;
  boost::asio::awaitable<Result<Page<Queue>>> list_queues(std::string parent, int page_size,
                                                          std::string page_token) override;
  boost::asio::awaitable<Result<Queue>> update_queue(Queue patch,
                                                     std::vector<std::string> update_mask) override;
  boost::asio::awaitable<Result<void>> delete_queue(QueueName name) override;
  boost::asio::awaitable<Result<Queue>> pause_queue(QueueName name) override;
  boost::asio::awaitable<Result<Queue>> resume_queue(QueueName name) override;
  boost::asio::awaitable<Result<Queue>> purge_queue(QueueName name) override;

  boost::asio::awaitable<Result<Task>> create_task(Task task) override;
  boost::asio::awaitable<Result<Task>> get_task(TaskName name) override;
  boost::asio::awaitable<Result<Page<Task>>> list_tasks(QueueName queue, TaskFilter filter,
                                                        int page_size,
                                                        std::string page_token) override;
  boost::asio::awaitable<Result<void>> delete_task(TaskName name) override;
  boost::asio::awaitable<Result<Task>> run_task(TaskName name) override;

  struct Pruner;  // internal: the tombstone-pruning loop's state
  // Internal: what the store's change handler reaches this queue through; emptied by stop(),
  // since the store may call the handler until it closes.
  struct Watcher {
    std::mutex mutex;
    EmbeddedTaskQueue* queue = nullptr;
  };

 private:
  EmbeddedTaskQueue(DispatcherDeps deps, EmbeddedOptions options);
  boost::asio::awaitable<Result<Queue>> set_state(QueueName name, QueueState state);
  // store_call() on this queue's pool and store.
  template <typename Method, typename... Args>
  auto call(Method method, Args... args) {
    return store_call(deps_.blocking, deps_.store, method, std::move(args)...);
  }
  // A change another process made to the shared store (TaskStore::watch()).
  void on_change(const TaskStore::Change& change);
  static boost::asio::awaitable<void> refresh_queues(std::shared_ptr<Watcher> watcher,
                                                     DispatcherDeps deps, std::string name);

  DispatcherDeps deps_;
  EmbeddedOptions options_;
  Dispatcher dispatcher_;
  std::shared_ptr<Pruner> pruner_;  // shared with its coroutine, which may outlive the queue
  std::shared_ptr<Watcher> watcher_;
};

}  // namespace mando::queue
