#pragma once
// /about: mando's version and uptime. The smallest command module: a spec and a handler that
// answers at once, proving the path from Discord to a command.

#include <chrono>

#include "discord/command_registry.hpp"

namespace mando::bot::commands {

discord::CommandSpec about(std::chrono::steady_clock::time_point started);

}  // namespace mando::bot::commands
