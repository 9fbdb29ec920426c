#include "bot/bot.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "bot/commands/about.hpp"

namespace mando::bot {

namespace asio = boost::asio;

bool Roles::serves(std::string_view queue) const {
  return worker && (worker_queues.empty() || std::find(worker_queues.begin(), worker_queues.end(),
                                                       queue) != worker_queues.end());
}

namespace {

// What every job module takes from the services and [bot] alike (MandoDeps, TransformDeps).
template <typename Deps>
Deps job_deps(const core::Config& config, const BotServices& services) {
  Deps deps;
  deps.blobs = services.blobs;
  deps.metrics = services.metrics;
  deps.discord = services.discord;
  deps.progress_after = config.bot.progress_after;
  deps.ack_budget = config.bot.ack_budget;
  deps.reply_with_url = config.bot.reply == "url";
  return deps;
}

commands::MandoDeps mando_deps(const core::Config& config, const BotServices& services) {
  auto deps = job_deps<commands::MandoDeps>(config, services);
  deps.cpu = services.cpu;
  deps.max_image_size = config.bot.max_image_size;
  return deps;
}

commands::TransformDeps transform_deps(const core::Config& config, const BotServices& services) {
  auto deps = job_deps<commands::TransformDeps>(config, services);
  deps.fetcher = services.fetcher;
  deps.decoders = services.decoders;
  deps.limits = config.transform;
  return deps;
}

commands::ImagineDeps imagine_deps(const core::Config& config, const BotServices& services) {
  commands::ImagineDeps deps;
  deps.store = services.imagine_store;
  deps.providers = services.imagine_providers;
  deps.cpu = services.cpu;
  deps.blobs = services.blobs;
  deps.fetcher = services.fetcher;
  deps.decoders = services.decoders;
  deps.discord = services.discord;
  deps.metrics = services.metrics;
  deps.config = config.imagine;
  deps.ack_budget = config.bot.ack_budget;
  deps.reply_with_url = config.bot.reply == "url";
  return deps;
}

Result<void> add_commands(discord::CommandRegistry& registry, commands::MandoModule& mando,
                          commands::TransformModule& transform, commands::ImagineModule& imagine) {
  if (auto r = registry.add(commands::about(std::chrono::steady_clock::now())); !r) return r;
  if (auto r = mando.register_into(registry); !r) return r;
  if (auto r = transform.register_into(registry); !r) return r;
  return imagine.register_into(registry);
}

}  // namespace

Result<discord::CommandRegistry> build_commands(const core::Config& config) {
  discord::CommandRegistry registry;
  auto mando = std::make_shared<commands::MandoModule>(mando_deps(config, {}));
  auto transform = std::make_shared<commands::TransformModule>(transform_deps(config, {}));
  auto imagine = std::make_shared<commands::ImagineModule>(imagine_deps(config, {}));
  if (auto r = add_commands(registry, *mando, *transform, *imagine); !r) {
    return tl::unexpected(r.error());
  }
  return registry;
}

Bot::Bot(const core::Config& config, BotServices services, Roles roles)
    : services_(services),
      roles_(std::move(roles)),
      // Split from its workers, an ingress never sees a job finish (job_tracker.hpp).
      jobs_(std::make_unique<JobTracker>(JobLimits(config.bot, config.guilds),
                                         roles_.ingress && roles_.serves(kReplyDiscordQueue))) {
  if (services_.queue != nullptr) tasks_.emplace(*services_.queue, config.queue);
  if (roles_.worker) {
    finish_ = std::make_unique<Finisher>(*services_.discord, *jobs_, *services_.metrics,
                                         config.bot.give_up_after);
  }
  auto deps = mando_deps(config, services_);
  deps.tasks = tasks_ ? &*tasks_ : nullptr;
  deps.jobs = jobs_.get();
  deps.finish = finish_.get();
  mando_ = std::make_shared<commands::MandoModule>(std::move(deps));
  auto transform = transform_deps(config, services_);
  transform.tasks = tasks_ ? &*tasks_ : nullptr;
  transform.jobs = jobs_.get();
  transform.finish = finish_.get();
  transform_ = std::make_shared<commands::TransformModule>(std::move(transform));
  auto imagine = imagine_deps(config, services_);
  imagine.tasks = tasks_ ? &*tasks_ : nullptr;
  imagine.jobs = jobs_.get();
  imagine.finish = finish_.get();
  imagine_ = std::make_shared<commands::ImagineModule>(std::move(imagine));
  if (roles_.serves(kReplyDiscordQueue)) {
    reply_ = std::make_unique<ReplyWorker>(*services_.discord, *services_.blobs, *finish_);
  }
  // Progress lines need the place in line (the ingress) and a Discord client (a worker).
  const bool progress = roles_.ingress && roles_.worker;
  progress_ = std::make_unique<ProgressLoop>(*jobs_, progress ? services_.discord : nullptr,
                                             config.bot.progress_after);
}

void Bot::start(asio::any_io_executor executor) {
  if (roles_.serves(kImagineQueue) && services_.imagine_store != nullptr) {
    imagine_->start_poller(executor);
  }
  progress_->start(std::move(executor));
}

Result<std::unique_ptr<Bot>> Bot::create(const core::Config& config, BotServices services,
                                         Roles roles) {
  auto missing = [](std::string_view role, std::string_view what) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("the {} role needs {} (a bug in the app's wiring)", role, what));
  };
  if ((roles.ingress || roles.worker) && services.queue == nullptr) {
    return missing("ingress and worker", "a task queue");
  }
  if (roles.worker &&
      (services.cpu == nullptr || services.blobs == nullptr || services.discord == nullptr ||
       services.signer == nullptr || services.metrics == nullptr)) {
    return missing("worker", "the CPU pool, blob store, Discord client, signer and metrics");
  }
  if (roles.serves(kTransformImagesQueue) &&
      (services.fetcher == nullptr || services.decoders == nullptr)) {
    return missing("transform-images worker", "the fetcher and the decoder processes");
  }
  if (!config.imagine.models.empty() &&
      (roles.serves(kImagineQueue) || roles.serves(kImagineEventsQueue)) &&
      (services.fetcher == nullptr || services.imagine_store == nullptr ||
       services.imagine_providers == nullptr)) {
    return missing("imagine worker", "the fetcher, the imagine store and the providers");
  }
  std::unique_ptr<Bot> bot(new Bot(config, services, std::move(roles)));
  if (auto r = add_commands(bot->registry_, *bot->mando_, *bot->transform_, *bot->imagine_); !r) {
    return tl::unexpected(r.error());
  }

  const auto& discord = config.discord;
  if (!discord.public_key.empty()) {
    auto verifier = discord::SignatureVerifier::from_hex(discord.public_key);
    if (!verifier) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("[discord] public_key: {}", verifier.error().message));
    }
    discord::InteractionsEndpointOptions options;
    if (discord.timestamp_window.count() > 0) {
      options.timestamp_window =
          std::chrono::duration_cast<std::chrono::seconds>(discord.timestamp_window);
    }
    bot->endpoint_.emplace(std::move(*verifier), bot->registry_, std::move(options));
  }
  return bot;
}

void Bot::install_routes(net::Router& public_routes, net::Router& internal_routes) {
  if (roles_.ingress) {
    public_routes.add(
        "POST", "/interactions", [this](net::Request req) -> asio::awaitable<net::Response> {
          if (!endpoint_) {
            co_return net::Response::json_error(
                503,
                "the Discord public key is not configured: set MANDO_DISCORD_PUBLIC_KEY or "
                "[discord] public_key");
          }
          co_return co_await endpoint_->handle(std::move(req));
        });
  }
  if (roles_.serves(kCreateImageQueue)) {
    internal_routes.add("POST", std::string(kGenerateImagePath),
                        queue::require_signature(*services_.signer, [this](net::Request req) {
                          return mando_->generate_image(std::move(req));
                        }));
  }
  if (roles_.serves(kTransformImagesQueue)) {
    internal_routes.add("POST", std::string(kTransformImagesPath),
                        queue::require_signature(*services_.signer, [this](net::Request req) {
                          return transform_->transform_images(std::move(req));
                        }));
  }
  if (services_.imagine_store != nullptr) {
    if (roles_.ingress) {
      public_routes.add("POST", "/webhooks/imagine/*",
                        [this](net::Request req) { return imagine_->webhook(std::move(req)); });
    }
    if (roles_.serves(kImagineQueue)) {
      internal_routes.add("POST", std::string(kImaginePath),
                          queue::require_signature(*services_.signer, [this](net::Request req) {
                            return imagine_->submit(std::move(req));
                          }));
    }
    if (roles_.serves(kImagineEventsQueue)) {
      internal_routes.add("POST", std::string(kImagineEventsPath),
                          queue::require_signature(*services_.signer, [this](net::Request req) {
                            return imagine_->event(std::move(req));
                          }));
    }
  }
  if (reply_) {
    internal_routes.add("POST", std::string(kReplyDiscordPath),
                        queue::require_signature(*services_.signer, [this](net::Request req) {
                          return reply_->handle(std::move(req));
                        }));
  }
}

}  // namespace mando::bot
