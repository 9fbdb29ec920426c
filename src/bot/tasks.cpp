#include "bot/tasks.hpp"

#include <algorithm>
#include <memory>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

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
  fill(declare(kTransformImagesQueue), std::max(2, std::max(1, cpu_threads)), seconds(10));
  fill(declare(kImagineQueue), 100, seconds(10));
  fill(declare(kImagineEventsQueue), 200, seconds(10));
  fill(declare(kReplyDiscordQueue), 200, seconds(30));
  return configured;
}

namespace {

asio::awaitable<Result<bool>> create(queue::TaskQueue& queue, queue::Task task) {
  auto created = co_await queue.create_task(std::move(task));
  if (created) co_return true;
  if (created.error().kind == ErrorKind::kAlreadyExists) co_return false;
  co_return tl::unexpected(created.error());
}

// One send_within(), shared by the caller waiting for it and the create that may outlive the
// wait. Only touched on one strand.
struct Pending {
  explicit Pending(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;  // the budget; cancelled when the create answers first
  std::optional<Result<bool>> result;
  bool abandoned = false;  // the budget ran out: the caller answered "busy"
};

asio::awaitable<void> create_into(queue::TaskQueue* queue, std::shared_ptr<Pending> pending,
                                  queue::Task task) {
  queue::TaskName name = task.name;
  Result<bool> result = co_await create(*queue, std::move(task));
  if (!pending->abandoned) {
    pending->result = std::move(result);
    pending->timer.cancel();
    co_return;
  }
  auto log = core::logger("bot");
  if (!result || !*result) co_return;  // nothing was created, nothing to take back
  auto deleted = co_await queue->delete_task(name);
  if (deleted) {
    log->info("task {} landed after its budget and was deleted", name.task);
  } else {
    log->warn("task {} landed after its budget and could not be deleted, it will run: {}",
              name.task, deleted.error().message);
  }
}

// On a strand, so that the wait and the create never run at once.
asio::awaitable<Result<TaskSender::Sent>> race(queue::TaskQueue* queue,
                                               std::chrono::milliseconds budget, queue::Task task) {
  auto executor = co_await asio::this_coro::executor;
  auto pending = std::make_shared<Pending>(executor);
  pending->timer.expires_after(budget);
  asio::co_spawn(executor, create_into(queue, pending, std::move(task)), asio::detached);
  co_await pending->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!pending->result) {
    pending->abandoned = true;
    co_return TaskSender::Sent::kLate;
  }
  if (!*pending->result) co_return tl::unexpected(pending->result->error());
  co_return **pending->result ? TaskSender::Sent::kCreated : TaskSender::Sent::kDuplicate;
}

}  // namespace

TaskSender::TaskSender(queue::TaskQueue& queue, const core::QueueConfig& config)
    : queue_(queue), project_(config.project), location_(config.location) {}

queue::Task TaskSender::make_task(std::string_view queue_id, std::string task_id,
                                  std::string_view worker_path, std::string body) const {
  queue::Task task;
  task.name = {{project_, location_, std::string(queue_id)}, std::move(task_id)};
  task.request.kind = queue::TaskRequest::Kind::kAppEngine;
  task.request.url = std::string(worker_path);
  task.request.headers.emplace_back("Content-Type", "application/json");
  task.request.body = std::move(body);
  return task;
}

asio::awaitable<Result<bool>> TaskSender::send(std::string_view queue_id, std::string task_id,
                                               std::string_view worker_path, std::string body) {
  co_return co_await create(queue_,
                            make_task(queue_id, std::move(task_id), worker_path, std::move(body)));
}

asio::awaitable<Result<TaskSender::Sent>> TaskSender::send_within(std::chrono::milliseconds budget,
                                                                  std::string_view queue_id,
                                                                  std::string task_id,
                                                                  std::string_view worker_path,
                                                                  std::string body) {
  auto task = make_task(queue_id, std::move(task_id), worker_path, std::move(body));
  auto strand = asio::make_strand(co_await asio::this_coro::executor);
  co_return co_await asio::co_spawn(strand, race(&queue_, budget, std::move(task)),
                                    asio::use_awaitable);
}

asio::awaitable<net::Response> send_reply(TaskSender& tasks, ReplyJob reply) {
  const std::string id = reply.target.interaction_id;
  auto sent = co_await tasks.send(kReplyDiscordQueue, id, kReplyDiscordPath, to_json(reply));
  if (!sent) {
    core::logger("bot")->warn("interaction {}: reply-discord unavailable, the queue will retry: {}",
                              id, sent.error().message);
    co_return net::Response::json_error(503, "the queue is unavailable");
  }
  co_return net::Response::text(200, "sent to reply-discord\n");
}

}  // namespace mando::bot
