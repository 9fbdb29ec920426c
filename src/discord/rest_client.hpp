#pragma once
// The Discord REST client (API v10): every call mando makes to Discord after the interaction
// itself, most of all the edit of a deferred response, and the registration of its commands.
//
// One request:
//   1. route_key() names the route, its top-level resource and whether it needs the bot token
//      (interaction callbacks and webhook routes with a token need none and get none).
//   2. The RateLimiter queues it behind the earlier requests of its bucket and waits out the
//      bucket, the global limit and any 429 (no thread is blocked). It then holds the bucket's
//      turn until the request ends, retries included, so requests of one bucket (the edits of
//      one message) reach Discord one at a time, in the order they were made. A refusal (the
//      invalid-request brake, a wait beyond max_wait) is returned.
//   3. The request is sent through net::HttpClient: JSON, or multipart/form-data with a
//      `payload_json` part and `files[N]` parts when there are attachments.
//   4. The limiter learns from the response headers, then:
//        2xx                  done;
//        429                  the limiter now blocks the bucket (or everything, if global):
//                             back to 2 keeping the turn, at most max_rate_limit_retries times;
//        5xx, transport error back to 2 keeping the turn after an exponential backoff, at most
//                             max_attempts sends in all (transport errors only for methods
//                             other than POST, whose effect is unknown);
//        404, 401 on webhooks never retried: the interaction token expired or the message is
//                             gone (kNotFound, kUnauthenticated);
//        other 4xx            an error carrying Discord's message, not retried.
// Messages name the route by its path for bot routes and by its template for webhook routes,
// whose path carries the interaction token.
// Thread-safety: calls may run concurrently from any thread. The HttpClient, the limiter and
// the clock must outlive the client and every call. The bot token is never logged or put in a
// message.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/config.hpp"
#include "core/error.hpp"
#include "discord/clock.hpp"
#include "discord/rate_limiter.hpp"
#include "net/http_client.hpp"

namespace mando::discord {

// The User-Agent Discord asks bots to send: "DiscordBot ($url, $versionNumber)".
inline constexpr std::string_view kUserAgent =
    "DiscordBot (https://github.com/mando-bot/mando, " MANDO_VERSION ")";

struct RestClientOptions {
  std::string api_base_url = "https://discord.com/api/v10";
  std::string bot_token;  // a secret: never logged; empty: routes needing it fail
  std::string user_agent = std::string(kUserAgent);
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // per send
  int max_attempts = 4;                         // sends per request on 5xx and transport errors
  int max_rate_limit_retries = 3;               // 429s waited out per request
  std::chrono::milliseconds backoff_base{500};  // 1st retry; doubles, capped at backoff_max
  std::chrono::milliseconds backoff_max{std::chrono::seconds(8)};
  // A request the limiter would let go later than this after it was made fails
  // (kResourceExhausted) instead.
  std::chrono::milliseconds max_wait{std::chrono::minutes(2)};

  static RestClientOptions from(const core::DiscordConfig& config);
};

struct Attachment {
  std::string filename;  // "mandala.png"; the message refers to it as attachment://mandala.png
  std::string data;
  std::string content_type = "application/octet-stream";
};

struct RestResponse {
  int status = 0;
  net::Headers headers;
  std::string body;
};

// The HTTP status of a refusal from Discord that RestClient answered (its errors for a 4xx or 5xx
// name it: "discord: ROUTE: HTTP 413 ..."), or 0 for any other error (transport, limiter, bad
// arguments). For callers that must tell apart refusals of the same ErrorKind (413 from 400).
int refused_status(const Error& error);

class RestClient {
 public:
  // `clock` times the backoff between retries; give the limiter the same one.
  RestClient(net::HttpClient& http, RateLimiter& limiter, RestClientOptions options,
             Clock& clock = steady_clock());

  // `path` is relative to the API base ("/channels/1/messages"); `body` is JSON (empty: none).
  // Answers the 2xx response. Errors:
  //   kNotFound 404    kUnauthenticated 401    kPermissionDenied 403
  //   kInvalidArgument other 4xx, or a bad path / missing bot token
  //   kResourceExhausted  429s beyond max_rate_limit_retries (the message names retry_after),
  //                       a limiter wait beyond max_wait, or the invalid-request brake
  //   kUnavailable / kDeadlineExceeded  5xx or transport errors after max_attempts
  boost::asio::awaitable<Result<RestResponse>> request(std::string method, std::string path,
                                                       std::string body,
                                                       std::vector<Attachment> files = {});

  // PATCH /webhooks/{application_id}/{token}/messages/@original: the edit of a deferred reply.
  // Answers Discord's message object.
  boost::asio::awaitable<Result<boost::json::value>> edit_original_response(
      std::string application_id, std::string token, boost::json::object payload,
      std::vector<Attachment> files = {});

  // POST /webhooks/{application_id}/{token}: a follow-up message.
  boost::asio::awaitable<Result<boost::json::value>> create_followup(
      std::string application_id, std::string token, boost::json::object payload,
      std::vector<Attachment> files = {});

  // GET /applications/{application_id}/commands, or /applications/{application_id}/guilds/
  // {guild_id}/commands: the registered commands (a JSON array). kInvalidArgument for ids that
  // are not snowflakes.
  boost::asio::awaitable<Result<boost::json::value>> get_application_commands(
      std::string application_id, std::optional<std::string> guild_id);

  // PUT of the same path: Discord's bulk overwrite, which creates, updates and deletes in one
  // idempotent call. Answers the commands as registered.
  boost::asio::awaitable<Result<boost::json::value>> overwrite_application_commands(
      std::string application_id, std::optional<std::string> guild_id, boost::json::array commands);

 private:
  // A route under /webhooks/{application_id}/{token}, `suffix` appended.
  boost::asio::awaitable<Result<boost::json::value>> webhook_request(
      std::string method, std::string application_id, std::string token, std::string_view suffix,
      boost::json::object payload, std::vector<Attachment> files);
  // Under /applications/{application_id}[/guilds/{guild_id}]/commands; a null payload: no body.
  boost::asio::awaitable<Result<boost::json::value>> commands_request(
      std::string method, std::string application_id, std::optional<std::string> guild_id,
      boost::json::value payload);
  // `payload` is the JSON body (null: none); the answer is the response's JSON (null: empty).
  boost::asio::awaitable<Result<boost::json::value>> json_request(std::string method,
                                                                  std::string path,
                                                                  boost::json::value payload,
                                                                  std::vector<Attachment> files);

  net::HttpClient& http_;
  RateLimiter& limiter_;
  RestClientOptions options_;
  Clock& clock_;
};

}  // namespace mando::discord
