#include "emulator/emulator_server.hpp"

#include <list>
#include <mutex>

#include "discord/commands_sync.hpp"

namespace mando::emulator {
namespace {

namespace asio = boost::asio;

// The metrics registries of the emulator servers of one io_context, destroyed with it. A
// connection suspended when the io_context stops (the page's long poll, say) is destroyed by
// the io_context's destructor, after the EmulatorServer, and counts itself out of the
// registry then: an io_context service is the one owner that is still alive at that point.
class MetricsKeeper : public asio::execution_context::service {
 public:
  using key_type = MetricsKeeper;
  static inline asio::execution_context::id id;

  explicit MetricsKeeper(asio::execution_context& context) : service(context) {}

  core::MetricsRegistry& add() {
    std::lock_guard lock(mutex_);
    return registries_.emplace_back();
  }

 private:
  void shutdown() override {}

  std::mutex mutex_;
  std::list<core::MetricsRegistry> registries_;
};

}  // namespace

EmulatorServer::EmulatorServer(asio::io_context& ioc, EmulatorOptions options)
    : metrics_(asio::use_service<MetricsKeeper>(ioc).add()),
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
