#include "queue/embedded_task_queue.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "queue/json_mapping.hpp"
#include "queue/store_call.hpp"

namespace mando::queue {

namespace asio = boost::asio;

void apply_defaults(Queue& queue) {
  const Queue defaults;
  auto& rate = queue.rate_limits;
  if (rate.max_dispatches_per_second == 0) {
    rate.max_dispatches_per_second = defaults.rate_limits.max_dispatches_per_second;
  }
  if (rate.max_burst_size == 0) rate.max_burst_size = defaults.rate_limits.max_burst_size;
  if (rate.max_concurrent_dispatches == 0) {
    rate.max_concurrent_dispatches = defaults.rate_limits.max_concurrent_dispatches;
  }
  auto& retry = queue.retry_config;
  if (retry.max_attempts == 0) retry.max_attempts = defaults.retry_config.max_attempts;
  if (retry.max_doublings == 0) retry.max_doublings = defaults.retry_config.max_doublings;
}

// Forgets old tombstones every prune_interval, until stopped.
struct EmbeddedTaskQueue::Pruner {
  explicit Pruner(asio::any_io_executor io) : strand(asio::make_strand(io)), timer(strand) {}
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  bool stopped = false;
};

namespace {

asio::awaitable<void> prune_loop(std::shared_ptr<EmbeddedTaskQueue::Pruner> pruner,
                                 DispatcherDeps deps, Micros window, Micros interval);

}  // namespace

EmbeddedTaskQueue::EmbeddedTaskQueue(DispatcherDeps deps, EmbeddedOptions options)
    : deps_(deps),
      options_(std::move(options)),
      dispatcher_(deps, options_.dispatcher),
      pruner_(std::make_shared<Pruner>(deps.io)),
      watcher_(std::make_shared<Watcher>()) {}

EmbeddedTaskQueue::~EmbeddedTaskQueue() { stop(); }

std::unique_ptr<EmbeddedTaskQueue> EmbeddedTaskQueue::open(DispatcherDeps deps,
                                                           EmbeddedOptions options) {
  return std::unique_ptr<EmbeddedTaskQueue>(new EmbeddedTaskQueue(deps, std::move(options)));
}

Result<void> EmbeddedTaskQueue::start_dispatch(std::string default_worker_base_url) {
  std::string token;
  do {
    auto page = deps_.store.list_queues("", 1000, token);
    if (!page) return tl::unexpected(page.error());
    for (const Queue& q : page->items) dispatcher_.upsert_queue(q);
    token = page->next_page_token;
  } while (!token.empty());
  // Other processes sharing the store create tasks and change queues: hear of it.
  watcher_->queue = this;
  deps_.store.watch([watcher = watcher_](const TaskStore::Change& change) {
    std::lock_guard lock(watcher->mutex);
    if (watcher->queue != nullptr) watcher->queue->on_change(change);
  });
  dispatcher_.start(std::move(default_worker_base_url));
  asio::co_spawn(pruner_->strand,
                 prune_loop(pruner_, deps_, options_.dedup_window, options_.prune_interval),
                 asio::detached);
  return {};
}

void EmbeddedTaskQueue::on_change(const TaskStore::Change& change) {
  if (change.kind == TaskStore::Change::Kind::kTask) {
    if (auto name = QueueName::parse(change.queue)) dispatcher_.notify(*name);
    return;
  }
  asio::co_spawn(pruner_->strand, refresh_queues(watcher_, deps_, change.queue), asio::detached);
}

// A queue another process changed (or, for "", every queue): its loop gets the stored
// settings, or goes when the queue is gone.
asio::awaitable<void> EmbeddedTaskQueue::refresh_queues(std::shared_ptr<Watcher> watcher,
                                                        DispatcherDeps deps, std::string name) {
  auto apply = [&](const std::function<void(Dispatcher&)>& fn) {
    std::lock_guard lock(watcher->mutex);
    if (watcher->queue != nullptr) fn(watcher->queue->dispatcher_);
  };
  if (name.empty()) {
    auto page = co_await store_call(deps.blocking, deps.store, &TaskStore::list_queues,
                                    std::string(), 1000, std::string());
    if (!page) co_return;  // the next change, or the poll, tries again
    for (const Queue& q : page->items) apply([&](Dispatcher& d) { d.upsert_queue(q); });
    co_return;
  }
  auto parsed = QueueName::parse(name);
  if (!parsed) co_return;
  auto queue = co_await store_call(deps.blocking, deps.store, &TaskStore::get_queue, *parsed);
  if (queue) {
    apply([&](Dispatcher& d) { d.upsert_queue(*queue); });
  } else if (queue.error().kind == ErrorKind::kNotFound) {
    apply([&](Dispatcher& d) { d.remove_queue(*parsed); });
  }
}

void EmbeddedTaskQueue::stop() {
  {
    std::lock_guard lock(watcher_->mutex);
    watcher_->queue = nullptr;
  }
  dispatcher_.stop();
  asio::post(pruner_->strand, [pruner = pruner_] {
    pruner->stopped = true;
    pruner->timer.cancel();
  });
}

Result<void> EmbeddedTaskQueue::declare(std::vector<Queue> queues) {
  for (Queue& queue : queues) {
    apply_defaults(queue);
    if (auto ok = validate(queue); !ok) {
      return fail(ok.error().kind,
                  fmt::format("[queues.{}] {}", queue.name.queue, ok.error().message));
    }
    auto stored = deps_.store.get_queue(queue.name);
    if (!stored && stored.error().kind != ErrorKind::kNotFound) {
      return tl::unexpected(stored.error());
    }
    if (stored) queue.purge_time = stored->purge_time;
    auto written = stored ? deps_.store.update_queue(queue) : deps_.store.create_queue(queue);
    if (!written && !stored && written.error().kind == ErrorKind::kAlreadyExists) {
      written = deps_.store.update_queue(queue);  // another process sharing the store won
    }
    if (!written) return tl::unexpected(written.error());
    dispatcher_.upsert_queue(*written);
  }
  return {};
}

namespace {

asio::awaitable<void> prune_loop(std::shared_ptr<EmbeddedTaskQueue::Pruner> pruner,
                                 DispatcherDeps deps, Micros window, Micros interval) {
  while (!pruner->stopped) {
    pruner->timer.expires_after(interval);
    co_await pruner->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (pruner->stopped) break;
    auto pruned = co_await store_call(deps.blocking, deps.store, &TaskStore::prune_tombstones,
                                      deps.store.now() - window);
    if (!pruned) {
      core::logger("queue")->warn("pruning task-name tombstones failed: {}",
                                  pruned.error().message);
    }
  }
}

}  // namespace

asio::awaitable<Result<void>> EmbeddedTaskQueue::reset_deduplication() {
  co_return co_await call(&TaskStore::reset_deduplication);
}

asio::awaitable<Result<Queue>> EmbeddedTaskQueue::create_queue(Queue queue) {
  apply_defaults(queue);
  if (auto ok = validate(queue); !ok) co_return tl::unexpected(ok.error());
  auto created = co_await call(&TaskStore::create_queue, queue);
  if (created) dispatcher_.upsert_queue(*created);
  co_return created;
}

asio::awaitable<Result<Queue>> EmbeddedTaskQueue::get_queue(QueueName name) {
  co_return co_await call(&TaskStore::get_queue, name);
}

asio::awaitable<Result<Page<Queue>>> EmbeddedTaskQueue::list_queues(std::string parent,
                                                                    int page_size,
                                                                    std::string page_token) {
  if (parent.empty()) co_return fail(ErrorKind::kInvalidArgument, "parent: must be set");
  co_return co_await call(&TaskStore::list_queues, parent, page_size, page_token);
}

asio::awaitable<Result<Queue>> EmbeddedTaskQueue::update_queue(Queue patch,
                                                               std::vector<std::string> mask) {
  // Read, change, write: two updates of one queue at once may both apply; the last one wins,
  // field by field of its mask, as an operator would expect from two admin calls.
  auto current = co_await call(&TaskStore::get_queue, patch.name);
  const bool exists = current.has_value();
  if (!exists && current.error().kind != ErrorKind::kNotFound) {
    co_return tl::unexpected(current.error());
  }
  Queue queue;
  if (exists) {
    queue = *current;
  } else {
    queue.name = patch.name;
  }
  if (auto ok = apply_queue_update(queue, patch, mask); !ok) co_return tl::unexpected(ok.error());
  apply_defaults(queue);
  if (auto ok = validate(queue); !ok) co_return tl::unexpected(ok.error());
  // Not `exists ? co_await ... : co_await ...`: g++ 12 frees the result of a co_await inside
  // a conditional expression twice.
  Result<Queue> written;
  if (exists) {
    written = co_await call(&TaskStore::update_queue, queue);
  } else {
    written = co_await call(&TaskStore::create_queue, queue);
  }
  if (written) dispatcher_.upsert_queue(*written);
  co_return written;
}

asio::awaitable<Result<void>> EmbeddedTaskQueue::delete_queue(QueueName name) {
  auto deleted = co_await call(&TaskStore::delete_queue, name);
  if (deleted) dispatcher_.remove_queue(name);
  co_return deleted;
}

asio::awaitable<Result<Queue>> EmbeddedTaskQueue::set_state(QueueName name, QueueState state) {
  auto queue = co_await call(&TaskStore::get_queue, name);
  if (!queue) co_return queue;
  queue->state = state;
  auto updated = co_await call(&TaskStore::update_queue, *queue);
  if (updated) dispatcher_.upsert_queue(*updated);
  co_return updated;
}

asio::awaitable<Result<Queue>> EmbeddedTaskQueue::pause_queue(QueueName name) {
  co_return co_await set_state(std::move(name), QueueState::kPaused);
}

asio::awaitable<Result<Queue>> EmbeddedTaskQueue::resume_queue(QueueName name) {
  co_return co_await set_state(std::move(name), QueueState::kRunning);
}

asio::awaitable<Result<Queue>> EmbeddedTaskQueue::purge_queue(QueueName name) {
  co_return co_await call(&TaskStore::purge_queue, name, deps_.store.now());
}

asio::awaitable<Result<Task>> EmbeddedTaskQueue::create_task(Task task) {
  const TimePoint at = deps_.store.now();
  if (task.dispatch_deadline == Micros::zero()) task.dispatch_deadline = kDefaultDispatchDeadline;
  if (auto ok = validate_new_task(task, at); !ok) co_return tl::unexpected(ok.error());
  if (task.name.task.empty()) task.name.task = generate_task_id();
  auto created = co_await call(&TaskStore::create_task, task, options_.dedup_window, at);
  if (created) dispatcher_.notify(created->name.queue);
  co_return created;
}

asio::awaitable<Result<Task>> EmbeddedTaskQueue::get_task(TaskName name) {
  co_return co_await call(&TaskStore::get_task, name);
}

asio::awaitable<Result<Page<Task>>> EmbeddedTaskQueue::list_tasks(QueueName queue,
                                                                  TaskFilter filter, int page_size,
                                                                  std::string page_token) {
  co_return co_await call(&TaskStore::list_tasks, queue, filter, page_size, page_token);
}

asio::awaitable<Result<void>> EmbeddedTaskQueue::delete_task(TaskName name) {
  co_return co_await call(&TaskStore::delete_task, name, deps_.store.now());
}

asio::awaitable<Result<Task>> EmbeddedTaskQueue::run_task(TaskName name) {
  auto queue = co_await call(&TaskStore::get_queue, name.queue);
  if (!queue) co_return tl::unexpected(queue.error());
  auto leased = co_await call(&TaskStore::run_task, name, deps_.store.now(),
                              options_.dispatcher.lease_margin);
  if (leased) dispatcher_.dispatch_leased(*queue, *leased);
  co_return leased;
}

}  // namespace mando::queue
