#include "support/raw_http.hpp"

#include <array>
#include <functional>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

namespace mando::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

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
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  parser.skip(head);
  bool finished = false;
  boost::system::error_code result;
  http::async_read(state_->socket, state_->buffer, parser,
                   [&](boost::system::error_code ec, std::size_t) {
                     finished = true;
                     result = ec;
                   });
  if (!state_->run([&] { return finished; }) || result) return std::nullopt;
  auto msg = parser.release();
  RawResponse r;
  r.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg) r.headers.add(f.name_string(), f.value());
  r.body = std::move(msg.body());
  r.keep_alive = msg.keep_alive();
  return r;
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
