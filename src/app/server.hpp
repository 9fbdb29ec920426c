#pragma once
// Running mando's HTTP server with the roles of one process: what `mando serve` and `mando dev`
// share.
//
//   dispatcher  the task queue: SQLite store, dispatcher, Cloud Tasks v2 API at /v2/;
//   ingress     POST /interactions, sending tasks to the queue;
//   worker      the worker routes, with the CPU pool, the blob store (and /blobs/ for the local
//               backend) and the Discord REST client;
//   all         the three in one process (the default).
// A process without the dispatcher reaches the queue through [queue] url (with [queue]
// api_token); processes that sign and verify dispatches share [queue] signing_key. Every
// process has two listeners: the public one ([server] listen: /interactions, /blobs/) and the
// internal one ([server] internal_listen: /v2/, worker routes, /metrics); both answer /healthz
// and /readyz.

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/config.hpp"
#include "core/error.hpp"

namespace mando::app {

enum class Role { kIngress, kWorker, kDispatcher };

struct ServeRoles {
  std::set<Role> roles{Role::kIngress, Role::kWorker, Role::kDispatcher};
  std::vector<std::string> worker_queues;  // empty: every queue's worker routes

  bool has(Role role) const { return roles.contains(role); }
  // "all", or a comma-separated list of ingress, worker and dispatcher.
  static Result<ServeRoles> parse(std::string_view roles, std::vector<std::string> worker_queues);
};

struct ServeHooks {
  // Called before anything is built, with the I/O context the server will run; may adjust the
  // configuration (`mando dev` points Discord at its emulator). What it answers is kept alive
  // until the io_context has stopped, and destroyed before it. An error stops the start (2).
  std::function<Result<std::shared_ptr<void>>(boost::asio::io_context&, core::Config&)> prepare;
  // Called once the server listens, with its public base URL ("http://127.0.0.1:8080").
  std::function<void(const std::string& url)> listening;
};

// Runs until SIGTERM or SIGINT; the exit status (0, or 1/2 on a start-up error, printed).
int run_server(core::Config config, const ServeRoles& roles, const ServeHooks& hooks = {});

}  // namespace mando::app
