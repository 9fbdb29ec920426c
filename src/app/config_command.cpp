#include <fmt/format.h>

#include "app/cli.hpp"

namespace mando::app {

void add_config_command(CLI::App& app) {
  auto* config = app.add_subcommand("config", "Inspect the configuration");
  config->require_subcommand(1);
  auto* check = config->add_subcommand(
      "check",
      "Validate a config file (plus MANDO_* environment overrides) and print the effective "
      "configuration with secrets redacted");
  auto path = std::make_shared<std::string>();
  check->add_option("file,--config,-c", *path, "TOML config file (see mando.example.toml)")
      ->check(CLI::ExistingFile);
  check->callback([path] {
    auto config =
        load_config_or_exit(path->empty() ? std::nullopt : std::optional<std::string>(*path));
    fmt::print("# effective configuration{}\n{}", path->empty() ? "" : " of " + *path,
               core::render_config(config));
  });
}

}  // namespace mando::app
