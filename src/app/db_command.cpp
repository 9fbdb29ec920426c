// `mando db migrate` and `mando db status`: the schema of the PostgreSQL database that
// [database] url names. Migrations are forward-only and versioned per component (the queue's
// tables first; see core/postgres.hpp); `mando serve` checks the versions at start and refuses
// a database older or newer than it knows, so a deployment runs `mando db migrate` (any
// number of times, from any number of machines at once) before starting a new release.
// Exit status 0 on success, 1 when the server refuses or cannot be reached, 2 for a
// configuration error.

#include <fmt/format.h>

#include "app/cli.hpp"
#include "app/queue_service.hpp"
#include "core/postgres.hpp"
#include "imagine/postgres_job_store.hpp"
#include "queue/postgres_task_store.hpp"

namespace mando::app {
namespace {

struct DbFlags {
  std::string config;
};

// Every component whose tables live in the database, in the order they are migrated.
struct Component {
  std::string_view name;
  std::span<const core::pg::Migration> migrations;
};
std::vector<Component> components() {
  return {{queue::PostgresTaskStore::kComponent, queue::PostgresTaskStore::migrations()},
          {imagine::PostgresJobStore::kComponent, imagine::PostgresJobStore::migrations()}};
}

std::unique_ptr<core::pg::Connection> connect_or_exit(const DbFlags& flags) {
  auto config = load_config_or_exit(
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config));
  auto options = postgres_options(config);
  if (!options) exit_with(2, options.error().message);
  auto c = core::pg::Connection::open(options->connect);
  if (!c) exit_with(1, c.error().message);
  return std::move(*c);
}

void migrate(const DbFlags& flags) {
  auto c = connect_or_exit(flags);
  for (const auto& component : components()) {
    auto applied = core::pg::migrate(*c, component.name, component.migrations);
    if (!applied) exit_with(1, applied.error().message);
    const int latest = component.migrations.back().version;
    if (applied->empty()) {
      fmt::print("{}: at version {}, nothing to apply\n", component.name, latest);
    } else {
      fmt::print("{}: applied {} (now at version {})\n", component.name, fmt::join(*applied, ", "),
                 latest);
    }
  }
}

void status(const DbFlags& flags) {
  auto c = connect_or_exit(flags);
  bool current = true;
  for (const auto& component : components()) {
    auto version = core::pg::schema_version(*c, component.name);
    if (!version) exit_with(1, version.error().message);
    const int latest = component.migrations.back().version;
    fmt::print("{}: version {} of {}{}\n", component.name, *version, latest,
               *version == latest  ? ""
               : *version < latest ? " (run `mando db migrate`)"
                                   : " (newer than this mando)");
    current = current && *version == latest;
  }
  if (!current) throw CLI::RuntimeError(1);
}

}  // namespace

void add_db_command(CLI::App& app) {
  auto flags = std::make_shared<DbFlags>();
  auto* group = app.add_subcommand(
      "db", "The PostgreSQL schema of [database] url ([queue] backend = \"postgres\")");
  group->require_subcommand(1);
  auto* up = group->add_subcommand("migrate", "Apply the migrations this mando knows (idempotent)");
  auto* show = group->add_subcommand(
      "status", "Print each component's schema version; exit 1 unless all are current");
  for (auto* cmd : {up, show}) {
    cmd->add_option("--config,-c", flags->config, "TOML config file (see mando.example.toml)")
        ->check(CLI::ExistingFile);
  }
  up->callback([flags] { migrate(*flags); });
  show->callback([flags] { status(*flags); });
}

}  // namespace mando::app
