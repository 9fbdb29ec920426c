#include "net/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <iterator>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "net/connection_table.hpp"

namespace mando::net {
namespace {

class MetricsKeeper : public boost::asio::execution_context::service {
 public:
  using key_type = MetricsKeeper;
  static inline boost::asio::execution_context::id id;

  explicit MetricsKeeper(boost::asio::execution_context& context) : service(context) {}

  core::MetricsRegistry& add() {
    std::lock_guard lock(mutex_);
    return registries_.emplace_back();
  }

 private:
  void shutdown() override {}

  std::mutex mutex_;
  std::list<core::MetricsRegistry> registries_;
};

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// One accepted connection. The session coroutine, eviction and shutdown() share it; all touch
// it only on the connection's executor (its loop, or its strand).
struct Connection : ConnectionTable::Entry {
  Connection(tcp::socket socket, std::string peer)
      : stream(std::move(socket)), remote(std::move(peer)) {}
  beast::tcp_stream stream;
  const std::string remote;   // "ip:port", once per connection instead of a syscall per request
  bool busy = false;          // between a complete header and the end of the response write
  bool waiting_idle = false;  // waiting for the first byte of a request: may be evicted
  std::string head;           // the response header being written; its capacity is reused
  // The request series of the last (route, method, status) answered here: a keep-alive client
  // repeats its request, so the registry's lookup (a lock and a map keyed by label vectors)
  // runs once per connection and change instead of once per request.
  struct Series {
    std::string_view route;
    std::string_view method;
    int status = 0;
    core::Counter* requests = nullptr;
    core::Histogram* latency = nullptr;
  } series;
};

// "ip:port" of the peer, or "" when the socket is already gone.
template <typename Socket>
std::string peer_of(const Socket& socket) {
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  return ec ? std::string() : fmt::format("{}:{}", peer.address().to_string(), peer.port());
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != s.npos; }

// Fields the server writes itself from the response it sends.
bool is_framing_field(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
         iequals(name, "Connection");
}

std::string_view method_label(std::string_view m) {
  static constexpr std::string_view kKnown[] = {"GET",    "HEAD",    "POST",    "PUT",  "PATCH",
                                                "DELETE", "OPTIONS", "CONNECT", "TRACE"};
  for (auto k : kKnown) {
    if (k == m) return k;
  }
  return "OTHER";
}

Result<tcp::endpoint> resolve_listen(std::string_view host_port) {
  auto colon = host_port.rfind(':');
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("listen address \"{}\": {}", host_port, why));
  };
  if (colon == std::string_view::npos) return bad("expected HOST:PORT");
  std::string host(host_port.substr(0, colon));
  std::string port(host_port.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  asio::io_context resolver_ctx;
  tcp::resolver resolver(resolver_ctx);
  auto results =
      resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) return bad(ec ? ec.message() : "host not found");
  return results.begin()->endpoint();
}

}  // namespace

core::MetricsRegistry& metrics_owned_by(boost::asio::io_context& ioc) {
  return boost::asio::use_service<MetricsKeeper>(ioc).add();
}

std::string BoundAddress::url() const { return fmt::format("http://{}:{}", host, port); }

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(asio::io_context& ioc, Router router, ServerOptions options, core::MetricsRegistry& metrics,
       IoLoops* loops)
      : ioc_(ioc),
        loops_(loops),
        router_(std::move(router)),
        options_(options),
        control_(asio::make_strand(ioc)),
        acceptor_(control_),
        drain_timer_(control_),
        slot_timer_(control_),
        log_(core::logger("http")),
        table_(options.max_connections),
        requests_(metrics.counter("mando_http_requests_total",
                                  "HTTP requests answered, by route, method and status",
                                  {"route", "method", "status"})),
        latency_(
            metrics.histogram("mando_http_request_duration_seconds",
                              "Time from a complete request header to the response ready to write",
                              core::latency_buckets(), {"route"})),
        in_flight_(metrics.gauge("mando_http_requests_in_flight", "HTTP requests being handled")
                       .labels({})),
        open_(metrics.gauge("mando_http_connections_open", "Open HTTP connections").labels({})),
        evicted_(metrics
                     .counter("mando_http_connections_evicted_total",
                              "Idle keep-alive connections closed to make room for a new client "
                              "at [server] max_connections")
                     .labels({})),
        accept_paused_(metrics
                           .counter("mando_http_accept_paused_total",
                                    "Times accepting stopped at [server] max_connections because "
                                    "no connection was idle")
                           .labels({})) {}

  Result<BoundAddress> listen(std::string_view host_port) {
    auto endpoint = resolve_listen(host_port);
    if (!endpoint) return tl::unexpected(endpoint.error());
    boost::system::error_code ec;
    auto step = [&](std::string_view what) {
      return fail(ErrorKind::kUnavailable,
                  fmt::format("listen on {}: {}: {}", host_port, what, ec.message()));
    };
    if (acceptor_.open(endpoint->protocol(), ec); ec) return step("open");
    if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) return step("option");
    if (acceptor_.bind(*endpoint, ec); ec) return step("bind");
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return step("listen");
    auto local = acceptor_.local_endpoint(ec);
    if (ec) return step("local address");
    auto addr = local.address();
    return BoundAddress{addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string(),
                        local.port()};
  }

  void start() { asio::co_spawn(control_, accept_loop(shared_from_this()), asio::detached); }

  asio::awaitable<void> shutdown(std::chrono::milliseconds deadline) {
    co_await asio::co_spawn(control_, drain(shared_from_this(), deadline), asio::use_awaitable);
  }

  std::int64_t in_flight() const { return in_flight_.value(); }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    while (!self->stopping_) {
      if (self->table_.full() && !co_await self->make_room()) break;
      auto [ec, socket] = co_await self->acceptor_.async_accept(self->connection_executor(), kTok);
      if (ec) {
        if (self->stopping_ || ec == asio::error::operation_aborted) break;
        // EMFILE and friends: the peer is already gone. Pause before accepting again, or a
        // process out of descriptors would spin and flood the log until one frees up.
        self->log_->warn("accept failed: {}", ec.message());
        asio::steady_timer pause(self->control_, std::chrono::milliseconds(100));
        co_await pause.async_wait(kTok);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      std::string peer = peer_of(socket);
      auto conn = std::make_shared<Connection>(std::move(socket), std::move(peer));
      {
        std::lock_guard lock(self->mutex_);
        self->connections_.emplace(conn.get(), conn);
      }
      self->table_.add(*conn);
      self->open_.add(1);
      auto ex = conn->stream.get_executor();
      asio::co_spawn(ex, session(self, std::move(conn)), asio::detached);
    }
  }

  // Where the next connection lives: its loop, or a strand of its own.
  asio::any_io_executor connection_executor() {
    if (loops_ != nullptr) return loops_->next();
    return asio::make_strand(ioc_);
  }

  // Steps 1-4 of the file comment in http_server.hpp, once per request on the connection.
  static asio::awaitable<void> session(std::shared_ptr<Impl> self,
                                       std::shared_ptr<Connection> conn) {
    beast::flat_buffer buffer;
    const auto& opt = self->options_;
    for (bool first = true; !self->stopping_; first = false) {
      // A new client has header_timeout from its connect to a whole header; a kept-alive one
      // idle_timeout to start its next request, then header_timeout to finish the header.
      if (buffer.size() == 0) {
        conn->stream.expires_after(first ? opt.header_timeout : opt.idle_timeout);
        if (!co_await self->wait_for_request(*conn, buffer)) break;
      }
      if (!first) conn->stream.expires_after(opt.header_timeout);
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
      parser.body_limit(opt.max_body_bytes);
      if (auto [ec, n] = co_await http::async_read_header(conn->stream, buffer, parser, kTok); ec) {
        co_await self->reject(*conn, ec);
        break;
      }
      conn->busy = true;
      bool keep_alive = co_await self->serve_one(*conn, buffer, parser);
      conn->busy = false;
      if (!keep_alive) break;
    }
    boost::system::error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    conn->stream.close();
    self->forget(conn.get());
  }

  // Waits for the first bytes of the next request. Meanwhile the connection is idle: at
  // max_connections the server may close it to make room (evict()), oldest idle first.
  asio::awaitable<bool> wait_for_request(Connection& conn, beast::flat_buffer& buffer) {
    conn.waiting_idle = true;
    table_.set_idle(conn);
    if (paused_) notify_slot();  // the accept loop waits for a connection it may evict
    auto [ec, n] = co_await conn.stream.async_read_some(buffer.prepare(4096), kTok);
    conn.waiting_idle = false;
    table_.set_busy(conn);
    if (ec) co_return false;
    buffer.commit(n);
    co_return true;
  }

  // Runs on control_ when the table is full. Waits for a client to knock, then makes room for
  // it by closing the oldest idle connection; with none idle, accepting stops (clients wait in
  // the listen backlog) until a connection closes or goes idle. False when the server stops.
  asio::awaitable<bool> make_room() {
    if (auto [ec] = co_await acceptor_.async_wait(tcp::acceptor::wait_read, kTok); ec) {
      co_return false;
    }
    bool evicting = false;  // one eviction at a time: a wake-up while it runs is not a slot
    bool counted = false;
    for (;;) {
      waiting_for_slot_ = true;  // before the check: a slot freed after it signals slot_timer_
      if (stopping_ || !table_.full()) break;
      if (std::exchange(evict_missed_, false)) evicting = false;
      if (!evicting) {
        if (auto oldest = table_.pop_oldest_idle(); oldest.entry != nullptr) {
          paused_ = false;
          evicting = true;
          evict(oldest);
        } else {
          paused_ = true;
          if (!counted) note_pause();
          counted = true;
        }
      }
      if (!slot_signal_) {
        slot_timer_.expires_at(Clock::time_point::max());
        co_await slot_timer_.async_wait(kTok);
      }
      slot_signal_ = false;
    }
    waiting_for_slot_ = false;
    paused_ = false;
    co_return !stopping_;
  }

  void note_pause() {
    accept_paused_.inc();
    if (Clock::now() - last_pause_log_ < std::chrono::seconds(10)) return;  // under a flood
    last_pause_log_ = Clock::now();
    log_->warn("at max_connections={} with no idle connection: not accepting until one closes",
               options_.max_connections);
  }

  // Closes `oldest` on its executor if it is still idle in the same epoch; if a request arrived
  // meanwhile, make_room() is told to pick the next one.
  void evict(ConnectionTable::Oldest oldest) {
    std::shared_ptr<Connection> conn;
    {
      std::lock_guard lock(mutex_);
      if (auto it = connections_.find(oldest.entry); it != connections_.end()) {
        conn = it->second.lock();
      }
    }
    if (!conn) return;  // already closing: its forget() wakes make_room()
    auto ex = conn->stream.get_executor();
    asio::post(ex, [self = shared_from_this(), conn = std::move(conn), epoch = oldest.epoch] {
      if (conn->waiting_idle && conn->idle_epoch == epoch) {
        self->evicted_.inc();
        conn->stream.cancel();  // the session ends and forget() frees the slot
      } else {
        self->notify_slot(/*evict_missed=*/true);
      }
    });
  }

  // Wakes make_room() (from any thread).
  void notify_slot(bool evict_missed = false) {
    asio::post(control_, [self = shared_from_this(), evict_missed] {
      self->evict_missed_ = self->evict_missed_ || evict_missed;
      self->slot_signal_ = true;
      self->slot_timer_.cancel();
    });
  }

  // Reads the body, runs the handler and writes the response. Returns whether the connection
  // may serve another request.
  asio::awaitable<bool> serve_one(Connection& conn, beast::flat_buffer& buffer,
                                  http::request_parser<http::string_body>& parser) {
    auto started = Clock::now();
    InFlight in_flight(in_flight_);
    auto& header = parser.get();
    if (header[http::field::expect] == "100-continue") {
      http::response<http::empty_body> go_on{http::status::continue_, 11};
      conn.stream.expires_after(options_.body_timeout);
      if (auto [ec, n] = co_await http::async_write(conn.stream, go_on, kTok); ec) co_return false;
    }
    if (!parser.is_done()) {
      conn.stream.expires_after(options_.body_timeout);
      if (auto [ec, n] = co_await http::async_read(conn.stream, buffer, parser, kTok); ec) {
        co_await reject(conn, ec);
        co_return false;
      }
    }
    conn.stream.expires_never();

    auto message = parser.release();
    Request req;
    req.method = std::string(message.method_string());
    req.target = std::string(message.target());
    req.headers.reserve(static_cast<std::size_t>(std::distance(message.begin(), message.end())));
    for (const auto& field : message) req.headers.add(field.name_string(), field.value());
    req.body = std::move(message.body());
    req.remote = conn.remote;

    const bool head = req.method == "HEAD";
    const std::string_view method = method_label(req.method);
    auto match = router_.match(req.method, req.path());
    Response res;
    if (match.handler == nullptr) {
      res = Response::json_error(match.status, match.status == 404
                                                   ? "no route for this path"
                                                   : "method not allowed on this path");
      if (match.status == 405) res.headers.set("Allow", match.allow);
    } else {
      try {
        res = co_await (*match.handler)(std::move(req));
      } catch (const std::exception& e) {
        log_->error("handler threw route={} error=\"{}\"", match.route, e.what());
        res = Response::json_error(500, "internal error");
      }
    }
    bool keep_alive = message.keep_alive() && !stopping_ && !res.close;
    // Recorded before the write so that a client holding the response sees it counted.
    record(conn, match.route, method, res.status, started);
    in_flight.release();
    bool written = co_await write(conn, std::move(res), keep_alive, head);
    co_return keep_alive&& written;
  }

  // Answers a request that failed before routing (limits, malformed, timeouts) and closes.
  asio::awaitable<void> reject(Connection& conn, boost::system::error_code ec) {
    int status = 0;
    std::string_view why;
    if (ec == http::error::header_limit) {
      status = 431;
      why = "request header fields too large";
    } else if (ec == http::error::body_limit) {
      status = 413;
      why = "request body too large";
    } else if (ec == beast::error::timeout) {
      // A request that started but did not finish in time; a silent idle client gets nothing.
      status = conn.busy ? 408 : 0;
      why = "request timeout";
    } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      status = 400;
      why = "malformed HTTP request";
    }
    if (status == 0) co_return;
    log_->debug("rejecting request status={} reason=\"{}\"", status, ec.message());
    record(conn, "rejected", "OTHER", status, Clock::now());
    co_await write(conn, Response::json_error(status, why), false, false);
    co_await linger(conn);
  }

  // Lingering close, the way nginx's lingering_close works: a client refused early (413 from
  // the Content-Length alone) is usually still sending its body. Closing with unread bytes makes
  // the kernel answer them with RST, which can destroy our response in the client's receive
  // buffer before it is read. So shut down our write side (the client sees the response, then
  // EOF), and read and drop what still arrives until the client closes, stays silent for
  // linger_timeout, linger_time has passed, or linger_max_bytes were dropped.
  asio::awaitable<void> linger(Connection& conn) {
    conn.busy = false;  // nothing left to answer: shutdown() may cut it short
    boost::system::error_code ignored;
    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    const auto deadline = Clock::now() + options_.linger_time;
    std::size_t dropped = 0;
    std::array<char, 64 * 1024> sink;
    while (dropped < options_.linger_max_bytes) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      conn.stream.expires_after(std::min(left, options_.linger_timeout));
      auto [ec, n] = co_await conn.stream.async_read_some(asio::buffer(sink), kTok);
      if (ec) break;
      dropped += n;
    }
    log_->debug("lingering close done dropped_bytes={}", dropped);
  }

  // Decrements the in-flight gauge once, on release() or at the end of the scope.
  class InFlight {
   public:
    explicit InFlight(core::Gauge& gauge) : gauge_(&gauge) { gauge_->add(1); }
    ~InFlight() { release(); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    void release() {
      if (gauge_ != nullptr) gauge_->add(-1);
      gauge_ = nullptr;
    }

   private:
    core::Gauge* gauge_;
  };

  // `route` and `method` must outlive the connection: router patterns and literals.
  void record(Connection& conn, std::string_view route, std::string_view method, int status,
              Clock::time_point started) {
    auto& cached = conn.series;
    if (cached.requests == nullptr || cached.status != status || cached.route != route ||
        cached.method != method) {
      std::string route_label(route);
      cached = {route, method, status,
                &requests_.labels({route_label, std::string(method), std::to_string(status)}),
                &latency_.labels({route_label})};
    }
    cached.requests->inc();
    cached.latency->observe(std::chrono::duration<double>(Clock::now() - started).count());
  }

  // Writes the status line, the header fields and the body in one writev. The header is
  // serialised here, into the connection's reused buffer, rather than through Beast's response
  // message, which allocates a node per field and per response.
  asio::awaitable<bool> write(Connection& conn, Response res, bool keep_alive, bool head) {
    auto& out = conn.head;
    out.clear();
    const auto status = static_cast<http::status>(res.status);
    fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} {}\r\n", res.status,
                   std::string_view(http::obsolete_reason(status)));
    for (const auto& [name, value] : res.headers.fields()) {
      if (is_framing_field(name)) continue;
      if (has_line_break(name) || has_line_break(value)) {
        // A handler bug; writing it would let a header value inject fields or a response.
        log_->error("dropping a response header with a line break name=\"{}\"", name);
        continue;
      }
      out.append(name).append(": ").append(value).append("\r\n");
    }
    // 1xx, 204 and 304 have no body and no Content-Length (RFC 9110 §8.6).
    const bool bodiless = res.status < 200 || res.status == 204 || res.status == 304;
    if (!bodiless)
      fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", res.body.size());
    if (!keep_alive) out.append("Connection: close\r\n");
    out.append("\r\n");
    const std::array<asio::const_buffer, 2> buffers{
        asio::buffer(out), head || bodiless ? asio::const_buffer() : asio::buffer(res.body)};
    conn.stream.expires_after(options_.body_timeout);
    auto [ec, n] = co_await asio::async_write(conn.stream, buffers, kTok);
    conn.stream.expires_never();
    co_return !ec;
  }

  void forget(Connection* conn) {
    bool drained = false;
    {
      std::lock_guard lock(mutex_);
      connections_.erase(conn);
      drained = stopping_ && connections_.empty();
    }
    table_.remove(*conn);
    open_.add(-1);
    if (waiting_for_slot_) notify_slot();
    if (drained) {
      asio::post(control_, [self = shared_from_this()] { self->drain_timer_.cancel(); });
    }
  }

  // Runs on control_: stop accepting, close idle connections, wait for busy ones until the
  // deadline, then close whatever is left.
  static asio::awaitable<void> drain(std::shared_ptr<Impl> self,
                                     std::chrono::milliseconds deadline) {
    {
      std::lock_guard lock(self->mutex_);
      self->stopping_ = true;
    }
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->notify_slot();  // make_room() may be waiting for a slot
    self->for_each_connection([](Connection& c) {
      if (!c.busy) c.stream.cancel();
    });
    self->drain_timer_.expires_after(deadline);
    for (;;) {
      {
        std::lock_guard lock(self->mutex_);
        if (self->connections_.empty()) co_return;
      }
      auto [ec] = co_await self->drain_timer_.async_wait(kTok);
      if (!ec) break;  // the deadline passed
    }
    std::size_t left = 0;
    {
      std::lock_guard lock(self->mutex_);
      left = self->connections_.size();
    }
    self->log_->warn("shutdown deadline passed, closing {} connection(s) with requests in flight",
                     left);
    self->for_each_connection([](Connection& c) { c.stream.close(); });
  }

  // Runs `fn` on each open connection's executor.
  template <typename Fn>
  void for_each_connection(Fn fn) {
    std::lock_guard lock(mutex_);
    for (auto& [ptr, weak] : connections_) {
      if (auto conn = weak.lock()) {
        asio::post(conn->stream.get_executor(), [conn, fn] { fn(*conn); });
      }
    }
  }

  asio::io_context& ioc_;
  IoLoops* loops_;
  Router router_;
  ServerOptions options_;
  asio::strand<asio::io_context::executor_type> control_;  // acceptor and shutdown
  tcp::acceptor acceptor_;
  asio::steady_timer drain_timer_;
  asio::steady_timer slot_timer_;  // make_room() waits on it; notify_slot() cancels it
  std::shared_ptr<spdlog::logger> log_;

  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::unordered_map<ConnectionTable::Entry*, std::weak_ptr<Connection>> connections_;
  ConnectionTable table_;
  // make_room() state: the atomics are read by sessions on other threads; the rest lives on
  // control_.
  std::atomic<bool> waiting_for_slot_{false};
  std::atomic<bool> paused_{false};
  bool slot_signal_ = false;
  bool evict_missed_ = false;
  Clock::time_point last_pause_log_{};

  core::Family<core::Counter>& requests_;
  core::Family<core::Histogram>& latency_;
  core::Gauge& in_flight_;
  core::Gauge& open_;
  core::Counter& evicted_;
  core::Counter& accept_paused_;
};

HttpServer::HttpServer(asio::io_context& ioc, Router router, ServerOptions options,
                       core::MetricsRegistry& metrics, IoLoops* loops)
    : impl_(std::make_shared<Impl>(ioc, std::move(router), options, metrics, loops)) {}

HttpServer::~HttpServer() = default;

Result<BoundAddress> HttpServer::listen(std::string_view host_port) {
  return impl_->listen(host_port);
}

void HttpServer::start() { impl_->start(); }

asio::awaitable<void> HttpServer::shutdown(std::chrono::milliseconds deadline) {
  return impl_->shutdown(deadline);
}

std::int64_t HttpServer::in_flight() const { return impl_->in_flight(); }

}  // namespace mando::net
