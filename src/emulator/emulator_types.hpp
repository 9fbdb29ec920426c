#pragma once
// The plain values of the emulator's in-process API (see discord_emulator.hpp), apart so that
// each part of the emulator can use them without the whole facade.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace mando::emulator {

struct EmulatorOptions {
  std::string application_id = "1180000000000000001";
  std::string api_prefix = "/api/v10";  // REST routes live under this prefix
  // Interaction tokens expire: webhook routes then answer 401, code 50027 "Invalid Webhook Token".
  std::chrono::seconds token_lifetime{15 * 60};
  int webhook_limit = 5;  // per interaction token bucket: requests per window
  std::chrono::milliseconds webhook_window{2000};
  std::string secret_key_seed_hex;  // 32-byte Ed25519 seed, hex; empty: a random key
  // How long the bot has to answer an interaction POST (Discord: 3 s).
  std::chrono::milliseconds response_timeout{3000};
  // What every interaction carries as attachment_size_limit, and the largest file a webhook
  // PATCH/POST may attach (larger: 413, code 40005). Discord's default for unboosted guilds.
  std::int64_t attachment_size_limit = 10 * 1024 * 1024;
};

// An APPLICATION_COMMAND (type 2, CHAT_INPUT) to send.
struct CommandInvocation {
  std::string name;
  // Options as Discord sends them: [{"name": "seed", "type": 4, "value": 1}, ...]. An
  // attachment option (type 11) names an upload (DiscordEmulator::upload) by id.
  boost::json::array options;
  std::string user_id;   // empty: the default user ("tester", 1180000000000000060)
  std::string guild_id;  // empty: the default guild (1180000000000000020); ignored when dm
  bool dm = false;       // a DM with the bot instead of a guild channel
  // Set: a MESSAGE command (type 3, a message's context menu) used on this message, which the
  // interaction carries in data.resolved.messages. Options must then be empty.
  std::string target_message_id;
};

// What became of one interaction POST.
struct SentInteraction {
  std::string interaction_id;
  std::string token;
  int response_status = 0;      // the bot's HTTP status to the interaction POST
  boost::json::value response;  // the bot's JSON answer; null when there was none or not JSON
  std::optional<std::string> message_id;  // the @original message, when there is one
  bool failed = false;                    // Discord would show "This interaction failed"
  std::string failure;                    // why, when failed
};

// An injected REST fault. `method` and `route` select the FIFO: route is one of "@original",
// "message" (follow-up message by id), "followup" (POST of a follow-up), "callback",
// "commands".
struct Fault {
  std::string method = "PATCH";
  std::string route = "@original";
  int count = 1;  // how many consecutive requests it answers
  // 5xx: a server error; 429: rate limited; 400: AutoMod blocked the message (Discord's
  // {"message": "Message was blocked by automatic moderation", "code": 200000}).
  int status = 500;
  double retry_after = 1.0;  // seconds, for 429 (scope user; the bucket is then blocked)
};

}  // namespace mando::emulator
