#pragma once
// The ingress half every job command shares (/mando, its buttons, /transform): admit the job
// against the user's limits (job_tracker.hpp), enqueue its task within [bot] ack_budget
// (TaskSender::send_within) and answer Discord: deferred once the task is in the queue, an
// ephemeral refusal over the limits, "busy" past the budget, an apology when the queue failed.
//
// Counted in mando_jobs_total{command, outcome} (queued, duplicate: the same interaction again,
// refused, failed) and mando_interactions_busy_total.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "bot/job_tracker.hpp"
#include "bot/jobs.hpp"
#include "bot/tasks.hpp"
#include "core/metrics.hpp"
#include "discord/interaction.hpp"

namespace mando::bot {

struct IntakeOptions {
  TaskSender* tasks = nullptr;  // both null: a registry for `mando commands sync`, no queue
  JobTracker* jobs = nullptr;
  core::MetricsRegistry* metrics = nullptr;  // optional
  std::chrono::milliseconds ack_budget{std::chrono::seconds(2)};
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

// What the user is told about, by command: "mandala", "images".
struct JobNoun {
  std::string_view command;  // the metric label: "mando", "transform"
  std::string_view what;     // "your mandala", "your images"
};

class JobIntake {
 public:
  explicit JobIntake(IntakeOptions options);

  bool ready() const { return options_.tasks != nullptr && options_.jobs != nullptr; }

  // Admits and enqueues the task `body` on `queue` (worker route `path`), named after the
  // target's interaction id. The answer for Discord.
  boost::asio::awaitable<discord::InteractionResponse> submit(JobNoun noun,
                                                              const DiscordTarget& target,
                                                              std::string_view queue,
                                                              std::string_view path,
                                                              std::string body);

 private:
  void count(JobNoun noun, std::string_view outcome);

  IntakeOptions options_;
  core::Family<core::Counter>* jobs_total_ = nullptr;
  core::Counter* busy_total_ = nullptr;
};

// The target a job of `interaction` answers (with the channel a late result may go to, see
// DiscordTarget::late_channel_id).
DiscordTarget target_of(const discord::Interaction& interaction);

}  // namespace mando::bot
