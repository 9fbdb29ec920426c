#pragma once
// Registering the bot's commands with Discord (`mando commands sync`).
//
//   1. GET the registered commands: /applications/{app}/commands, or
//      /applications/{app}/guilds/{guild}/commands for a guild (instant, good for testing);
//   2. compare them by name with the desired list (CommandRegistry::commands_json());
//   3. PUT the desired list: Discord's bulk overwrite, which creates, updates and deletes in one
//      call and is idempotent;
//   4. report what was added, changed, removed and left unchanged.
// Every request carries `Authorization: Bot <token>` and Discord's required User-Agent. Errors
// carry Discord's own message and the HTTP status; the token is never in a message or a log.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>

#include "core/error.hpp"
#include "net/http_client.hpp"

namespace mando::discord {

// The User-Agent Discord asks bots to send: "DiscordBot ($url, $versionNumber)".
inline constexpr std::string_view kUserAgent =
    "DiscordBot (https://github.com/mando-bot/mando, " MANDO_VERSION ")";

struct SyncOptions {
  std::string api_base_url = "https://discord.com/api/v10";
  std::string application_id;
  std::string bot_token;                // a secret: never logged
  std::optional<std::string> guild_id;  // set: guild commands instead of global ones
  std::string user_agent = std::string(kUserAgent);
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // per request
  bool dry_run = false;  // stop after step 2: report, change nothing
};

struct SyncReport {
  std::vector<std::string> added;    // desired, not registered before
  std::vector<std::string> changed;  // registered with another description or options
  std::vector<std::string> removed;  // registered, not desired any more: deleted by the PUT
  std::vector<std::string> unchanged;
};

// The comparison of step 2, without the network. Commands are matched by name (and command
// type); a command is unchanged when every field `desired` sets compares equal after
// normalisation (defaults filled in, numbers compared as numbers, key order ignored).
SyncReport diff_commands(const boost::json::array& registered, const boost::json::array& desired);

// Steps 1-4. Errors:
//   kInvalidArgument    bad options or a desired list that is not an array of named objects;
//                       Discord's 400 (its message and field errors are included)
//   kUnauthenticated    401 (bad token)     kPermissionDenied  403
//   kNotFound           404                 kResourceExhausted 429, with retry_after
//   kUnavailable        5xx, transport errors, a response that is not the expected JSON
// `client` must outlive the returned awaitable.
boost::asio::awaitable<Result<SyncReport>> sync_commands(net::HttpClient& client,
                                                         SyncOptions options,
                                                         boost::json::array desired);

}  // namespace mando::discord
