#include <fmt/format.h>

#include "app/cli.hpp"
#include "core/log.hpp"

namespace mando::app {

void add_all_commands(CLI::App& app) {
  add_serve_command(app);
  add_dev_command(app);
  add_version_command(app);
  add_config_command(app);
  add_keys_command(app);
  add_commands_command(app);
  add_queue_commands(app);
  add_cleanup_command(app);
  add_db_command(app);
  add_render_command(app);
  add_transform_command(app);
  add_transform_worker_command(app);
}

[[noreturn]] void exit_with(int status, std::string_view message) {
  fmt::print(stderr, "mando: {}\n", message);
  throw CLI::RuntimeError(status);
}

core::Config load_config_or_exit(const std::optional<std::string>& path) {
  auto config = core::load_config(path, core::process_environment());
  if (!config) {
    fmt::print(stderr, "mando: {}\n", config.error().message);
    throw CLI::RuntimeError(2);
  }
  core::LogOptions log{config->log.level, config->log.format == "json" ? core::LogFormat::kJson
                                                                       : core::LogFormat::kText};
  if (auto r = core::init_logging(log); !r) {
    fmt::print(stderr, "mando: {}\n", r.error().message);
    throw CLI::RuntimeError(2);
  }
  for (const auto& w : config->warnings) core::logger("config")->warn("{}", w);
  return std::move(*config);
}

}  // namespace mando::app
