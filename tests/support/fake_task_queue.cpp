#include "support/fake_task_queue.hpp"

#include <fmt/format.h>

#include "queue/json_mapping.hpp"

namespace mando::testing {
namespace {

using queue::Page;
using queue::Queue;
using queue::QueueName;
using queue::Task;
using queue::TaskName;

Error not_found(std::string_view what, const std::string& name) {
  return Error{ErrorKind::kNotFound, fmt::format("{} \"{}\" does not exist", what, name)};
}

// The items of `map` that `keep` accepts, after the key `page_token`, `page_size` at most. The
// token of the next page is the last key returned, when more items follow.
template <typename T, typename Keep>
Page<T> page_of(const std::map<std::string, T>& map, int page_size, const std::string& page_token,
                Keep keep) {
  if (page_size <= 0) page_size = FakeTaskQueue::kDefaultPageSize;
  Page<T> page;
  auto it = page_token.empty() ? map.begin() : map.upper_bound(page_token);
  for (; it != map.end(); ++it) {
    if (!keep(it->second)) continue;
    if (page.items.size() == static_cast<std::size_t>(page_size)) {
      page.next_page_token = page.items.back().name.full();
      break;
    }
    page.items.push_back(it->second);
  }
  return page;
}

}  // namespace

FakeTaskQueue::FakeTaskQueue(queue::TimePoint now) : now_(now) {}

void FakeTaskQueue::set_now(queue::TimePoint now) {
  std::lock_guard lock(mutex_);
  now_ = now;
}

Result<void> FakeTaskQueue::fail_task(const TaskName& name) {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(name.full());
  if (it == tasks_.end()) return tl::unexpected(not_found("task", name.full()));
  it->second.state = queue::TaskState::kFailed;
  return {};
}

boost::asio::awaitable<Result<Queue>> FakeTaskQueue::create_queue(Queue queue) {
  if (auto ok = queue::validate(queue); !ok) co_return tl::unexpected(ok.error());
  std::lock_guard lock(mutex_);
  auto [it, inserted] = queues_.try_emplace(queue.name.full(), queue);
  if (!inserted) {
    co_return fail(ErrorKind::kAlreadyExists,
                   fmt::format("queue \"{}\" already exists", queue.name.full()));
  }
  co_return it->second;
}

boost::asio::awaitable<Result<Queue>> FakeTaskQueue::get_queue(QueueName name) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(name.full());
  if (it == queues_.end()) co_return tl::unexpected(not_found("queue", name.full()));
  co_return it->second;
}

boost::asio::awaitable<Result<Page<Queue>>> FakeTaskQueue::list_queues(std::string parent,
                                                                       int page_size,
                                                                       std::string page_token) {
  if (auto ok = QueueName::from_parent(parent, "q"); !ok) co_return tl::unexpected(ok.error());
  std::lock_guard lock(mutex_);
  co_return page_of(queues_, page_size, page_token,
                    [&](const Queue& q) { return q.name.parent() == parent; });
}

boost::asio::awaitable<Result<Queue>> FakeTaskQueue::update_queue(
    Queue patch, std::vector<std::string> update_mask) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(patch.name.full());
  Queue updated;
  if (it != queues_.end()) updated = it->second;
  updated.name = patch.name;
  if (auto ok = queue::apply_queue_update(updated, patch, update_mask); !ok) {
    co_return tl::unexpected(ok.error());
  }
  if (auto ok = queue::validate(updated); !ok) co_return tl::unexpected(ok.error());
  co_return queues_[updated.name.full()] = updated;
}

boost::asio::awaitable<Result<void>> FakeTaskQueue::delete_queue(QueueName name) {
  std::lock_guard lock(mutex_);
  if (queues_.erase(name.full()) == 0) co_return tl::unexpected(not_found("queue", name.full()));
  std::erase_if(tasks_, [&](const auto& entry) { return entry.second.name.queue == name; });
  co_return Result<void>{};
}

Result<Queue> FakeTaskQueue::set_state(const QueueName& name, queue::QueueState state) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(name.full());
  if (it == queues_.end()) return tl::unexpected(not_found("queue", name.full()));
  it->second.state = state;
  return it->second;
}

boost::asio::awaitable<Result<Queue>> FakeTaskQueue::pause_queue(QueueName name) {
  co_return set_state(name, queue::QueueState::kPaused);
}

boost::asio::awaitable<Result<Queue>> FakeTaskQueue::resume_queue(QueueName name) {
  co_return set_state(name, queue::QueueState::kRunning);
}

boost::asio::awaitable<Result<Queue>> FakeTaskQueue::purge_queue(QueueName name) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(name.full());
  if (it == queues_.end()) co_return tl::unexpected(not_found("queue", name.full()));
  std::erase_if(tasks_, [&](const auto& entry) {
    return entry.second.name.queue == name && entry.second.create_time <= now_;
  });
  it->second.purge_time = now_;
  co_return it->second;
}

boost::asio::awaitable<Result<Task>> FakeTaskQueue::create_task(Task task) {
  std::lock_guard lock(mutex_);
  if (auto ok = queue::validate_new_task(task, now_); !ok) co_return tl::unexpected(ok.error());
  if (!queues_.contains(task.name.queue.full())) {
    co_return tl::unexpected(not_found("queue", task.name.queue.full()));
  }
  if (task.name.task.empty()) task.name.task = queue::generate_task_id();
  const std::string key = task.name.full();
  if (tasks_.contains(key) || used_task_names_.contains(key)) {
    co_return fail(ErrorKind::kAlreadyExists,
                   fmt::format("task \"{}\" exists or existed recently", key));
  }
  Task stored;
  stored.name = task.name;
  stored.request = std::move(task.request);
  stored.schedule_time = task.schedule_time == queue::TimePoint{} ? now_ : task.schedule_time;
  stored.create_time = now_;
  stored.dispatch_deadline = task.dispatch_deadline;
  co_return tasks_[key] = std::move(stored);
}

boost::asio::awaitable<Result<Task>> FakeTaskQueue::get_task(TaskName name) {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(name.full());
  if (it == tasks_.end()) co_return tl::unexpected(not_found("task", name.full()));
  co_return it->second;
}

boost::asio::awaitable<Result<Page<Task>>> FakeTaskQueue::list_tasks(QueueName queue,
                                                                     queue::TaskFilter filter,
                                                                     int page_size,
                                                                     std::string page_token) {
  std::lock_guard lock(mutex_);
  if (!queues_.contains(queue.full())) co_return tl::unexpected(not_found("queue", queue.full()));
  co_return page_of(tasks_, page_size, page_token, [&](const Task& t) {
    if (t.name.queue != queue) return false;
    switch (filter) {
      case queue::TaskFilter::kAll:
        return true;
      case queue::TaskFilter::kPending:
        return t.state == queue::TaskState::kPending;
      case queue::TaskFilter::kFailed:
        return t.state == queue::TaskState::kFailed;
    }
    return false;
  });
}

std::vector<Task> FakeTaskQueue::tasks_in(const QueueName& queue) {
  std::lock_guard lock(mutex_);
  std::vector<Task> out;
  for (const auto& [name, task] : tasks_) {
    if (task.name.queue == queue) out.push_back(task);
  }
  return out;
}

boost::asio::awaitable<Result<void>> FakeTaskQueue::delete_task(TaskName name) {
  std::lock_guard lock(mutex_);
  if (tasks_.erase(name.full()) == 0) co_return tl::unexpected(not_found("task", name.full()));
  used_task_names_.insert(name.full());
  co_return Result<void>{};
}

boost::asio::awaitable<Result<Task>> FakeTaskQueue::run_task(TaskName name) {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(name.full());
  if (it == tasks_.end()) co_return tl::unexpected(not_found("task", name.full()));
  Task& task = it->second;
  ++task.dispatch_count;
  task.state = queue::TaskState::kLeased;
  queue::Attempt attempt;
  attempt.schedule_time = task.schedule_time;
  attempt.dispatch_time = now_;
  if (!task.first_attempt) task.first_attempt = attempt;
  task.last_attempt = attempt;
  co_return task;
}

}  // namespace mando::testing
