#include "emulator/emulator_core.hpp"

#include <algorithm>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "emulator/command_text.hpp"
#include "emulator/wire.hpp"

namespace mando::emulator {

namespace asio = boost::asio;
namespace json = boost::json;

EmulatorCore::EmulatorCore(asio::any_io_executor executor, net::HttpClient& client,
                           EmulatorOptions options)
    : model(options.application_id, options.token_lifetime),
      limits(options.webhook_limit, options.webhook_window),
      attachment_size_limit(options.attachment_size_limit),
      executor_(std::move(executor)),
      client_(client),
      options_(std::move(options)),
      signer_(options_.secret_key_seed_hex) {}

void EmulatorCore::changed() {
  std::vector<std::shared_ptr<Channel>> waiters;
  {
    std::lock_guard lock(mutex);
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) w->try_send(boost::system::error_code{});
}

void EmulatorCore::stop() {
  {
    std::lock_guard lock(mutex);
    stopped_ = true;
  }
  changed();
}

asio::awaitable<bool> EmulatorCore::wait_until(std::function<bool()> ready,
                                               Steady::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    auto channel = std::make_shared<Channel>(executor, 1);
    {
      std::lock_guard lock(mutex);
      if (ready()) co_return true;
      if (stopped_ || Steady::now() >= deadline) co_return false;
      // Waiters that timed out without a change are only held here: drop them.
      std::erase_if(waiters_, [](const auto& w) { return w.use_count() == 1; });
      waiters_.push_back(channel);
    }
    asio::steady_timer timer(executor, deadline);
    timer.async_wait(
        [channel](boost::system::error_code) { channel->try_send(boost::system::error_code{}); });
    co_await channel->async_receive(asio::use_awaitable);
    timer.cancel();
  }
}

void EmulatorCore::learn_host(const net::Request& request) {
  auto host = request.headers.get("Host");
  if (!host || host->empty() || host->find_first_of("/ \r\n") != std::string_view::npos) return;
  std::lock_guard lock(mutex);
  if (!model.public_url_explicit()) model.set_public_url("http://" + std::string(*host), false);
}

// The interaction's `data`, as Discord builds it: a slash command's options with the files of
// its attachment options in resolved.attachments, or a message command's target message in
// resolved.messages. Called with the mutex held.
Result<json::object> EmulatorCore::command_data(const CommandInvocation& invocation) {
  json::object data{{"id", model.command_id(invocation.name)}, {"name", invocation.name}};
  if (!invocation.target_message_id.empty()) {
    if (!invocation.options.empty()) {
      return fail(ErrorKind::kInvalidArgument, "emulator: a message command has no options");
    }
    const Message* message = model.find_message(invocation.target_message_id);
    if (message == nullptr) {
      return fail(ErrorKind::kNotFound,
                  "emulator: unknown message " + invocation.target_message_id);
    }
    data["type"] = 3;
    data["target_id"] = invocation.target_message_id;
    data["resolved"] = json::object{
        {"messages",
         json::object{{invocation.target_message_id, model.message_json(*message, false)}}}};
    return data;
  }
  data["type"] = 1;
  json::array options = invocation.options;
  json::object attachments;
  for (auto& option : options) {
    auto* o = option.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    if (type == nullptr || to_int(*type).value_or(0) != 11) continue;
    const auto* value = o->if_contains("value");
    const std::string named = value && value->is_string() ? std::string(value->as_string()) : "";
    auto upload = model.upload_json(named);
    if (!upload) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("emulator: option {} names no upload (\"{}\"): attach the file first",
                              json::serialize(o->at("name")), named));
    }
    // Discord sends the attachment's id, whatever the user picked it by.
    const std::string id(upload->at("id").as_string());
    (*o)["value"] = id;
    attachments[id] = std::move(*upload);
  }
  if (!options.empty()) data["options"] = std::move(options);
  if (!attachments.empty())
    data["resolved"] = json::object{{"attachments", std::move(attachments)}};
  return data;
}

asio::awaitable<Result<SentInteraction>> EmulatorCore::send_command(CommandInvocation invocation) {
  if (invocation.name.empty()) {
    co_return fail(ErrorKind::kInvalidArgument, "emulator: no command name");
  }
  const std::string user_id =
      invocation.user_id.empty() ? std::string(kDefaultUserId) : invocation.user_id;
  const std::string guild_id =
      invocation.guild_id.empty() ? std::string(kDefaultGuildId) : invocation.guild_id;
  if (!is_snowflake(user_id) || !is_snowflake(guild_id)) {
    co_return fail(ErrorKind::kInvalidArgument,
                   "emulator: user_id and guild_id must be snowflakes");
  }
  std::string id, token, body;
  {
    std::lock_guard lock(mutex);
    InteractionRecord rec;
    rec.type = 2;
    rec.name = invocation.name;
    rec.user_id = user_id;
    rec.guild_id = invocation.dm ? "" : guild_id;
    rec.channel_id = std::string(invocation.dm ? kDmChannelId : kGuildChannelId);
    auto data = command_data(invocation);
    if (!data) co_return tl::unexpected(data.error());
    if (!invocation.dm) (*data)["guild_id"] = guild_id;
    const InteractionRecord& opened = model.open_interaction(std::move(rec));
    id = opened.id;
    token = opened.token;
    body = json::serialize(interaction_body(opened, json::object{{"data", std::move(*data)}},
                                            options_.application_id, attachment_size_limit));
  }
  co_return co_await deliver(std::move(id), std::move(token), std::move(body));
}

asio::awaitable<Result<SentInteraction>> EmulatorCore::click(std::string message_id,
                                                             std::string custom_id,
                                                             std::string user_id) {
  if (user_id.empty()) user_id = std::string(kDefaultUserId);
  if (!is_snowflake(user_id)) co_return fail(ErrorKind::kInvalidArgument, "emulator: bad user_id");
  std::string id, token, body;
  {
    std::lock_guard lock(mutex);
    Message* m = model.find_message(message_id);
    if (m == nullptr) {
      co_return fail(ErrorKind::kNotFound, "emulator: unknown message " + message_id);
    }
    std::int64_t component_type = 0;
    for (const auto& row : m->components) {
      const auto* children = row.is_object() ? row.as_object().if_contains("components") : nullptr;
      if (children == nullptr || !children->is_array()) continue;
      for (const auto& c : children->as_array()) {
        const auto* cid = c.is_object() ? c.as_object().if_contains("custom_id") : nullptr;
        if (cid && cid->is_string() && cid->as_string() == custom_id) {
          const auto* type = c.as_object().if_contains("type");
          component_type = type ? to_int(*type).value_or(2) : 2;
        }
      }
    }
    if (component_type == 0) {
      co_return fail(ErrorKind::kNotFound, "emulator: no component with that custom_id");
    }
    const InteractionRecord* origin = model.interaction(m->interaction_id);
    InteractionRecord rec;
    rec.type = 3;
    rec.user_id = user_id;
    rec.guild_id = origin != nullptr ? origin->guild_id : std::string(kDefaultGuildId);
    rec.channel_id = m->channel_id;
    rec.component_message_id = m->id;
    json::object data{{"component_type", component_type}, {"custom_id", custom_id}};
    if (component_type != 2) data["values"] = json::array{};
    json::object extra{{"data", std::move(data)}, {"message", model.message_json(*m, false)}};
    const InteractionRecord& opened = model.open_interaction(std::move(rec));
    id = opened.id;
    token = opened.token;
    body = json::serialize(
        interaction_body(opened, std::move(extra), options_.application_id, attachment_size_limit));
  }
  co_return co_await deliver(std::move(id), std::move(token), std::move(body));
}

asio::awaitable<Result<SentInteraction>> EmulatorCore::deliver(std::string interaction_id,
                                                               std::string token,
                                                               std::string body) {
  std::string url;
  {
    std::lock_guard lock(mutex);
    url = bot_url;
  }
  SentInteraction out;
  out.interaction_id = interaction_id;
  out.token = token;
  if (url.empty()) {
    finish_failed(interaction_id, "no bot URL");
    co_return fail(ErrorKind::kFailedPrecondition, "emulator: no bot URL set");
  }
  net::ClientRequest request = signed_interaction_request(signer_, std::move(url), std::move(body),
                                                          options_.response_timeout);
  Result<net::ClientResponse> sent = co_await client_.send(std::move(request));
  if (!sent) {
    finish_failed(interaction_id, sent.error().message);
    co_return fail(sent.error().kind,
                   "emulator: the bot did not answer the interaction: " + sent.error().message);
  }
  out.response_status = sent->status;
  boost::system::error_code ec;
  json::value response = json::parse(sent->body, ec);
  if (!ec) out.response = response;
  {
    std::lock_guard lock(mutex);
    InteractionRecord& rec = *model.interaction(interaction_id);
    rec.in_flight = false;
    if (rec.acknowledged) {
      // Acknowledged through POST /interactions/{id}/{token}/callback while the POST ran:
      // the HTTP answer carries nothing more.
    } else if (sent->status != 200) {
      out.failure = fmt::format("the bot answered HTTP {}", sent->status);
    } else if (ec) {
      out.failure = "the bot's answer is not JSON";
    } else {
      out.failure = model.apply_response(rec, response, {});
    }
    if (!out.failure.empty()) model.fail_interaction(rec, out.failure);
    out.failed = rec.failed;
    if (!rec.original_message_id.empty()) out.message_id = rec.original_message_id;
  }
  changed();
  co_return out;
}

void EmulatorCore::finish_failed(const std::string& interaction_id, std::string reason) {
  {
    std::lock_guard lock(mutex);
    InteractionRecord& rec = *model.interaction(interaction_id);
    rec.in_flight = false;
    model.fail_interaction(rec, reason);
  }
  changed();
}

json::object EmulatorCore::upload(FormPart file) {
  std::lock_guard lock(mutex);
  return model.add_upload(file);
}

Result<CommandInvocation> EmulatorCore::parse_command_text(std::string_view text) const {
  json::array commands;
  {
    std::lock_guard lock(mutex);
    commands = model.commands();
  }
  return emulator::parse_command_text(text, commands);
}

asio::awaitable<std::optional<json::object>> EmulatorCore::wait_message(
    std::string id, std::int64_t after_version, std::chrono::milliseconds timeout) {
  auto newer = [this, id, after_version] {
    const auto version = model.version(id);
    return !version || *version > after_version || model.deleted(id);
  };
  co_await wait_until(newer, Steady::now() + timeout);
  std::lock_guard lock(mutex);
  co_return model.message_json(std::string_view(id));
}

asio::awaitable<bool> EmulatorCore::wait_completed(std::size_t count,
                                                   std::chrono::milliseconds timeout) {
  auto done = [this, count] { return model.completed() >= count; };
  co_return co_await wait_until(done, Steady::now() + timeout);
}

asio::awaitable<Changes> EmulatorCore::wait_changes(std::uint64_t cursor, std::size_t limit,
                                                    std::chrono::milliseconds timeout) {
  // A cursor ahead of the model is answered at once (with reset), like any change.
  auto any = [this, cursor] { return model.cursor() != cursor; };
  co_await wait_until(any, Steady::now() + timeout);
  std::lock_guard lock(mutex);
  co_return model.changes_since(cursor, limit);
}

json::object EmulatorCore::stats_locked() const {
  json::object by_route;
  for (const auto& [route, n] : rest.by_route) by_route[route] = n;
  json::object by_status;
  for (const auto& [status, n] : rest.by_status) by_status[std::to_string(status)] = n;
  json::object out = model.stats();
  out["rest"] = {{"requests", rest.requests}, {"by_route", by_route}, {"by_status", by_status}};
  out["rate_limits"] = limits.stats();
  out["bad_user_agent"] = rest.bad_user_agent;
  return out;
}

}  // namespace mando::emulator
