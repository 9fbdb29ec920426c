#include "bot/bot.hpp"

#include <fmt/format.h>

#include "bot/commands/about.hpp"

namespace mando::bot {

namespace asio = boost::asio;

Result<discord::CommandRegistry> build_commands(const CommandDeps& deps) {
  discord::CommandRegistry registry;
  for (auto spec : {commands::about(deps.started)}) {
    if (auto r = registry.add(std::move(spec)); !r) return tl::unexpected(r.error());
  }
  return registry;
}

Result<std::unique_ptr<Bot>> Bot::create(const core::Config& config) {
  auto registry = build_commands({});
  if (!registry) return tl::unexpected(registry.error());
  std::unique_ptr<Bot> bot(new Bot(std::move(*registry)));
  const auto& discord = config.discord;
  if (!discord.public_key.empty()) {
    auto verifier = discord::SignatureVerifier::from_hex(discord.public_key);
    if (!verifier) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("[discord] public_key: {}", verifier.error().message));
    }
    discord::InteractionsEndpointOptions options;
    if (discord.timestamp_window.count() > 0) {
      options.timestamp_window =
          std::chrono::duration_cast<std::chrono::seconds>(discord.timestamp_window);
    }
    bot->endpoint_.emplace(std::move(*verifier), bot->registry_, std::move(options));
  }
  return bot;
}

void Bot::install_routes(net::Router& router) {
  router.add("POST", "/interactions", [this](net::Request req) -> asio::awaitable<net::Response> {
    if (!endpoint_) {
      co_return net::Response::json_error(
          503,
          "the Discord public key is not configured: set MANDO_DISCORD_PUBLIC_KEY or "
          "[discord] public_key");
    }
    co_return co_await endpoint_->handle(std::move(req));
  });
}

}  // namespace mando::bot
