// ImagineModule, part 2 of 3: webhooks, the events worker and the poller (imagine.hpp, steps
// 3 to 5).

#include <algorithm>
#include <cctype>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "bot/commands/imagine.hpp"
#include "bot/commands/imagine_detail.hpp"
#include "bot/commands/imagine_message.hpp"
#include "bot/progress.hpp"
#include "core/crypto.hpp"
#include "core/fan_out.hpp"
#include "core/log.hpp"

namespace mando::bot::commands {

namespace asio = boost::asio;
namespace json = boost::json;
using imagine::JobRecord;
using imagine::JobStore;
using imagine::Status;
using namespace imagine_detail;

namespace {

// Delivered jobs are kept this long, for Re-roll (which reads the prompt back).
constexpr std::chrono::hours kKeepJobs{24 * 7};
constexpr std::chrono::minutes kForgetEvery{60};
constexpr int kPollBatch = 100;
constexpr int kPollConcurrency = 8;
// A webhook that comes before the submit stored the provider's id is retried this long.
constexpr std::chrono::minutes kSubmitGrace{2};

// A task name from a provider's webhook id: kept when it is a valid task id, hashed otherwise
// (it is the sender's text).
std::string event_task_name(std::string_view webhook_id) {
  const bool plain = !webhook_id.empty() && webhook_id.size() <= 200 &&
                     std::ranges::all_of(webhook_id, [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                     });
  return plain ? fmt::format("wh-{}", webhook_id)
               : fmt::format("wh-{}", core::to_hex(core::sha256(webhook_id)).substr(0, 40));
}

bool snowflake_text(std::string_view text) {
  return !text.empty() && text.size() <= 20 &&
         std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

asio::awaitable<Result<bool>> ImagineModule::send_event(std::string task_id,
                                                        const std::string& job_id,
                                                        const imagine::JobUpdate& update) {
  ImagineEvent event{job_id, imagine::to_json(update)};
  co_return co_await deps_.tasks->send(kImagineEventsQueue, std::move(task_id), kImagineEventsPath,
                                       to_json(event));
}

asio::awaitable<net::Response> ImagineModule::webhook(net::Request request) {
  const auto result = [this](std::string_view r) {
    if (webhooks_ != nullptr) webhooks_->labels({std::string(r)}).inc();
  };
  const std::string kind(request.path().substr(kWebhookRoute.size()));
  imagine::WebhookVerifier* verifier =
      deps_.providers != nullptr ? deps_.providers->verifier(kind) : nullptr;
  if (verifier == nullptr) {
    co_return net::Response::json_error(404, "no webhook is configured for this provider");
  }
  auto event_id = co_await verifier->verify(request.headers, request.body, deps_.wall());
  if (!event_id) {
    const bool keys_missing = event_id.error().kind == ErrorKind::kUnavailable;
    result(keys_missing ? "failed" : "unauthenticated");
    core::logger("bot")->warn("webhook from {} refused: {}", request.remote,
                              event_id.error().message);
    co_return net::Response::json_error(keys_missing ? 503 : 401, event_id.error().message);
  }
  const auto job_id = request.query_param("job");
  auto update = deps_.providers->any_of_kind(kind)->parse_event(request.body);
  if (!job_id || !snowflake_text(*job_id) || !update) {
    result("malformed");
    co_return net::Response::json_error(
        400, update ? "the webhook address lacks its job" : update.error().message);
  }
  auto sent = co_await record_update(event_task_name(*event_id), *job_id, *update);
  if (!sent) {
    result("failed");
    core::logger("bot")->warn("webhook for imagine job {} not recorded: {}", *job_id,
                              sent.error().message);
    co_return net::Response::json_error(503, "the event could not be recorded; send it again");
  }
  result(*sent ? "accepted" : "duplicate");
  co_return net::Response::json(200, R"({"ok":true})");
}

asio::awaitable<net::Response> ImagineModule::event(net::Request request) {
  auto event = parse_imagine_event(request.body);
  if (!event) co_return net::Response::json_error(400, event.error().message);
  auto update = imagine::parse_update(event->update);
  if (!update) co_return net::Response::json_error(400, update.error().message);
  auto merged = co_await merge_update(event->job_id, *update);
  if (!merged) co_return std::move(merged.error());
  // A result after the give-up point (the provider did not take the cancel): stored and posted
  // after all, over the give-up line while the token lives, else in the channel (reply-discord).
  const bool late = merged->changed && merged->record.delivered &&
                    merged->record.state.status == Status::kSucceeded;
  if (merged->deliver || late) co_return co_await deliver(merged->record);
  if (auto given_up = co_await give_up_if_due(merged->record)) co_return std::move(*given_up);
  if (merged->changed && !merged->record.delivered) co_await show_progress(merged->record);
  co_return net::Response::json(200, R"({"note":"merged"})");
}

asio::awaitable<tl::expected<imagine::Applied, net::Response>> ImagineModule::merge_update(
    const std::string& id, const imagine::JobUpdate& update) {
  using Answer = tl::unexpected<net::Response>;
  auto log = core::logger("bot");
  auto record = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::get, id);
  if (!record && record.error().kind == ErrorKind::kNotFound) {
    log->warn("imagine event for unknown job {} dropped", id);
    co_return Answer(net::Response::json(200, R"({"note":"unknown job"})"));
  }
  if (!record) co_return Answer(net::Response::json_error(503, "the imagine store is unavailable"));
  if (record->provider_job_id.empty() && record->submitting != imagine::Clock::time_point{}) {
    // Our submit is in doubt and the provider names its prediction: adopted, unless the
    // prediction is another job's (a signed event replayed to this job's address).
    auto owner = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::find_by_provider_job,
                                     record->model, update.provider_job_id);
    if (!owner && owner.error().kind == ErrorKind::kNotFound) {
      auto adopted = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::set_provider_job, id,
                                         update.provider_job_id);
      if (!adopted) {
        co_return Answer(net::Response::json_error(503, "the imagine store is unavailable"));
      }
      log->info("imagine job {}: provider job {} adopted from its event", id,
                update.provider_job_id);
      record->provider_job_id = update.provider_job_id;
    }
  }
  if (record->provider_job_id.empty()) {
    if (deps_.wall() - record->created < kSubmitGrace) {
      co_return Answer(net::Response::json_error(503, "the job's submit has not been stored yet"));
    }
    log->warn("imagine job {}: event for a job never submitted, dropped", id);
    co_return Answer(net::Response::json(200, R"({"note":"never submitted"})"));
  }
  if (record->provider_job_id != update.provider_job_id) {
    co_await cancel_orphan(*record, update);
    co_return Answer(net::Response::json(200, R"({"note":"another provider job"})"));
  }
  auto applied =
      co_await store_call(*deps_.cpu, *deps_.store, &JobStore::apply, id, update, deps_.wall());
  if (!applied)
    co_return Answer(net::Response::json_error(503, "the imagine store is unavailable"));
  co_return std::move(*applied);
}

// A second submit of the same job: the first one's answer was lost in a crash before its id
// was stored. Its own events name it; it runs for nobody, so it is canceled. Only a prediction
// no job knows: a signed event of another job, replayed to this job's address, must not cancel
// that job.
asio::awaitable<void> ImagineModule::cancel_orphan(const JobRecord& record,
                                                   const imagine::JobUpdate& update) {
  auto owner = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::find_by_provider_job,
                                   record.model, update.provider_job_id);
  imagine::Provider* provider = deps_.providers->find(record.model);
  const bool orphan = !owner && owner.error().kind == ErrorKind::kNotFound;
  if (provider == nullptr || !orphan || imagine::terminal(update.status)) co_return;
  auto canceled = co_await provider->cancel(update.provider_job_id);
  core::logger("bot")->warn(
      "imagine job {}: provider job {} is not the job's ({}); canceled{}", record.job_id,
      update.provider_job_id, record.provider_job_id,
      canceled ? "" : fmt::format(" (refused: {})", canceled.error().message));
}

asio::awaitable<std::optional<net::Response>> ImagineModule::give_up_if_due(
    const JobRecord& record) {
  if (imagine::terminal(record.state.status) || record.delivered) co_return std::nullopt;
  auto job = parse_imagine_job(record.request);
  imagine::Provider* provider = deps_.providers->find(record.model);
  if (!job || provider == nullptr || !deps_.finish->past_give_up(job->target)) {
    co_return std::nullopt;
  }
  co_return co_await give_up(record, *provider, job->target);
}

asio::awaitable<Result<bool>> ImagineModule::record_update(std::string task_id,
                                                           const std::string& job_id,
                                                           const imagine::JobUpdate& update) {
  // Progress (not terminal) is merged at once where it arrives: one store transaction, then
  // the progress line, instead of a task per event. Only what needs the events worker (a
  // result to deliver, the give-up point passed, anything the merge cannot decide now) goes
  // through the imagine-events queue, durably.
  if (!imagine::terminal(update.status) && deps_.finish != nullptr) {
    auto merged = co_await merge_update(job_id, update);
    if (merged) {
      auto job = parse_imagine_job(merged->record.request);
      if (job && !deps_.finish->past_give_up(job->target)) {
        if (merged->changed && !merged->record.delivered) co_await show_progress(merged->record);
        co_return true;
      }
    } else if (merged.error().status == 200) {
      co_return false;  // dropped, with its reason logged
    }
  }
  co_return co_await send_event(std::move(task_id), job_id, update);
}

void ImagineModule::forget_edits(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  last_edit_.erase(job_id);
}

asio::awaitable<void> ImagineModule::show_progress(const JobRecord& record) {
  if (deps_.discord == nullptr) co_return;
  auto job = parse_imagine_job(record.request);
  if (!job) co_return;
  const auto now = deps_.now();
  {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = last_edit_.try_emplace(record.job_id, now);
    if (!fresh && now - it->second < kMinEditInterval) co_return;
    it->second = now;
  }
  const DiscordTarget& target = job->target;
  auto edited = co_await deps_.discord->edit_original_response(
      target.application_id, target.token,
      progress_message(record.state,
                       fmt::format("{}{}:{}", kCancelPrefix, record.job_id, target.user_id)));
  if (!edited) {
    core::logger("bot")->debug("imagine job {}: progress line not shown: {}", record.job_id,
                               edited.error().message);
  }
}

asio::awaitable<void> ImagineModule::poll_job(const JobRecord& record) {
  auto log = core::logger("bot");
  const std::string& id = record.job_id;
  auto job = parse_imagine_job(record.request);
  imagine::Provider* provider = deps_.providers->find(record.model);
  if (record.provider_job_id.empty() && deps_.wall() - record.created > kTokenLifetime) {
    // Never submitted, and nobody left to answer: it waits no more.
    co_await store_call(*deps_.cpu, *deps_.store, &JobStore::mark_delivered, id);
    co_return;
  }
  if (!job || provider == nullptr || record.provider_job_id.empty()) co_return;
  const auto heard =
      std::chrono::duration_cast<std::chrono::milliseconds>(record.heard.time_since_epoch())
          .count();
  const std::string task = fmt::format("poll-{}-{}", id, heard);
  if (imagine::terminal(record.state.status)) {
    // Terminal and not delivered: a delivery was lost (a crash, a store error); again.
    imagine::JobUpdate update{record.provider_job_id, record.state.status,  std::nullopt,
                              record.state.percent,   record.state.outputs, record.state.error};
    co_await send_event(task, id, update);
    co_return;
  }
  if (deps_.finish->past_give_up(job->target)) {
    co_await give_up(record, *provider, job->target);
    co_return;
  }
  auto update = co_await provider->poll(record.provider_job_id);
  if (!update && update.error().kind == ErrorKind::kNotFound) {
    update = imagine::JobUpdate{record.provider_job_id,
                                Status::kFailed,
                                {},
                                {},
                                {},
                                "the provider no longer knows this job"};
  }
  if (!update) {
    log->warn("imagine job {}: poll failed: {}", id, update.error().message);
    co_return;
  }
  if (auto sent = co_await record_update(task, id, *update); !sent) {
    log->warn("imagine job {}: poll answer not recorded: {}", id, sent.error().message);
  }
}

asio::awaitable<net::Response> ImagineModule::give_up(const JobRecord& record,
                                                      imagine::Provider& provider,
                                                      const DiscordTarget& target) {
  forget_edits(record.job_id);
  auto canceled = co_await provider.cancel(record.provider_job_id);
  core::logger("bot")->warn(
      "imagine job {}: past the give-up point, canceled at the provider{}", record.job_id,
      canceled ? "" : fmt::format(" (refused: {})", canceled.error().message));
  count("gave_up");
  auto shown = co_await deps_.finish->fail(
      target,
      "Sorry, the provider took too long, so I canceled the job. Please try again in a moment.",
      "gave_up");
  if (shown.status == 200) {
    co_await store_call(*deps_.cpu, *deps_.store, &JobStore::mark_delivered, record.job_id);
  }
  co_return shown;
}

asio::awaitable<int> ImagineModule::poll_once() {
  const auto now = deps_.wall();
  auto waiting = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::waiting,
                                     now - deps_.config.poll_after, kPollBatch);
  if (!waiting) {
    core::logger("bot")->warn("imagine poller: store unavailable: {}", waiting.error().message);
    co_return 0;
  }
  auto poll = [&](std::size_t i) { return poll_job((*waiting)[i]); };
  co_await core::fan_out(waiting->size(), kPollConcurrency, poll);
  if (deps_.now() - last_forget_ > kForgetEvery) {
    last_forget_ = deps_.now();
    auto forgotten =
        co_await store_call(*deps_.cpu, *deps_.store, &JobStore::forget_before, now - kKeepJobs);
    if (!forgotten)
      core::logger("bot")->warn("imagine poller: old jobs not forgotten: {}",
                                forgotten.error().message);
  }
  co_return static_cast<int>(waiting->size());
}

void ImagineModule::start_poller(asio::any_io_executor executor) {
  auto self = shared_from_this();
  auto loop = [self, stopped = stopped_]() -> asio::awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto every = std::max<std::chrono::milliseconds>(self->deps_.config.poll_after / 4,
                                                           std::chrono::milliseconds(250));
    while (!*stopped) {
      co_await self->poll_once();
      timer.expires_after(every);
      co_await timer.async_wait(asio::use_awaitable);
    }
  };
  asio::co_spawn(executor, std::move(loop), asio::detached);
}

void ImagineModule::stop() { *stopped_ = true; }

}  // namespace mando::bot::commands
