#include "emulator/rest_api.hpp"

#include <algorithm>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "emulator/multipart.hpp"

namespace mando::emulator {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Steady = std::chrono::steady_clock;
using Core = std::shared_ptr<EmulatorCore>;

net::Response count_status(EmulatorCore& core, net::Response response) {
  std::lock_guard lock(core.mutex);
  ++core.rest.by_status[response.status];
  return response;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    if (path.front() == '/') path.remove_prefix(1);
    const auto end = path.find('/');
    segments.push_back(path.substr(0, end));
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  }
  return segments;
}

Result<json::object> parse_object(std::string_view text, RestError& error) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    error = invalid_json();
  } else if (!v.is_object()) {
    error = form_error({}, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType");
  } else {
    return std::move(v.as_object());
  }
  return fail(ErrorKind::kInvalidArgument, error.message);
}

// Waits while the bot's answer to the interaction POST is still on its way: the bot may send
// its first REST call before the emulator has read that answer.
asio::awaitable<void> wait_answered(Core core, std::string token) {
  auto answered = [core = core.get(), token] { return !core->model.token_in_flight(token); };
  co_await core->wait_until(answered, Steady::now() + core->options().response_timeout);
}

// A follow-up: the first one after a deferred answer takes the place of the loading message,
// as Discord does; later ones are new messages.
Result<Message*> post_followup(MessageModel& model, InteractionRecord& rec, const Payload& payload,
                               RestError& error) {
  Message* original = model.find_message(rec.original_message_id);
  const bool replaces_loading = original != nullptr && (original->flags & kLoadingFlag) != 0;
  Message* target = replaces_loading ? original : &model.new_message(rec, 19);
  if (auto e = model.apply_payload(*target, payload.object, payload.files, !replaces_loading)) {
    if (!replaces_loading) model.delete_message(*target);
    error = std::move(*e);
    return fail(ErrorKind::kInvalidArgument, error.message);
  }
  return target;
}

asio::awaitable<net::Response> handle_webhook(Core core, net::Request request, RestRoute route,
                                              std::string application_id) {
  co_await wait_answered(core, route.token);
  RestError error;
  Payload payload;
  if (request.method == "PATCH" || request.method == "POST") {
    auto read = read_payload(request, core->attachment_size_limit, error);
    if (!read) co_return error_response(error);
    payload = std::move(*read);
  }
  const bool wants_thread = request.query_param("thread_id").has_value();
  net::Response response;
  {
    std::lock_guard lock(core->mutex);
    MessageModel& model = core->model;
    InteractionRecord* rec =
        model.token_interaction(application_id, route.token, Steady::now(), error);
    if (rec == nullptr) co_return error_response(error);
    if (!rec->acknowledged) co_return error_response(unknown_webhook());
    if (wants_thread) co_return error_response({400, 0, "thread_id is not supported", {}});

    if (route.family == "followup") {
      auto posted = post_followup(model, *rec, payload, error);
      if (!posted) co_return error_response(error);
      response = net::Response::json(200, json::serialize(model.message_json(**posted, false)));
    } else {
      const std::string id =
          route.family == "@original" ? rec->original_message_id : route.message_id;
      Message* m = model.find_message(id);
      if (m == nullptr || m->interaction_id != rec->id) {
        co_return error_response(unknown_message());
      }
      if (request.method == "GET") {
        response = net::Response::json(200, json::serialize(model.message_json(*m, false)));
      } else if (request.method == "DELETE") {
        model.delete_message(*m);
        response.status = 204;
      } else {
        if (auto e = model.apply_payload(*m, payload.object, payload.files, false)) {
          co_return error_response(*e);
        }
        response = net::Response::json(200, json::serialize(model.message_json(*m, false)));
      }
    }
  }
  core->changed();
  co_return response;
}

// The answer to POST .../callback?with_response=true: the interaction callback response.
json::object callback_response(MessageModel& model, const InteractionRecord& rec) {
  json::object interaction{{"id", rec.id}, {"type", rec.type}};
  json::object resource{{"type", rec.response_type}};
  if (Message* m = model.find_message(rec.original_message_id)) {
    interaction["response_message_id"] = m->id;
    interaction["response_message_loading"] = (m->flags & kLoadingFlag) != 0;
    interaction["response_message_ephemeral"] = (m->flags & kEphemeralFlag) != 0;
    resource["message"] = model.message_json(*m, false);
  }
  return {{"interaction", interaction}, {"resource", resource}};
}

asio::awaitable<net::Response> handle_callback(Core core, net::Request request, RestRoute route) {
  RestError error;
  auto read = read_payload(request, core->attachment_size_limit, error);
  if (!read) co_return error_response(error);
  const bool with_response = request.query_param("with_response").value_or("") == "true";
  net::Response response;
  {
    std::lock_guard lock(core->mutex);
    InteractionRecord* rec = core->model.interaction(route.interaction_id);
    if (rec == nullptr || rec->token != route.token || Steady::now() >= rec->expires_at ||
        rec->failed || (!rec->in_flight && !rec->acknowledged)) {
      co_return error_response({404, 10062, "Unknown interaction", {}});
    }
    if (rec->acknowledged) {
      co_return error_response({400, 40060, "Interaction has already been acknowledged.", {}});
    }
    const std::string failure =
        core->model.apply_response(*rec, json::value(read->object), read->files);
    if (!failure.empty()) {
      co_return error_response(form_error({}, "INTERACTION_RESPONSE_INVALID", failure));
    }
    if (with_response) {
      response = net::Response::json(200, json::serialize(callback_response(core->model, *rec)));
    } else {
      response.status = 204;
    }
  }
  core->changed();
  co_return response;
}

net::Response handle_commands(EmulatorCore& core, const net::Request& request,
                              std::string_view application_id) {
  const std::string_view auth = request.headers.get("Authorization").value_or("");
  if (auth.size() <= 4 || auth.substr(0, 4) != "Bot ") {
    return error_response({401, 0, "401: Unauthorized", {}});
  }
  std::lock_guard lock(core.mutex);
  if (application_id != core.options().application_id) {
    return error_response({404, 10002, "Unknown Application", {}});
  }
  if (request.method == "GET")
    return net::Response::json(200, json::serialize(core.model.commands()));
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);
  if (ec) return error_response(invalid_json());
  RestError error;
  auto stored = core.model.put_commands(body, error);
  if (!stored) return error_response(error);
  return net::Response::json(200, json::serialize(*stored));
}

// An AutoMod fault refused an edit: the message it aimed at records it, for the page.
void note_blocked_edit(EmulatorCore& core, const RestRoute& route, std::string application_id) {
  {
    std::lock_guard lock(core.mutex);
    RestError ignored;
    InteractionRecord* rec =
        core.model.token_interaction(application_id, route.token, Steady::now(), ignored);
    if (rec == nullptr) return;
    Message* m = core.model.find_message(route.family == "message" ? route.message_id
                                                                   : rec->original_message_id);
    if (m == nullptr) return;
    core.model.note_blocked_edit(*m);
  }
  core.changed();
}

}  // namespace

bool good_user_agent(std::optional<std::string_view> ua) {
  if (!ua || ua->substr(0, 12) != "DiscordBot (") return false;
  const auto close = ua->find(')');
  return close != std::string_view::npos &&
         ua->substr(12, close - 12).find(',') != std::string_view::npos;
}

std::optional<RestRoute> match_rest(const std::vector<std::string_view>& s, std::string_view method,
                                    std::string& allow) {
  RestRoute r;
  // Whether `method` is one of `methods`; if not, `allow` lists them (405).
  auto is = [&](std::initializer_list<std::string_view> methods) {
    for (auto m : methods) {
      if (m == method) return true;
    }
    allow.clear();
    for (auto m : methods) allow += (allow.empty() ? "" : ", ") + std::string(m);
    return false;
  };
  if (s.size() >= 3 && s[0] == "webhooks") {
    r.token = std::string(s[2]);
    if (s.size() == 3) {
      r.family = "followup";
      r.template_ = "POST /webhooks/{application.id}/{interaction.token}";
      is({"POST"});
      return r;
    }
    if (s.size() == 5 && s[3] == "messages") {
      const bool original = s[4] == "@original";
      r.family = original ? "@original" : "message";
      r.message_id = std::string(s[4]);
      r.template_ = fmt::format("{} /webhooks/{{application.id}}/{{interaction.token}}/messages/{}",
                                method, original ? "@original" : "{message.id}");
      is({"GET", "PATCH", "DELETE"});
      return r;
    }
    return std::nullopt;
  }
  if (s.size() == 4 && s[0] == "interactions" && s[3] == "callback") {
    r.family = "callback";
    r.interaction_id = std::string(s[1]);
    r.token = std::string(s[2]);
    r.template_ = "POST /interactions/{interaction.id}/{interaction.token}/callback";
    is({"POST"});
    return r;
  }
  if (s.size() == 3 && s[0] == "applications" && s[2] == "commands") {
    r.family = "commands";
    r.template_ = fmt::format("{} /applications/{{application.id}}/commands", method);
    is({"GET", "PUT"});
    return r;
  }
  return std::nullopt;
}

Result<Payload> read_payload(const net::Request& request, std::int64_t max_file_bytes,
                             RestError& error) {
  Payload payload;
  const std::string_view content_type = request.headers.get("Content-Type").value_or("");
  auto set = [&](RestError e) {
    error = std::move(e);
    return fail(ErrorKind::kInvalidArgument, error.message);
  };
  const bool multipart =
      content_type.size() >= 19 && net::iequals(content_type.substr(0, 19), "multipart/form-data");
  if (!multipart) {
    if (request.body.empty()) return payload;
    auto object = parse_object(request.body, error);
    if (!object) return tl::unexpected(object.error());
    payload.object = std::move(*object);
    return payload;
  }
  auto parts = parse_form_data(content_type, request.body);
  if (!parts) return set(form_error({}, "MULTIPART_INVALID", parts.error().message));
  bool have_payload = false;
  for (auto& part : *parts) {
    if (part.name == "payload_json") {
      if (have_payload) return set(form_error({"payload_json"}, "DUPLICATE", "Given twice."));
      have_payload = true;
      auto object = parse_object(part.data, error);
      if (!object) {
        if (error.code == 50035) {
          error = form_error({"payload_json"}, "DICT_TYPE_CONVERT",
                             "Only dictionaries may be used in a DictType");
        }
        return tl::unexpected(object.error());
      }
      payload.object = std::move(*object);
    } else if (part.name.starts_with("files[") && part.name.ends_with("]")) {
      const std::string index = part.name.substr(6, part.name.size() - 7);
      if (!is_snowflake(index) || index.size() > 2) {
        return set(form_error({part.name}, "FILE_INDEX_INVALID", "Invalid file index."));
      }
      if (static_cast<std::int64_t>(part.data.size()) > max_file_bytes) {
        return set(entity_too_large());
      }
      const int n = std::stoi(index);
      if (payload.files.contains(n))
        return set(form_error({part.name}, "DUPLICATE", "Given twice."));
      payload.files.emplace(n, std::move(part));
    }
    // Other parts: Discord ignores form fields it does not know.
  }
  if (!payload.files.empty() && !have_payload) {
    return set(form_error({"payload_json"}, "BASE_TYPE_REQUIRED", "This field is required"));
  }
  return payload;
}

asio::awaitable<net::Response> handle_rest(Core core, net::Request request) {
  core->learn_host(request);
  std::string_view path = request.path();
  path.remove_prefix(std::min(path.size(), core->options().api_prefix.size()));
  const std::vector<std::string_view> segments = split_path(path);
  std::string allow;
  std::optional<RestRoute> route = match_rest(segments, request.method, allow);
  {
    std::lock_guard lock(core->mutex);
    ++core->rest.requests;
    if (!good_user_agent(request.headers.get("User-Agent"))) ++core->rest.bad_user_agent;
    ++core->rest.by_route[route ? route->template_ : std::string("unmatched")];
  }
  if (!route) co_return count_status(*core, error_response({404, 0, "404: Not Found", {}}));
  if (!allow.empty()) {
    auto response = error_response({405, 0, "405: Method Not Allowed", {}});
    response.headers.set("Allow", allow);
    co_return count_status(*core, std::move(response));
  }

  // Rate limits, then faults, then an optional delay, then the route itself.
  RateHeaders headers;
  std::optional<net::Response> early;
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(core->mutex);
    const std::string_view owner =
        route->token.empty() ? std::string_view(core->options().application_id) : route->token;
    early = core->limits.admit(route->template_, owner, request.method, route->family,
                               Steady::now(), headers);
    delay = core->limits.take_delay();
  }
  if (delay.count() > 0) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
  }
  if (early && early->status == 400) note_blocked_edit(*core, *route, std::string(segments[1]));
  if (early) co_return count_status(*core, std::move(*early));

  net::Response response;
  if (route->family == "commands") {
    response = handle_commands(*core, request, segments[1]);
  } else if (route->family == "callback") {
    response = co_await handle_callback(core, request, *route);
  } else {
    response = co_await handle_webhook(core, request, *route, std::string(segments[1]));
  }
  set_rate_headers(response, headers);
  co_return count_status(*core, std::move(response));
}

}  // namespace mando::emulator
