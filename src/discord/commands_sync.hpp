#pragma once
// Registering the bot's commands with Discord (`mando commands sync`).
//
//   1. GET the registered commands: /applications/{app}/commands, or
//      /applications/{app}/guilds/{guild}/commands for a guild (instant, good for testing);
//   2. compare them by name with the desired list (CommandRegistry::commands_json());
//   3. PUT the desired list: Discord's bulk overwrite, which creates, updates and deletes in one
//      call and is idempotent;
//   4. report what was added, changed, removed and left unchanged.
// Both calls go through RestClient, so they wait for Discord's rate limits, wait out 429s and
// retry 5xx like every other call; they carry `Authorization: Bot <token>` and Discord's
// User-Agent. Errors carry Discord's own message and the HTTP status; the token is never in a
// message or a log.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>

#include "core/error.hpp"
#include "discord/rest_client.hpp"
#include "net/http_client.hpp"

namespace mando::discord {

// Whose commands are synced.
struct SyncTarget {
  std::string application_id;
  std::optional<std::string> guild_id;  // set: guild commands instead of global ones
  bool dry_run = false;                 // stop after step 2: report, change nothing
};

// A target and how to reach Discord, for callers without a RestClient of their own.
struct SyncOptions : SyncTarget {
  std::string api_base_url = "https://discord.com/api/v10";
  std::string bot_token;  // a secret: never logged
  std::string user_agent = std::string(kUserAgent);
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // per request
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

// Steps 1-4 through `rest`. Errors:
//   kInvalidArgument    bad ids or a desired list that is not an array of named objects; a
//                       missing bot token; Discord's 400 (its message and field errors)
//   kUnauthenticated    401 (bad token)     kPermissionDenied  403
//   kNotFound           404
//   kResourceExhausted  429s beyond RestClient's retries (with retry_after), or a rate-limit
//                       wait beyond its max_wait
//   kUnavailable        5xx, transport errors, a response that is not the expected JSON
// `rest` must outlive the returned awaitable.
boost::asio::awaitable<Result<SyncReport>> sync_commands(RestClient& rest, SyncTarget target,
                                                         boost::json::array desired);

// The same through a RestClient of its own, over `client`, with an in-memory limiter that
// lives as long as the call.
boost::asio::awaitable<Result<SyncReport>> sync_commands(net::HttpClient& client,
                                                         SyncOptions options,
                                                         boost::json::array desired);

}  // namespace mando::discord
