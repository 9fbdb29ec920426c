// `mando commands sync`: registers the bot's slash commands with Discord (bulk overwrite).

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/cli.hpp"
#include "bot/bot.hpp"
#include "discord/commands_sync.hpp"
#include "discord/rate_limiter.hpp"
#include "discord/rest_client.hpp"

namespace mando::app {
namespace {

namespace asio = boost::asio;

struct SyncFlags {
  std::string config;
  std::string guild;
  bool dry_run = false;
};

void print_names(std::string_view label, const std::vector<std::string>& names) {
  fmt::print("{:<10} {}\n", label, names.empty() ? "-" : fmt::format("{}", fmt::join(names, " ")));
}

int sync(const SyncFlags& flags) {
  auto config = load_config_or_exit(
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config));
  const auto& discord = config.discord;
  if (discord.application_id.empty() || discord.bot_token.empty()) {
    fmt::print(stderr,
               "mando: commands sync needs [discord] application_id and bot_token (set "
               "MANDO_DISCORD_APPLICATION_ID and MANDO_DISCORD_BOT_TOKEN or "
               "MANDO_DISCORD_BOT_TOKEN_FILE)\n");
    return 2;
  }
  auto registry = bot::build_commands(config);
  if (!registry) {
    fmt::print(stderr, "mando: {}\n", registry.error().message);
    return 1;
  }
  discord::SyncTarget target;
  target.application_id = discord.application_id;
  if (!flags.guild.empty()) target.guild_id = flags.guild;
  target.dry_run = flags.dry_run;

  // The same REST client as the workers': the calls wait for Discord's rate limits and wait
  // out 429s instead of failing on the first one.
  asio::io_context ioc;
  Result<discord::SyncReport> report = fail(ErrorKind::kInternal, "commands sync did not run");
  {
    net::HttpClient http(ioc.get_executor());
    discord::InMemoryRateLimiter limiter;
    discord::RestClient rest(http, limiter, discord::RestClientOptions::from(discord));
    auto future = asio::co_spawn(
        ioc, discord::sync_commands(rest, target, registry->commands_json()), asio::use_future);
    ioc.run();
    report = future.get();
  }
  ioc.restart();
  ioc.run();  // the HTTP client's posted cleanup
  if (!report) {
    fmt::print(stderr, "mando: commands sync: {}\n", report.error().message);
    return 1;
  }
  fmt::print("{} commands for application {}{}:\n", flags.dry_run ? "would sync" : "synced",
             discord.application_id,
             flags.guild.empty() ? " (global)" : " in guild " + flags.guild);
  print_names("added", report->added);
  print_names("changed", report->changed);
  print_names("removed", report->removed);
  print_names("unchanged", report->unchanged);
  return 0;
}

}  // namespace

void add_commands_command(CLI::App& app) {
  auto* commands = app.add_subcommand("commands", "Manage the bot's slash commands on Discord");
  commands->require_subcommand(1);
  auto flags = std::make_shared<SyncFlags>();
  auto* sync_cmd = commands->add_subcommand(
      "sync",
      "Register mando's slash commands with Discord (bulk overwrite: adds, updates and deletes "
      "in one call) and print what was added, changed and removed");
  sync_cmd->add_option("--config,-c", flags->config, "TOML config file")->check(CLI::ExistingFile);
  sync_cmd->add_option("--guild", flags->guild,
                       "Register in this guild (server) only; guild commands update instantly");
  sync_cmd->add_flag("--dry-run", flags->dry_run,
                     "Compare with what is registered, change nothing");
  sync_cmd->callback([flags] {
    if (int status = sync(*flags); status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace mando::app
