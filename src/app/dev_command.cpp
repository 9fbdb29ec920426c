// `mando dev`: the whole flow on one machine, without a Discord account. mando runs every role
// on embedded defaults (as `mando serve`), next to the Discord emulator (src/emulator) on a
// second loopback port. The emulator signs interactions with its own key, which mando is told
// to trust; mando's Discord client talks to the emulator's REST API; the commands are
// registered with it as `mando commands sync` would. Open the printed page, type
// `/mando symmetry:12 palette:twilight` and watch the message turn into the mandala.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>

#include "app/cli.hpp"
#include "app/server.hpp"
#include "bot/bot.hpp"
#include "core/log.hpp"
#include "emulator/emulator_server.hpp"

namespace mando::app {
namespace {

namespace asio = boost::asio;

struct DevFlags {
  std::string config;
  std::string listen;
  std::string internal_listen;
  std::string emulator_listen = "127.0.0.1:8090";
  std::string data_dir;
};

asio::awaitable<void> connect(emulator::EmulatorServer& host, std::string bot_url,
                              boost::json::array commands) {
  auto log = core::logger("dev");
  auto connected = co_await host.connect_bot(bot_url + "/interactions", std::move(commands));
  if (!connected) {
    log->error("registering the commands with the emulator failed: {}", connected.error().message);
    co_return;
  }
  log->info("the emulator sends interactions to {}/interactions", bot_url);
  fmt::print("open {}/ and type /mando symmetry:12 palette:twilight\n", host.url());
  std::fflush(stdout);
}

int dev(const DevFlags& flags) {
  auto config = load_config_or_exit(
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config));
  if (!flags.listen.empty()) config.server.listen = flags.listen;
  if (!flags.internal_listen.empty()) config.server.internal_listen = flags.internal_listen;
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;

  // Owned by run_server() (what prepare answers), which destroys it before the io_context.
  emulator::EmulatorServer* host = nullptr;
  asio::io_context* io = nullptr;
  ServeHooks hooks;
  hooks.prepare = [&](asio::io_context& ioc, core::Config& c) -> Result<std::shared_ptr<void>> {
    auto started = emulator::EmulatorServer::start(ioc, flags.emulator_listen);
    if (!started) {
      return fail(started.error().kind,
                  fmt::format("the Discord emulator: {}", started.error().message));
    }
    std::shared_ptr<emulator::EmulatorServer> owned = std::move(*started);
    host = owned.get();
    io = &ioc;
    c.discord.public_key = host->emulator().public_key_hex();
    c.discord.application_id = host->emulator().application_id();
    c.discord.api_base_url = host->api_base_url();
    // The files users attach in the playground are served by the emulator, on loopback and
    // over plain http: /transform may fetch from there (and, as a consequence, http URLs).
    c.fetch.allow_http = true;
    c.fetch.allow.push_back(host->url().substr(std::string_view("http://").size()));
    core::logger("dev")->info("Discord emulator on {} (its REST API: {})", host->url(),
                              host->api_base_url());
    return std::static_pointer_cast<void>(owned);
  };
  hooks.listening = [&](const std::string& url) {
    auto commands = bot::build_commands(config);
    if (!commands) return;  // Bot::create() already refused to start for the same reason
    asio::co_spawn(*io, connect(*host, url, commands->commands_json()), asio::detached);
  };
  return run_server(std::move(config), ServeRoles{}, hooks);
}

}  // namespace

void add_dev_command(CLI::App& app) {
  auto flags = std::make_shared<DevFlags>();
  auto* cmd = app.add_subcommand(
      "dev",
      "Run mando with a local Discord emulator and its web page: the whole flow, no account");
  cmd->add_option("--config,-c", flags->config, "TOML config file (see mando.example.toml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--listen", flags->listen, "HOST:PORT for mando, overrides [server] listen");
  cmd->add_option("--internal-listen", flags->internal_listen,
                  "HOST:PORT for mando's internal listener, overrides [server] internal_listen");
  cmd->add_option("--emulator-listen", flags->emulator_listen,
                  "HOST:PORT for the emulator and its web page (default 127.0.0.1:8090)");
  cmd->add_option("--data-dir", flags->data_dir, "Directory for mando's data, overrides data_dir");
  cmd->callback([flags] {
    if (int status = dev(*flags); status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace mando::app
