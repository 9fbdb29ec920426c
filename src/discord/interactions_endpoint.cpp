#include "discord/interactions_endpoint.hpp"

#include <charconv>
#include <utility>

#include <boost/asio/use_awaitable.hpp>

#include "core/log.hpp"

namespace mando::discord {
namespace {

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("discord");
  return logger;
}

constexpr std::string_view kInvalidSignature = "invalid request signature";

}  // namespace

InteractionsEndpoint::InteractionsEndpoint(SignatureVerifier verifier,
                                           const CommandRegistry& registry,
                                           InteractionsEndpointOptions options)
    : verifier_(std::move(verifier)), registry_(registry), options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
}

bool InteractionsEndpoint::timestamp_in_window(std::string_view timestamp) const {
  if (!options_.timestamp_window) return true;
  // Unix seconds, as Discord sends them. Anything else cannot be inside a window.
  std::int64_t seconds = 0;
  const char* end = timestamp.data() + timestamp.size();
  auto [ptr, ec] = std::from_chars(timestamp.data(), end, seconds);
  if (ec != std::errc() || ptr != end || timestamp.empty() || seconds < 0) return false;
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(options_.clock().time_since_epoch()).count();
  const std::int64_t skew = now >= seconds ? now - seconds : seconds - now;
  return skew <= options_.timestamp_window->count();
}

boost::asio::awaitable<net::Response> InteractionsEndpoint::handle(net::Request request) const {
  const auto signature = request.headers.get("X-Signature-Ed25519");
  const auto timestamp = request.headers.get("X-Signature-Timestamp");
  if (!signature || !timestamp || !verifier_.verify(*signature, *timestamp, request.body)) {
    module_log()->debug(
        "interaction refused: invalid signature remote={} signature_present={} "
        "timestamp_present={}",
        request.remote, signature.has_value(), timestamp.has_value());
    co_return net::Response::json_error(401, kInvalidSignature);
  }
  if (!timestamp_in_window(*timestamp)) {
    module_log()->debug("interaction refused: timestamp outside the window remote={}",
                        request.remote);
    co_return net::Response::json_error(401, kInvalidSignature);
  }

  auto interaction = parse_interaction(request.body);
  if (!interaction) {
    module_log()->debug("interaction refused: {} remote={}", interaction.error().message,
                        request.remote);
    co_return net::Response::json_error(400, interaction.error().message);
  }
  module_log()->debug("interaction id={} type={} command={} custom_id={}", interaction->id,
                      to_string(interaction->type), interaction->data.name,
                      interaction->data.custom_id);
  if (interaction->type == InteractionType::kPing) {
    co_return net::Response::json(200, InteractionResponse::pong().to_json());
  }
  InteractionResponse response = co_await registry_.dispatch(std::move(*interaction));
  co_return net::Response::json(200, response.to_json());
}

}  // namespace mando::discord
