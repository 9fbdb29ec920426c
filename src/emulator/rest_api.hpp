#pragma once
// The emulator's REST API under {api_prefix}: the routes mando calls, answered as Discord
// answers them (API v10).
//
//   POST   /interactions/{id}/{token}/callback             acknowledge (JSON or multipart)
//   GET|PATCH|DELETE /webhooks/{app}/{token}/messages/@original
//   GET|PATCH|DELETE /webhooks/{app}/{token}/messages/{message.id}
//   POST   /webhooks/{app}/{token}                          a follow-up
//   GET|PUT /applications/{app}/commands                    "Authorization: Bot ..." required
//
// Each request: counted (route, status, User-Agent), then the rate limits and faults
// (rate_limits.hpp), an optional delay, then the route. A webhook call that races the bot's
// answer to the interaction POST waits for that answer first (as Discord's own ordering
// makes it look). Files over attachment_size_limit: 413, code 40005.
//
// Thread-safety: as EmulatorCore; the handler holds its shared_ptr across every co_await.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "emulator/emulator_core.hpp"
#include "emulator/message_model.hpp"
#include "emulator/wire.hpp"
#include "net/http_message.hpp"

namespace mando::emulator {

// A route of the REST API, once matched.
struct RestRoute {
  std::string family;     // fault FIFO name: "@original", "message", "followup", ...
  std::string template_;  // "PATCH /webhooks/{application.id}/{interaction.token}/..."
  std::string token;      // interaction token ("" for application routes)
  std::string message_id;
  std::string interaction_id;
};

// Matches `segments` (the path after the API prefix, split at '/') to a route; nullopt: 404.
// A route that exists for other methods sets `allow` (405).
std::optional<RestRoute> match_rest(const std::vector<std::string_view>& segments,
                                    std::string_view method, std::string& allow);

// Discord's bot User-Agent: "DiscordBot ($url, $versionNumber)".
bool good_user_agent(std::optional<std::string_view> user_agent);

// The message body of a request: JSON, or multipart/form-data with payload_json and files[N]
// (each at most `max_file_bytes`, else 413 40005). On error, `error` is what Discord answers.
Result<Payload> read_payload(const net::Request& request, std::int64_t max_file_bytes,
                             RestError& error);

boost::asio::awaitable<net::Response> handle_rest(std::shared_ptr<EmulatorCore> core,
                                                  net::Request request);

}  // namespace mando::emulator
