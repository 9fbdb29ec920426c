#include "emulator/control_api.hpp"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "emulator/wire.hpp"

namespace mando::emulator {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Core = std::shared_ptr<EmulatorCore>;

constexpr std::int64_t kMaxWaitMs = 30000;

net::Response ok_json(const json::value& v) { return net::Response::json(200, json::serialize(v)); }

net::Response sent_response(const Result<SentInteraction>& sent) {
  if (!sent) return net::Response::json_error(http_status(sent.error().kind), sent.error().message);
  json::object body{{"interaction_id", sent->interaction_id},
                    {"token", sent->token},
                    {"response_status", sent->response_status},
                    {"response", sent->response},
                    {"message_id", sent->message_id ? json::value(*sent->message_id) : nullptr},
                    {"failed", sent->failed}};
  if (sent->failed) body["failure"] = sent->failure;
  return net::Response::json(sent->failed ? 502 : 200, json::serialize(body));
}

// A small non-negative decimal query parameter; `fallback` when absent or not one.
std::int64_t number_param(const net::Request& request, std::string_view name,
                          std::int64_t fallback) {
  const auto text = request.query_param(name);
  if (!text || !is_snowflake(*text) || text->size() >= 18) return fallback;
  return std::stoll(*text);
}

std::chrono::milliseconds timeout_param(const net::Request& request) {
  return std::chrono::milliseconds(std::min(number_param(request, "timeout_ms", 0), kMaxWaitMs));
}

// Accessors of a control request's JSON body.
struct Body {
  json::object object;
  std::string text(std::string_view key) const {
    const auto* v = object.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  }
  double number(std::string_view key, double fallback) const {
    const auto* v = object.if_contains(key);
    return v && v->is_number() ? v->to_number<double>() : fallback;
  }
};

asio::awaitable<net::Response> post_interaction(Core core, Body body) {
  CommandInvocation invocation;
  if (body.object.contains("text")) {
    auto parsed = core->parse_command_text(body.text("text"));
    if (!parsed) co_return net::Response::json_error(400, parsed.error().message);
    invocation = std::move(*parsed);
  } else {
    invocation.name = body.text("name");
    if (const auto* o = body.object.if_contains("options"); o && o->is_array()) {
      invocation.options = o->as_array();
    }
  }
  invocation.target_message_id = body.text("target_id");
  invocation.user_id = body.text("user_id");
  invocation.guild_id = body.text("guild_id");
  if (const auto* dm = body.object.if_contains("dm"); dm && dm->is_bool()) {
    invocation.dm = dm->as_bool();
  }
  Result<SentInteraction> sent = co_await core->send_command(std::move(invocation));
  co_return sent_response(sent);
}

net::Response post_fault(EmulatorCore& core, const Body& body) {
  std::lock_guard lock(core.mutex);
  if (body.object.contains("delay_ms")) {
    core.limits.delay_responses(static_cast<int>(body.number("count", 1)),
                                std::chrono::milliseconds(static_cast<std::int64_t>(
                                    std::clamp(body.number("delay_ms", 0), 0.0, 60000.0))));
    return net::Response::json(200, "{}");
  }
  Fault fault;
  if (body.object.contains("method")) fault.method = body.text("method");
  if (body.object.contains("route")) fault.route = body.text("route");
  fault.count = static_cast<int>(body.number("count", 1));
  const std::string kind = body.text("kind");
  if (kind == "automod") {
    fault.status = 400;
  } else if (!kind.empty()) {
    return net::Response::json_error(400, "kind must be \"automod\" (or absent, with a status)");
  } else {
    fault.status = static_cast<int>(body.number("status", 500));
    if (fault.status != 429 && (fault.status < 500 || fault.status > 599)) {
      return net::Response::json_error(400, "status must be 429 or 5xx");
    }
  }
  fault.retry_after = body.number("retry_after", 1.0);
  core.limits.add_fault(std::move(fault));
  return net::Response::json(200, "{}");
}

net::Response post_settings(EmulatorCore& core, const Body& body) {
  const auto* limit = body.object.if_contains("attachment_size_limit");
  auto bytes = limit ? to_int(*limit) : fail(ErrorKind::kInvalidArgument, "absent");
  if (!bytes || *bytes <= 0) {
    return net::Response::json_error(400, "attachment_size_limit must be a positive integer");
  }
  std::lock_guard lock(core.mutex);
  core.attachment_size_limit = *bytes;
  return net::Response::json(200, "{}");
}

asio::awaitable<net::Response> handle_post(Core core, std::string path, Body body) {
  if (path == "interactions") co_return co_await post_interaction(core, std::move(body));
  if (path == "click") {
    Result<SentInteraction> sent =
        co_await core->click(body.text("message_id"), body.text("custom_id"), body.text("user_id"));
    co_return sent_response(sent);
  }
  if (path == "faults") co_return post_fault(*core, body);
  if (path == "settings") co_return post_settings(*core, body);
  if (path == "expire") {
    bool known = false;
    {
      std::lock_guard lock(core->mutex);
      known = core->model.expire(body.text("interaction_id"), std::chrono::steady_clock::now());
    }
    if (!known) co_return net::Response::json_error(404, "unknown interaction");
    core->changed();
    co_return net::Response::json(200, "{}");
  }
  co_return net::Response::json_error(404, "no such control route");
}

net::Response attachment(EmulatorCore& core, std::string_view rest) {
  const std::string_view id = rest.substr(0, rest.find('/'));
  std::lock_guard lock(core.mutex);
  const StoredAttachment* a = core.model.attachment(id);
  if (a == nullptr) return net::Response::json_error(404, "unknown attachment");
  net::Response response;
  response.headers.set("Content-Type", a->content_type);
  response.headers.set("Cache-Control", "public, max-age=86400, immutable");
  response.body = *a->data;
  return response;
}

// The body is the file itself, named by ?filename= and typed by its Content-Type.
net::Response upload(EmulatorCore& core, const net::Request& request) {
  const auto filename = request.query_param("filename");
  if (!filename || filename->empty()) {
    return net::Response::json_error(400, "name the file: POST /_emulator/uploads?filename=NAME");
  }
  if (request.body.empty()) return net::Response::json_error(400, "the file is empty");
  return ok_json(core.upload(FormPart{"file", *filename,
                                      std::string(request.headers.get("Content-Type").value_or("")),
                                      request.body}));
}

net::Response info(EmulatorCore& core) {
  std::lock_guard lock(core.mutex);
  return ok_json(json::object{{"application_id", core.options().application_id},
                              {"public_key", core.signer().public_key_hex()},
                              {"api_prefix", core.options().api_prefix},
                              {"bot_url", core.bot_url},
                              {"attachment_size_limit", core.attachment_size_limit}});
}

asio::awaitable<net::Response> handle_get(Core core, std::string path, net::Request request) {
  if (path == "messages") {
    std::lock_guard lock(core->mutex);
    co_return ok_json(json::object{{"messages", core->model.messages_json()}});
  }
  if (path.starts_with("messages/")) {
    std::string id = path.substr(9);
    std::optional<json::object> m;
    if (request.query_param("after_version")) {
      m = co_await core->wait_message(std::move(id), number_param(request, "after_version", 0),
                                      timeout_param(request));
    } else {
      std::lock_guard lock(core->mutex);
      m = core->model.message_json(std::string_view(id));
    }
    if (!m) co_return net::Response::json_error(404, "unknown message");
    co_return ok_json(*m);
  }
  if (path == "events") {
    const auto after = static_cast<std::uint64_t>(number_param(request, "after", 0));
    Changes changes =
        co_await core->wait_changes(after, kMaxEventsPerAnswer, timeout_param(request));
    co_return ok_json(json::object{{"cursor", changes.cursor},
                                   {"messages", std::move(changes.messages)},
                                   {"more", changes.more},
                                   {"reset", changes.reset}});
  }
  if (path == "wait") {
    const auto count =
        static_cast<std::size_t>(std::max<std::int64_t>(number_param(request, "messages", 1), 0));
    const bool ready = co_await core->wait_completed(count, timeout_param(request));
    std::lock_guard lock(core->mutex);
    const json::object stats = core->model.stats();
    co_return ok_json(json::object{{"ready", ready},
                                   {"completed", stats.at("messages").at("completed")},
                                   {"loading", stats.at("messages").at("loading")}});
  }
  if (path.starts_with("attachments/"))
    co_return attachment(*core, std::string_view(path).substr(12));
  if (path == "stats") {
    std::lock_guard lock(core->mutex);
    co_return ok_json(core->stats_locked());
  }
  if (path == "commands") {
    std::lock_guard lock(core->mutex);
    co_return ok_json(core->model.commands());
  }
  if (path == "info") co_return info(*core);
  co_return net::Response::json_error(404, "no such control route");
}

}  // namespace

asio::awaitable<net::Response> handle_control(Core core, net::Request request) {
  core->learn_host(request);
  std::string path(request.path().substr(std::string_view("/_emulator/").size()));
  if (request.method == "GET") {
    co_return co_await handle_get(core, std::move(path), std::move(request));
  }
  if (request.method != "POST") co_return net::Response::json_error(404, "no such control route");
  if (path == "uploads") co_return upload(*core, request);
  boost::system::error_code ec;
  json::value v = json::parse(request.body.empty() ? std::string("{}") : request.body, ec);
  if (ec || !v.is_object()) co_return net::Response::json_error(400, "body must be a JSON object");
  // Named before the co_await: g++ 12 frees a brace-initialised temporary argument twice.
  Body body{std::move(v.as_object())};
  co_return co_await handle_post(core, std::move(path), std::move(body));
}

}  // namespace mando::emulator
