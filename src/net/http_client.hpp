#pragma once
// The one outbound HTTP client of mando: Discord's REST API, task dispatch to workers and image
// downloads all go through it.
//
// libcurl's multi interface does the protocol work (HTTP/1.1, HTTP/2 when a TLS server offers
// it, TLS, connection cache); Asio drives it: curl tells us which sockets to watch
// (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION), and every curl call
// runs on one strand. Callers get a coroutine API and resume on their own executor.
//
// Thread-safety: send() may be called from any thread or coroutine. The client must outlive
// every send() it started; destroying it completes outstanding transfers with kUnavailable once
// its executor runs again (the cleanup is posted, the destructor does not block). Destroy the
// client before its io_context. send() ignores cancellation slots: bound a request with its
// timeouts.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "net/http_message.hpp"
#include <sys/socket.h>

namespace mando::net {

// One part of a multipart/form-data body (RFC 7578).
struct MultipartPart {
  std::string name;
  std::string data;
  std::string filename;      // empty: a plain field, not a file
  std::string content_type;  // empty: curl's default for the part
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // http:// or https:// only; other schemes are refused
  Headers headers;
  std::string body;
  // When non-empty the request is sent as multipart/form-data and `body` must be empty.
  std::vector<MultipartPart> multipart;

  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // whole transfer
  std::size_t max_response_bytes = 16 * 1024 * 1024;
  int max_redirects = 0;  // 0: a 3xx is returned as is
  // Fewer than low_speed_bytes per second for low_speed_time ends the transfer with
  // kDeadlineExceeded (CURLOPT_LOW_SPEED_LIMIT/TIME). 0: no such check.
  long low_speed_bytes = 0;
  std::chrono::seconds low_speed_time{0};

  // For destinations strangers name (net::Fetcher); other callers leave these alone.
  // CURLOPT_RESOLVE entries, "HOST:PORT:ADDR[,ADDR...]" (IPv6 ADDR in brackets): curl connects
  // to these addresses instead of resolving HOST itself.
  std::vector<std::string> resolve;
  // Asked about every address curl is about to connect to, each happy-eyeballs attempt
  // included, on the client's strand while the request is in flight. false: that socket is never
  // opened and the attempt fails as if refused (kUnavailable when no attempt is left).
  std::function<bool(const sockaddr* address, socklen_t length)> allow_connect;
  // false: no proxy, whatever http_proxy, https_proxy, all_proxy and no_proxy say.
  bool use_env_proxy = true;
};

struct ClientResponse {
  int status = 0;
  Headers headers;  // of the final response
  std::string body;
};

struct HttpClientOptions {
  std::string user_agent = "mando/" MANDO_VERSION;
  // CA bundle to trust instead of the system store (tests with their own CA). TLS peer and host
  // verification are always on.
  std::string ca_file;
  long max_connections_per_host = 0;  // 0: unlimited
  // Connections kept open for reuse once their transfer is done (CURLMOPT_MAXCONNECTS). curl's
  // own default, four per transfer in flight, shrinks as transfers finish and so closes the
  // connections a busy client is about to need again.
  long max_idle_connections = 64;
};

class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor executor, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs one request. Any HTTP status is a successful Result; errors are transport-level:
  //   kInvalidArgument   bad URL, unsupported scheme, body and multipart both set
  //   kDeadlineExceeded  connect_timeout or timeout elapsed
  //   kResourceExhausted the response body exceeded max_response_bytes
  //   kUnavailable       DNS, connection, TLS or protocol failure
  boost::asio::awaitable<Result<ClientResponse>> send(ClientRequest request);

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mando::net
