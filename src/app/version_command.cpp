#include <fmt/format.h>

#include "app/cli.hpp"

namespace mando::app {

void add_version_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print mando's version");
  cmd->callback([] { fmt::print("mando {}\n", MANDO_VERSION); });
}

}  // namespace mando::app
