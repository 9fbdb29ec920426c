#include "bot/tasks.hpp"

#include <algorithm>

namespace mando::bot {

namespace asio = boost::asio;

std::vector<core::DeclaredQueue> with_bot_queues(std::vector<core::DeclaredQueue> configured,
                                                 int cpu_threads) {
  using std::chrono::seconds;
  auto declare = [&configured](std::string_view id) -> core::DeclaredQueue& {
    auto it = std::find_if(configured.begin(), configured.end(),
                           [id](const core::DeclaredQueue& q) { return q.id == id; });
    if (it != configured.end()) return *it;
    core::DeclaredQueue added;
    added.id = std::string(id);
    return configured.emplace_back(std::move(added));
  };
  auto fill = [](core::DeclaredQueue& q, int concurrency, seconds max_backoff) {
    if (q.max_concurrent_dispatches == 0) q.max_concurrent_dispatches = concurrency;
    if (q.max_attempts == 0) q.max_attempts = -1;  // bounded by max_retry_duration instead
    if (!q.max_retry_duration)
      q.max_retry_duration = std::chrono::duration_cast<std::chrono::milliseconds>(kTokenLifetime);
    if (!q.min_backoff) q.min_backoff = seconds(1);
    if (!q.max_backoff) q.max_backoff = max_backoff;
    if (q.max_doublings == 0) q.max_doublings = 4;
  };
  fill(declare(kCreateImageQueue), std::max(2, 2 * std::max(1, cpu_threads)), seconds(10));
  fill(declare(kReplyDiscordQueue), 200, seconds(30));
  return configured;
}

TaskSender::TaskSender(queue::TaskQueue& queue, const core::QueueConfig& config)
    : queue_(queue), project_(config.project), location_(config.location) {}

asio::awaitable<Result<bool>> TaskSender::send(std::string_view queue_id, std::string task_id,
                                               std::string_view worker_path, std::string body) {
  queue::Task task;
  task.name = {{project_, location_, std::string(queue_id)}, std::move(task_id)};
  task.request.kind = queue::TaskRequest::Kind::kAppEngine;
  task.request.url = std::string(worker_path);
  task.request.headers.emplace_back("Content-Type", "application/json");
  task.request.body = std::move(body);
  auto created = co_await queue_.create_task(std::move(task));
  if (created) co_return true;
  if (created.error().kind == ErrorKind::kAlreadyExists) co_return false;
  co_return tl::unexpected(created.error());
}

}  // namespace mando::bot
