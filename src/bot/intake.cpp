#include "bot/intake.hpp"

#include <fmt/format.h>

#include "core/log.hpp"

namespace mando::bot {

namespace {

discord::InteractionResponse refusal(const JobTracker::Admission& admission) {
  return discord::InteractionResponse::ephemeral(fmt::format(
      "You already have {} job{} waiting and {} being made (at most {} may wait). Try again "
      "when one of them is done.",
      admission.queued, admission.queued == 1 ? "" : "s", admission.running, admission.max_queued));
}

}  // namespace

DiscordTarget target_of(const discord::Interaction& interaction) {
  DiscordTarget target{interaction.id,
                       interaction.application_id,
                       interaction.token,
                       interaction.user.id,
                       interaction.guild_id,
                       interaction.attachment_size_limit.value_or(0),
                       {},
                       false};
  // Discord's permission bits: VIEW_CHANNEL, SEND_MESSAGES, ATTACH_FILES.
  constexpr std::uint64_t kView = 1u << 10, kSend = 1u << 11, kAttach = 1u << 15;
  const std::uint64_t perms = interaction.app_permissions.value_or(0);
  if (interaction.guild_install && interaction.channel_id &&
      (perms & (kView | kSend)) == (kView | kSend)) {
    target.late_channel_id = *interaction.channel_id;
    target.late_attach = (perms & kAttach) != 0;
  }
  return target;
}

JobIntake::JobIntake(IntakeOptions options) : options_(std::move(options)) {
  if (options_.metrics == nullptr) return;
  jobs_total_ = &options_.metrics->counter(
      "mando_jobs_total",
      "Jobs by command and outcome at the ingress: queued, duplicate (the same interaction "
      "again), refused (a user over their limit), failed (not enqueued)",
      {"command", "outcome"});
  busy_total_ = &options_.metrics
                     ->counter("mando_interactions_busy_total",
                               "Interactions answered \"busy\" because their task was not "
                               "enqueued within [bot] ack_budget",
                               {})
                     .labels({});
}

void JobIntake::count(JobNoun noun, std::string_view outcome) {
  if (jobs_total_ != nullptr) {
    jobs_total_->labels({std::string(noun.command), std::string(outcome)}).inc();
  }
}

boost::asio::awaitable<discord::InteractionResponse> JobIntake::submit(JobNoun noun,
                                                                       const DiscordTarget& target,
                                                                       std::string_view queue,
                                                                       std::string_view path,
                                                                       std::string body) {
  if (!ready()) {
    co_return discord::InteractionResponse::ephemeral(
        "This mando cannot make images: it runs without a task queue.");
  }
  const std::string& id = target.interaction_id;
  auto admission = options_.jobs->admit(target, options_.now());
  if (!admission.admitted) {
    count(noun, "refused");
    co_return refusal(admission);
  }
  using Sent = TaskSender::Sent;
  auto sent =
      co_await options_.tasks->send_within(options_.ack_budget, queue, id, path, std::move(body));
  if (!sent) {
    options_.jobs->forget(id);
    count(noun, "failed");
    core::logger("bot")->error("interaction {}: could not queue the {} job: {}", id, noun.command,
                               sent.error().message);
    co_return discord::InteractionResponse::ephemeral(fmt::format(
        "Sorry, I could not start {} just now. Please try again in a moment.", noun.what));
  }
  if (*sent == Sent::kLate) {
    // Not counted against the user: the task is taken back if it lands (send_within).
    if (admission.fresh) options_.jobs->forget(id);
    if (busy_total_ != nullptr) busy_total_->inc();
    core::logger("bot")->warn("interaction {}: the queue did not take the task within {} ms", id,
                              options_.ack_budget.count());
    co_return discord::InteractionResponse::ephemeral("mando is busy, try again in a moment.");
  }
  // A duplicate whose first job already finished must not stay counted against the user.
  if (*sent == Sent::kDuplicate && admission.fresh) options_.jobs->forget(id);
  count(noun, *sent == Sent::kCreated ? "queued" : "duplicate");
  co_return discord::InteractionResponse::deferred();
}

}  // namespace mando::bot
