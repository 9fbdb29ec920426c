// `mando transform-worker`: a crash-isolated decoder process, started by the transform
// WorkerPool (src/transform/pool.hpp) with a socketpair as its stdin and stdout. Not for people:
// hidden from --help. Logging follows MANDO_LOG_LEVEL and MANDO_LOG_FORMAT, which the worker
// inherits from the mando that started it, so its lines join that mando's log stream.
// Exit status: 0 when mando closes the connection, otherwise worker.hpp's codes.

#include <fmt/format.h>

#include "app/cli.hpp"
#include "core/log.hpp"
#include "transform/worker.hpp"
#include <unistd.h>

namespace mando::app {

void add_transform_worker_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("transform-worker",
                                 "Serve transform jobs on stdin/stdout (started by mando itself)");
  cmd->group("");
  cmd->callback([] {
    // The environment only, never a config file: a worker has no business reading one.
    auto config = core::load_config(std::nullopt, core::process_environment());
    core::LogOptions log;
    if (config) {
      log.level = config->log.level;
      log.format = config->log.format == "json" ? core::LogFormat::kJson : core::LogFormat::kText;
    }
    if (auto ok = core::init_logging(log); !ok) {
      fmt::print(stderr, "mando: {}\n", ok.error().message);
    }
    const int status = transform::worker_main(STDIN_FILENO, STDOUT_FILENO);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace mando::app
