#include "bot/commands/imagine.hpp"

#include <algorithm>
#include <cctype>
#include <random>

#include <fmt/format.h>

#include "bot/commands/imagine_detail.hpp"
#include "bot/commands/imagine_message.hpp"
#include "bot/commands/imagine_request.hpp"
#include "core/crypto.hpp"
#include "core/log.hpp"
#include "imagine/input_template.hpp"

namespace mando::bot::commands {

namespace asio = boost::asio;
namespace json = boost::json;
using imagine::JobRecord;
using imagine::JobStore;
using imagine::Status;
using namespace imagine_detail;

namespace {

constexpr JobNoun kImagineJob{"imagine", "your images"};
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
  if (auto ok = registry.add_component_prefix(std::string(kCancelPrefix), cancel); !ok) return ok;

  auto vary =
      [self](discord::ComponentContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    co_return co_await self->from_output(std::move(ctx), false);
  };
  if (auto ok = registry.add_component_prefix(std::string(kVaryPrefix), vary); !ok) return ok;
  auto upscale =
      [self](discord::ComponentContext ctx) -> asio::awaitable<discord::InteractionResponse> {
    co_return co_await self->from_output(std::move(ctx), true);
  };
  return registry.add_component_prefix(std::string(kUpscalePrefix), upscale);
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

// V1.. and U1..: a new job that starts from output `rest` ("{job}/{n}.{ext}") of a finished
// one: the same prompt with a new seed on the same model (a variation), or once on the model's
// `upscale` model.
asio::awaitable<discord::InteractionResponse> ImagineModule::from_output(
    discord::ComponentContext ctx, bool upscale) {
  const std::string& rest = ctx.rest;
  const auto slash = rest.find('/');
  const bool plain = slash != std::string::npos && std::ranges::all_of(rest, [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.';
                     });
  // Statements, not a conditional around the co_await: g++ 12 frees a temporary of such an
  // expression wrongly.
  Result<ImagineJob> job = fail(ErrorKind::kNotFound, "not a job");
  if (plain && deps_.store != nullptr) {
    auto record =
        co_await store_call(*deps_.cpu, *deps_.store, &JobStore::get, rest.substr(0, slash));
    if (record) job = parse_imagine_job(record->request);
  }
  const core::ImagineModel* model = job ? find_model(deps_.config, job->model) : nullptr;
  if (!job || model == nullptr) {
    co_return discord::InteractionResponse::ephemeral(
        "This button has expired: the job it belongs to is gone. Use /imagine again.");
  }
  if (upscale) {
    if (model->upscale.empty()) {
      co_return discord::InteractionResponse::ephemeral("This model offers no upscale any more.");
    }
    job->model = model->upscale;
    job->count = 1;
  } else if (!model->image_input) {
    co_return discord::InteractionResponse::ephemeral("This model offers no variations any more.");
  }
  job->image = fmt::format("blob:imagine/{}", rest);
  job->seed = random_seed();
  if (auto ok = check_job(*job, ctx.interaction, deps_.config); !ok) {
    co_return discord::InteractionResponse::ephemeral(ok.error().message);
  }
  co_return co_await start_job(ctx.interaction, std::move(*job));
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
  std::string image = job.image;
  if (image.starts_with("blob:")) {
    // A Variation or Upscale: one of our stored outputs, which the provider fetches by its URL.
    auto url = deps_.blobs->url(image.substr(5), deps_.blobs->now() + std::chrono::hours(1));
    if (!url) co_return net::Response::json_error(500, url.error().message);
    image = std::move(*url);
  }
  imagine::Inputs inputs{job.prompt, job.negative, job.seed, job.count, job.aspect, image};
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
  co_await record_update(fmt::format("sub-{}", id), id, *accepted);
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

}  // namespace mando::bot::commands
