// `mando cleanup`: one run of the blob cleanup, for cron or a Kubernetes CronJob, on the same
// [storage] configuration as `mando serve` (which also runs it every [storage]
// cleanup_interval). Exit status 0 when every expired blob went, 1 when some could not be read
// or deleted (the next run retries them), 2 for a configuration error.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include "app/cli.hpp"
#include "app/storage_service.hpp"

namespace mando::app {
namespace {

namespace asio = boost::asio;

struct CleanupFlags {
  std::string config;
  std::string data_dir;
  bool dry_run = false;
  bool sweep = false;
};

int cleanup(const CleanupFlags& flags) {
  auto config = load_config_or_exit(
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config));
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  asio::io_context ioc;
  auto service = StorageService::open(config, core::process_environment(), ioc.get_executor());
  if (!service) {
    fmt::print(stderr, "mando: {}\n", service.error().message);
    return 2;
  }
  storage::CleanupOptions options;
  options.dry_run = flags.dry_run;
  options.sweep = flags.sweep;
  auto future = asio::co_spawn(ioc, (*service)->cleanup(options), asio::use_future);
  ioc.run();
  auto report = future.get();
  if (!report) {
    fmt::print(stderr, "mando: cleanup: {}\n", report.error().message);
    return 1;
  }
  fmt::print("{} {} expired blobs ({} bytes); examined {}, failures {}{}\n",
             flags.dry_run ? "would delete" : "deleted",
             flags.dry_run ? report->expired : report->deleted,
             flags.dry_run ? report->expired_bytes : report->bytes_freed, report->examined,
             report->failures, flags.dry_run ? " (dry run)" : "");
  for (const auto& error : report->errors) fmt::print(stderr, "mando: cleanup: {}\n", error);
  return report->failures == 0 ? 0 : 1;
}

}  // namespace

void add_cleanup_command(CLI::App& app) {
  auto flags = std::make_shared<CleanupFlags>();
  auto* cmd = app.add_subcommand(
      "cleanup", "Delete the expired blobs once ([storage]; mando serve also does it on a timer)");
  cmd->add_option("--config,-c", flags->config, "TOML config file (see mando.example.toml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data-dir", flags->data_dir, "Directory for mando's data, overrides data_dir");
  cmd->add_flag("--dry-run", flags->dry_run, "Count what would be deleted, delete nothing");
  cmd->add_flag("--sweep", flags->sweep,
                "Also read the metadata of every stored object, not only the expiry index "
                "(for buckets other tools write to)");
  cmd->callback([flags] {
    if (int status = cleanup(*flags); status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace mando::app
