#pragma once
// The product: mando's command modules and, in later issues, its worker routes, wired to the
// shared parts the app builds (config now; the CPU pool and the outbound client as workers
// arrive).
//
// A new command is one module in bot/commands/ plus one line in build_commands(): nothing else
// changes. The same registry serves `mando serve` and `mando commands sync`, so what Discord has
// registered is always what the server answers.

#include <chrono>
#include <memory>
#include <optional>

#include "core/config.hpp"
#include "discord/command_registry.hpp"
#include "discord/interactions_endpoint.hpp"
#include "net/router.hpp"

namespace mando::bot {

struct CommandDeps {
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Every command module's spec, registered and checked. An error here is a bug in a module's
// spec, reported at start-up.
Result<discord::CommandRegistry> build_commands(const CommandDeps& deps);

class Bot {
 public:
  // Fails when a command spec is invalid or the configured Discord public key is unusable.
  static Result<std::unique_ptr<Bot>> create(const core::Config& config);

  // Adds POST /interactions. Without [discord] public_key it answers 503, saying what to set.
  void install_routes(net::Router& router);

  const discord::CommandRegistry& commands() const { return registry_; }

 private:
  explicit Bot(discord::CommandRegistry registry) : registry_(std::move(registry)) {}

  discord::CommandRegistry registry_;
  std::optional<discord::InteractionsEndpoint> endpoint_;
};

}  // namespace mando::bot
