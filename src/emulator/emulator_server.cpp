#include "emulator/emulator_server.hpp"

#include "discord/commands_sync.hpp"

namespace mando::emulator {

namespace asio = boost::asio;

EmulatorServer::EmulatorServer(asio::io_context& ioc, EmulatorOptions options)
    : metrics_(net::metrics_owned_by(ioc)),
      client_(ioc.get_executor()),
      emulator_(ioc.get_executor(), client_, options),
      api_prefix_(options.api_prefix) {}

EmulatorServer::~EmulatorServer() { emulator_.stop(); }

asio::awaitable<void> EmulatorServer::shutdown(std::chrono::milliseconds deadline) {
  emulator_.stop();
  co_await server_->shutdown(deadline);
}

Result<std::unique_ptr<EmulatorServer>> EmulatorServer::start(asio::io_context& ioc,
                                                              std::string_view host_port,
                                                              EmulatorOptions options) {
  std::unique_ptr<EmulatorServer> self(new EmulatorServer(ioc, std::move(options)));
  net::Router router;
  self->emulator_.install_routes(router);
  net::ServerOptions server_options;
  server_options.max_body_bytes = kMaxUploadBytes;
  self->server_ =
      std::make_unique<net::HttpServer>(ioc, std::move(router), server_options, self->metrics_);
  auto bound = self->server_->listen(host_port);
  if (!bound) return tl::unexpected(bound.error());
  self->url_ = bound->url();
  self->emulator_.set_public_url(self->url_);
  self->server_->start();
  return self;
}

std::string EmulatorServer::api_base_url() const { return url_ + api_prefix_; }

asio::awaitable<Result<void>> EmulatorServer::connect_bot(std::string interactions_url,
                                                          boost::json::array commands) {
  emulator_.set_bot_url(std::move(interactions_url));
  discord::SyncOptions options;
  options.api_base_url = api_base_url();
  options.application_id = emulator_.application_id();
  options.bot_token = "emulator";  // any token opens the emulator's command routes
  auto report = co_await discord::sync_commands(client_, std::move(options), std::move(commands));
  if (!report) co_return tl::unexpected(report.error());
  co_return Result<void>{};
}

}  // namespace mando::emulator
