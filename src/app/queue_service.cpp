#include "app/queue_service.hpp"

#include <filesystem>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include "app/api_token.hpp"
#include "bot/tasks.hpp"
#include "core/log.hpp"
#include "queue/postgres_task_store.hpp"

namespace mando::app {

queue::SqliteOptions sqlite_options(const core::Config& config) {
  queue::SqliteOptions options;
  options.path = config.queue.database.empty()
                     ? std::filesystem::path(config.data_dir) / "queue.sqlite3"
                     : std::filesystem::path(config.queue.database);
  options.synchronous = config.queue.synchronous == "normal"
                            ? queue::SqliteOptions::Synchronous::kNormal
                            : queue::SqliteOptions::Synchronous::kFull;
  return options;
}

Result<core::pg::PoolOptions> postgres_options(const core::Config& config) {
  if (config.database.url.empty()) {
    return fail(ErrorKind::kInvalidArgument,
                "config: database.url: [queue] backend = \"postgres\" needs the server's "
                "connection string (MANDO_DATABASE_URL or MANDO_DATABASE_URL_FILE, e.g. "
                "\"host=db dbname=mando user=mando\")");
  }
  core::pg::PoolOptions options;
  options.connect.url = config.database.url;
  options.connect.password = config.database.password;
  options.size = config.database.pool_size;
  return options;
}

queue::Queue declared_queue(const core::QueueConfig& config, const core::DeclaredQueue& declared) {
  queue::Queue q;
  q.name = {config.project, config.location, declared.id};
  q.rate_limits.max_dispatches_per_second = declared.max_dispatches_per_second;
  q.rate_limits.max_burst_size = declared.max_burst_size;
  q.rate_limits.max_concurrent_dispatches = declared.max_concurrent_dispatches;
  q.retry_config.max_attempts = declared.max_attempts;
  q.retry_config.max_doublings = declared.max_doublings;
  auto set = [](queue::Micros& field, const auto& value) {
    if (value) field = std::chrono::duration_cast<queue::Micros>(*value);
  };
  set(q.retry_config.max_retry_duration, declared.max_retry_duration);
  set(q.retry_config.min_backoff, declared.min_backoff);
  set(q.retry_config.max_backoff, declared.max_backoff);
  q.worker_base_url = declared.worker_base_url;
  q.state = declared.paused ? queue::QueueState::kPaused : queue::QueueState::kRunning;
  return q;
}

namespace {

// Dispatches to one worker host share at most this many connections; further ones wait in the
// client for a free connection (within their dispatch deadline). Without a cap, the default
// maxConcurrentDispatches of 1000 per queue runs a process out of file descriptors. As many
// stay open between dispatches, so a busy queue does not reconnect.
constexpr long kMaxConnectionsPerWorkerHost = 256;

net::HttpClientOptions dispatch_client_options() {
  net::HttpClientOptions options;
  options.max_connections_per_host = kMaxConnectionsPerWorkerHost;
  options.max_idle_connections = kMaxConnectionsPerWorkerHost;
  return options;
}

queue::EmbeddedOptions embedded_options(const core::QueueConfig& config) {
  queue::EmbeddedOptions options;
  options.dedup_window = std::chrono::duration_cast<queue::Micros>(config.dedup_window);
  return options;
}

// The store [queue] backend names.
Result<std::unique_ptr<queue::TaskStore>> open_store(const core::Config& config, bool dispatches) {
  if (config.queue.backend == "postgres") {
    auto pool = postgres_options(config);
    if (!pool) return tl::unexpected(pool.error());
    queue::PostgresOptions options;
    options.pool = std::move(*pool);
    auto store = queue::PostgresTaskStore::open(std::move(options));
    if (!store) {
      return fail(store.error().kind, fmt::format("queue database: {}", store.error().message));
    }
    return std::unique_ptr<queue::TaskStore>(std::move(*store));
  }
  queue::SqliteOptions options = sqlite_options(config);
  options.exclusive = dispatches;  // this process dispatches from the store: no other may
  auto store = queue::SqliteTaskStore::open(options);
  if (!store) {
    return fail(store.error().kind,
                fmt::format("queue database {}: {}", options.path.string(), store.error().message));
  }
  return std::unique_ptr<queue::TaskStore>(std::move(*store));
}

}  // namespace

Result<std::unique_ptr<QueueService>> QueueService::open(const core::Config& config,
                                                         boost::asio::io_context& ioc,
                                                         core::MetricsRegistry& metrics,
                                                         bool dispatches) {
  auto store = open_store(config, dispatches);
  if (!store) return tl::unexpected(store.error());
  auto log = core::logger("queue");
  std::optional<queue::RequestSigner> signer;
  if (config.queue.signing_key.empty()) {
    signer = queue::RequestSigner::random();
    log->info(
        "worker signatures use a random key: set [queue] signing_key (MANDO_QUEUE_SIGNING_KEY) "
        "when other processes dispatch to or serve these workers");
  } else {
    auto keyed = queue::RequestSigner::from_key(config.queue.signing_key);
    if (!keyed) return tl::unexpected(keyed.error());
    signer = std::move(*keyed);
  }
  auto token = serving_api_token(config);
  if (!token) return tl::unexpected(token.error());
  if (config.queue.api_token.empty()) {
    log->info("the queue API's bearer token is in {} (the CLI reads it from there)",
              api_token_path(config).string());
  }
  return std::unique_ptr<QueueService>(new QueueService(
      config, std::move(*store), dispatches, std::move(*signer), std::move(*token), ioc, metrics));
}

QueueService::QueueService(const core::Config& config, std::unique_ptr<queue::TaskStore> store,
                           bool dispatches, queue::RequestSigner signer, std::string api_token,
                           boost::asio::io_context& ioc, core::MetricsRegistry& metrics)
    : config_(config),
      store_(std::move(store)),
      dispatches_(dispatches),
      store_pool_(static_cast<std::size_t>(config.queue.store_threads)),
      client_(ioc.get_executor(), dispatch_client_options()),
      signer_(std::move(signer)),
      queue_(queue::EmbeddedTaskQueue::open(
          {ioc.get_executor(), store_pool_, *store_, client_, signer_, metrics},
          embedded_options(config.queue))),
      api_(*queue_, queue::RestApiOptions{std::move(api_token)}),
      probe_timer_(ioc) {
  if (auto* shared = dynamic_cast<queue::PostgresTaskStore*>(store_.get())) {
    // Read when scraped; the store lives until after the I/O threads stopped.
    auto& pool = shared->pool();
    metrics.callback_gauge("mando_db_pool_connections_open",
                           "PostgreSQL connections this process holds open",
                           [&pool] { return pool.stats().open; });
    metrics.callback_gauge("mando_db_pool_connections_in_use",
                           "PostgreSQL connections busy with a statement now",
                           [&pool] { return pool.stats().in_use; });
    metrics.callback_gauge("mando_db_pool_connect_failures",
                           "Connections to PostgreSQL that could not be opened, since start",
                           [&pool] { return static_cast<double>(pool.stats().connect_failures); });
    metrics.callback_gauge("mando_db_clock_offset_seconds",
                           "The database clock minus this machine's, as last measured",
                           [shared] {
                             return std::chrono::duration<double>(shared->clock_offset()).count();
                           });
  }
}

std::optional<std::string> QueueService::not_ready() const {
  std::lock_guard lock(probe_mutex_);
  return not_ready_;
}

boost::asio::awaitable<void> QueueService::probe_loop() {
  for (;;) {
    auto ok = co_await queue::store_call(store_pool_, *store_, &queue::TaskStore::check);
    {
      std::lock_guard lock(probe_mutex_);
      if (ok) {
        not_ready_.reset();
      } else {
        not_ready_ = "queue store: " + ok.error().message;
      }
    }
    probe_timer_.expires_after(std::chrono::seconds(2));
    auto [ec] = co_await probe_timer_.async_wait(
        boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
  }
}

Result<void> QueueService::start(const std::string& self_url, int cpu_threads) {
  boost::asio::co_spawn(probe_timer_.get_executor(), probe_loop(), boost::asio::detached);
  std::vector<queue::Queue> declared;
  for (const auto& d : bot::with_bot_queues(config_.queues, cpu_threads)) {
    declared.push_back(declared_queue(config_.queue, d));
  }
  if (auto ok = queue_->declare(std::move(declared)); !ok) {
    return fail(ok.error().kind, fmt::format("config: {}", ok.error().message));
  }
  if (!dispatches_) return {};
  const std::string base =
      config_.queue.worker_base_url.empty() ? self_url : config_.queue.worker_base_url;
  return queue_->start_dispatch(base);
}

}  // namespace mando::app
