#include "emulator/discord_emulator.hpp"

#include "emulator/control_api.hpp"
#include "emulator/emulator_core.hpp"
#include "emulator/rest_api.hpp"
#include "emulator/web_page.hpp"

namespace mando::emulator {

namespace asio = boost::asio;
namespace json = boost::json;

DiscordEmulator::DiscordEmulator(asio::any_io_executor executor, net::HttpClient& client,
                                 EmulatorOptions options)
    : core_(std::make_shared<EmulatorCore>(std::move(executor), client, std::move(options))) {}

DiscordEmulator::~DiscordEmulator() = default;

const std::string& DiscordEmulator::application_id() const {
  return core_->options().application_id;
}

std::string DiscordEmulator::public_key_hex() const { return core_->signer().public_key_hex(); }

void DiscordEmulator::set_bot_url(std::string interactions_url) {
  std::lock_guard lock(core_->mutex);
  core_->bot_url = std::move(interactions_url);
}

void DiscordEmulator::set_public_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  std::lock_guard lock(core_->mutex);
  const bool explicit_url = !url.empty();
  core_->model.set_public_url(std::move(url), explicit_url);
}

void DiscordEmulator::install_routes(net::Router& router) {
  // The handlers own the state (shared_ptr): a router may outlive this object.
  std::shared_ptr<EmulatorCore> core = core_;
  for (const char* method : {"GET", "POST", "PATCH", "PUT", "DELETE"}) {
    router.add(method, core->options().api_prefix + "/*",
               [core](net::Request r) { return handle_rest(core, std::move(r)); });
  }
  for (const char* method : {"GET", "POST"}) {
    router.add(method, "/_emulator/*",
               [core](net::Request r) { return handle_control(core, std::move(r)); });
  }
  for (const char* path : {"/", "/index.html"}) {
    router.add("GET", path, [](net::Request) -> asio::awaitable<net::Response> {
      net::Response response;
      response.headers.set("Content-Type", "text/html; charset=utf-8");
      response.headers.set("Cache-Control", "no-store");
      response.body = std::string(web_page_html());
      co_return response;
    });
  }
}

asio::awaitable<Result<SentInteraction>> DiscordEmulator::send_command(
    CommandInvocation invocation) {
  std::shared_ptr<EmulatorCore> core = core_;  // alive across the co_await
  co_return co_await core->send_command(std::move(invocation));
}

json::object DiscordEmulator::upload(std::string filename, std::string content_type,
                                     std::string bytes) {
  return core_->upload(
      FormPart{"file", std::move(filename), std::move(content_type), std::move(bytes)});
}

Result<CommandInvocation> DiscordEmulator::parse_command_text(std::string_view text) const {
  return core_->parse_command_text(text);
}

asio::awaitable<Result<SentInteraction>> DiscordEmulator::click(std::string message_id,
                                                                std::string custom_id,
                                                                std::string user_id) {
  std::shared_ptr<EmulatorCore> core = core_;
  co_return co_await core->click(std::move(message_id), std::move(custom_id), std::move(user_id));
}

json::array DiscordEmulator::messages() const {
  std::lock_guard lock(core_->mutex);
  return core_->model.messages_json();
}

std::optional<json::object> DiscordEmulator::message(std::string_view id) const {
  std::lock_guard lock(core_->mutex);
  return core_->model.message_json(id);
}

asio::awaitable<std::optional<json::object>> DiscordEmulator::wait_message(
    std::string id, std::int64_t after_version, std::chrono::milliseconds timeout) {
  std::shared_ptr<EmulatorCore> core = core_;
  co_return co_await core->wait_message(std::move(id), after_version, timeout);
}

asio::awaitable<bool> DiscordEmulator::wait_completed(std::size_t count,
                                                      std::chrono::milliseconds timeout) {
  std::shared_ptr<EmulatorCore> core = core_;
  co_return co_await core->wait_completed(count, timeout);
}

void DiscordEmulator::set_attachment_size_limit(std::int64_t bytes) {
  std::lock_guard lock(core_->mutex);
  core_->attachment_size_limit = bytes;
}

void DiscordEmulator::add_fault(Fault fault) {
  std::lock_guard lock(core_->mutex);
  core_->limits.add_fault(std::move(fault));
}

void DiscordEmulator::delay_responses(int count, std::chrono::milliseconds delay) {
  std::lock_guard lock(core_->mutex);
  core_->limits.delay_responses(count, delay);
}

bool DiscordEmulator::expire(std::string_view interaction_id) {
  std::lock_guard lock(core_->mutex);
  return core_->model.expire(interaction_id, std::chrono::steady_clock::now());
}

json::object DiscordEmulator::stats() const {
  std::lock_guard lock(core_->mutex);
  return core_->stats_locked();
}

json::array DiscordEmulator::commands() const {
  std::lock_guard lock(core_->mutex);
  return core_->model.commands();
}

void DiscordEmulator::stop() { core_->stop(); }

}  // namespace mando::emulator
