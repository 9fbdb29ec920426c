#include "bot/commands/imagine.hpp"

#include <algorithm>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "bot/commands/imagine_message.hpp"
#include "bot/commands/imagine_request.hpp"
#include "bot/progress.hpp"
#include "core/blocking_call.hpp"
#include "core/crypto.hpp"
#include "core/fan_out.hpp"
#include "core/log.hpp"
#include "imagine/input_template.hpp"

namespace mando::bot::commands {

namespace asio = boost::asio;
namespace json = boost::json;
using imagine::JobRecord;
using imagine::JobStore;
using imagine::Status;

namespace {

constexpr JobNoun kImagineJob{"imagine", "your images"};
constexpr std::string_view kRerollPrefix = "imagine:reroll:";
constexpr std::string_view kDeletePrefix = "imagine:delete:";
constexpr std::string_view kCancelPrefix = "imagine:cancel:";
constexpr std::string_view kWebhookRoute = "/webhooks/imagine/";
// Delivered jobs are kept this long, for Re-roll (which reads the prompt back).
constexpr std::chrono::hours kKeepJobs{24 * 7};
constexpr std::chrono::minutes kForgetEvery{60};
constexpr int kPollBatch = 100;
constexpr int kPollConcurrency = 8;
// A webhook that comes before the submit stored the provider's id is retried this long.
constexpr std::chrono::minutes kSubmitGrace{2};
// A submit left in doubt (imagine::JobStore::mark_submitting) is not sent again before this:
// the provider's first event, if it took the job, comes well within it.
constexpr std::chrono::seconds kAdoptWindow{30};

std::int64_t random_seed() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return static_cast<std::int64_t>(random() % (static_cast<std::uint64_t>(kMaxImagineSeed) + 1));
}

std::int64_t utc_day(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::days>(t).time_since_epoch().count();
}

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

template <typename Method, typename... Args>
auto store_call(core::CpuPool& pool, JobStore& store, Method method, Args... args) {
  return core::blocking_call(pool, store, method, std::move(args)...);
}

}  // namespace

ImagineModule::ImagineModule(ImagineDeps deps)
    : deps_(std::move(deps)),
      intake_({deps_.tasks, deps_.jobs, deps_.metrics, deps_.ack_budget, deps_.now}) {
  if (deps_.metrics != nullptr) {
    outcomes_ = &deps_.metrics->counter(
        "mando_imagine_jobs_total",
        "/imagine jobs by how they ended: succeeded, failed, canceled, aborted, gave_up, lost, "
        "refused (by the provider), unauthorized (mando's token refused)",
        {"outcome"});
    webhooks_ = &deps_.metrics->counter(
        "mando_imagine_webhooks_total",
        "Provider webhooks by result: accepted, duplicate, unauthenticated, malformed, failed",
        {"result"});
  }
}

void ImagineModule::count(std::string_view outcome) {
  if (outcomes_ != nullptr) outcomes_->labels({std::string(outcome)}).inc();
}

Result<void> ImagineModule::register_into(discord::CommandRegistry& registry) {
  using discord::OptionType;
  std::vector<discord::Choice> aspects;
  for (const auto& a : imagine::kAspects)
    aspects.push_back({std::string(a.name), std::string(a.name)});
  discord::CommandSpec spec;
  spec.name = "imagine";
  spec.description = "Make images (or a video) from a prompt with an AI model";
  spec.options = {
      {.name = "prompt",
       .description = "What to draw",
       .type = OptionType::kString,
       .required = true,
       .max_length = kMaxPromptLength},
      {.name = "negative",
       .description = "What to keep out of the picture",
       .type = OptionType::kString,
       .max_length = kMaxPromptLength},
      {.name = "aspect",
       .description = "The shape of the picture",
       .type = OptionType::kString,
       .choices = std::move(aspects)},
      {.name = "model",
       .description = "Which model draws it",
       .type = OptionType::kString,
       .autocomplete = true},
      {.name = "seed",
       .description = "The same seed, prompt and model make the same picture",
       .type = OptionType::kInteger,
       .min_value = 0,
       .max_value = static_cast<double>(kMaxImagineSeed)},
      {.name = "count",
       .description = "How many images",
       .type = OptionType::kInteger,
       .min_value = 1,
       .max_value = 4},
      {.name = "image",
       .description = "A picture to start from (models that take one)",
       .type = OptionType::kAttachment},
      {.name = "video", .description = "Make a video instead", .type = OptionType::kBoolean},
  };
  auto self = shared_from_this();
  spec.handler =
      [self](discord::CommandContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    auto job = imagine_request(ctx.options(), ctx.interaction, self->deps_.config, random_seed);
    co_return co_await self->start_job(ctx.interaction, std::move(job));
  };
  spec.autocomplete =
      [self](discord::AutocompleteContext ctx) -> asio::awaitable<std::vector<discord::Choice>> {
    co_return model_choices(self->deps_.config, ctx.partial, ctx.interaction.channel_nsfw);
  };
  spec.integration_types = {0, 1};
  spec.contexts = {0, 1, 2};
  if (auto ok = registry.add(std::move(spec)); !ok) return ok;

  auto reroll =
      [self](discord::ComponentContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    auto& deps = self->deps_;
    auto record = co_await store_call(*deps.cpu, *deps.store, &JobStore::get, ctx.rest);
    auto job = record ? parse_imagine_job(record->request)
                      : Result<ImagineJob>(tl::unexpected(record.error()));
    if (!job) {
      co_return discord::InteractionResponse::ephemeral(
          "This button has expired: the job it belongs to is gone. Use /imagine again.");
    }
    job->seed = random_seed();
    if (auto ok = check_job(*job, ctx.interaction, deps.config); !ok) {
      co_return discord::InteractionResponse::ephemeral(ok.error().message);
    }
    co_return co_await self->start_job(ctx.interaction, std::move(*job));
  };
  if (auto ok = registry.add_component_prefix(std::string(kRerollPrefix), reroll); !ok) return ok;

  auto remove =
      [self](discord::ComponentContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    if (ctx.interaction.user.id != ctx.rest) {
      co_return discord::InteractionResponse::ephemeral(
          "Only the person who asked for this can delete it.");
    }
    co_return discord::InteractionResponse{
        discord::ResponseType::kUpdateMessage,
        plain_message("*Deleted by the person who asked for it.*")};
  };
  if (auto ok = registry.add_component_prefix(std::string(kDeletePrefix), remove); !ok) return ok;

  auto cancel =
      [self](discord::ComponentContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    co_return co_await self->cancel_button(std::move(ctx));
  };
  return registry.add_component_prefix(std::string(kCancelPrefix), cancel);
}

asio::awaitable<discord::InteractionResponse> ImagineModule::start_job(
    const discord::Interaction& interaction, Result<ImagineJob> job) {
  if (!job) co_return discord::InteractionResponse::ephemeral(job.error().message);
  if (!intake_.ready() || deps_.store == nullptr) {
    co_return discord::InteractionResponse::ephemeral("/imagine is not available here.");
  }
  job->target = target_of(interaction);
  const auto& config = deps_.config;
  const bool quota = config.daily_per_user > 0 || config.daily_per_guild > 0;
  if (quota) {
    if (auto refused = co_await quota_refusal(*job); refused.type != discord::ResponseType::kPong) {
      co_return refused;
    }
  }
  const std::string id = job->target.interaction_id;
  auto answer =
      co_await intake_.submit(kImagineJob, job->target, kImagineQueue, kImaginePath, to_json(*job));
  if (quota && answer.type != discord::ResponseType::kDeferredChannelMessageWithSource) {
    auto released = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::release_quota, id);
    if (!released) {
      core::logger("bot")->warn("interaction {}: quota claim not given back: {}", id,
                                released.error().message);
    }
  }
  co_return answer;
}

// The refusal when a daily quota is spent; a PONG (never a real answer here) when granted.
asio::awaitable<discord::InteractionResponse> ImagineModule::quota_refusal(const ImagineJob& job) {
  const auto& config = deps_.config;
  const auto now = deps_.wall();
  imagine::QuotaClaim claim{job.target.interaction_id,
                            job.target.user_id,
                            job.target.guild_id.value_or(""),
                            utc_day(now),
                            config.daily_per_user,
                            config.daily_per_guild};
  auto verdict = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::claim_quota, claim);
  if (!verdict) {
    core::logger("bot")->error("interaction {}: quota not checked: {}", claim.job_id,
                               verdict.error().message);
    co_return discord::InteractionResponse::ephemeral(
        "Sorry, I cannot check the daily limits right now. Please try again in a moment.");
  }
  const auto reset =
      std::chrono::duration_cast<std::chrono::seconds>(
          (std::chrono::floor<std::chrono::days>(now) + std::chrono::days(1)).time_since_epoch())
          .count();
  switch (*verdict) {
    case imagine::QuotaVerdict::kGranted:
      co_return discord::InteractionResponse::pong();
    case imagine::QuotaVerdict::kUserSpent:
      co_return discord::InteractionResponse::ephemeral(fmt::format(
          "You have used your {} /imagine jobs for today. You can imagine again <t:{}:R>.",
          config.daily_per_user, reset));
    case imagine::QuotaVerdict::kGuildSpent:
      break;
  }
  co_return discord::InteractionResponse::ephemeral(fmt::format(
      "This server has used its {} /imagine jobs for today. /imagine works here again <t:{}:R>.",
      config.daily_per_guild, reset));
}

asio::awaitable<discord::InteractionResponse> ImagineModule::cancel_button(
    discord::ComponentContext ctx) {
  // "imagine:cancel:{job}:{user}"
  const auto colon = ctx.rest.find(':');
  const std::string job_id = ctx.rest.substr(0, colon);
  const std::string owner = colon == std::string::npos ? "" : ctx.rest.substr(colon + 1);
  if (ctx.interaction.user.id != owner) {
    co_return discord::InteractionResponse::ephemeral(
        "Only the person who asked for this can cancel it.");
  }
  if (deps_.store == nullptr || deps_.providers == nullptr) {
    co_return discord::InteractionResponse::ephemeral("/imagine is not available here.");
  }
  auto record = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::get, job_id);
  if (!record || imagine::terminal(record->state.status)) {
    co_return discord::InteractionResponse::ephemeral("This job has already ended.");
  }
  imagine::Provider* provider = deps_.providers->find(record->model);
  if (provider == nullptr || record->provider_job_id.empty()) {
    co_return discord::InteractionResponse::ephemeral(
        "This job has not reached the provider yet; try again in a moment.");
  }
  auto canceled = co_await provider->cancel(record->provider_job_id);
  if (!canceled) {
    core::logger("bot")->warn("imagine job {}: cancel refused: {}", job_id,
                              canceled.error().message);
    co_return discord::InteractionResponse::ephemeral(
        "The provider did not take the cancel; please try again in a moment.");
  }
  // The provider's "canceled" event (or the poller) ends the job with its line.
  co_return discord::InteractionResponse{
      discord::ResponseType::kUpdateMessage,
      json::object{{"content", "Canceling\u2026"}, {"components", json::array{}}}};
}

asio::awaitable<net::Response> ImagineModule::submit(net::Request request) {
  auto log = core::logger("bot");
  auto job = parse_imagine_job(request.body);
  if (!job) co_return net::Response::json_error(400, job.error().message);
  const DiscordTarget& target = job->target;
  const std::string& id = target.interaction_id;
  imagine::Provider* provider = deps_.providers->find(job->model);
  if (provider == nullptr) {
    log->error("imagine job {}: model {} is not configured (any more)", id, job->model);
    co_return co_await deps_.finish->fail(
        target, fmt::format("Sorry, the model `{}` is no longer offered here.", job->model),
        "unknown_model");
  }
  if (auto stop = co_await deps_.finish->begin(target, deps_.now()); stop)
    co_return std::move(*stop);

  JobRecord fresh{id, job->model, "", request.body, {}, false, deps_.wall(), deps_.wall(), {}};
  auto record = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::create, fresh);
  if (!record) {
    log->warn("imagine job {}: store unavailable, the queue will retry: {}", id,
              record.error().message);
    co_return net::Response::json_error(503, "the imagine store is unavailable");
  }
  if (!record->provider_job_id.empty()) {
    co_return net::Response::json(200, R"({"note":"submitted before"})");
  }
  const auto now = deps_.wall();
  if (record->submitting != imagine::Clock::time_point{} &&
      now - record->submitting < kAdoptWindow) {
    // An earlier submit left without an answer (a crash, a cut connection): if the provider
    // took it, its first event names the prediction, which the events worker adopts.
    co_return net::Response::json_error(503,
                                        "waiting for the provider's word on an earlier submit");
  }
  if (auto marked =
          co_await store_call(*deps_.cpu, *deps_.store, &JobStore::mark_submitting, id, now);
      !marked) {
    co_return net::Response::json_error(503, "the imagine store is unavailable");
  }
  co_return co_await send_to_provider(*provider, *job);
}

asio::awaitable<net::Response> ImagineModule::send_to_provider(imagine::Provider& provider,
                                                               const ImagineJob& job) {
  auto log = core::logger("bot");
  const DiscordTarget& target = job.target;
  const std::string& id = target.interaction_id;
  imagine::Inputs inputs{job.prompt, job.negative, job.seed, job.count, job.aspect, job.image};
  auto input = imagine::fill_input(deps_.providers->input_template(job.model), inputs);
  if (!input) co_return net::Response::json_error(500, input.error().message);
  imagine::Submission submission{std::move(*input), "", std::chrono::seconds(0)};
  const auto& config = deps_.config;
  const std::string_view kind = deps_.providers->kind(job.model);
  if (config.webhooks && !config.public_url.empty() && deps_.providers->verifier(kind) != nullptr) {
    submission.webhook = fmt::format("{}{}{}?job={}", public_base(), kWebhookRoute, kind, id);
  }
  const auto now = deps_.wall();
  submission.cancel_after = std::chrono::duration_cast<std::chrono::seconds>(
      target.created(now) + kTokenLifetime - std::chrono::minutes(1) - now);

  auto accepted = co_await provider.submit(std::move(submission));
  if (!accepted) {
    const Error& error = accepted.error();
    // An answer other than a 5xx says the provider did not take the job: no doubt is left.
    if (error.kind != ErrorKind::kUnavailable) {
      co_await store_call(*deps_.cpu, *deps_.store, &JobStore::mark_submitting, id,
                          imagine::Clock::time_point{});
    }
    if (error.kind == ErrorKind::kResourceExhausted || error.kind == ErrorKind::kUnavailable) {
      log->warn("imagine job {}: provider busy, the queue will retry: {}", id, error.message);
      co_return net::Response::json_error(503, "the provider is unavailable");
    }
    const bool credentials = error.kind == ErrorKind::kUnauthenticated;
    if (credentials) {
      log->error("imagine job {}: model {}: {} (check its api_token)", id, job.model,
                 error.message);
    } else {
      log->info("imagine job {}: refused by the provider: {}", id, error.message);
    }
    count(credentials ? "unauthorized" : "refused");
    auto told = co_await deps_.finish->fail(
        target,
        credentials ? std::string("Sorry, the image provider refused this bot's credentials. The "
                                  "operators can see why in the log.")
                    : fmt::format("The provider refused this request: {}", error.message),
        credentials ? "provider_unauthorized" : "provider_refused");
    if (told.status == 200) {
      co_await store_call(*deps_.cpu, *deps_.store, &JobStore::mark_delivered, id);
    }
    co_return told;
  }
  if (auto kept = co_await keep_inline_outputs(id, *accepted); !kept) {
    log->warn("imagine job {}: outputs not stored, the queue will retry: {}", id,
              kept.error().message);
    co_return net::Response::json_error(503, "the blob store is unavailable");
  }
  auto stored = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::set_provider_job, id,
                                    accepted->provider_job_id);
  if (!stored) {
    // The mark of the submit stays: the prediction's first event is adopted (see submit()).
    log->warn("imagine job {}: provider job not stored, the queue will retry: {}", id,
              stored.error().message);
    co_return net::Response::json_error(503, "the imagine store is unavailable");
  }
  log->info("imagine job {}: submitted to {} as {}", id, job.model, accepted->provider_job_id);
  co_await send_event(fmt::format("sub-{}", id), id, *accepted);
  co_return net::Response::json(200, R"({"note":"submitted"})");
}

std::string ImagineModule::public_base() const {
  std::string base = deps_.config.public_url;
  while (base.ends_with('/')) base.pop_back();
  return base;
}

// A synchronous provider answers the images themselves (data: URIs): stored as blobs at once,
// the update then names them ("blob:KEY"), so that task bodies and the job store stay small.
asio::awaitable<Result<void>> ImagineModule::keep_inline_outputs(const std::string& job_id,
                                                                 imagine::JobUpdate& update) {
  for (std::size_t i = 0; i < update.outputs.size(); ++i) {
    std::string& output = update.outputs[i];
    if (!output.starts_with("data:")) continue;
    auto file = co_await fetch_output(*deps_.fetcher, *deps_.blobs, std::move(output));
    if (!file) {
      output = "data:,";  // unusable: the delivery says so
      continue;
    }
    storage::PutOptions put;
    put.content_type = file->content_type;
    auto blob = co_await deps_.blobs->put(
        fmt::format("imagine/{}/raw-{}.{}", job_id, i + 1, file->extension), std::move(file->bytes),
        std::move(put));
    if (!blob) co_return tl::unexpected(blob.error());
    output = "blob:" + blob->key;
  }
  co_return Result<void>{};
}

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
  auto sent = co_await send_event(event_task_name(*event_id), *job_id, *update);
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
  auto log = core::logger("bot");
  auto event = parse_imagine_event(request.body);
  if (!event) co_return net::Response::json_error(400, event.error().message);
  auto update = imagine::parse_update(event->update);
  if (!update) co_return net::Response::json_error(400, update.error().message);
  const std::string& id = event->job_id;
  auto record = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::get, id);
  if (!record && record.error().kind == ErrorKind::kNotFound) {
    log->warn("imagine event for unknown job {} dropped", id);
    co_return net::Response::json(200, R"({"note":"unknown job"})");
  }
  if (!record) co_return net::Response::json_error(503, "the imagine store is unavailable");
  if (record->provider_job_id.empty()) {
    if (record->submitting != imagine::Clock::time_point{}) {
      // Our submit is in doubt and the provider names its prediction: adopted, unless the
      // prediction is another job's (a signed event replayed to this job's address).
      auto owner = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::find_by_provider_job,
                                       record->model, update->provider_job_id);
      if (!owner && owner.error().kind == ErrorKind::kNotFound) {
        auto adopted = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::set_provider_job,
                                           id, update->provider_job_id);
        if (!adopted) co_return net::Response::json_error(503, "the imagine store is unavailable");
        log->info("imagine job {}: provider job {} adopted from its event", id,
                  update->provider_job_id);
        record->provider_job_id = update->provider_job_id;
      }
    }
  }
  if (record->provider_job_id.empty()) {
    if (deps_.wall() - record->created < kSubmitGrace) {
      co_return net::Response::json_error(503, "the job's submit has not been stored yet");
    }
    log->warn("imagine job {}: event for a job never submitted, dropped", id);
    co_return net::Response::json(200, R"({"note":"never submitted"})");
  }
  if (record->provider_job_id != update->provider_job_id) {
    // A second submit of the same job: the first one's answer was lost in a crash before its
    // id was stored. Its own events name it; it runs for nobody, so it is canceled.
    // Only a prediction no job knows: a signed event of another job, replayed to this job's
    // address, must not cancel that job.
    auto owner = co_await store_call(*deps_.cpu, *deps_.store, &JobStore::find_by_provider_job,
                                     record->model, update->provider_job_id);
    imagine::Provider* provider = deps_.providers->find(record->model);
    const bool orphan = !owner && owner.error().kind == ErrorKind::kNotFound;
    if (provider != nullptr && orphan && !imagine::terminal(update->status)) {
      auto canceled = co_await provider->cancel(update->provider_job_id);
      log->warn("imagine job {}: provider job {} is not the job's ({}); canceled{}", id,
                update->provider_job_id, record->provider_job_id,
                canceled ? "" : fmt::format(" (refused: {})", canceled.error().message));
    }
    co_return net::Response::json(200, R"({"note":"another provider job"})");
  }
  auto applied =
      co_await store_call(*deps_.cpu, *deps_.store, &JobStore::apply, id, *update, deps_.wall());
  if (!applied) co_return net::Response::json_error(503, "the imagine store is unavailable");
  if (applied->deliver) co_return co_await deliver(applied->record);
  if (!imagine::terminal(applied->record.state.status) && !applied->record.delivered) {
    auto job = parse_imagine_job(applied->record.request);
    imagine::Provider* provider = deps_.providers->find(applied->record.model);
    if (job && provider != nullptr && deps_.finish->past_give_up(job->target)) {
      co_return co_await give_up(applied->record, *provider, job->target);
    }
  }
  if (applied->changed) co_await show_progress(applied->record);
  co_return net::Response::json(200, R"({"note":"merged"})");
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

asio::awaitable<net::Response> ImagineModule::deliver(const JobRecord& record) {
  auto log = core::logger("bot");
  auto job = parse_imagine_job(record.request);
  if (!job) {
    log->error("imagine job {}: stored request unreadable: {}", record.job_id, job.error().message);
    co_return net::Response::json(200, R"({"note":"unreadable job"})");
  }
  {
    std::lock_guard lock(mutex_);
    last_edit_.erase(record.job_id);
  }
  const DiscordTarget& target = job->target;
  const auto& state = record.state;
  net::Response response;
  if (state.status == Status::kSucceeded && !state.outputs.empty()) {
    response = co_await deliver_outputs(record, *job);
  } else {
    count(to_string(state.status));
    response = co_await deps_.finish->fail(target, ending_text(state),
                                           std::string(to_string(state.status)));
  }
  if (response.status == 200) {
    auto marked =
        co_await store_call(*deps_.cpu, *deps_.store, &JobStore::mark_delivered, record.job_id);
    if (!marked)
      log->warn("imagine job {}: not marked delivered: {}", record.job_id, marked.error().message);
  }
  co_return response;
}

asio::awaitable<net::Response> ImagineModule::deliver_outputs(const JobRecord& record,
                                                              const ImagineJob& job) {
  auto log = core::logger("bot");
  const DiscordTarget& target = job.target;
  const std::string& id = record.job_id;
  const std::size_t n = std::min<std::size_t>(record.state.outputs.size(), job.video ? 1 : 4);
  std::vector<Result<OutputFile>> files(n, fail(ErrorKind::kInternal, "not fetched"));
  auto fetch = [&](std::size_t i) -> asio::awaitable<void> {
    files[i] = co_await fetch_output(*deps_.fetcher, *deps_.blobs, record.state.outputs[i]);
  };
  co_await core::fan_out(n, 4, fetch);
  for (const auto& file : files) {
    if (file) continue;
    // Gone, refused by the fetch policy, too large or not a picture: no retry changes that.
    const ErrorKind kind = file.error().kind;
    if (kind == ErrorKind::kNotFound || kind == ErrorKind::kInvalidArgument ||
        kind == ErrorKind::kPermissionDenied || kind == ErrorKind::kResourceExhausted) {
      log->warn("imagine job {}: output unusable: {}", id, file.error().message);
      count("lost");
      co_return co_await deps_.finish->fail(
          target,
          fmt::format("Sorry, the provider's result could not be used: {}. Please try again.",
                      file.error().message),
          "output_unusable");
    }
    if (deps_.finish->past_give_up(target)) {
      log->warn("imagine job {}: output not fetched by the give-up point: {}", id,
                file.error().message);
      count("lost");
      co_return co_await deps_.finish->fail(target, Failure::kTookTooLong, "gave_up");
    }
    log->warn("imagine job {}: output not fetched, the queue will retry: {}", id,
              file.error().message);
    co_return net::Response::json_error(503, "the provider's output could not be fetched");
  }

  std::vector<storage::BlobRef> stored;
  for (std::size_t i = 0; i < n; ++i) {
    storage::PutOptions put;
    put.content_type = files[i]->content_type;
    auto blob =
        co_await deps_.blobs->put(fmt::format("imagine/{}/{}.{}", id, i + 1, files[i]->extension),
                                  files[i]->bytes, std::move(put));
    if (!blob) {
      log->warn("imagine job {}: blob store unavailable, the queue will retry: {}", id,
                blob.error().message);
      co_return net::Response::json_error(503, "the blob store is unavailable");
    }
    stored.push_back(std::move(*blob));
  }

  // The attachment: the one output, or a grid of several when the decoders can draw one.
  OutputFile shown = *files[0];
  storage::BlobRef shown_blob = stored[0];
  std::string filename = fmt::format("{}.{}", job.video ? "video" : "image", shown.extension);
  if (n > 1 && deps_.decoders != nullptr) {
    std::vector<std::string> tiles;
    for (auto& f : files) tiles.push_back(f->bytes);
    auto grid = co_await deps_.decoders->sheet(
        std::move(tiles), {512, transform::Format::kPng, target.upload_limit()});
    if (grid) {
      storage::PutOptions put;
      put.content_type = "image/png";
      auto blob =
          co_await deps_.blobs->put(fmt::format("imagine/{}/grid.png", id), *grid, std::move(put));
      if (!blob) co_return net::Response::json_error(503, "the blob store is unavailable");
      shown = {std::move(*grid), "image/png", "png", false};
      shown_blob = std::move(*blob);
      filename = "grid.png";
    } else {
      log->warn("imagine job {}: no grid ({}), the first image is shown", id, grid.error().message);
    }
  }
  MessageParts parts{job,
                     stored,
                     filename,
                     shown.video,
                     deps_.reply_with_url ? shown_blob.url : "",
                     fmt::format("{}{}", kRerollPrefix, id),
                     fmt::format("{}{}", kDeletePrefix, target.user_id)};
  ReplyJob reply{target, finished_message(parts), {}, {}, {}, shown_blob.url};
  if (!deps_.reply_with_url) {
    reply.blob_key = shown_blob.key;
    reply.filename = filename;
    reply.content_type = shown.content_type;
  }
  auto sent = co_await send_reply(*deps_.tasks, std::move(reply));
  if (sent.status == 200) count("succeeded");
  co_return sent;
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
  if (auto sent = co_await send_event(task, id, *update); !sent) {
    log->warn("imagine job {}: poll answer not recorded: {}", id, sent.error().message);
  }
}

asio::awaitable<net::Response> ImagineModule::give_up(const JobRecord& record,
                                                      imagine::Provider& provider,
                                                      const DiscordTarget& target) {
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
