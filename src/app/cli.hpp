#pragma once
// The `mando` command line. Each subcommand lives in its own *_command.cpp and is added by one
// line in cli_commands.cpp: a new subcommand is a local change.
//
// A subcommand's callback reports its exit status by throwing CLI::RuntimeError(code) (CLI11's
// idiom); main() turns it into the process exit code.

#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "core/config.hpp"

namespace mando::app {

void add_all_commands(CLI::App& app);

void add_serve_command(CLI::App& app);
void add_dev_command(CLI::App& app);  // serve + the Discord emulator
void add_version_command(CLI::App& app);
void add_config_command(CLI::App& app);
void add_keys_command(CLI::App& app);
void add_commands_command(CLI::App& app);
void add_queue_commands(CLI::App& app);  // `mando queues ...` and `mando tasks ...`
void add_cleanup_command(CLI::App& app);
void add_db_command(CLI::App& app);  // `mando db migrate|status` (PostgreSQL)
void add_render_command(CLI::App& app);
void add_transform_command(CLI::App& app);         // what /transform does, from the command line
void add_transform_worker_command(CLI::App& app);  // hidden: started by the transform pool

// Loads the configuration for a subcommand (file, then MANDO_* environment), prints warnings and
// errors to stderr, and sets up logging. On error it exits the subcommand with status 2.
core::Config load_config_or_exit(const std::optional<std::string>& path);

// Ends a subcommand: "mando: MESSAGE" on stderr, exit status `status`.
[[noreturn]] void exit_with(int status, std::string_view message);

}  // namespace mando::app
