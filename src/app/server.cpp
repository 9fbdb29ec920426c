// The order of a start (run_server):
//   1. hooks.prepare, then the shared parts: metrics, I/O context;
//   2. per role: the task queue (queue_service.hpp: in the dispatcher, or in every role on a
//      shared PostgreSQL store; else a RemoteTaskQueue on [queue] url), the
//      CPU pool, the blob store (storage_service.hpp) and the Discord REST client;
//   3. the routes go to one of two listeners (docs/ARCHITECTURE.md, "Public and internal"):
//      public ([server] listen, what a reverse proxy forwards): /interactions, /blobs/,
//      /healthz, /readyz; internal ([server] internal_listen, loopback by default, refusing
//      any request a proxy forwarded): the queue's /v2/ API (bearer token), the worker routes
//      (signed), /metrics, /healthz, /readyz;
//   4. listen on both, start dispatching (the internal address is the default worker base
//      URL) and the blob cleanup timer (the public address serves the blobs), print
//      "listening on http://HOST:PORT" (public) and then "internal listener on ..." on a line
//      of its own, run the I/O threads (the connections' loops and ioc's threads);
//   5. on SIGTERM or SIGINT: /readyz turns 503, both listeners drain within
//      [server] shutdown_timeout, the process exits 0.

#include "app/server.hpp"

#include <filesystem>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "app/api_token.hpp"
#include "app/imagine_service.hpp"
#include "app/queue_service.hpp"
#include "app/storage_service.hpp"
#include "app/transform_service.hpp"
#include "bot/bot.hpp"
#include "core/cpu_pool.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/process_limits.hpp"
#include "discord/rate_limiter.hpp"
#include "discord/rest_client.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "queue/remote_task_queue.hpp"

namespace mando::app {
namespace {

namespace asio = boost::asio;

// /healthz: the process runs. /readyz: it accepts work: 503 while draining or while its queue
// store cannot serve (unreachable, schema changed); on the internal listener it also names the
// queues whose dispatch this process leads. Both listeners answer them, so a load balancer and
// a local probe each find them.
void add_health_routes(net::Router& router, std::shared_ptr<std::atomic<bool>> draining,
                       const QueueService* queue, bool internal) {
  router.add("GET", "/healthz", [](net::Request) -> asio::awaitable<net::Response> {
    co_return net::Response::text(200, "ok\n");
  });
  router.add("GET", "/readyz",
             [draining, queue, internal](net::Request) -> asio::awaitable<net::Response> {
               if (draining->load()) co_return net::Response::text(503, "shutting down\n");
               if (queue != nullptr) {
                 if (auto why = queue->not_ready()) {
                   co_return net::Response::text(503, "not ready: " + *why + "\n");
                 }
               }
               std::string body = "ready\n";
               if (internal && queue != nullptr) {
                 body += fmt::format("leads: {}\n", fmt::join(queue->leading(), " "));
               }
               co_return net::Response::text(200, body);
             });
}

void add_metrics_route(net::Router& router, core::MetricsRegistry& metrics) {
  router.add("GET", "/metrics", [&metrics](net::Request) -> asio::awaitable<net::Response> {
    auto res = net::Response::text(200, metrics.render());
    res.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    co_return res;
  });
}

// `signals` is set up before "listening on" is printed, so a signal sent right after that line
// is queued for this coroutine instead of killing the process. All three references live in
// run_server()'s frame, which outlives the io_context's run.
asio::awaitable<void> stop_on_signal(asio::io_context& ioc, asio::signal_set& signals,
                                     net::HttpServer& server, net::HttpServer& internal,
                                     std::shared_ptr<std::atomic<bool>> draining,
                                     std::chrono::milliseconds deadline) {
  int signal = co_await signals.async_wait(asio::use_awaitable);
  auto log = core::logger("app");
  log->info("received signal {}, draining (deadline {} ms)", signal, deadline.count());
  draining->store(true);
  // The public side first: workers and the queue API keep answering while requests drain.
  co_await server.shutdown(deadline);
  co_await internal.shutdown(deadline);
  log->info("stopped");
  ioc.stop();
}

// With a shared store (PostgreSQL) every process opens the queue itself: tasks are created in
// the database and the dispatchers' leader finds them, no HTTP hop to a dispatcher between.
bool shares_queue_store(const core::Config& config) { return config.queue.backend == "postgres"; }

// What a role needs from the configuration beyond the defaults; the error says what to set.
Result<void> check_roles(const core::Config& config, const ServeRoles& roles) {
  const bool split = !roles.has(Role::kDispatcher) && !shares_queue_store(config);
  if (split && (roles.has(Role::kIngress) || roles.has(Role::kWorker)) &&
      config.queue.url.empty()) {
    return fail(ErrorKind::kInvalidArgument,
                "without the dispatcher role, tasks go to the queue at [queue] url: set "
                "MANDO_QUEUE_URL to the dispatcher's address (http://HOST:PORT), or share the "
                "store ([queue] backend = \"postgres\")");
  }
  const bool signs_for_others = roles.has(Role::kDispatcher) != roles.has(Role::kWorker);
  if (signs_for_others && config.queue.signing_key.empty()) {
    return fail(ErrorKind::kInvalidArgument,
                "the dispatcher and the workers run in different processes: they must share "
                "[queue] signing_key (MANDO_QUEUE_SIGNING_KEY, at least 32 characters)");
  }
  return {};
}

// The Discord client of the workers: one limiter for every request of this process.
struct DiscordClient {
  DiscordClient(asio::any_io_executor executor, const core::DiscordConfig& config)
      : http(executor), rest(http, limiter, discord::RestClientOptions::from(config)) {}
  net::HttpClient http;
  discord::InMemoryRateLimiter limiter;
  discord::RestClient rest;
};

// The task queue of a process without the dispatcher role.
struct RemoteQueue {
  RemoteQueue(asio::any_io_executor executor, const core::QueueConfig& config, std::string token)
      : http(executor), queue(http, {config.url, std::move(token)}) {}
  net::HttpClient http;
  queue::RemoteTaskQueue queue;
};

std::string role_names(const ServeRoles& roles) {
  std::vector<std::string_view> names;
  if (roles.has(Role::kIngress)) names.push_back("ingress");
  if (roles.has(Role::kWorker)) names.push_back("worker");
  if (roles.has(Role::kDispatcher)) names.push_back("dispatcher");
  return fmt::format("{}", fmt::join(names, ","));
}

}  // namespace

Result<ServeRoles> ServeRoles::parse(std::string_view text,
                                     std::vector<std::string> worker_queues) {
  ServeRoles out;
  out.worker_queues = std::move(worker_queues);
  if (text == "all" || text.empty()) return out;
  out.roles.clear();
  while (!text.empty()) {
    const auto end = std::min(text.find(','), text.size());
    const std::string_view name = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (name == "ingress") {
      out.roles.insert(Role::kIngress);
    } else if (name == "worker") {
      out.roles.insert(Role::kWorker);
    } else if (name == "dispatcher") {
      out.roles.insert(Role::kDispatcher);
    } else {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("--role: unknown role \"{}\" (all, or a comma-separated list of "
                              "ingress, worker, dispatcher)",
                              name));
    }
  }
  if (!out.worker_queues.empty() && !out.has(Role::kWorker)) {
    return fail(ErrorKind::kInvalidArgument, "--queues only applies to the worker role");
  }
  return out;
}

int run_server(core::Config config, const ServeRoles& roles, const ServeHooks& hooks) {
  auto log = core::logger("app");
  if (auto ok = check_roles(config, roles); !ok) {
    fmt::print(stderr, "mando: {}\n", ok.error().message);
    return 2;
  }
  std::error_code fs_error;
  std::filesystem::create_directories(config.data_dir, fs_error);
  if (fs_error) {
    fmt::print(stderr, "mando: data_dir \"{}\": {}\n", config.data_dir, fs_error.message());
    return 1;
  }

  // Once per process, before anything opens files: the descriptors max_connections comes from.
  const auto fd_limit = core::raise_fd_limit();
  if (!fd_limit) log->warn("cannot raise the file descriptor limit: {}", fd_limit.error().message);
  core::MetricsRegistry metrics;
  core::add_process_fd_metrics(metrics);
  metrics.callback_gauge("process_resident_memory_bytes", "Resident memory size in bytes",
                         [] { return static_cast<double>(core::process_rss_bytes()); });
  int io_threads = config.server.io_threads > 0
                       ? config.server.io_threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The HTTP connections' own loops (net/io_loops.hpp), declared first to die last; ioc runs
  // everything else.
  net::IoLoops connection_loops(static_cast<std::size_t>(io_threads));
  asio::io_context ioc(io_threads);
  std::shared_ptr<void> prepared;
  if (hooks.prepare) {
    auto ok = hooks.prepare(ioc, config);
    if (!ok) {
      fmt::print(stderr, "mando: {}\n", ok.error().message);
      return 2;
    }
    prepared = std::move(*ok);
  }

  // Declared in the order they must die in reverse: the bot before what it uses.
  std::unique_ptr<QueueService> queue_service;
  std::unique_ptr<RemoteQueue> remote_queue;
  std::unique_ptr<core::CpuPool> pool;
  std::unique_ptr<StorageService> storage;
  std::unique_ptr<DiscordClient> discord;
  std::unique_ptr<TransformService> transform;
  std::unique_ptr<ImagineService> imagine;
  std::optional<queue::RequestSigner> worker_signer;
  bot::BotServices services;
  services.metrics = &metrics;
  if (roles.has(Role::kDispatcher) || shares_queue_store(config)) {
    auto opened = QueueService::open(config, ioc, metrics, roles.has(Role::kDispatcher));
    if (!opened) {
      fmt::print(stderr, "mando: {}\n", opened.error().message);
      return 1;
    }
    queue_service = std::move(*opened);
    services.queue = &queue_service->queue();
    services.signer = &queue_service->signer();
  } else {
    auto token = client_api_token(config);
    if (!token) {
      fmt::print(stderr, "mando: [queue] url: {}\n", token.error().message);
      return 2;
    }
    remote_queue = std::make_unique<RemoteQueue>(ioc.get_executor(), config.queue, *token);
    services.queue = &remote_queue->queue;
  }
  if (roles.has(Role::kWorker)) {
    pool = std::make_unique<core::CpuPool>(static_cast<std::size_t>(config.cpu.threads), &metrics,
                                           config.cpu.nice);
    auto opened = StorageService::open(config, core::process_environment(), ioc.get_executor());
    if (!opened) {
      fmt::print(stderr, "mando: {}\n", opened.error().message);
      return 2;
    }
    storage = std::move(*opened);
    discord = std::make_unique<DiscordClient>(ioc.get_executor(), config.discord);
    if (services.signer == nullptr) {
      auto keyed = queue::RequestSigner::from_key(config.queue.signing_key);
      if (!keyed) {
        fmt::print(stderr, "mando: [queue] signing_key: {}\n", keyed.error().message);
        return 2;
      }
      worker_signer = std::move(*keyed);
      services.signer = &*worker_signer;
    }
    services.cpu = pool.get();
    services.blobs = &storage->store();
    services.discord = &discord->rest;
  }
  bot::Roles bot_roles{roles.has(Role::kIngress), roles.has(Role::kWorker), roles.worker_queues};
  const bool imagines = !config.imagine.models.empty() &&
                        (bot_roles.ingress || bot_roles.serves(bot::kImagineQueue) ||
                         bot_roles.serves(bot::kImagineEventsQueue));
  if (imagines) {
    auto opened = ImagineService::open(config, ioc.get_executor());
    if (!opened) {
      fmt::print(stderr, "mando: {}\n", opened.error().message);
      return 2;
    }
    imagine = std::move(*opened);
    services.imagine_store = &imagine->store();
    services.imagine_providers = &imagine->providers();
  }
  // The fetcher serves /transform's downloads and /imagine's outputs; the decoders draw both's
  // sheets.
  if (bot_roles.serves(bot::kTransformImagesQueue) ||
      (imagines &&
       (bot_roles.serves(bot::kImagineQueue) || bot_roles.serves(bot::kImagineEventsQueue)))) {
    auto opened = TransformService::open(config, ioc.get_executor());
    if (!opened) {
      fmt::print(stderr, "mando: {}\n", opened.error().message);
      return 2;
    }
    transform = std::move(*opened);
    services.fetcher = &transform->fetcher();
    services.decoders = &transform->decoders();
  }
  auto bot = bot::Bot::create(config, services, bot_roles);
  if (!bot) {
    fmt::print(stderr, "mando: {}\n", bot.error().message);
    return 2;
  }

  auto draining = std::make_shared<std::atomic<bool>>(false);
  net::Router router;
  net::Router internal_router(net::refuse_proxied);
  add_health_routes(router, draining, queue_service.get(), false);
  add_health_routes(internal_router, draining, queue_service.get(), true);
  add_metrics_route(internal_router, metrics);
  (*bot)->install_routes(router, internal_router);
  if (queue_service) queue_service->install_routes(internal_router);
  if (storage) storage->install_routes(router);

  // One connection budget for both listeners: three quarters for the public one, which takes
  // the internet's clients, the rest for the internal one (dispatches, API calls, scrapes).
  const std::size_t connections =
      config.server.max_connections > 0
          ? static_cast<std::size_t>(config.server.max_connections)
          : core::default_max_connections(fd_limit ? fd_limit->soft : 1024);
  net::ServerOptions options{
      .max_connections = std::max<std::size_t>(1, connections - connections / 4),
      .max_body_bytes = config.server.max_body_bytes,
      .max_header_bytes = config.server.max_header_bytes,
      .header_timeout = config.server.header_timeout,
      .body_timeout = config.server.body_timeout,
      .idle_timeout = config.server.idle_timeout,
  };
  const std::string internal_listen = config.server.effective_internal_listen();
  if (internal_listen == config.server.listen && !internal_listen.ends_with(":0")) {
    fmt::print(stderr,
               "mando: [server] internal_listen must differ from [server] listen ({}): the "
               "queue API, worker routes and metrics never share the public listener\n",
               internal_listen);
    return 2;
  }
  net::HttpServer server(ioc, std::move(router), options, metrics, &connection_loops);
  net::ServerOptions internal_options = options;
  internal_options.max_connections = std::max<std::size_t>(1, connections / 4);
  net::HttpServer internal(ioc, std::move(internal_router), internal_options, metrics,
                           &connection_loops);
  auto bound = server.listen(config.server.listen);
  if (!bound) {
    fmt::print(stderr, "mando: {}\n", bound.error().message);
    return 1;
  }
  auto internal_bound = internal.listen(internal_listen);
  if (!internal_bound) {
    fmt::print(stderr, "mando: [server] internal_listen: {}\n", internal_bound.error().message);
    return 1;
  }
  if (queue_service) {
    const int cpu_threads = static_cast<int>(pool ? pool->size() : 0);
    if (auto started = queue_service->start(internal_bound->url(), cpu_threads); !started) {
      fmt::print(stderr, "mando: {}\n", started.error().message);
      return 1;
    }
  }
  if (storage) storage->start(bound->url(), metrics);
  (*bot)->start(ioc.get_executor());
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  server.start();
  internal.start();
  asio::co_spawn(
      ioc, stop_on_signal(ioc, signals, server, internal, draining, config.server.shutdown_timeout),
      asio::detached);
  if (hooks.listening) hooks.listening(bound->url());

  // The lines scripts wait for, the public listener first; everything else goes to the log on
  // stderr.
  fmt::print("listening on {}\n", bound->url());
  fmt::print("internal listener on {} (queue API /v2/, worker routes, /metrics)\n",
             internal_bound->url());
  std::fflush(stdout);
  log->info(
      "mando {} serving on {} (roles={} io_threads={} cpu_threads={} max_connections={} "
      "data_dir={})",
      MANDO_VERSION, bound->url(), role_names(roles), io_threads, pool ? pool->size() : 0,
      connections, config.data_dir);
  if (roles.has(Role::kIngress)) {
    log->info("Discord interactions endpoint: {}/interactions{}", bound->url(),
              config.discord.public_key.empty() ? " (set MANDO_DISCORD_PUBLIC_KEY to enable)" : "");
  }
  log->info("health: {0}/healthz  readiness: {0}/readyz  metrics: {1}/metrics", bound->url(),
            internal_bound->url());
  if (queue_service) {
    log->info("Cloud Tasks v2 API: {}/v2/projects/{}/locations/{}/queues", internal_bound->url(),
              config.queue.project, config.queue.location);
  }

  std::vector<std::thread> threads;
  for (int i = 1; i < io_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  // Before anything the handlers use is destroyed: nothing runs on a loop from here on.
  connection_loops.stop();
  return 0;
}

}  // namespace mando::app
