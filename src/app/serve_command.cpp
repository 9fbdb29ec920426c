// `mando serve`: the flags, then run_server() (server.hpp) with the roles they name.

#include <fmt/format.h>

#include "app/cli.hpp"
#include "app/server.hpp"

namespace mando::app {
namespace {

struct ServeFlags {
  std::string config;
  std::string listen;
  std::string internal_listen;
  std::string data_dir;
  std::string role = "all";
  std::vector<std::string> queues;
};

int serve(const ServeFlags& flags) {
  auto config = load_config_or_exit(
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config));
  if (!flags.listen.empty()) config.server.listen = flags.listen;
  if (!flags.internal_listen.empty()) config.server.internal_listen = flags.internal_listen;
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  auto roles = ServeRoles::parse(flags.role, flags.queues);
  if (!roles) {
    fmt::print(stderr, "mando: {}\n", roles.error().message);
    return 2;
  }
  return run_server(std::move(config), *roles);
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd =
      app.add_subcommand("serve", "Run the bot: HTTP server, interactions endpoint, all roles");
  cmd->add_option("--config,-c", flags->config, "TOML config file (see mando.example.toml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--listen", flags->listen,
                  "HOST:PORT of the public listener (/interactions, /blobs/), overrides [server] "
                  "listen (port 0 picks a free port)");
  cmd->add_option("--internal-listen", flags->internal_listen,
                  "HOST:PORT of the internal listener (queue API, worker routes, /metrics), "
                  "overrides [server] internal_listen (default 127.0.0.1:8081, or a free port "
                  "when --listen's port is 0)");
  cmd->add_option("--data-dir", flags->data_dir, "Directory for mando's data, overrides data_dir");
  cmd->add_option("--role", flags->role,
                  "all (default), or a comma-separated list of ingress, worker, dispatcher: the "
                  "parts this process runs");
  cmd->add_option("--queues", flags->queues,
                  "With --role worker: the queues whose worker routes to serve (create-image, "
                  "transform-images, reply-discord; default all)")
      ->delimiter(',');
  cmd->callback([flags] {
    if (int status = serve(*flags); status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace mando::app
