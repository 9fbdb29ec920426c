#include "discord/commands_sync.hpp"

#include <algorithm>
#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "discord/api_error.hpp"

namespace mando::discord {
namespace {

namespace json = boost::json;

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("discord");
  return logger;
}

bool is_snowflake(std::string_view s) {
  return !s.empty() && s.size() <= 20 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ---------------------------------------------------------------------------------------------
// Normalisation for the comparison.

const json::value* find(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && !v->is_null() ? v : nullptr;
}

// Numbers compare as doubles: Discord may answer 3 where we sent 3.0, or the reverse.
json::value normalise_scalar(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v;
}

json::value normalise_deep(const json::value& v) {
  if (v.is_array()) {
    json::array out;
    for (const auto& e : v.get_array()) out.push_back(normalise_deep(e));
    return out;
  }
  if (v.is_object()) {
    json::object out;
    for (const auto& [k, e] : v.get_object()) {
      if (!e.is_null()) out[k] = normalise_deep(e);
    }
    return out;
  }
  return normalise_scalar(v);
}

json::value field_or(const json::object& o, std::string_view key, json::value fallback) {
  const json::value* v = find(o, key);
  return v != nullptr ? normalise_deep(*v) : normalise_deep(fallback);
}

json::value normalise_options(const json::value* options);

json::object normalise_option(const json::object& o) {
  json::object out;
  out["type"] = field_or(o, "type", 3);
  out["name"] = field_or(o, "name", "");
  out["description"] = field_or(o, "description", "");
  out["required"] = field_or(o, "required", false);
  out["autocomplete"] = field_or(o, "autocomplete", false);
  for (std::string_view key : {"min_value", "max_value", "min_length", "max_length"}) {
    out[key] = field_or(o, key, nullptr);
  }
  json::array choices;
  if (const json::value* list = find(o, "choices"); list != nullptr && list->is_array()) {
    for (const auto& c : list->get_array()) {
      if (!c.is_object()) continue;
      choices.push_back(json::object{{"name", field_or(c.get_object(), "name", "")},
                                     {"value", field_or(c.get_object(), "value", nullptr)}});
    }
  }
  out["choices"] = std::move(choices);
  out["channel_types"] = field_or(o, "channel_types", json::array());
  out["options"] = normalise_options(find(o, "options"));
  return out;
}

json::value normalise_options(const json::value* options) {
  json::array out;
  if (options != nullptr && options->is_array()) {
    for (const auto& o : options->get_array()) {
      if (o.is_object()) out.push_back(normalise_option(o.get_object()));
    }
  }
  return out;
}

// The fields of `command` that `reference` (the desired command) sets, normalised. Fields mando
// does not send (ids, versions, localizations Discord fills in) are not compared.
json::object normalise_command(const json::object& command, const json::object& reference) {
  json::object out;
  out["name"] = field_or(command, "name", "");
  out["description"] = field_or(command, "description", "");
  out["type"] = field_or(command, "type", 1);
  out["options"] = normalise_options(find(command, "options"));
  for (const auto& [key, value] : reference) {
    if (out.contains(key) || value.is_null()) continue;
    out[key] = field_or(command, key, nullptr);
  }
  return out;
}

std::string command_name(const json::object& c) {
  const json::value* name = find(c, "name");
  return name != nullptr && name->is_string() ? std::string(name->get_string()) : std::string();
}

std::int64_t command_type(const json::object& c) {
  const json::value* type = find(c, "type");
  return type != nullptr && type->is_int64() ? type->get_int64() : 1;
}

// ---------------------------------------------------------------------------------------------
// Errors from Discord.

Error discord_error(std::string_view what, const net::ClientResponse& response) {
  boost::system::error_code ec;
  json::value body = json::parse(response.body, ec);
  const json::object* o = !ec && body.is_object() ? &body.get_object() : nullptr;

  const std::string detail = error_detail(response.body);

  if (response.status == 429) {
    std::string retry_after;
    if (o != nullptr) {
      if (const json::value* r = find(*o, "retry_after"); r != nullptr && r->is_number()) {
        retry_after = fmt::format("{}", r->to_number<double>(ec));
      }
    }
    if (retry_after.empty()) {
      if (auto header = response.headers.get("Retry-After")) retry_after = std::string(*header);
    }
    return Error{
        ErrorKind::kResourceExhausted,
        fmt::format("discord: {}: HTTP 429 rate limited, retry_after={}s{}", what,
                    retry_after.empty() ? "?" : retry_after, detail.empty() ? "" : ": " + detail)};
  }
  return Error{net::error_kind_for_status(response.status),
               fmt::format("discord: {}: HTTP {}{}", what, response.status,
                           detail.empty() ? "" : " " + detail)};
}

net::ClientRequest make_request(const SyncOptions& options, std::string method, std::string url) {
  net::ClientRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.headers.set("Authorization", "Bot " + options.bot_token);
  request.headers.set("User-Agent", options.user_agent);
  request.headers.set("Accept", "application/json");
  request.timeout = options.timeout;
  request.connect_timeout = std::min(options.timeout, request.connect_timeout);
  return request;
}

bool is_2xx(int status) { return status >= 200 && status < 300; }

}  // namespace

SyncReport diff_commands(const json::array& registered, const json::array& desired) {
  SyncReport report;
  std::vector<bool> matched(registered.size(), false);
  for (const auto& d : desired) {
    if (!d.is_object()) continue;
    const json::object& want = d.get_object();
    const std::string name = command_name(want);
    const std::int64_t type = command_type(want);
    std::size_t i = 0;
    for (; i < registered.size(); ++i) {
      if (matched[i] || !registered[i].is_object()) continue;
      const json::object& have = registered[i].get_object();
      if (command_name(have) == name && command_type(have) == type) break;
    }
    if (i == registered.size()) {
      report.added.push_back(name);
      continue;
    }
    matched[i] = true;
    const json::object& have = registered[i].get_object();
    if (normalise_command(have, want) == normalise_command(want, want)) {
      report.unchanged.push_back(name);
    } else {
      report.changed.push_back(name);
    }
  }
  for (std::size_t i = 0; i < registered.size(); ++i) {
    if (!matched[i] && registered[i].is_object()) {
      report.removed.push_back(command_name(registered[i].get_object()));
    }
  }
  return report;
}

boost::asio::awaitable<Result<SyncReport>> sync_commands(net::HttpClient& client,
                                                         SyncOptions options,
                                                         boost::json::array desired) {
  if (!is_snowflake(options.application_id)) {
    co_return fail(ErrorKind::kInvalidArgument,
                   "discord: application_id must be a snowflake (a string of digits)");
  }
  if (options.guild_id && !is_snowflake(*options.guild_id)) {
    co_return fail(ErrorKind::kInvalidArgument,
                   "discord: guild_id must be a snowflake (a string of digits)");
  }
  if (options.bot_token.empty() || options.bot_token.find_first_of("\r\n") != std::string::npos) {
    co_return fail(ErrorKind::kInvalidArgument, "discord: the bot token is empty or malformed");
  }
  for (std::size_t i = 0; i < desired.size(); ++i) {
    if (!desired[i].is_object() || command_name(desired[i].get_object()).empty()) {
      co_return fail(ErrorKind::kInvalidArgument,
                     fmt::format("discord: desired command [{}] must be an object with a name", i));
    }
  }
  std::string base = options.api_base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string path = options.guild_id
                               ? fmt::format("/applications/{}/guilds/{}/commands",
                                             options.application_id, *options.guild_id)
                               : fmt::format("/applications/{}/commands", options.application_id);

  // 1. What is registered now.
  // Requests are named locals, never temporaries inside co_await (g++ 12 coroutine bugs).
  net::ClientRequest get = make_request(options, "GET", base + path);
  auto current = co_await client.send(std::move(get));
  if (!current) {
    co_return fail(current.error().kind,
                   fmt::format("discord: GET {}: {}", path, current.error().message));
  }
  if (!is_2xx(current->status)) {
    co_return tl::unexpected(discord_error(fmt::format("GET {}", path), *current));
  }
  boost::system::error_code ec;
  json::value registered = json::parse(current->body, ec);
  if (ec || !registered.is_array()) {
    co_return fail(ErrorKind::kUnavailable,
                   fmt::format("discord: GET {}: expected a JSON array of commands", path));
  }

  // 2. The comparison.
  SyncReport report = diff_commands(registered.get_array(), desired);
  if (options.dry_run) co_return report;

  // 3. The bulk overwrite.
  auto put = make_request(options, "PUT", base + path);
  put.headers.set("Content-Type", "application/json");
  put.body = json::serialize(desired);
  auto written = co_await client.send(std::move(put));
  if (!written) {
    co_return fail(written.error().kind,
                   fmt::format("discord: PUT {}: {}", path, written.error().message));
  }
  if (!is_2xx(written->status)) {
    co_return tl::unexpected(discord_error(fmt::format("PUT {}", path), *written));
  }

  module_log()->info("commands synced scope={} added={} changed={} removed={} unchanged={}",
                     options.guild_id ? "guild:" + *options.guild_id : std::string("global"),
                     report.added.size(), report.changed.size(), report.removed.size(),
                     report.unchanged.size());
  co_return report;
}

}  // namespace mando::discord
