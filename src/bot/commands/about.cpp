#include "bot/commands/about.hpp"

#include <fmt/format.h>

#include "core/duration.hpp"

namespace mando::bot::commands {

namespace asio = boost::asio;

discord::CommandSpec about(std::chrono::steady_clock::time_point started) {
  discord::CommandSpec spec;
  spec.name = "about";
  spec.description = "What mando is, its version and how long it has been running";
  spec.handler =
      [started](discord::CommandContext) -> asio::awaitable<discord::InteractionResponse> {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started);
    co_return discord::InteractionResponse::ephemeral(fmt::format(
        "**mando** {}: unique images on demand. Up {}.", MANDO_VERSION,
        core::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(uptime))));
  };
  return spec;
}

}  // namespace mando::bot::commands
