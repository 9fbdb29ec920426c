#include "support/raw_http.hpp"

#include <array>
#include <cerrno>
#include <functional>
#include <stdexcept>
#include <system_error>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace mando::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

using Parser = http::response_parser<http::string_body>;

// Responses of tests are small; the limit only stops a runaway server.
constexpr std::uint64_t kBodyLimit = 64 * 1024 * 1024;

RawResponse to_raw(Parser& parser) {
  auto msg = parser.release();
  RawResponse r;
  r.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg) r.headers.add(f.name_string(), f.value());
  r.body = std::move(msg.body());
  r.keep_alive = msg.keep_alive();
  return r;
}

}  // namespace

struct RawConnection::State {
  asio::io_context ioc;
  tcp::socket socket{ioc};
  boost::beast::flat_buffer buffer;
  std::chrono::milliseconds timeout;

  // Runs the io_context until `done` or the timeout; cancels the socket on timeout.
  template <typename Done>
  bool run(Done&& done) {
    ioc.restart();
    ioc.run_for(timeout);
    if (!done()) {
      socket.cancel();
      ioc.restart();
      ioc.run();
      return false;
    }
    return true;
  }
};

RawConnection::RawConnection(std::uint16_t port, std::chrono::milliseconds timeout)
    : state_(std::make_unique<State>()) {
  state_->timeout = timeout;
  state_->socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
}

RawConnection::~RawConnection() = default;

void RawConnection::send(std::string_view bytes) {
  boost::system::error_code ec;
  asio::write(state_->socket, asio::buffer(bytes.data(), bytes.size()), ec);
}

std::optional<RawResponse> RawConnection::read_response(bool head) {
  Parser parser;
  parser.body_limit(kBodyLimit);
  parser.skip(head);
  bool finished = false;
  boost::system::error_code result;
  http::async_read(state_->socket, state_->buffer, parser,
                   [&](boost::system::error_code ec, std::size_t) {
                     finished = true;
                     result = ec;
                   });
  if (!state_->run([&] { return finished; }) || result) return std::nullopt;
  return to_raw(parser);
}

bool RawConnection::wait_closed(std::string* received) {
  std::string got(static_cast<const char*>(state_->buffer.data().data()), state_->buffer.size());
  std::array<char, 4096> chunk;
  bool closed = false;
  std::function<void(boost::system::error_code, std::size_t)> on_read =
      [&](boost::system::error_code ec, std::size_t n) {
        got.append(chunk.data(), n);
        if (ec) {
          closed = ec != asio::error::operation_aborted;
          return;
        }
        state_->socket.async_read_some(asio::buffer(chunk), on_read);
      };
  state_->socket.async_read_some(asio::buffer(chunk), on_read);
  bool done = state_->run([&] { return closed; });
  if (received != nullptr) *received = got;
  return done;
}

PlainSocket::PlainSocket(std::uint16_t port, std::chrono::milliseconds timeout)
    : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // also bounds connect()
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::system_error(error, std::generic_category(), "connect");
  }
}

PlainSocket::~PlainSocket() { ::close(fd_); }

int PlainSocket::send_all(std::string_view bytes, std::size_t* sent) {
  while (!bytes.empty()) {
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    bytes.remove_prefix(static_cast<std::size_t>(n));
    if (sent != nullptr) *sent += static_cast<std::size_t>(n);
  }
  return 0;
}

std::optional<RawResponse> PlainSocket::read_response() {
  Parser parser;
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  for (;;) {
    if (!pending_.empty()) {
      boost::system::error_code ec;
      const auto used = parser.put(asio::buffer(pending_), ec);
      pending_.erase(0, used);
      if (parser.is_done()) return to_raw(parser);
      if (ec && ec != http::error::need_more) return std::nullopt;
      if (!ec && used > 0) continue;  // the parser may take more of what is already here
    }
    std::array<char, 16 * 1024> chunk;
    const auto n = ::recv(fd_, chunk.data(), chunk.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    pending_.append(chunk.data(), static_cast<std::size_t>(n));
  }
}

bool PlainSocket::wait_closed() {
  std::array<char, 16 * 1024> chunk;
  for (;;) {
    const auto n = ::recv(fd_, chunk.data(), chunk.size(), 0);
    if (n == 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

bool PlainSocket::peer_closed() {
  char byte = 0;
  return ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void PlainSocket::shutdown_send() { ::shutdown(fd_, SHUT_WR); }

std::string raw_request(std::string_view method, std::string_view target, std::string_view body,
                        std::string_view extra_headers) {
  std::string req =
      fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}", method, target, extra_headers);
  if (!body.empty()) req += fmt::format("Content-Length: {}\r\n", body.size());
  req += "\r\n";
  req += body;
  return req;
}

}  // namespace mando::testing
