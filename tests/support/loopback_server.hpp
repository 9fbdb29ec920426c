#pragma once
// A real HTTP server for tests that need a peer: a net::Router served on 127.0.0.1:0 from its
// own thread (a fake Discord, a loopback worker, a REST API over a fake). Shut down gracefully
// and joined when it goes away.

#include <memory>
#include <string>
#include <thread>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "core/metrics.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"

namespace mando::testing {

class LoopbackServer {
 public:
  explicit LoopbackServer(net::Router router);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
  // The server's own loop, for what its handlers keep (a client, say); whatever runs there must
  // be gone before the server.
  boost::asio::any_io_executor executor() { return ioc_.get_executor(); }

 private:
  core::MetricsRegistry metrics_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<net::HttpServer> server_;
  std::string url_;
  std::thread thread_;
};

}  // namespace mando::testing
