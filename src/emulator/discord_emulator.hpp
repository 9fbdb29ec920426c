#pragma once
// A local stand-in for Discord on loopback: the test double of mando's end-to-end tests and,
// with its web page, the `mando dev` demo. It speaks Discord's published protocol (API v10) to
// the bot, so a bot that works against it works against Discord.
//
// One interaction, the way Discord runs it:
//   1. send_command() / click() (or the control API, or the web page) build the interaction JSON
//      Discord would send: a snowflake id from the current time, a random token, member.user in
//      a guild or user in a DM, the message for components. The token is registered first, so
//      REST calls that race the bot's answer find it.
//   2. The body is signed like Discord does (Ed25519 over X-Signature-Timestamp + body) and
//      POSTed to the bot's interactions URL with a 3 s timeout.
//   3. The bot's answer (HTTP 200 with an interaction response, or an acknowledgement through
//      POST /interactions/{id}/{token}/callback) decides what happens: 4 posts a message, 5
//      posts the "@original" message in its loading state (flags 128, "mando is thinking…"),
//      6 and 7 act on the component's message, 9 records a modal. Anything else, a non-200, a
//      body that is not JSON or no answer within 3 s: the interaction failed ("This interaction
//      failed", as Discord shows it).
//   4. For 15 minutes (token_lifetime) the token opens the webhook routes: edit, get and delete
//      @original, follow-ups and their edits, JSON or multipart with files[N]. Then 401 50027.
//   5. Every REST answer carries Discord's rate-limit headers. Webhook routes have a bucket per
//      (route, token) of webhook_limit requests per webhook_window; beyond it the answer is a
//      real 429 (scope user). Stats count 429s and requests sent into a bucket the client had
//      been told was exhausted.
//
//   6. Every interaction carries attachment_size_limit (default 10 MiB, Discord's for unboosted
//      guilds); a webhook PATCH/POST with a larger file answers 413, code 40005.
//
// Faults (a FIFO per route: 5xx, 429 or AutoMod's 400 answers), token expiry and response
// delays are injected through the in-process API or the control API under /_emulator/
// (control_api.hpp).
//
// The parts, each testable alone: the message model (message_model.hpp), the rate limits and
// faults (rate_limits.hpp), sending interactions (interaction_sender.hpp), the command-text
// parser (command_text.hpp), the REST routes (rest_api.hpp), the control API
// (control_api.hpp); emulator_core.hpp holds them together.
//
// Thread-safety: every member may be called from any thread; one mutex guards the state, and it
// is never held across a co_await. Waits (long polls, the @original race in 1.) use a timer and
// a concurrent channel per waiter: no thread blocks. The HttpClient must outlive the emulator;
// the state lives as long as the routers whose handlers hold it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.hpp"
#include "emulator/emulator_types.hpp"
#include "net/http_client.hpp"
#include "net/router.hpp"

namespace mando::emulator {

class EmulatorCore;

class DiscordEmulator {
 public:
  // `client` POSTs interactions to the bot; `executor` runs nothing by itself but is the home
  // of the emulator's timers when a caller's own executor is not known.
  DiscordEmulator(boost::asio::any_io_executor executor, net::HttpClient& client,
                  EmulatorOptions options = {});
  ~DiscordEmulator();
  DiscordEmulator(const DiscordEmulator&) = delete;
  DiscordEmulator& operator=(const DiscordEmulator&) = delete;

  const std::string& application_id() const;
  std::string public_key_hex() const;  // what the bot configures as [discord] public_key
  // Where interactions are POSTed, e.g. http://127.0.0.1:8080/interactions.
  void set_bot_url(std::string interactions_url);
  // The emulator's own base URL ("http://127.0.0.1:9000"), for attachment URLs. Without it the
  // Host header of the latest request to the emulator is used.
  void set_public_url(std::string url);

  // Registers, on `router`:
  //   {api_prefix}/*   the REST API (rest_api.hpp: Discord-shaped errors and rate limits)
  //   /_emulator/*     the control API (control_api.hpp: JSON, no auth: bind it to loopback)
  //   / and /index.html  the web page
  void install_routes(net::Router& router);

  // --- In-process API: the control routes call these, tests may call them directly. ---

  // Sends an APPLICATION_COMMAND interaction and handles the bot's answer (1. to 3. above): a
  // slash command, or a message command when invocation.target_message_id is set.
  // Errors: kInvalidArgument (bad name or ids, an attachment option naming no upload),
  // kNotFound (no such target message), kFailedPrecondition (no bot URL),
  // kUnavailable / kDeadlineExceeded when the bot cannot be reached or does not answer in time
  // (the interaction is then failed).
  boost::asio::awaitable<Result<SentInteraction>> send_command(CommandInvocation invocation);
  // A file a user attaches to a command (Discord's client uploads it first): answers the
  // attachment object, whose "id" an attachment option (type 11) of send_command() names.
  boost::json::object upload(std::string filename, std::string content_type, std::string bytes);
  // `/mando symmetry:12 palette:"twi light"` as typed in Discord's client; option types come
  // from the registered commands (PUT .../commands), else are inferred from the text.
  Result<CommandInvocation> parse_command_text(std::string_view text) const;
  // A MESSAGE_COMPONENT interaction: `custom_id` of a component on message `message_id`
  // (kNotFound when there is no such message or component). Empty user_id: the default user.
  boost::asio::awaitable<Result<SentInteraction>> click(std::string message_id,
                                                        std::string custom_id,
                                                        std::string user_id = {});

  // Messages as Discord's message objects plus "version" (edit counter, from 1),
  // "interaction_id", "created_ms" (interaction POST, Unix ms) and "completed_ms" (first
  // non-loading state; absent while loading). Oldest first.
  boost::json::array messages() const;
  std::optional<boost::json::object> message(std::string_view id) const;
  // The message as soon as its version exceeds `after_version` (or it is deleted), or its
  // current state after `timeout`. nullopt: unknown message.
  boost::asio::awaitable<std::optional<boost::json::object>> wait_message(
      std::string id, std::int64_t after_version, std::chrono::milliseconds timeout);
  // True as soon as at least `count` messages exist that are not loading; false at `timeout`.
  boost::asio::awaitable<bool> wait_completed(std::size_t count, std::chrono::milliseconds timeout);

  // The next interactions carry `bytes` as attachment_size_limit, and larger files are refused.
  void set_attachment_size_limit(std::int64_t bytes);

  void add_fault(Fault fault);
  // Delays the next `count` REST responses by `delay`.
  void delay_responses(int count, std::chrono::milliseconds delay);
  // Expires the token of an interaction now; false when the interaction is unknown.
  bool expire(std::string_view interaction_id);

  // Counters: {"interactions": {"sent", "failed", "by_response_type"}, "rest": {"requests",
  // "by_route", "by_status"}, "rate_limits": {"responses_429", "consecutive_429",
  // "ignored_exhausted", "faults_injected"}, "bad_user_agent", "messages": {"completed",
  // "loading"}}.
  boost::json::object stats() const;
  // The registered global commands, as PUT .../commands answered them.
  boost::json::array commands() const;

  // Ends every wait (long polls answer now) and makes later ones answer at once: call before
  // shutting down the server, so that its requests in flight can finish.
  void stop();

 private:
  std::shared_ptr<EmulatorCore> core_;
};

}  // namespace mando::emulator
