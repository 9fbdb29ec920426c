#pragma once
// The task queue of `mando serve`, built from the configuration:
//   - the store: SQLite ([queue] backend = "sqlite", [queue] database, default
//     {data_dir}/queue.sqlite3) or PostgreSQL ("postgres", [database] url); its blocking calls
//     run on a pool of their own ([queue] store_threads);
//   - the embedded queue and its dispatcher, pushing tasks with the shared outbound client and
//     signing every dispatch with [queue] signing_key (a random key when unset);
//   - the queues declared as [queues.ID] in the file, created or updated at start;
//   - the Cloud Tasks v2 REST API under /v2/, for the internal listener, behind a bearer token
//     ([queue] api_token, or the one generated in {data_dir}/api_token: app/api_token.hpp).
//
// Order of life: open() before the router is built, install_routes() into it, start() once the
// server listens (the server's own address is the default worker base URL). On shutdown, stop
// the io_context first, then destroy the service: attempts still in flight are then dropped
// with the io_context, and their leases are handed back when mando starts again.

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/config.hpp"
#include "core/cpu_pool.hpp"
#include "core/metrics.hpp"
#include "core/postgres.hpp"
#include "net/http_client.hpp"
#include "net/router.hpp"
#include "queue/embedded_task_queue.hpp"
#include "queue/rest_api.hpp"
#include "queue/signing.hpp"
#include "queue/sqlite_task_store.hpp"

namespace mando::app {

// The SQLite store's options from [queue] database, synchronous and data_dir.
queue::SqliteOptions sqlite_options(const core::Config& config);
// The PostgreSQL pool's options from [database]; kInvalidArgument when no url is set.
Result<core::pg::PoolOptions> postgres_options(const core::Config& config);

// A [queues.ID] table as a queue of [queue] project and location.
queue::Queue declared_queue(const core::QueueConfig& config, const core::DeclaredQueue& declared);

class QueueService {
 public:
  // `dispatches`: this process runs the dispatcher (with SQLite, it then claims the store
  // file for itself). Processes without it use the store to create and read tasks only.
  static Result<std::unique_ptr<QueueService>> open(const core::Config& config,
                                                    boost::asio::io_context& ioc,
                                                    core::MetricsRegistry& metrics,
                                                    bool dispatches = true);

  void install_routes(net::Router& router) { api_.install(router); }
  // Declares the configured queues and the bot's (bot/tasks.hpp; create-image dispatches as
  // many renders at once as twice `cpu_threads`) and, in a dispatcher, starts dispatching.
  Result<void> start(const std::string& self_url, int cpu_threads);

  queue::TaskQueue& queue() { return *queue_; }
  // Why this process cannot serve the queue now (the store's last probe, every 2 s: the
  // database unreachable, its schema changed), or nullopt.
  std::optional<std::string> not_ready() const;
  // The queues whose dispatch this process leads now (full names).
  std::vector<std::string> leading() const { return queue_->leading(); }
  const queue::RequestSigner& signer() const { return signer_; }

 private:
  QueueService(const core::Config& config, std::unique_ptr<queue::TaskStore> store, bool dispatches,
               queue::RequestSigner signer, std::string api_token, boost::asio::io_context& ioc,
               core::MetricsRegistry& metrics);

  core::Config config_;
  // Declared in the order they must die in reverse: the pool joins before the store closes.
  std::unique_ptr<queue::TaskStore> store_;
  bool dispatches_;
  core::CpuPool store_pool_;
  net::HttpClient client_;
  queue::RequestSigner signer_;
  std::unique_ptr<queue::EmbeddedTaskQueue> queue_;
  queue::RestApi api_;
  boost::asio::steady_timer probe_timer_;
  mutable std::mutex probe_mutex_;
  std::optional<std::string> not_ready_;

  boost::asio::awaitable<void> probe_loop();
};

}  // namespace mando::app
