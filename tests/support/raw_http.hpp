#pragma once
// A deliberately low-level HTTP/1.1 client for tests: it sends exactly the bytes it is given
// (slow, partial, oversized or malformed requests) and reads responses with a bounded wait, so a
// server that misbehaves makes a test fail instead of hang.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/http_message.hpp"

namespace mando::testing {

struct RawResponse {
  int status = 0;
  net::Headers headers;
  std::string body;
  bool keep_alive = false;
};

class RawConnection {
 public:
  // Connects to 127.0.0.1:port; every later wait is bounded by `timeout`.
  explicit RawConnection(std::uint16_t port,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~RawConnection();

  void send(std::string_view bytes);
  // One response (header and body); nullopt on EOF, error or timeout. For a HEAD request pass
  // head = true: the body is not read.
  std::optional<RawResponse> read_response(bool head = false);
  // Reads until the peer closes the connection; true when it did within the timeout (any bytes
  // that arrive before are returned in `received`).
  bool wait_closed(std::string* received = nullptr);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A blocking POSIX TCP socket to 127.0.0.1 with send and receive timeouts. Unlike RawConnection
// it holds one descriptor and no io_context, so a test can keep thousands open, and one thread
// may write while another reads (a client still sending a body while the answer arrives).
class PlainSocket {
 public:
  // Connects; throws std::system_error when the connection is refused or times out.
  explicit PlainSocket(std::uint16_t port,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~PlainSocket();
  PlainSocket(const PlainSocket&) = delete;
  PlainSocket& operator=(const PlainSocket&) = delete;

  // Sends all of `bytes`; returns the errno that stopped it (0: everything was sent) and adds
  // what was sent to *sent. Never raises SIGPIPE.
  int send_all(std::string_view bytes, std::size_t* sent = nullptr);
  // One response with its body; nullopt on EOF, error or timeout.
  std::optional<RawResponse> read_response();
  // Reads and discards until the peer closes; true on a clean EOF within the timeout.
  bool wait_closed();
  // Whether the peer's FIN has already arrived (and nothing else is unread), without waiting.
  bool peer_closed();
  void shutdown_send();

 private:
  int fd_ = -1;
  std::string pending_;  // received bytes past the last response
};

// A request string with Host and, when body is not empty, Content-Length.
std::string raw_request(std::string_view method, std::string_view target,
                        std::string_view body = {}, std::string_view extra_headers = {});

}  // namespace mando::testing
