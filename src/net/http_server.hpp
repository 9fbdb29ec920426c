#pragma once
// mando's HTTP/1.1 server: Boost.Beast on Asio C++20 coroutines.
//
// One coroutine per connection owns the socket, the limits and keep-alive:
//   1. wait up to idle_timeout for the first byte of the next request (keep-alive idle);
//   2. read the header within header_timeout (a slow client is closed: slowloris), refusing
//      more than max_header_bytes with 431;
//   3. read the body within body_timeout, refusing more than max_body_bytes with 413 (from the
//      Content-Length alone when it is declared), answering "Expect: 100-continue";
//   4. route, run the handler, write the response; loop while keep-alive holds.
// Malformed requests get 400 and the connection is closed. A request refused before its end is
// answered, then the connection lingers (reads and drops what the client still sends, bounded)
// so that the client reads the answer instead of a connection reset. Beast stays inside
// http_server.cpp.
//
// Connections: at most max_connections per server. When a client knocks at the limit, the oldest
// idle connection (one waiting for the first byte of a request) is closed to make room; when
// none is idle the server stops accepting, leaving clients in the listen backlog, until one
// closes or goes idle (mando_http_connections_evicted_total, mando_http_accept_paused_total).
//
// Threads: given IoLoops, each accepted connection goes to the next loop and lives there (see
// io_loops.hpp); without, connections are strands of the server's io_context.
//
// Shutdown (shutdown()): stop accepting, close idle connections, let requests in flight finish
// and answer with "Connection: close", and force-close whatever is left at the deadline.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/error.hpp"
#include "core/metrics.hpp"
#include "net/io_loops.hpp"
#include "net/router.hpp"

namespace mando::net {

struct ServerOptions {
  // Open connections this server holds at most (the app derives it from the fd limit: see
  // core/process_limits.hpp). At the limit, a new client makes the server close the oldest idle
  // keep-alive connection; with none idle it stops accepting until one closes or goes idle.
  std::size_t max_connections = 10000;
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds body_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // Lingering close after a request refused before its end (413, 431, 400, 408): read and drop
  // what the client still sends for at most linger_time in all, linger_timeout between reads and
  // linger_max_bytes, so that it reads the answer instead of a reset (nginx's lingering_time,
  // lingering_timeout; 30 s and 5 s there too).
  std::chrono::milliseconds linger_time{std::chrono::seconds(30)};
  std::chrono::milliseconds linger_timeout{std::chrono::seconds(5)};
  std::size_t linger_max_bytes = 64 * 1024 * 1024;
};

struct BoundAddress {
  std::string host;  // as it appears in a URL: "127.0.0.1" or "[::1]"
  std::uint16_t port = 0;
  std::string url() const;  // "http://127.0.0.1:8080"
};

// A metrics registry owned by `ioc` (an io_context service), for servers that have no
// registry of their own to give (the emulators): destroyed with the io_context, so connections
// suspended when it stops, destroyed by its destructor, can still count themselves out.
core::MetricsRegistry& metrics_owned_by(boost::asio::io_context& ioc);

class HttpServer {
 public:
  // `metrics` receives mando_http_* series. It must outlive `ioc` and `loops`: connections
  // suspended when they stop are destroyed with them and still count themselves out. The
  // acceptor and shutdown run on `ioc`; connections on `loops` when given (which must outlive
  // the server's last connection), else on strands of `ioc`.
  HttpServer(boost::asio::io_context& ioc, Router router, ServerOptions options,
             core::MetricsRegistry& metrics, IoLoops* loops = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens on "HOST:PORT" ("127.0.0.1:0" picks a free port; "[::1]:8080" for IPv6).
  // Returns the address actually bound. Errors name the address and the reason.
  Result<BoundAddress> listen(std::string_view host_port);

  // Starts accepting on the io_context. Call after listen().
  void start();

  // Graceful stop, see the file comment. Completes when every connection is closed.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds deadline);

  // Requests currently being handled (header read, response not yet written).
  std::int64_t in_flight() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mando::net
