// `mando serve`: turns the configuration into a running process.
//
//   1. load and validate the config, apply --listen / --data-dir;
//   2. build the shared parts: metrics, I/O context, CPU pool, the task queue (queue_service.hpp),
//      the blob store (storage_service.hpp);
//   3. let the bot, the queue's /v2/ API and the blob store's /blobs/ install their routes next
//      to /healthz, /readyz and /metrics;
//   4. listen, start dispatching and the blob cleanup timer (the server's address is the default
//      worker base URL and blob address), print "listening on http://HOST:PORT", run the I/O
//      threads;
//   5. on SIGTERM or SIGINT: /readyz turns 503, the server drains within
//      [server] shutdown_timeout, the process exits 0.

#include <filesystem>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "app/cli.hpp"
#include "app/queue_service.hpp"
#include "app/storage_service.hpp"
#include "bot/bot.hpp"
#include "core/cpu_pool.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "net/http_server.hpp"

namespace mando::app {
namespace {

namespace asio = boost::asio;

struct ServeFlags {
  std::string config;
  std::string listen;
  std::string data_dir;
};

// /healthz: the process runs. /readyz: it accepts work (503 while draining). /metrics.
void add_operational_routes(net::Router& router, core::MetricsRegistry& metrics,
                            std::shared_ptr<std::atomic<bool>> draining) {
  router.add("GET", "/healthz", [](net::Request) -> asio::awaitable<net::Response> {
    co_return net::Response::text(200, "ok\n");
  });
  router.add("GET", "/readyz", [draining](net::Request) -> asio::awaitable<net::Response> {
    if (draining->load()) co_return net::Response::text(503, "shutting down\n");
    co_return net::Response::text(200, "ready\n");
  });
  router.add("GET", "/metrics", [&metrics](net::Request) -> asio::awaitable<net::Response> {
    auto res = net::Response::text(200, metrics.render());
    res.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    co_return res;
  });
}

// `signals` is set up before "listening on" is printed, so a signal sent right after that line
// is queued for this coroutine instead of killing the process. All three references live in
// serve()'s frame, which outlives the io_context's run.
asio::awaitable<void> stop_on_signal(asio::io_context& ioc, asio::signal_set& signals,
                                     net::HttpServer& server,
                                     std::shared_ptr<std::atomic<bool>> draining,
                                     std::chrono::milliseconds deadline) {
  int signal = co_await signals.async_wait(asio::use_awaitable);
  auto log = core::logger("app");
  log->info("received signal {}, draining (deadline {} ms)", signal, deadline.count());
  draining->store(true);
  co_await server.shutdown(deadline);
  log->info("stopped");
  ioc.stop();
}

int serve(const ServeFlags& flags) {
  auto config = load_config_or_exit(
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config));
  if (!flags.listen.empty()) config.server.listen = flags.listen;
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  auto log = core::logger("app");

  std::error_code fs_error;
  std::filesystem::create_directories(config.data_dir, fs_error);
  if (fs_error) {
    fmt::print(stderr, "mando: data_dir \"{}\": {}\n", config.data_dir, fs_error.message());
    return 1;
  }

  core::MetricsRegistry metrics;
  metrics.callback_gauge("process_resident_memory_bytes", "Resident memory size in bytes",
                         [] { return static_cast<double>(core::process_rss_bytes()); });
  int io_threads = config.server.io_threads > 0
                       ? config.server.io_threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  asio::io_context ioc(io_threads);
  core::CpuPool pool(static_cast<std::size_t>(config.cpu.threads), &metrics);

  auto queue = QueueService::open(config, ioc, metrics);
  if (!queue) {
    fmt::print(stderr, "mando: {}\n", queue.error().message);
    return 1;
  }
  auto storage = StorageService::open(config, core::process_environment(), ioc.get_executor());
  if (!storage) {
    fmt::print(stderr, "mando: {}\n", storage.error().message);
    return 2;
  }
  auto bot = bot::Bot::create(config);
  if (!bot) {
    fmt::print(stderr, "mando: {}\n", bot.error().message);
    return 2;
  }
  net::Router router;
  auto draining = std::make_shared<std::atomic<bool>>(false);
  add_operational_routes(router, metrics, draining);
  (*bot)->install_routes(router);
  (*queue)->install_routes(router);
  (*storage)->install_routes(router);

  net::ServerOptions options{
      .max_body_bytes = config.server.max_body_bytes,
      .max_header_bytes = config.server.max_header_bytes,
      .header_timeout = config.server.header_timeout,
      .body_timeout = config.server.body_timeout,
      .idle_timeout = config.server.idle_timeout,
  };
  net::HttpServer server(ioc, std::move(router), options, metrics);
  auto bound = server.listen(config.server.listen);
  if (!bound) {
    fmt::print(stderr, "mando: {}\n", bound.error().message);
    return 1;
  }
  if (auto started = (*queue)->start(bound->url()); !started) {
    fmt::print(stderr, "mando: {}\n", started.error().message);
    return 1;
  }
  (*storage)->start(bound->url(), metrics);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  server.start();
  asio::co_spawn(ioc,
                 stop_on_signal(ioc, signals, server, draining, config.server.shutdown_timeout),
                 asio::detached);

  // The one line scripts wait for; everything else goes to the log on stderr.
  fmt::print("listening on {}\n", bound->url());
  std::fflush(stdout);
  log->info("mando {} serving on {} (io_threads={} cpu_threads={} data_dir={})", MANDO_VERSION,
            bound->url(), io_threads, pool.size(), config.data_dir);
  log->info("Discord interactions endpoint: {}/interactions{}", bound->url(),
            config.discord.public_key.empty() ? " (set MANDO_DISCORD_PUBLIC_KEY to enable)" : "");
  log->info("health: {0}/healthz  readiness: {0}/readyz  metrics: {0}/metrics", bound->url());
  log->info("Cloud Tasks v2 API: {}/v2/projects/{}/locations/{}/queues", bound->url(),
            config.queue.project, config.queue.location);

  std::vector<std::thread> threads;
  for (int i = 1; i < io_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd =
      app.add_subcommand("serve", "Run the bot: HTTP server, interactions endpoint, all roles");
  cmd->add_option("--config,-c", flags->config, "TOML config file (see mando.example.toml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--listen", flags->listen,
                  "HOST:PORT to listen on, overrides [server] listen (port 0 picks a free port)");
  cmd->add_option("--data-dir", flags->data_dir, "Directory for mando's data, overrides data_dir");
  cmd->callback([flags] {
    if (int status = serve(*flags); status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace mando::app
