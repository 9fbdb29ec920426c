#include "support/loopback_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

namespace mando::testing {

namespace asio = boost::asio;

LoopbackServer::LoopbackServer(net::Router router) : work_(ioc_.get_executor()) {
  server_ =
      std::make_unique<net::HttpServer>(ioc_, std::move(router), net::ServerOptions{}, metrics_);
  auto bound = server_->listen("127.0.0.1:0");
  if (!bound) std::abort();  // loopback with port 0 cannot fail on a sane machine
  url_ = bound->url();
  server_->start();
  thread_ = std::thread([this] { ioc_.run(); });
}

LoopbackServer::~LoopbackServer() {
  asio::co_spawn(ioc_, server_->shutdown(std::chrono::milliseconds(100)), asio::use_future).get();
  work_.reset();
  ioc_.stop();
  thread_.join();
}

}  // namespace mando::testing
