#pragma once
// The product: mando's command modules and worker routes, wired to the shared parts the app
// builds for the roles this process runs.
//
//   ingress  POST /interactions: verify, route to a command module, which enqueues and answers;
//            POST /webhooks/imagine/{provider}: GPU providers' signed webhooks (imagine.hpp);
//   worker   POST /workers/generate-image, /workers/transform-images, /workers/imagine,
//            /workers/imagine-events and /workers/reply-discord, called by the queue and
//            refused without its signature (queue/signing.hpp).
// `mando serve` runs both (and the dispatcher, which is the app's); `--role` splits them.
//
// A new command is one module in bot/commands/ plus one line in build_commands() and its
// worker routes in install_routes(): nothing else changes. The same registry serves
// `mando serve` and `mando commands sync`, so what Discord has registered is always what the
// server answers.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bot/commands/imagine.hpp"
#include "bot/commands/mando.hpp"
#include "bot/commands/transform.hpp"
#include "bot/finisher.hpp"
#include "bot/job_tracker.hpp"
#include "bot/progress.hpp"
#include "bot/tasks.hpp"
#include "bot/workers/reply_discord.hpp"
#include "core/config.hpp"
#include "core/cpu_pool.hpp"
#include "core/metrics.hpp"
#include "discord/command_registry.hpp"
#include "discord/interactions_endpoint.hpp"
#include "discord/rest_client.hpp"
#include "net/router.hpp"
#include "queue/signing.hpp"
#include "queue/task_queue.hpp"
#include "storage/blob_store.hpp"

namespace mando::bot {

// Which parts of the bot this process runs.
struct Roles {
  bool ingress = true;
  bool worker = true;
  std::vector<std::string> worker_queues;  // the queues whose worker routes to serve; empty: all

  bool serves(std::string_view queue) const;
};

// What the app built for the bot. A role may leave out what it does not use: the ingress needs
// `queue`; a worker needs all of them.
struct BotServices {
  queue::TaskQueue* queue = nullptr;
  core::CpuPool* cpu = nullptr;
  storage::BlobStore* blobs = nullptr;
  discord::RestClient* discord = nullptr;
  const queue::RequestSigner* signer = nullptr;
  core::MetricsRegistry* metrics = nullptr;
  // A worker serving transform-images: untrusted downloads and the decoder processes.
  net::Fetcher* fetcher = nullptr;
  transform::WorkerPool* decoders = nullptr;
  // /imagine, where a model is configured: its job store and providers (the ingress too, for
  // quotas, webhooks and the Cancel button). A worker of imagine also needs the fetcher.
  imagine::JobStore* imagine_store = nullptr;
  imagine::Providers* imagine_providers = nullptr;
};

// Every command module's spec, registered and checked, for `mando commands sync` (no
// services: the handlers are never called). An error is a bug in a module's spec.
Result<discord::CommandRegistry> build_commands(const core::Config& config);

class Bot {
 public:
  // Fails when a command spec is invalid, the configured Discord public key is unusable, or a
  // role lacks a service it needs.
  static Result<std::unique_ptr<Bot>> create(const core::Config& config, BotServices services,
                                             Roles roles = {});

  // The routes of the roles this process runs: /interactions on the public listener, the worker
  // routes on the internal one. Without [discord] public_key, /interactions answers 503, saying
  // what to set.
  void install_routes(net::Router& public_routes, net::Router& internal_routes);

  // Starts the tracker's housekeeping and progress lines (progress.hpp) and, on a worker of
  // imagine, the /imagine poller on `executor`.
  void start(boost::asio::any_io_executor executor);

  const discord::CommandRegistry& commands() const { return registry_; }
  JobTracker& jobs() { return *jobs_; }

 private:
  Bot(const core::Config& config, BotServices services, Roles roles);

  BotServices services_;
  Roles roles_;
  std::unique_ptr<JobTracker> jobs_;
  std::optional<TaskSender> tasks_;
  std::unique_ptr<Finisher> finish_;  // workers
  std::shared_ptr<commands::MandoModule> mando_;
  std::shared_ptr<commands::TransformModule> transform_;
  std::shared_ptr<commands::ImagineModule> imagine_;
  std::unique_ptr<ReplyWorker> reply_;
  std::unique_ptr<ProgressLoop> progress_;
  discord::CommandRegistry registry_;
  std::optional<discord::InteractionsEndpoint> endpoint_;
};

}  // namespace mando::bot
