#pragma once
// How the bot's modules hand work to each other: a named task on one of the bot's queues,
// pushed by the queue to a worker route of this (or another) mando.
//
// Tasks are appEngineHttpRequest tasks with a relative URI ("/workers/generate-image"): the
// queue resolves it against its worker base URL, so where workers run is the queue's business
// ([queues.ID] worker_base_url), not the sender's. Task ids are the interaction's id, so a
// second send of the same work (Discord retrying, a worker retried after a crash) is refused by
// the queue's deduplication and counts as done.

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "bot/jobs.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "net/http_message.hpp"
#include "queue/task_queue.hpp"

namespace mando::bot {

// The queues and worker routes of the bot (names kept stable: they are in operators' configs).
inline constexpr std::string_view kCreateImageQueue = "create-image";
inline constexpr std::string_view kReplyDiscordQueue = "reply-discord";
inline constexpr std::string_view kGenerateImagePath = "/workers/generate-image";
inline constexpr std::string_view kReplyDiscordPath = "/workers/reply-discord";
inline constexpr std::string_view kTransformImagesQueue = "transform-images";
inline constexpr std::string_view kTransformImagesPath = "/workers/transform-images";
inline constexpr std::string_view kImagineQueue = "imagine";
inline constexpr std::string_view kImaginePath = "/workers/imagine";
inline constexpr std::string_view kImagineEventsQueue = "imagine-events";
inline constexpr std::string_view kImagineEventsPath = "/workers/imagine-events";

// The bot's queues as the dispatcher declares them: each [queues.ID] of the config, with the
// bot's defaults for create-image, transform-images, imagine, imagine-events and reply-discord
// filled in where the config sets nothing. create-image dispatches at most twice as many
// renders at once as `cpu_threads`, transform-images as many jobs as `cpu_threads` (each keeps
// every decoder process busy), so waiting work waits in the queue; imagine and imagine-events
// only talk to a provider and the store, so they run many at once. All retry for as long as
// an interaction token lives.
std::vector<core::DeclaredQueue> with_bot_queues(std::vector<core::DeclaredQueue> configured,
                                                 int cpu_threads);

class TaskSender {
 public:
  // The queue must outlive the sender, and the sender every send (send_within's too, which
  // may end after its call returned).
  TaskSender(queue::TaskQueue& queue, const core::QueueConfig& config);

  // Creates task `task_id` on `queue_id`, a POST of the JSON `body` to `worker_path`. Answers
  // false when the name is taken (the work was sent before), true when created.
  boost::asio::awaitable<Result<bool>> send(std::string_view queue_id, std::string task_id,
                                            std::string_view worker_path, std::string body);

  enum class Sent {
    kCreated,
    kDuplicate,  // the name is taken: the work was sent before
    kLate,       // not done within the budget
  };
  // send() for an ingress, which must answer Discord within 3 seconds: kLate when the queue
  // has not answered within `budget`. The create is not cancelled (a remote queue cannot take
  // back a request half way); if it lands after all, the task is deleted again, best effort,
  // because the user was told to try again and the retry is another interaction: left alone it
  // would draw a second picture into the "busy" message.
  boost::asio::awaitable<Result<Sent>> send_within(std::chrono::milliseconds budget,
                                                   std::string_view queue_id, std::string task_id,
                                                   std::string_view worker_path, std::string body);

 private:
  queue::Task make_task(std::string_view queue_id, std::string task_id,
                        std::string_view worker_path, std::string body) const;

  queue::TaskQueue& queue_;
  std::string project_;
  std::string location_;
};

// Hands a finished message to reply-discord (task named after the interaction id): the
// worker's answer to its own queue, 200 once sent, 503 (retry) while the queue is unavailable.
boost::asio::awaitable<net::Response> send_reply(TaskSender& tasks, ReplyJob reply);

}  // namespace mando::bot
