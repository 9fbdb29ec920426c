// `mando dev`: the whole flow on one machine, without a Discord account. mando runs every role
// on embedded defaults (as `mando serve`), next to the Discord emulator (src/emulator) on a
// second loopback port. The emulator signs interactions with its own key, which mando is told
// to trust; mando's Discord client talks to the emulator's REST API; the commands are
// registered with it as `mando commands sync` would. Open the printed page, type
// `/mando symmetry:12 palette:twilight` and watch the message turn into the mandala.
//
// /imagine works out of the box too: unless the configuration names models of its own, a fake
// GPU provider (src/provider_emulator) runs on a third loopback port and three models point at
// it, one per API shape (mandala-xl: Replicate-style, mandala-fal: fal-style, mandala-sync:
// OpenAI-compatible) plus a video one. Its webhooks reach mando at [server] listen when that
// is a fixed port; with port 0 jobs are found by polling.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>

#include "app/cli.hpp"
#include "app/server.hpp"
#include "bot/bot.hpp"
#include "core/log.hpp"
#include "emulator/emulator_server.hpp"
#include "provider_emulator/fake_provider.hpp"

namespace mando::app {
namespace {

namespace asio = boost::asio;

struct DevFlags {
  std::string config;
  std::string listen;
  std::string internal_listen;
  std::string emulator_listen = "127.0.0.1:8090";
  std::string provider_listen = "127.0.0.1:0";
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
  fmt::print("open {}/ and type /mando symmetry:12 palette:twilight (or /imagine prompt:...)\n",
             host.url());
  std::fflush(stdout);
}

// What the dev server owns besides mando: both stand-ins, destroyed before the io_context.
struct StandIns {
  std::unique_ptr<emulator::EmulatorServer> discord;
  std::unique_ptr<provider_emulator::FakeProvider> provider;
};

core::ImagineModel fake_model(std::string name, std::string provider, std::string endpoint,
                              std::string version,
                              const provider_emulator::FakeProviderOptions& o) {
  core::ImagineModel m;
  m.name = std::move(name);
  m.provider = std::move(provider);
  m.endpoint = std::move(endpoint);
  m.version = std::move(version);
  m.api_token = o.api_token;
  m.webhook_secret = o.webhook_secret;
  m.description = "the local fake provider (mandalas from the prompt)";
  m.price = "free";
  return m;
}

// Points /imagine at the fake provider when the configuration has no models of its own.
void use_fake_provider(core::Config& c, const provider_emulator::FakeProvider& fake,
                       const provider_emulator::FakeProviderOptions& options) {
  c.fetch.allow_http = true;
  c.fetch.allow.push_back(fake.url().substr(std::string_view("http://").size()));
  if (!c.imagine.models.empty()) return;
  auto& models = c.imagine.models;
  models.push_back(
      fake_model("mandala-xl", "replicate", fake.endpoint(), "fake/mandala-xl", options));
  auto video =
      fake_model("mandala-video", "replicate", fake.endpoint(), "fake/mandala-video", options);
  video.video = true;
  models.push_back(std::move(video));
  auto fal = fake_model("mandala-fal", "fal", fake.url() + "/fal", "fake/mandala/fal", options);
  fal.jwks_url = fake.url() + "/fal/.well-known/jwks.json";
  models.push_back(std::move(fal));
  models.push_back(
      fake_model("mandala-sync", "openai", fake.url() + "/openai/v1", "mandala-sync", options));
  c.imagine.default_model = "mandala-xl";
  if (c.server.listen.ends_with(":0")) {
    c.imagine.webhooks = false;  // no address to give the provider before mando listens
    c.imagine.poll_after = std::chrono::seconds(2);
  } else if (c.imagine.public_url.empty()) {
    c.imagine.public_url = "http://" + c.server.listen;
  }
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
    auto owned = std::make_shared<StandIns>();
    auto started = emulator::EmulatorServer::start(ioc, flags.emulator_listen);
    if (!started) {
      return fail(started.error().kind,
                  fmt::format("the Discord emulator: {}", started.error().message));
    }
    owned->discord = std::move(*started);
    host = owned->discord.get();
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
    const provider_emulator::FakeProviderOptions fake_options;
    auto fake = provider_emulator::FakeProvider::start(ioc, flags.provider_listen, fake_options);
    if (!fake) {
      return fail(fake.error().kind,
                  fmt::format("the fake GPU provider: {}", fake.error().message));
    }
    owned->provider = std::move(*fake);
    use_fake_provider(c, *owned->provider, fake_options);
    core::logger("dev")->info("fake GPU provider on {}", owned->provider->url());
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
  cmd->add_option("--provider-listen", flags->provider_listen,
                  "HOST:PORT for the fake GPU provider /imagine uses (default: a free port)");
  cmd->add_option("--data-dir", flags->data_dir, "Directory for mando's data, overrides data_dir");
  cmd->callback([flags] {
    if (int status = dev(*flags); status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace mando::app
