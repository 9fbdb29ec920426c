#include "discord/commands_sync.hpp"

#include <algorithm>
#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "core/log.hpp"

namespace mando::discord {
namespace {

namespace json = boost::json;

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("discord");
  return logger;
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

boost::asio::awaitable<Result<SyncReport>> sync_commands(RestClient& rest, SyncTarget target,
                                                         json::array desired) {
  for (std::size_t i = 0; i < desired.size(); ++i) {
    if (!desired[i].is_object() || command_name(desired[i].get_object()).empty()) {
      co_return fail(ErrorKind::kInvalidArgument,
                     fmt::format("discord: desired command [{}] must be an object with a name", i));
    }
  }

  // 1. What is registered now.
  Result<json::value> registered =
      co_await rest.get_application_commands(target.application_id, target.guild_id);
  if (!registered) co_return tl::unexpected(std::move(registered.error()));
  if (!registered->is_array()) {
    co_return fail(ErrorKind::kUnavailable,
                   "discord: the registered commands are not a JSON array");
  }

  // 2. The comparison.
  SyncReport report = diff_commands(registered->get_array(), desired);
  if (target.dry_run) co_return report;

  // 3. The bulk overwrite.
  Result<json::value> written = co_await rest.overwrite_application_commands(
      target.application_id, target.guild_id, std::move(desired));
  if (!written) co_return tl::unexpected(std::move(written.error()));

  module_log()->info("commands synced scope={} added={} changed={} removed={} unchanged={}",
                     target.guild_id ? "guild:" + *target.guild_id : std::string("global"),
                     report.added.size(), report.changed.size(), report.removed.size(),
                     report.unchanged.size());
  co_return report;
}

boost::asio::awaitable<Result<SyncReport>> sync_commands(net::HttpClient& client,
                                                         SyncOptions options, json::array desired) {
  RestClientOptions rest_options;
  rest_options.api_base_url = options.api_base_url;
  rest_options.bot_token = options.bot_token;
  rest_options.user_agent = options.user_agent;
  rest_options.timeout = options.timeout;
  InMemoryRateLimiter limiter;
  RestClient rest(client, limiter, std::move(rest_options));
  SyncTarget target = options;
  Result<SyncReport> report = co_await sync_commands(rest, std::move(target), std::move(desired));
  co_return report;
}

}  // namespace mando::discord
