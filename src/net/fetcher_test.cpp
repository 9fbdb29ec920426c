#include "net/fetcher.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"

namespace mando::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kBound = 10s;  // upper bound for anything a test waits on
constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// A loopback HTTP/1.1 server answering each path with a script, including answers a Router
// cannot give: bodies that never end, bytes that drip, answers held back until enough requests
// wait together. One request per connection (every answer closes it).

enum class Script {
  kImage,           // 200, image/png, "PNG!"
  kRedirect,        // 302 to Route::location
  kNotFound,        // 404
  kHugeDeclared,    // Content-Length: 1 GiB, then bytes until the client goes
  kChunkedForever,  // chunked, chunks until the client goes
  kDrip,            // Content-Length: 100, one byte a second
  kHang,            // reads the request, answers nothing
  kGate,            // 200 once `gate` requests wait together (released as a batch)
};

struct Route {
  Script script = Script::kImage;
  std::string location;
};

class ScriptServer {
 public:
  ScriptServer() {
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    gate_.expires_at(asio::steady_timer::time_point::max());
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~ScriptServer() {
    ioc_.stop();
    thread_.join();
  }
  ScriptServer(const ScriptServer&) = delete;
  ScriptServer& operator=(const ScriptServer&) = delete;

  // Before the first request only (the routes are not locked).
  void route(std::string path, Route r) { routes_[std::move(path)] = std::move(r); }
  void gate(int batch) { batch_ = batch; }

  std::uint16_t port() const { return port_; }
  std::string host_port() const { return fmt::format("127.0.0.1:{}", port_); }
  std::string url(std::string_view path) const {
    return fmt::format("http://127.0.0.1:{}{}", port_, path);
  }
  int requests() const { return requests_.load(); }
  int max_in_flight() const { return max_in_flight_.load(); }

  // Waits until no connection is open any more; the body bytes all of them wrote.
  std::uint64_t streamed_once_closed() {
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(closed_.wait_for(lock, kBound, [&] { return open_ == 0; }));
    return streamed_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      {
        std::lock_guard lock(mutex_);
        ++open_;
      }
      asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    std::uint64_t sent = 0;
    co_await answer(socket, sent);
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    std::lock_guard lock(mutex_);
    streamed_ += sent;
    --open_;
    closed_.notify_all();
  }

  asio::awaitable<void> answer(tcp::socket& socket, std::uint64_t& sent) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    std::string buffer;
    auto [read_ec, head] =
        co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n", token);
    if (read_ec) co_return;
    const std::size_t start = buffer.find(' ') + 1;
    std::string path = buffer.substr(start, buffer.find(' ', start) - start);
    path = path.substr(0, path.find('?'));
    const auto it = routes_.find(path);
    const Route route = it == routes_.end() ? Route{Script::kNotFound, ""} : it->second;
    ++requests_;
    const int now = ++in_flight_;
    for (int seen = max_in_flight_.load();
         now > seen && !max_in_flight_.compare_exchange_weak(seen, now);) {
    }

    std::string reply;
    switch (route.script) {
      case Script::kImage:
      case Script::kGate:
        reply =
            "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 4\r\n"
            "Connection: close\r\n\r\nPNG!";
        break;
      case Script::kRedirect:
        reply = fmt::format(
            "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            route.location);
        break;
      case Script::kNotFound:
        reply = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        break;
      case Script::kHugeDeclared:
        reply = fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", kGiB);
        break;
      case Script::kChunkedForever:
        reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        break;
      case Script::kDrip:
        reply = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
        break;
      case Script::kHang:
        break;
    }
    if (route.script == Script::kGate) co_await wait_for_batch();
    --in_flight_;  // before any answer byte leaves: the client cannot have seen it end yet
    if (route.script == Script::kHang) {
      asio::steady_timer forever(socket.get_executor(), asio::steady_timer::time_point::max());
      co_await forever.async_wait(token);
      co_return;
    }
    auto [write_ec, n] = co_await asio::async_write(socket, asio::buffer(reply), token);
    if (write_ec) co_return;

    const std::string block(64 * 1024, 'x');
    const std::string chunk = fmt::format("{:x}\r\n{}\r\n", block.size(), block);
    asio::steady_timer drip(socket.get_executor());
    // Bounded even if the client never went away: a GiB, or 100 drops.
    for (int i = 0; sent < kGiB && i < 16384; ++i) {
      if (route.script == Script::kHugeDeclared || route.script == Script::kChunkedForever) {
        const std::string& piece = route.script == Script::kHugeDeclared ? block : chunk;
        auto [ec, written] = co_await asio::async_write(socket, asio::buffer(piece), token);
        if (ec) co_return;
        sent += block.size();
      } else if (route.script == Script::kDrip && i < 100) {
        drip.expires_after(1s);
        co_await drip.async_wait(token);
        auto [ec, written] = co_await asio::async_write(socket, asio::buffer("x", 1), token);
        if (ec) co_return;
        sent += 1;
      } else {
        co_return;
      }
    }
  }

  // kGate: every waiting request is answered once `batch_` of them wait at the same time.
  asio::awaitable<void> wait_for_batch() {
    const int generation = generation_;
    if (++waiting_ >= batch_) {
      waiting_ = 0;
      ++generation_;
      gate_.cancel();
      co_return;
    }
    while (generation == generation_) {
      co_await gate_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::uint16_t port_ = 0;
  std::map<std::string, Route> routes_;
  std::atomic<int> requests_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  // The gate, touched on the server's thread only.
  asio::steady_timer gate_{ioc_};
  int batch_ = 2;
  int waiting_ = 0;
  int generation_ = 0;
  std::mutex mutex_;
  std::condition_variable closed_;
  int open_ = 0;
  std::uint64_t streamed_ = 0;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------

class FetcherTest : public ::testing::Test {
 protected:
  FetcherTest() {
    server_.route("/img.png", {Script::kImage, ""});
    server_.route("/missing", {Script::kNotFound, ""});
  }

  // A fetcher allowed to reach the test server (its exact HOST:PORT), over http.
  std::unique_ptr<Fetcher> make(std::vector<std::string> allow = {}, bool allow_http = true,
                                FetcherOptions options = {}) {
    allow.push_back(server_.host_port());
    auto policy = UrlPolicy::create({.allow_http = allow_http, .allow = std::move(allow)});
    EXPECT_TRUE(policy) << policy.error().message;
    return std::make_unique<Fetcher>(client_, std::move(*policy), resolver_, options);
  }

  Result<Fetched> fetch(Fetcher& fetcher, std::string url, FetchLimits limits = {}) {
    return testing::run_awaitable(ioc_, fetcher.fetch(std::move(url), limits));
  }

  static void expect_error(const Result<Fetched>& r, ErrorKind kind, const std::string& message) {
    ASSERT_FALSE(r) << "fetched " << r->url;
    EXPECT_EQ(r.error().kind, kind) << r.error().to_string();
    EXPECT_EQ(r.error().message, message);
  }

  asio::io_context ioc_;
  HttpClient client_{ioc_.get_executor()};  // destroyed before ioc_
  ScriptServer server_;
  ScriptServer other_;  // a second loopback server nobody allowed
  TableResolver resolver_{{
      {"private.test", {asio::ip::make_address("10.0.0.1")}},
      {"mixed.test", {asio::ip::make_address("93.184.216.34"), asio::ip::make_address("10.0.0.1")}},
      {"mixed6.test",
       {asio::ip::make_address("2606:2800:220:1::1"), asio::ip::make_address("fd00::1")}},
      {"a.test", {asio::ip::make_address("127.0.0.1")}},
      {"b.test", {asio::ip::make_address("127.0.0.1")}},
  }};
};

TEST_F(FetcherTest, APlainFetchAnswersTheBodyTypeAndFinalUrl) {
  auto fetcher = make();
  auto r = fetch(*fetcher, server_.url("/img.png#frag"));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "PNG!");
  EXPECT_EQ(r->content_type, "image/png");
  EXPECT_EQ(r->url, server_.url("/img.png"));
}

TEST_F(FetcherTest, ANameIsPinnedToTheCheckedAddressesWithoutRealDns) {
  // a.test exists only in the TableResolver: curl can reach it only through CURLOPT_RESOLVE.
  auto fetcher = make({fmt::format("a.test:{}", server_.port())});
  auto r = fetch(*fetcher, fmt::format("http://A.Test:{}/img.png", server_.port()));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->body, "PNG!");
  EXPECT_EQ(r->url, fmt::format("http://a.test:{}/img.png", server_.port()));
}

TEST_F(FetcherTest, HttpIsRefusedUnlessAllowed) {
  auto fetcher = make({}, false);
  expect_error(fetch(*fetcher, server_.url("/img.png")), ErrorKind::kInvalidArgument,
               "only https URLs are allowed");
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(FetcherTest, A404IsNotFoundWithItsStatus) {
  auto fetcher = make();
  expect_error(fetch(*fetcher, server_.url("/missing")), ErrorKind::kNotFound,
               "the server answered HTTP 404");
}

TEST_F(FetcherTest, ARedirectToAnotherLoopbackPortIsRefused) {
  other_.route("/img.png", {Script::kImage, ""});
  server_.route("/to-other", {Script::kRedirect, other_.url("/img.png")});
  auto fetcher = make();
  expect_error(fetch(*fetcher, server_.url("/to-other")), ErrorKind::kPermissionDenied,
               "address not allowed");
  EXPECT_EQ(other_.requests(), 0);
}

TEST_F(FetcherTest, ARedirectToTheMetadataAddressIsRefused) {
  server_.route("/to-metadata",
                {Script::kRedirect, "http://169.254.169.254/latest/meta-data/iam/"});
  auto fetcher = make();
  expect_error(fetch(*fetcher, server_.url("/to-metadata")), ErrorKind::kPermissionDenied,
               "address not allowed");
}

TEST_F(FetcherTest, OtherSpellingsOfLoopbackAreRefused) {
  auto fetcher = make();
  for (const std::string& url : std::vector<std::string>{
           "http://[::ffff:127.0.0.1]/", "http://2130706433/", "http://0x7f.1/", "http://127.1/",
           fmt::format("http://[::ffff:127.0.0.1]:{}/img.png", server_.port()),
           fmt::format("http://[::1]:{}/img.png", server_.port())}) {
    expect_error(fetch(*fetcher, url), ErrorKind::kPermissionDenied, "address not allowed");
  }
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(FetcherTest, ANameResolvingIntoThePrivateNetworkIsRefused) {
  auto fetcher = make();
  expect_error(fetch(*fetcher, "http://private.test/"), ErrorKind::kPermissionDenied,
               "address not allowed");
  // One private address among public ones is enough: curl could pick any of them.
  expect_error(fetch(*fetcher, "http://mixed.test/"), ErrorKind::kPermissionDenied,
               "address not allowed");
  expect_error(fetch(*fetcher, "http://mixed6.test/"), ErrorKind::kPermissionDenied,
               "address not allowed");
  expect_error(fetch(*fetcher, "http://nowhere.test/"), ErrorKind::kUnavailable,
               "could not resolve nowhere.test");
}

TEST_F(FetcherTest, RelativeRedirectsAreFollowed) {
  server_.route("/a/b/start", {Script::kRedirect, "../../img.png?v=2#x"});
  auto fetcher = make();
  auto r = fetch(*fetcher, server_.url("/a/b/start"));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->body, "PNG!");
  EXPECT_EQ(r->url, server_.url("/img.png?v=2"));
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(FetcherTest, AnUnreadableLocationIsAnInvalidRedirect) {
  server_.route("/bad-location", {Script::kRedirect, "http://[::1"});
  auto fetcher = make();
  expect_error(fetch(*fetcher, server_.url("/bad-location")), ErrorKind::kUnavailable,
               "the server sent an invalid redirect");
}

TEST_F(FetcherTest, ThreeRedirectsAreFollowedAndFourAreTooMany) {
  server_.route("/r0", {Script::kImage, ""});
  for (int i = 1; i <= 4; ++i) {
    server_.route(fmt::format("/r{}", i), {Script::kRedirect, fmt::format("/r{}", i - 1)});
  }
  auto fetcher = make();
  auto three = fetch(*fetcher, server_.url("/r3"));
  ASSERT_TRUE(three) << three.error().to_string();
  EXPECT_EQ(three->url, server_.url("/r0"));
  expect_error(fetch(*fetcher, server_.url("/r4")), ErrorKind::kInvalidArgument,
               "too many redirects");
}

TEST_F(FetcherTest, ADeclaredGibibyteIsRefusedAtTheDefaultCap) {
  server_.route("/huge", {Script::kHugeDeclared, ""});
  auto fetcher = make();
  expect_error(fetch(*fetcher, server_.url("/huge")), ErrorKind::kResourceExhausted,
               "larger than 25 MiB");
  EXPECT_LT(server_.streamed_once_closed(), 64u * 1024 * 1024);
}

TEST_F(FetcherTest, AnEndlessChunkedBodyIsCutAtTheCapWithoutBufferingIt) {
  server_.route("/endless", {Script::kChunkedForever, ""});
  auto fetcher = make();
  FetchLimits limits;
  limits.max_bytes = 1024 * 1024;
  expect_error(fetch(*fetcher, server_.url("/endless"), limits), ErrorKind::kResourceExhausted,
               "larger than 1 MiB");
  // What the server got into the socket before the client closed it: the cap plus the kernel's
  // buffers, nowhere near the GiB it would have sent.
  const auto streamed = server_.streamed_once_closed();
  EXPECT_GE(streamed, limits.max_bytes / 2);
  EXPECT_LT(streamed, 64u * 1024 * 1024);
}

TEST_F(FetcherTest, ADrippingServerIsStoppedByTheLowSpeedLimit) {
  server_.route("/drip", {Script::kDrip, ""});
  auto fetcher = make();
  FetchLimits limits;
  limits.low_speed_bytes = 1024;
  limits.low_speed_time = 1s;
  limits.timeout = 60s;  // the whole deadline would say "took more than 60 s to download"
  expect_error(fetch(*fetcher, server_.url("/drip"), limits), ErrorKind::kDeadlineExceeded,
               "too slow to download");
}

TEST_F(FetcherTest, TheWholeDeadlineCoversEveryHop) {
  server_.route("/hang", {Script::kHang, ""});
  server_.route("/to-hang", {Script::kRedirect, "/hang"});
  auto fetcher = make();
  FetchLimits limits;
  limits.timeout = 300ms;
  limits.low_speed_bytes = 0;
  expect_error(fetch(*fetcher, server_.url("/to-hang"), limits), ErrorKind::kDeadlineExceeded,
               "took more than 300 ms to download");
}

// Three fetches concurrently, from a coroutine each, into `out`.
asio::awaitable<void> fetch_into(Fetcher* fetcher, std::string url, Result<Fetched>* out) {
  *out = co_await fetcher->fetch(std::move(url));
}

TEST_F(FetcherTest, DownloadsPerHostAreCapped) {
  server_.route("/gate", {Script::kGate, ""});
  server_.gate(2);  // answers in pairs: four requests are two pairs when at most two run at once
  auto fetcher = make({}, true, {.max_per_host = 2});
  std::vector<Result<Fetched>> results(4, fail(ErrorKind::kInternal, "not run"));
  for (auto& r : results) {
    asio::co_spawn(ioc_, fetch_into(fetcher.get(), server_.url("/gate"), &r), asio::detached);
  }
  ioc_.run();
  for (const auto& r : results) EXPECT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(server_.requests(), 4);
  EXPECT_EQ(server_.max_in_flight(), 2);
}

TEST_F(FetcherTest, TheCapIsPerHost) {
  // One slot per host, and the server answers only once two requests wait: a.test and b.test
  // must be fetched at the same time.
  server_.route("/gate", {Script::kGate, ""});
  server_.gate(2);
  auto fetcher =
      make({fmt::format("a.test:{}", server_.port()), fmt::format("b.test:{}", server_.port())},
           true, {.max_per_host = 1});
  Result<Fetched> a = fail(ErrorKind::kInternal, "not run");
  Result<Fetched> b = fail(ErrorKind::kInternal, "not run");
  asio::co_spawn(
      ioc_, fetch_into(fetcher.get(), fmt::format("http://a.test:{}/gate", server_.port()), &a),
      asio::detached);
  asio::co_spawn(
      ioc_, fetch_into(fetcher.get(), fmt::format("http://b.test:{}/gate", server_.port()), &b),
      asio::detached);
  ioc_.run();
  EXPECT_TRUE(a) << a.error().to_string();
  EXPECT_TRUE(b) << b.error().to_string();
}

// ---------------------------------------------------------------------------------------------
// The connect check, below the pinning: what happens when curl reaches for an address on its own.

TEST_F(FetcherTest, TheConnectCheckRefusesWhatThePolicyRefusesWhateverCurlResolved) {
  // A policy that never heard of the server: loopback is blocked.
  auto strict = UrlPolicy::create({.allow_http = true});
  ASSERT_TRUE(strict);
  ClientRequest request;
  request.url = server_.url("/img.png");  // an IP literal: curl resolves nothing, no pin
  request.use_env_proxy = false;
  request.allow_connect = [&](const sockaddr* a, socklen_t n) {
    return strict->check_socket_address(a, n, "127.0.0.1").has_value();
  };
  auto refused = testing::run_awaitable(ioc_, client_.send(request));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(server_.requests(), 0);

  // A pin that names a host curl then connects to on our word alone; the check still decides.
  request.url = fmt::format("http://rebound.test:{}/img.png", server_.port());
  request.resolve = {fmt::format("rebound.test:{}:127.0.0.1", server_.port())};
  request.allow_connect = [&](const sockaddr* a, socklen_t n) {
    return strict->check_socket_address(a, n, "rebound.test").has_value();
  };
  auto rebound = testing::run_awaitable(ioc_, client_.send(request));
  ASSERT_FALSE(rebound);
  EXPECT_EQ(server_.requests(), 0);

  // The same pin with a policy allowing exactly that host and port goes through.
  auto allowed = UrlPolicy::create(
      {.allow_http = true, .allow = {fmt::format("rebound.test:{}", server_.port())}});
  ASSERT_TRUE(allowed);
  request.allow_connect = [&](const sockaddr* a, socklen_t n) {
    return allowed->check_socket_address(a, n, "rebound.test").has_value();
  };
  auto through = testing::run_awaitable(ioc_, client_.send(request));
  ASSERT_TRUE(through) << through.error().to_string();
  EXPECT_EQ(through->body, "PNG!");
}

TEST(DescribeSize, ReadsAsUsersExpect) {
  EXPECT_EQ(describe_size(25 * 1024 * 1024), "25 MiB");
  EXPECT_EQ(describe_size(512 * 1024), "512 KiB");
  EXPECT_EQ(describe_size(1000), "1000 bytes");
  EXPECT_EQ(describe_size(1024 * 1024 + 1), "1048577 bytes");
}

}  // namespace
}  // namespace mando::net
