#include "net/http_client.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
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
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

namespace mando::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kBound = std::chrono::seconds(10);  // upper bound for anything a test waits on

// ---------------------------------------------------------------------------------------------
// A loopback HTTP/1.1 server on its own thread and io_context. Each test hands it a behaviour:
// a function from the parsed request to the raw bytes to answer with, so tests can send exactly
// what they need (chunked bodies, redirects, oversized bodies, no answer at all).

struct ServerRequest {
  int connection = 0;  // 1-based accept number: equal numbers mean the same TCP connection
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
};

struct Reply {
  std::string bytes;  // written as is
  bool hang = false;  // answer nothing, keep the connection open
};

using Behaviour = std::function<Reply(const ServerRequest&)>;

std::string response(int status, std::string_view body, std::string_view extra_headers = {}) {
  return fmt::format("HTTP/1.1 {} Whatever\r\nContent-Length: {}\r\n{}\r\n{}", status, body.size(),
                     extra_headers, body);
}

std::string chunked_response(std::size_t total, std::size_t chunk) {
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t sent = 0; sent < total; sent += chunk) {
    const std::size_t n = std::min(chunk, total - sent);
    out += fmt::format("{:x}\r\n", n);
    out.append(n, 'x');
    out += "\r\n";
  }
  out += "0\r\n\r\n";
  return out;
}

class TestServer {
 public:
  explicit TestServer(Behaviour behaviour) : behaviour_(std::move(behaviour)) {
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TestServer() {
    ioc_.stop();
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::string url(std::string_view target) const {
    return fmt::format("http://127.0.0.1:{}{}", port_, target);
  }
  int accepts() const { return accepts_.load(); }
  std::vector<ServerRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  bool wait_for_requests(std::size_t n) {
    std::unique_lock lock(mutex_);
    return seen_.wait_for(lock, kBound, [&] { return requests_.size() >= n; });
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(ioc_, session(std::move(socket), ++accepts_), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket, int connection) {
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    std::string buffer;
    for (;;) {
      auto [ec, head_size] =
          co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n", token);
      if (ec) co_return;
      ServerRequest request = parse_head(std::string_view(buffer).substr(0, head_size));
      request.connection = connection;
      buffer.erase(0, head_size);
      std::size_t length = 0;
      if (auto cl = request.headers.get("Content-Length")) length = std::stoul(std::string(*cl));
      if (buffer.size() < length) {
        auto [read_ec, n] =
            co_await asio::async_read(socket, asio::dynamic_buffer(buffer),
                                      asio::transfer_exactly(length - buffer.size()), token);
        if (read_ec) co_return;
      }
      request.body = buffer.substr(0, length);
      buffer.erase(0, length);

      Reply reply = behaviour_(request);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(request));
      }
      seen_.notify_all();
      if (reply.hang) continue;  // the next read ends when the client gives up and closes
      auto [write_ec, n] = co_await asio::async_write(socket, asio::buffer(reply.bytes), token);
      if (write_ec) co_return;
    }
  }

  static ServerRequest parse_head(std::string_view head) {
    ServerRequest request;
    auto next_line = [&] {
      const auto end = head.find("\r\n");
      std::string_view line = head.substr(0, end);
      head.remove_prefix(end == std::string_view::npos ? head.size() : end + 2);
      return line;
    };
    std::string_view start = next_line();
    request.method = std::string(start.substr(0, start.find(' ')));
    start.remove_prefix(request.method.size() + 1);
    request.target = std::string(start.substr(0, start.find(' ')));
    for (std::string_view line = next_line(); !line.empty(); line = next_line()) {
      const auto colon = line.find(':');
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      request.headers.add(line.substr(0, colon), value);
    }
    return request;
  }

  Behaviour behaviour_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::uint16_t port_ = 0;
  std::atomic<int> accepts_{0};
  mutable std::mutex mutex_;
  std::condition_variable seen_;
  std::vector<ServerRequest> requests_;
  std::thread thread_;
};

// A port nothing listens on: bound once by us, then closed.
std::uint16_t closed_port() {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

struct MultipartPiece {
  std::string headers;
  std::string data;
};

// Splits a multipart/form-data body at the boundary named in `content_type`.
std::vector<MultipartPiece> parse_multipart(std::string_view content_type, std::string_view body) {
  std::vector<MultipartPiece> pieces;
  const auto at = content_type.find("boundary=");
  if (at == std::string_view::npos) return pieces;
  std::string_view boundary = content_type.substr(at + 9);
  if (boundary.size() >= 2 && boundary.front() == '"')
    boundary = boundary.substr(1, boundary.size() - 2);
  const std::string delimiter = fmt::format("--{}", boundary);
  const std::string separator = "\r\n" + delimiter;
  std::size_t pos = body.find(delimiter);
  while (pos != std::string_view::npos) {
    pos += delimiter.size();
    if (body.substr(pos, 2) != "\r\n") break;  // "--": the closing delimiter
    pos += 2;
    const std::size_t end = body.find(separator, pos);
    if (end == std::string_view::npos) break;
    std::string_view piece = body.substr(pos, end - pos);
    const std::size_t split = piece.find("\r\n\r\n");
    if (split == std::string_view::npos) break;
    pieces.push_back({std::string(piece.substr(0, split)), std::string(piece.substr(split + 4))});
    pos = end + 2;
  }
  return pieces;
}

std::string binary_bytes() {
  std::string bytes("a\0b\0\0c", 6);
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  bytes += std::string(3000, '\0');  // past curl's 1 KiB "Expect: 100-continue" threshold
  return bytes;
}

MultipartPart part(std::string name, std::string data, std::string filename = {},
                   std::string content_type = {}) {
  MultipartPart p;
  p.name = std::move(name);
  p.data = std::move(data);
  p.filename = std::move(filename);
  p.content_type = std::move(content_type);
  return p;
}

HttpClientOptions options_with(const std::function<void(HttpClientOptions&)>& edit) {
  HttpClientOptions options;
  edit(options);
  return options;
}

// ---------------------------------------------------------------------------------------------

class HttpClientTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // The posted shutdown must leave no work behind: run() returns once it has run.
    client_.reset();
    ioc_.restart();
    ioc_.run_for(kBound);
    EXPECT_TRUE(ioc_.stopped()) << "the client left work on the io_context after shutdown";
  }

  void start_server(Behaviour behaviour) {
    server_ = std::make_unique<TestServer>(std::move(behaviour));
  }

  ClientRequest get(std::string_view target) {
    ClientRequest request;
    request.url = server_->url(target);
    return request;
  }

  // Runs the test io_context until `done` or kBound.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kBound;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      if (ioc_.stopped()) ioc_.restart();
      if (ioc_.run_one_until(deadline) == 0 && ioc_.stopped()) break;
    }
    return done();
  }

  Result<ClientResponse> fetch(ClientRequest request) {
    return fetch_with(*client_, std::move(request));
  }

  Result<ClientResponse> fetch_with(HttpClient& client, ClientRequest request) {
    std::optional<Result<ClientResponse>> result;
    asio::co_spawn(ioc_, client.send(std::move(request)),
                   [&result](std::exception_ptr e, Result<ClientResponse> r) {
                     if (e) std::rethrow_exception(e);
                     result = std::move(r);
                   });
    if (!run_until([&] { return result.has_value(); })) {
      return fail(ErrorKind::kInternal, "test: the request did not complete in time");
    }
    return std::move(*result);
  }

  asio::io_context ioc_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_ = std::make_unique<HttpClient>(ioc_.get_executor());
};

TEST_F(HttpClientTest, GetRoundTripsStatusHeadersAndBody) {
  start_server([](const ServerRequest&) {
    return Reply{response(203, "hello", "X-Answer: 42\r\nX-Multi: a\r\nX-Multi: b\r\n")};
  });
  ClientRequest request = get("/hello?name=world");
  request.headers.set("X-Request", "abc");

  auto result = fetch(std::move(request));

  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(result->status, 203);
  EXPECT_EQ(result->body, "hello");
  EXPECT_EQ(result->headers.get("x-answer"), "42");
  int multi = 0;
  for (const auto& [name, value] : result->headers.fields()) multi += name == "X-Multi";
  EXPECT_EQ(multi, 2);
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/hello?name=world");
  EXPECT_EQ(requests[0].headers.get("X-Request"), "abc");
  EXPECT_EQ(requests[0].headers.get("User-Agent"), "mando/" MANDO_VERSION);
}

TEST_F(HttpClientTest, RequestUserAgentOverridesTheDefault) {
  start_server([](const ServerRequest&) { return Reply{response(200, "")}; });
  client_ = std::make_unique<HttpClient>(
      ioc_.get_executor(),
      options_with([](HttpClientOptions& o) { o.user_agent = "configured/1"; }));
  ClientRequest plain = get("/");
  ClientRequest custom = get("/");
  custom.headers.set("User-Agent", "custom/2");

  ASSERT_TRUE(fetch(std::move(plain)));
  ASSERT_TRUE(fetch(std::move(custom)));

  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].headers.get("User-Agent"), "configured/1");
  EXPECT_EQ(requests[1].headers.get("User-Agent"), "custom/2");
}

TEST_F(HttpClientTest, PostBodyWithNulBytesArrivesIntact) {
  start_server([](const ServerRequest&) { return Reply{response(201, "created")}; });
  ClientRequest request = get("/upload");
  request.method = "POST";
  request.body = binary_bytes();
  request.headers.set("Content-Type", "application/octet-stream");

  auto result = fetch(request);

  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(result->status, 201);
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].body, request.body);
  EXPECT_EQ(requests[0].headers.get("Content-Type"), "application/octet-stream");
  EXPECT_FALSE(requests[0].headers.contains("Expect"));
}

TEST_F(HttpClientTest, BodylessPutSendsContentLengthZeroAndNoContentType) {
  start_server([](const ServerRequest&) { return Reply{response(204, "")}; });
  ClientRequest request = get("/reaction");
  request.method = "PUT";

  auto result = fetch(std::move(request));

  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(result->status, 204);
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].headers.get("Content-Length"), "0");
  EXPECT_FALSE(requests[0].headers.contains("Content-Type"));
}

TEST_F(HttpClientTest, CustomMethodIsSent) {
  start_server([](const ServerRequest&) { return Reply{response(204, "")}; });
  ClientRequest request = get("/message/1");
  request.method = "DELETE";

  auto result = fetch(std::move(request));

  ASSERT_TRUE(result) << result.error().to_string();
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "DELETE");
  EXPECT_TRUE(requests[0].body.empty());
}

TEST_F(HttpClientTest, HeadReturnsHeadersWithoutBodyAndIgnoresTheCap) {
  start_server([](const ServerRequest&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n"};
  });
  ClientRequest request = get("/big");
  request.method = "HEAD";
  request.max_response_bytes = 1024;

  auto result = fetch(std::move(request));

  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->headers.get("Content-Length"), "5000000");
  EXPECT_TRUE(result->body.empty());
  EXPECT_EQ(server_->requests().at(0).method, "HEAD");
}

TEST_F(HttpClientTest, SequentialRequestsReuseOneConnection) {
  start_server([](const ServerRequest& r) { return Reply{response(200, r.target)}; });

  auto first = fetch(get("/one"));
  auto second = fetch(get("/two"));

  ASSERT_TRUE(first) << first.error().to_string();
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_EQ(first->body, "/one");
  EXPECT_EQ(second->body, "/two");
  EXPECT_EQ(server_->accepts(), 1);
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].connection, requests[1].connection);
}

TEST_F(HttpClientTest, TotalTimeoutWhenTheServerNeverAnswers) {
  start_server([](const ServerRequest&) { return Reply{.bytes = {}, .hang = true}; });
  ClientRequest request = get("/slow");
  request.timeout = 200ms;

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kDeadlineExceeded) << result.error().to_string();
  EXPECT_NE(result.error().message.find("timed out after 200 ms"), std::string::npos)
      << result.error().message;
  EXPECT_EQ(server_->requests().size(), 1u);
}

TEST_F(HttpClientTest, ConnectionRefusedIsUnavailable) {
  ClientRequest request;
  request.url = fmt::format("http://127.0.0.1:{}/", closed_port());

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable) << result.error().to_string();
}

TEST_F(HttpClientTest, ErrorMessagesLeaveOutQueryAndUserInfo) {
  ClientRequest request;
  request.url =
      fmt::format("http://user:hunter2@127.0.0.1:{}/webhooks/1?token=s3cret#frag", closed_port());

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  const std::string& message = result.error().message;
  EXPECT_NE(message.find("GET http://127.0.0.1:"), std::string::npos) << message;
  EXPECT_NE(message.find("/webhooks/1"), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
}

TEST_F(HttpClientTest, ResponseOverTheCapWithContentLengthIsResourceExhausted) {
  start_server(
      [](const ServerRequest&) { return Reply{response(200, std::string(2 << 20, 'x'))}; });
  ClientRequest request = get("/big");
  request.max_response_bytes = 1 << 20;

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kResourceExhausted) << result.error().to_string();
  EXPECT_NE(result.error().message.find("1048576"), std::string::npos) << result.error().message;
}

TEST_F(HttpClientTest, ChunkedResponseOverTheCapIsResourceExhausted) {
  start_server([](const ServerRequest&) { return Reply{chunked_response(2 << 20, 64 * 1024)}; });
  ClientRequest request = get("/big");
  request.max_response_bytes = 1 << 20;

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kResourceExhausted) << result.error().to_string();
  EXPECT_NE(result.error().message.find("1048576"), std::string::npos) << result.error().message;
}

TEST_F(HttpClientTest, ChunkedResponseExactlyAtTheCapSucceeds) {
  start_server([](const ServerRequest&) { return Reply{chunked_response(1 << 20, 10000)}; });
  ClientRequest request = get("/exact");
  request.max_response_bytes = 1 << 20;

  auto result = fetch(std::move(request));

  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(result->body.size(), std::size_t{1} << 20);
}

TEST_F(HttpClientTest, RedirectIsReturnedAsIsByDefault) {
  start_server(
      [](const ServerRequest&) { return Reply{response(302, "moved", "Location: /final\r\n")}; });

  auto result = fetch(get("/start"));

  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(result->status, 302);
  EXPECT_EQ(result->headers.get("Location"), "/final");
  EXPECT_EQ(result->body, "moved");
  EXPECT_EQ(server_->requests().size(), 1u);
}

TEST_F(HttpClientTest, RedirectIsFollowedWhenAllowedAndOnlyFinalHeadersAreKept) {
  start_server([](const ServerRequest& r) {
    if (r.target == "/start")
      return Reply{response(302, "moved", "Location: /final\r\nX-Hop: 1\r\n")};
    return Reply{response(200, "done", "X-Final: yes\r\n")};
  });
  ClientRequest request = get("/start");
  request.max_redirects = 3;

  auto result = fetch(std::move(request));

  ASSERT_TRUE(result) << result.error().to_string();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "done");
  EXPECT_EQ(result->headers.get("X-Final"), "yes");
  EXPECT_FALSE(result->headers.contains("Location"));
  EXPECT_FALSE(result->headers.contains("X-Hop"));
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].target, "/final");
}

TEST_F(HttpClientTest, TooManyRedirectsIsUnavailable) {
  start_server(
      [](const ServerRequest&) { return Reply{response(302, "", "Location: /again\r\n")}; });
  ClientRequest request = get("/again");
  request.max_redirects = 2;

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable) << result.error().to_string();
}

TEST_F(HttpClientTest, RedirectToAnotherSchemeIsRefused) {
  start_server([](const ServerRequest&) {
    return Reply{response(302, "", "Location: file:///etc/passwd\r\n")};
  });
  ClientRequest request = get("/start");
  request.max_redirects = 3;

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument) << result.error().to_string();
}

TEST_F(HttpClientTest, MultipartBodyArrivesAsFormData) {
  start_server([](const ServerRequest&) { return Reply{response(200, "ok")}; });
  ClientRequest request = get("/webhooks/1/2");
  request.method = "POST";
  const std::string image = binary_bytes();
  request.multipart = {
      part("payload_json", R"({"content":"hi"})", "", "application/json"),
      part("files[0]", image, "cat.png", "image/png"),
  };

  auto result = fetch(request);

  ASSERT_TRUE(result) << result.error().to_string();
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  const ServerRequest& got = requests[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_FALSE(got.headers.contains("Expect"));
  const std::string content_type(got.headers.get("Content-Type").value_or(""));
  ASSERT_TRUE(content_type.starts_with("multipart/form-data; boundary=")) << content_type;
  auto pieces = parse_multipart(content_type, got.body);
  ASSERT_EQ(pieces.size(), 2u) << got.body.substr(0, 500);
  EXPECT_NE(pieces[0].headers.find(R"(Content-Disposition: form-data; name="payload_json")"),
            std::string::npos)
      << pieces[0].headers;
  EXPECT_NE(pieces[0].headers.find("Content-Type: application/json"), std::string::npos)
      << pieces[0].headers;
  EXPECT_EQ(pieces[0].data, R"({"content":"hi"})");
  EXPECT_NE(pieces[1].headers.find(
                R"(Content-Disposition: form-data; name="files[0]"; filename="cat.png")"),
            std::string::npos)
      << pieces[1].headers;
  EXPECT_NE(pieces[1].headers.find("Content-Type: image/png"), std::string::npos)
      << pieces[1].headers;
  EXPECT_EQ(pieces[1].data, image);
}

TEST_F(HttpClientTest, BodyAndMultipartTogetherAreInvalid) {
  ClientRequest request;
  request.method = "POST";
  request.url = "http://127.0.0.1:9/";
  request.body = "x";
  request.multipart = {part("a", "b")};

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument) << result.error().to_string();
}

TEST_F(HttpClientTest, HeaderValueWithLineBreakIsInvalid) {
  ClientRequest request;
  request.url = "http://127.0.0.1:9/";
  request.headers.set("X-Evil", "a\r\nInjected: yes");

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument) << result.error().to_string();
}

TEST_F(HttpClientTest, UnsupportedSchemeIsInvalidArgument) {
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"}) {
    ClientRequest request;
    request.url = url;

    auto result = fetch(std::move(request));

    ASSERT_FALSE(result) << url;
    EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument) << result.error().to_string();
  }
}

TEST_F(HttpClientTest, MalformedUrlIsInvalidArgument) {
  ClientRequest request;
  request.url = "http://[::1/";

  auto result = fetch(std::move(request));

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument) << result.error().to_string();
}

TEST_F(HttpClientTest, ManyConcurrentRequestsAllComplete) {
  start_server([](const ServerRequest& r) { return Reply{response(200, r.target)}; });
  constexpr int kRequests = 50;
  std::vector<std::optional<Result<ClientResponse>>> results(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    asio::co_spawn(ioc_, client_->send(get(fmt::format("/r/{}", i))),
                   [&results, i](std::exception_ptr e, Result<ClientResponse> r) {
                     if (e) std::rethrow_exception(e);
                     results[i] = std::move(r);
                   });
  }

  ASSERT_TRUE(run_until([&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
  }));

  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(*results[i]) << results[i]->error().to_string();
    EXPECT_EQ((*results[i])->body, fmt::format("/r/{}", i));
  }
}

TEST_F(HttpClientTest, MaxConnectionsPerHostQueuesTransfers) {
  start_server([](const ServerRequest& r) { return Reply{response(200, r.target)}; });
  client_ = std::make_unique<HttpClient>(
      ioc_.get_executor(),
      options_with([](HttpClientOptions& o) { o.max_connections_per_host = 1; }));
  constexpr int kRequests = 8;
  int ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    asio::co_spawn(ioc_, client_->send(get("/")),
                   [&ok](std::exception_ptr e, Result<ClientResponse> r) {
                     if (e) std::rethrow_exception(e);
                     ok += r.has_value() && r->status == 200;
                   });
  }

  ASSERT_TRUE(run_until([&] { return ok == kRequests; }));
  EXPECT_EQ(server_->accepts(), 1);
}

// A transfer waiting for a connection to its host has its timeout running: when the slot frees
// after that, it fails without being sent. Another host is not held up.
TEST_F(HttpClientTest, ATransferWaitingForAConnectionTimesOutWithoutBeingSent) {
  start_server([](const ServerRequest& r) {
    if (r.target == "/slow") return Reply{.bytes = {}, .hang = true};
    return Reply{response(200, "fast")};
  });
  client_ = std::make_unique<HttpClient>(
      ioc_.get_executor(),
      options_with([](HttpClientOptions& o) { o.max_connections_per_host = 1; }));
  std::optional<Result<ClientResponse>> slow;
  std::optional<Result<ClientResponse>> queued;
  std::optional<Result<ClientResponse>> other_host;
  auto record = [](std::optional<Result<ClientResponse>>* into) {
    return [into](std::exception_ptr e, Result<ClientResponse> r) {
      if (e) std::rethrow_exception(e);
      *into = std::move(r);
    };
  };
  ClientRequest first = get("/slow");
  first.timeout = 300ms;
  ClientRequest second = get("/queued");
  second.timeout = 50ms;  // shorter than the first's: over by the time the slot frees
  ClientRequest third = get("/other");
  third.url = fmt::format("http://localhost:{}/other", server_->url("").substr(17));
  asio::co_spawn(ioc_, client_->send(std::move(first)), record(&slow));
  asio::co_spawn(ioc_, client_->send(std::move(second)), record(&queued));
  asio::co_spawn(ioc_, client_->send(std::move(third)), record(&other_host));

  ASSERT_TRUE(run_until([&] { return slow && queued && other_host; }));
  ASSERT_TRUE(*other_host) << (*other_host).error().to_string();  // localhost: its own slot
  EXPECT_EQ((*other_host)->body, "fast");
  ASSERT_FALSE(*slow);
  EXPECT_EQ(slow->error().kind, ErrorKind::kDeadlineExceeded);
  ASSERT_FALSE(*queued);
  EXPECT_EQ(queued->error().kind, ErrorKind::kDeadlineExceeded);
  EXPECT_NE(queued->error().message.find("waiting for a connection"), std::string::npos)
      << queued->error().message;
  for (const auto& request : server_->requests()) EXPECT_NE(request.target, "/queued");
}

TEST_F(HttpClientTest, DestroyingTheClientCompletesWaitingTransfersWithUnavailable) {
  start_server([](const ServerRequest&) { return Reply{.bytes = {}, .hang = true}; });
  client_ = std::make_unique<HttpClient>(
      ioc_.get_executor(),
      options_with([](HttpClientOptions& o) { o.max_connections_per_host = 1; }));
  constexpr int kRequests = 3;
  int unavailable = 0;  // written on the io_context's thread only
  int done = 0;
  std::promise<void> all_done;
  for (int i = 0; i < kRequests; ++i) {
    ClientRequest request = get("/never");
    request.timeout = 30s;
    asio::co_spawn(ioc_, client_->send(std::move(request)),
                   [&](std::exception_ptr e, Result<ClientResponse> r) {
                     if (e) std::rethrow_exception(e);
                     unavailable += !r && r.error().kind == ErrorKind::kUnavailable;
                     if (++done == kRequests) all_done.set_value();
                   });
  }
  std::thread runner([this] { ioc_.run(); });
  ASSERT_TRUE(server_->wait_for_requests(1));
  client_.reset();  // one request sent, two waiting for the connection
  const bool ready = all_done.get_future().wait_for(kBound) == std::future_status::ready;
  ioc_.stop();
  runner.join();
  ASSERT_TRUE(ready);
  EXPECT_EQ(unavailable, kRequests);
}

TEST_F(HttpClientTest, WorksFromAThreadPoolWithTwoThreads) {
  start_server([](const ServerRequest& r) { return Reply{response(200, r.target)}; });
  asio::thread_pool pool(2);
  {
    HttpClient client(pool.get_executor());
    std::vector<std::future<Result<ClientResponse>>> futures;
    for (int i = 0; i < 4; ++i) {
      futures.push_back(
          asio::co_spawn(pool, client.send(get(fmt::format("/p/{}", i))), asio::use_future));
    }
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(futures[i].wait_for(kBound), std::future_status::ready);
      auto result = futures[i].get();
      ASSERT_TRUE(result) << result.error().to_string();
      EXPECT_EQ(result->body, fmt::format("/p/{}", i));
    }
  }
  pool.join();  // returns only if the client's shutdown left no work behind
}

TEST_F(HttpClientTest, DestroyingTheClientCompletesPendingRequestsWithUnavailable) {
  start_server([](const ServerRequest&) { return Reply{.bytes = {}, .hang = true}; });
  ClientRequest request = get("/never");
  request.timeout = 30s;
  std::promise<Result<ClientResponse>> promise;
  auto future = promise.get_future();
  asio::co_spawn(ioc_, client_->send(std::move(request)),
                 [&promise](std::exception_ptr e, Result<ClientResponse> r) {
                   if (e) std::rethrow_exception(e);
                   promise.set_value(std::move(r));
                 });
  std::thread runner([this] { ioc_.run(); });

  ASSERT_TRUE(server_->wait_for_requests(1));
  client_.reset();  // from another thread while the io_context runs
  const bool ready = future.wait_for(kBound) == std::future_status::ready;
  if (!ready) ioc_.stop();
  runner.join();

  ASSERT_TRUE(ready);
  auto result = future.get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable) << result.error().to_string();
}

// curl's timeouts (connect, total) are waits on a timer; once the last transfer is done none
// may remain, or an io_context run to completion would wait for the longest of them.
TEST_F(HttpClientTest, AnIdleClientLeavesItsContextNoWork) {
  start_server([](const ServerRequest&) { return Reply{response(200, "ok")}; });
  asio::io_context ioc;
  HttpClient client(ioc.get_executor());
  std::optional<Result<ClientResponse>> result;
  ClientRequest request = get("/once");
  request.timeout = std::chrono::hours(1);
  request.connect_timeout = std::chrono::hours(1);
  asio::co_spawn(
      ioc, client.send(std::move(request)),
      [&result](std::exception_ptr, Result<ClientResponse> r) { result = std::move(r); });
  // Returns as soon as no work is left; the bound only keeps a regression from hanging.
  ioc.run_for(kBound);
  EXPECT_TRUE(ioc.stopped()) << "work remained after the transfer completed";
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(*result) << result->error().to_string();
  EXPECT_EQ((*result)->status, 200);
}

TEST_F(HttpClientTest, DestroyingClientAndContextWithAPendingRequestIsClean) {
  start_server([](const ServerRequest&) { return Reply{.bytes = {}, .hang = true}; });
  bool completed = false;
  {
    asio::io_context ioc;
    auto client = std::make_unique<HttpClient>(ioc.get_executor());
    ClientRequest request = get("/never");
    asio::co_spawn(ioc, client->send(std::move(request)),
                   [&completed](std::exception_ptr, Result<ClientResponse>) { completed = true; });
    std::thread runner([&ioc] { ioc.run(); });
    const bool seen = server_->wait_for_requests(1);
    ioc.stop();
    runner.join();
    ASSERT_TRUE(seen);
    // The posted shutdown never runs: ~io_context destroys it, and ~Impl cleans up instead.
    client.reset();
  }
  EXPECT_FALSE(completed);
}

}  // namespace
}  // namespace mando::net
