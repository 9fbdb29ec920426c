#include "net/http_server.hpp"

#include <cerrno>
#include <cstring>
#include <future>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/raw_http.hpp"

namespace mando::net {
namespace {

namespace asio = boost::asio;
using mando::testing::PlainSocket;
using mando::testing::raw_request;
using mando::testing::RawConnection;
using namespace std::chrono_literals;

// Polls `condition` until it holds or 10 s pass: the server changes state on its own thread.
template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// A server on 127.0.0.1:0 running on its own thread, with a few routes tests use.
class HttpServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = {}) {
    Router router;
    router.add("GET", "/hello", [](Request) -> asio::awaitable<Response> {
      co_return Response::text(200, "hello");
    });
    router.add("POST", "/echo", [](Request req) -> asio::awaitable<Response> {
      auto res = Response::text(200, req.body);
      res.headers.set("X-Peer", req.remote);
      co_return res;
    });
    router.add("GET", "/throw", [](Request) -> asio::awaitable<Response> {
      throw std::runtime_error("boom");
      co_return Response::text(200, "");
    });
    // Blocks until the test cancels `gate_`, telling the test when it started.
    router.add("GET", "/slow", [this](Request) -> asio::awaitable<Response> {
      entered_.set_value();
      co_await gate_.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled: go on
      co_return Response::text(200, "finished");
    });
    // Framing fields are the server's; a value with a line break would inject a field.
    router.add("GET", "/framing", [](Request) -> asio::awaitable<Response> {
      auto res = Response::text(200, "four");
      res.headers.set("Content-Length", "99");
      res.headers.set("X-Injected", "a\r\nX-Evil: 1");
      res.headers.set("X-Fine", "yes");
      co_return res;
    });
    router.add("DELETE", "/framing", [](Request) -> asio::awaitable<Response> {
      Response res;
      res.status = 204;
      co_return res;
    });
    // Like /slow, for tests holding several requests (they poll in_flight()).
    router.add("GET", "/hold", [this](Request) -> asio::awaitable<Response> {
      co_await gate_.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return Response::text(200, "released");
    });
    server_ = std::make_unique<HttpServer>(ioc_, std::move(router), options, metrics_);
    auto bound = server_->listen("127.0.0.1:0");
    ASSERT_TRUE(bound) << bound.error().message;
    port_ = bound->port;
    server_->start();
    runner_ = std::thread([this] { ioc_.run(); });
  }

  std::future<void> begin_shutdown(std::chrono::milliseconds deadline) {
    return asio::co_spawn(ioc_, server_->shutdown(deadline), asio::use_future);
  }

  void open_gate() {
    asio::post(ioc_, [this] { gate_.cancel(); });
  }

  void TearDown() override {
    if (!runner_.joinable()) return;
    begin_shutdown(100ms).get();
    ioc_.stop();
    runner_.join();
  }

  // Whether the rendered metrics contain `line` (a whole "name{labels} value" line).
  bool has_metric(std::string_view line) const {
    return ("\n" + metrics_.render()).find(fmt::format("\n{}\n", line)) != std::string::npos;
  }

  core::MetricsRegistry metrics_;  // outlives the io_context, which may hold sessions
  asio::io_context ioc_;
  asio::steady_timer gate_{ioc_, asio::steady_timer::time_point::max()};
  std::promise<void> entered_;
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
  // Keeps run() going after a test's own shutdown left the io_context without work.
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::thread runner_;
};

TEST_F(HttpServerTest, ListenOnPortZeroReportsTheChosenPort) {
  start();
  EXPECT_NE(port_, 0);
  core::MetricsRegistry m;
  HttpServer other(ioc_, Router{}, {}, m);
  auto bad = other.listen("127.0.0.1:" + std::to_string(port_));
  ASSERT_FALSE(bad);  // already in use
  EXPECT_NE(bad.error().message.find("bind"), std::string::npos);
  EXPECT_FALSE(other.listen("nonsense"));
}

TEST_F(HttpServerTest, RoutesAnd404And405) {
  start();
  RawConnection c(port_);
  c.send(raw_request("GET", "/hello"));
  auto ok = c.read_response();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "hello");
  c.send(raw_request("GET", "/missing"));
  auto missing = c.read_response();
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->headers.get("Content-Type"), "application/json");
  c.send(raw_request("DELETE", "/hello"));
  auto wrong = c.read_response();
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->headers.get("Allow"), "GET, HEAD");
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  start();
  RawConnection c(port_);
  std::string peer;
  for (int i = 0; i < 5; ++i) {
    c.send(raw_request("POST", "/echo", "n=" + std::to_string(i)));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "n=" + std::to_string(i));
    EXPECT_TRUE(r->keep_alive);
    if (i == 0) peer = std::string(*r->headers.get("X-Peer"));
    EXPECT_EQ(r->headers.get("X-Peer"), peer);  // same client socket every time
  }
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  RawConnection c(port_);
  c.send(raw_request("POST", "/echo", "first") + raw_request("POST", "/echo", "second"));
  auto a = c.read_response();
  auto b = c.read_response();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, "first");
  EXPECT_EQ(b->body, "second");
}

TEST_F(HttpServerTest, HeadHasLengthButNoBody) {
  start();
  RawConnection c(port_);
  c.send(raw_request("HEAD", "/hello"));
  auto r = c.read_response(/*head=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.get("Content-Length"), "5");
  EXPECT_TRUE(r->body.empty());
  c.send(raw_request("GET", "/hello"));  // the connection is still in sync
  auto again = c.read_response();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "hello");
}

TEST_F(HttpServerTest, TheServerFramesResponsesAndDropsHeadersWithLineBreaks) {
  start();
  RawConnection c(port_);
  c.send(raw_request("GET", "/framing"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers.get("Content-Length"), "4");
  EXPECT_EQ(r->body, "four");
  EXPECT_FALSE(r->headers.contains("X-Injected"));
  EXPECT_FALSE(r->headers.contains("X-Evil"));
  EXPECT_EQ(r->headers.get("X-Fine"), "yes");
  c.send(raw_request("DELETE", "/framing"));
  auto empty = c.read_response();
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 204);
  EXPECT_FALSE(empty->headers.contains("Content-Length"));  // RFC 9110 §8.6
  c.send(raw_request("GET", "/hello"));                     // still in sync after both
  auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "hello");
}

TEST_F(HttpServerTest, DeclaredBodyOverLimitGets413WithoutReadingIt) {
  start({.max_body_bytes = 1024});
  RawConnection c(port_);
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_FALSE(r->keep_alive);
  EXPECT_TRUE(c.wait_closed());
}

// A client that keeps writing a body larger than the limit still reads the 413: the server
// drains the body instead of resetting the connection (the Node test in tests/ does the same
// with a real client).
TEST_F(HttpServerTest, EarlyRefusalLingersSoTheClientReadsTheAnswer) {
  start({.max_body_bytes = 1024 * 1024});
  constexpr std::size_t kBody = 4 * 1024 * 1024;
  PlainSocket c(port_);
  int write_error = -1;
  std::size_t sent = 0;
  std::thread writer([&] {
    write_error = c.send_all(fmt::format("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                         "{}\r\n\r\n{}",
                                         kBody, std::string(kBody, 'b')),
                             &sent);
  });
  auto r = c.read_response();
  writer.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("request body too large"), std::string::npos) << r->body;
  EXPECT_EQ(write_error, 0) << std::strerror(write_error) << " after " << sent << " bytes";
  EXPECT_TRUE(c.wait_closed());  // the server shut its side down after the answer
  c.shutdown_send();             // and closes once the client is done
  EXPECT_TRUE(eventually([&] { return has_metric("mando_http_connections_open 0"); }));
}

TEST_F(HttpServerTest, LingeringStopsAtItsByteBound) {
  start({.max_body_bytes = 1024, .linger_max_bytes = 256 * 1024});
  PlainSocket c(port_);
  ASSERT_EQ(c.send_all("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n"), 0);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  // The server stops reading after 256 KiB and closes: writing fails long before 1 GiB (the
  // socket buffers on both sides hold a few MiB at most).
  std::size_t sent = 0;
  const std::string chunk(1024 * 1024, 'b');
  int error = 0;
  while (error == 0 && sent < 1024u * 1024 * 1024) error = c.send_all(chunk, &sent);
  EXPECT_TRUE(error == EPIPE || error == ECONNRESET) << std::strerror(error);
  EXPECT_LT(sent, 64u * 1024 * 1024);
}

TEST_F(HttpServerTest, LingeringStopsWhenTheClientGoesSilent) {
  start({.max_body_bytes = 1024, .linger_timeout = 100ms});
  PlainSocket c(port_);
  ASSERT_EQ(c.send_all("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n"), 0);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  // The client neither sends nor closes: the server gives up after linger_timeout.
  EXPECT_TRUE(eventually([&] { return has_metric("mando_http_connections_open 0"); }));
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitGets413) {
  start({.max_body_bytes = 1024});
  RawConnection c(port_);
  std::string chunk(800, 'x');
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
         fmt::format("{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n", chunk.size(), chunk, chunk.size(),
                     chunk));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(HttpServerTest, BodyAtTheLimitIsAccepted) {
  start({.max_body_bytes = 1024});
  RawConnection c(port_);
  c.send(raw_request("POST", "/echo", std::string(1024, 'y')));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 1024u);
}

TEST_F(HttpServerTest, OversizedHeaderGets431) {
  start({.max_header_bytes = 2048});
  RawConnection c(port_);
  c.send(raw_request("GET", "/hello", "", "X-Big: " + std::string(4096, 'h') + "\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  start();
  RawConnection c(port_);
  c.send("THIS IS NOT HTTP\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(HttpServerTest, SlowHeaderClientIsClosed) {
  start({.header_timeout = 200ms});
  RawConnection c(port_);
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ");  // and never finishes the header
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  start({.idle_timeout = 200ms});
  RawConnection c(port_);
  c.send(raw_request("GET", "/hello"));
  ASSERT_TRUE(c.read_response());
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(HttpServerTest, ExpectContinueGets100ThenTheAnswer) {
  start();
  RawConnection c(port_);
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.read_response(/*head=*/true);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  c.send("ping");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ping");
}

TEST_F(HttpServerTest, HandlerExceptionGives500AndServerLives) {
  start();
  RawConnection c(port_);
  c.send(raw_request("GET", "/throw"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  c.send(raw_request("GET", "/hello"));
  ASSERT_TRUE(c.read_response());
}

TEST_F(HttpServerTest, MetricsCountRequestsByRouteMethodAndStatus) {
  start();
  RawConnection c(port_);
  for (auto target : {"/hello", "/hello", "/missing/123"}) {
    c.send(raw_request("GET", target));
    ASSERT_TRUE(c.read_response());
  }
  auto text = metrics_.render();
  EXPECT_NE(text.find(R"(mando_http_requests_total{route="/hello",method="GET",status="200"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(mando_http_requests_total{route="unmatched",method="GET",status="404"} 1)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(mando_http_request_duration_seconds_count{route="/hello"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find("mando_http_requests_in_flight 0"), std::string::npos);
}

TEST_F(HttpServerTest, AtTheConnectionLimitTheOldestIdleConnectionIsClosedFirst) {
  start({.max_connections = 3});
  RawConnection a(port_), b(port_), c(port_);
  for (auto* conn : {&a, &b, &c}) {
    conn->send(raw_request("GET", "/hello"));
    ASSERT_TRUE(conn->read_response());
  }
  a.send(raw_request("GET", "/hello"));  // a was idle first; now it is the newest idle
  ASSERT_TRUE(a.read_response());

  RawConnection d(port_);  // full: b, the oldest idle, makes room
  d.send(raw_request("GET", "/hello"));
  auto r = d.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(b.wait_closed());
  RawConnection e(port_);  // then c
  e.send(raw_request("GET", "/hello"));
  ASSERT_TRUE(e.read_response());
  EXPECT_TRUE(c.wait_closed());
  a.send(raw_request("GET", "/hello"));  // a was kept
  ASSERT_TRUE(a.read_response());
  EXPECT_TRUE(has_metric("mando_http_connections_evicted_total 2"));
  EXPECT_TRUE(has_metric("mando_http_connections_open 3"));
}

TEST_F(HttpServerTest, AtTheConnectionLimitWithNoIdleConnectionAcceptingWaitsUntilOneFrees) {
  start({.max_connections = 2});
  RawConnection a(port_), b(port_);
  a.send(raw_request("GET", "/hold"));
  b.send(raw_request("GET", "/hold"));
  ASSERT_TRUE(eventually([&] { return server_->in_flight() == 2; }));

  RawConnection late(port_);  // the kernel completes the handshake; mando does not accept
  late.send(raw_request("GET", "/hello"));
  ASSERT_TRUE(eventually([&] { return has_metric("mando_http_accept_paused_total 1"); }));
  EXPECT_TRUE(has_metric("mando_http_connections_open 2"));

  open_gate();  // a and b are answered and go idle: the first to do so makes room for `late`
  auto r = late.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  for (auto* held : {&a, &b}) {
    auto answer = held->read_response();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->body, "released");
  }
  EXPECT_TRUE(has_metric("mando_http_connections_evicted_total 1"));  // one, not both
  EXPECT_TRUE(has_metric("mando_http_connections_open 2"));
}

TEST_F(HttpServerTest, GracefulShutdownFinishesTheRequestInFlight) {
  start();
  RawConnection busy(port_);
  RawConnection idle(port_);
  idle.send(raw_request("GET", "/hello"));
  ASSERT_TRUE(idle.read_response());
  busy.send(raw_request("GET", "/slow"));
  entered_.get_future().get();  // the handler is running
  EXPECT_EQ(server_->in_flight(), 1);

  auto done = begin_shutdown(10s);
  EXPECT_TRUE(idle.wait_closed());  // idle keep-alive connections go at once
  EXPECT_EQ(done.wait_for(0s), std::future_status::timeout);  // the busy one holds shutdown

  open_gate();
  auto r = busy.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "finished");
  EXPECT_FALSE(r->keep_alive);  // answered with Connection: close
  done.get();
  EXPECT_TRUE(busy.wait_closed());
  EXPECT_THROW(RawConnection late(port_), boost::system::system_error);  // no longer listening
}

TEST_F(HttpServerTest, ShutdownDeadlineClosesStuckRequests) {
  start();
  RawConnection stuck(port_);
  stuck.send(raw_request("GET", "/slow"));
  entered_.get_future().get();
  begin_shutdown(100ms).get();  // returns although the handler never finishes
  EXPECT_TRUE(stuck.wait_closed());
}

}  // namespace
}  // namespace mando::net
