#include "discord/rest_client.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "discord/api_error.hpp"
#include "discord/snowflake.hpp"

namespace mando::discord {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("discord");
  return logger;
}

// refused_status() reads an error's HTTP status back after this mark.
constexpr std::string_view kStatusMark = ": HTTP ";

// How messages and logs name a request: bot routes by method and path (ids are no secret),
// token routes by their template, never by the token-bearing path.
std::string describe(const RouteKey& route, std::string_view method, std::string_view path) {
  if (!route.needs_authorization) return route.route;
  return fmt::format("{} {}", method, path.substr(0, path.find('?')));
}

Error status_error(std::string_view what, const RouteKey& route, const RestResponse& response) {
  std::string message = fmt::format("discord: {}{}{}", what, kStatusMark, response.status);
  if (const std::string detail = error_detail(response.body); !detail.empty()) {
    message += " " + detail;
  }
  if (response.status == 429) {
    const RateLimitHeaders limits = RateLimitHeaders::parse(response.headers, response.body);
    message += limits.retry_after ? fmt::format(" (retry_after={}s)", *limits.retry_after)
                                  : std::string(" (retry_after unknown)");
  }
  if (!route.needs_authorization && (response.status == 404 || response.status == 401)) {
    message += " (interaction token expired or message gone; not retried)";
  }
  return Error{net::error_kind_for_status(response.status), std::move(message)};
}

// The id is a snowflake; the token goes into a path, so it must stay one segment.
std::optional<Error> check_webhook(std::string_view application_id, std::string_view token) {
  const bool token_ok = !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.';
  });
  if (is_snowflake(application_id) && token_ok) return std::nullopt;
  return Error{ErrorKind::kInvalidArgument,
               "discord: the application id must be a snowflake and the interaction token one "
               "path segment"};
}

std::string redact(std::string text, std::string_view path) {
  const std::string_view clean = path.substr(0, path.find('?'));
  if (clean.empty()) return text;
  for (auto at = text.find(clean); at != std::string::npos; at = text.find(clean, at)) {
    text.replace(at, clean.size(), "/<path>");
    at += 7;
  }
  return text;
}

bool is_2xx(int status) { return status >= 200 && status < 300; }

std::chrono::milliseconds backoff(const RestClientOptions& options, int retry) {
  auto delay = options.backoff_base;
  for (int i = 1; i < retry && delay < options.backoff_max; ++i) delay *= 2;
  return std::min(delay, options.backoff_max);
}

}  // namespace

int refused_status(const Error& error) {
  const std::string_view text = error.message;
  const auto at = text.find(kStatusMark);
  if (!text.starts_with("discord: ") || at == std::string_view::npos) return 0;
  int status = 0;
  const char* begin = text.data() + at + kStatusMark.size();
  auto [end, ec] = std::from_chars(begin, text.data() + text.size(), status);
  return ec == std::errc() && end - begin == 3 ? status : 0;
}

RestClientOptions RestClientOptions::from(const core::DiscordConfig& config) {
  RestClientOptions options;
  options.api_base_url = config.api_base_url;
  options.bot_token = config.bot_token;
  return options;
}

RestClient::RestClient(net::HttpClient& http, RateLimiter& limiter, RestClientOptions options,
                       Clock& clock)
    : http_(http), limiter_(limiter), options_(std::move(options)), clock_(clock) {
  while (!options_.api_base_url.empty() && options_.api_base_url.back() == '/') {
    options_.api_base_url.pop_back();
  }
}

asio::awaitable<Result<RestResponse>> RestClient::request(std::string method, std::string path,
                                                          std::string body,
                                                          std::vector<Attachment> files) {
  if (path.empty() || path.front() != '/' || path.find_first_of("\r\n ") != std::string::npos) {
    co_return fail(ErrorKind::kInvalidArgument, "discord: request path must start with '/'");
  }
  const RouteKey route = route_key(method, path);
  if (route.needs_authorization &&
      (options_.bot_token.empty() ||
       options_.bot_token.find_first_of("\r\n") != std::string::npos)) {
    co_return fail(ErrorKind::kInvalidArgument,
                   fmt::format("discord: {}: the bot token is empty or malformed", route.route));
  }

  const std::string what = describe(route, method, path);

  // 2. The limiter: the permit holds the bucket's turn until this request ends.
  Result<std::unique_ptr<RateLimitPermit>> acquired =
      co_await limiter_.acquire(route, options_.max_wait);
  if (!acquired) co_return tl::unexpected(std::move(acquired.error()));
  const std::unique_ptr<RateLimitPermit> permit = std::move(*acquired);

  int attempts = 0;
  int rate_limited = 0;
  for (;;) {
    if (attempts > 0) {
      Result<void> ready = co_await permit->ready();
      if (!ready) co_return tl::unexpected(std::move(ready.error()));
    }

    // 3. The send.
    net::ClientRequest request;
    request.method = method;
    request.url = options_.api_base_url + path;
    request.headers.set("User-Agent", options_.user_agent);
    request.headers.set("Accept", "application/json");
    if (route.needs_authorization)
      request.headers.set("Authorization", "Bot " + options_.bot_token);
    if (files.empty()) {
      if (!body.empty()) {
        request.headers.set("Content-Type", "application/json");
        request.body = body;
      }
    } else {
      request.multipart.push_back(
          {"payload_json", body.empty() ? "{}" : body, "", "application/json"});
      for (std::size_t i = 0; i < files.size(); ++i) {
        request.multipart.push_back(
            {fmt::format("files[{}]", i), files[i].data, files[i].filename, files[i].content_type});
      }
    }
    request.timeout = options_.timeout;
    request.connect_timeout = std::min(options_.timeout, request.connect_timeout);
    ++attempts;
    Result<net::ClientResponse> sent = co_await http_.send(std::move(request));

    if (!sent) {
      // The transport names the URL, which for webhook routes carries the interaction token.
      const std::string error_text = redact(sent.error().message, path);
      const bool retry = method != "POST" && attempts < options_.max_attempts;
      module_log()->warn("discord request failed route=\"{}\" attempt={} error=\"{}\" retry={}",
                         what, attempts, error_text, retry);
      if (!retry) {
        co_return fail(sent.error().kind, fmt::format("discord: {}: {}", what, error_text));
      }
      co_await clock_.sleep_until(clock_.now() + backoff(options_, attempts));
      continue;
    }

    // 4. What the response says.
    RestResponse response{sent->status, std::move(sent->headers), std::move(sent->body)};
    const RateLimitHeaders limits = RateLimitHeaders::parse(
        response.headers, response.status == 429 ? std::string_view(response.body) : "");
    permit->update(limits, response.status);

    if (is_2xx(response.status)) co_return response;
    if (response.status == 429) {
      if (++rate_limited > options_.max_rate_limit_retries) {
        co_return tl::unexpected(status_error(what, route, response));
      }
      continue;  // the limiter now holds the bucket for retry_after
    }
    if (response.status >= 500 && attempts < options_.max_attempts) {
      module_log()->warn("discord server error route=\"{}\" status={} attempt={}", what,
                         response.status, attempts);
      co_await clock_.sleep_until(clock_.now() + backoff(options_, attempts));
      continue;
    }
    Error error = status_error(what, route, response);
    module_log()->warn("discord request refused route=\"{}\" status={} error=\"{}\"", what,
                       response.status, error.message);
    co_return tl::unexpected(std::move(error));
  }
}

asio::awaitable<Result<json::value>> RestClient::json_request(std::string method, std::string path,
                                                              json::value payload,
                                                              std::vector<Attachment> files) {
  std::string body = payload.is_null() ? std::string() : json::serialize(payload);
  const std::string what = describe(route_key(method, path), method, path);
  Result<RestResponse> response =
      co_await request(std::move(method), std::move(path), std::move(body), std::move(files));
  if (!response) co_return tl::unexpected(response.error());
  if (response->body.empty()) co_return json::value();
  boost::system::error_code ec;
  json::value parsed = json::parse(response->body, ec);
  if (ec) {
    co_return fail(ErrorKind::kUnavailable,
                   fmt::format("discord: {}: the response is not JSON", what));
  }
  co_return parsed;
}

asio::awaitable<Result<json::value>> RestClient::webhook_request(
    std::string method, std::string application_id, std::string token, std::string_view suffix,
    json::object payload, std::vector<Attachment> files) {
  if (auto bad = check_webhook(application_id, token)) co_return tl::unexpected(std::move(*bad));
  std::string path = fmt::format("/webhooks/{}/{}{}", application_id, token, suffix);
  json::value body(std::move(payload));
  Result<json::value> result =
      co_await json_request(std::move(method), std::move(path), std::move(body), std::move(files));
  co_return result;
}

asio::awaitable<Result<json::value>> RestClient::commands_request(
    std::string method, std::string application_id, std::optional<std::string> guild_id,
    json::value payload) {
  if (!is_snowflake(application_id) || (guild_id && !is_snowflake(*guild_id))) {
    co_return fail(ErrorKind::kInvalidArgument,
                   "discord: application_id and guild_id must be snowflakes (strings of digits)");
  }
  std::string path =
      guild_id ? fmt::format("/applications/{}/guilds/{}/commands", application_id, *guild_id)
               : fmt::format("/applications/{}/commands", application_id);
  Result<json::value> result =
      co_await json_request(std::move(method), std::move(path), std::move(payload), {});
  co_return result;
}

asio::awaitable<Result<json::value>> RestClient::get_application_commands(
    std::string application_id, std::optional<std::string> guild_id) {
  return commands_request("GET", std::move(application_id), std::move(guild_id), nullptr);
}

asio::awaitable<Result<json::value>> RestClient::overwrite_application_commands(
    std::string application_id, std::optional<std::string> guild_id, json::array commands) {
  return commands_request("PUT", std::move(application_id), std::move(guild_id),
                          json::value(std::move(commands)));
}

asio::awaitable<Result<json::value>> RestClient::edit_original_response(
    std::string application_id, std::string token, json::object payload,
    std::vector<Attachment> files) {
  return webhook_request("PATCH", std::move(application_id), std::move(token),
                         "/messages/@original", std::move(payload), std::move(files));
}

asio::awaitable<Result<json::value>> RestClient::create_followup(std::string application_id,
                                                                 std::string token,
                                                                 json::object payload,
                                                                 std::vector<Attachment> files) {
  return webhook_request("POST", std::move(application_id), std::move(token), "",
                         std::move(payload), std::move(files));
}

}  // namespace mando::discord
