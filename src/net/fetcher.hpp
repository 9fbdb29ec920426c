#pragma once
// Downloads what strangers name: image links from Discord users, result URLs from GPU
// providers. Every hop goes through net::UrlPolicy (url_policy.hpp) and every address is checked
// before curl may connect to it; bodies, time and redirects are capped.
//
// Errors are for users (they read "image 3: <message>"), each a short phrase:
//   kInvalidArgument   the URL is refused (UrlPolicy's messages), "too many redirects"
//   kPermissionDenied  "address not allowed"
//   kResourceExhausted "larger than 25 MiB" (from FetchLimits::max_bytes)
//   kDeadlineExceeded  "took more than 30 s to download" (FetchLimits::timeout, all hops), "too
//                      slow to download" (the low-speed limit or the connect timeout)
//   kNotFound          "the server answered HTTP 404" (or 410): the file is gone
//   kUnavailable       "could not resolve HOST", "the server answered HTTP 503", "could not
//                      download from the server" (connection, TLS or protocol failure), "the
//                      server sent an invalid redirect"
// The fetcher logs the technical detail (net logger, event=fetch_failed) where it maps an error.
//
// Thread-safety: fetch() may run from any number of coroutines on any executors at once. The
// client, the resolver and the Fetcher must outlive every fetch() started.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "net/host_slots.hpp"
#include "net/http_client.hpp"
#include "net/resolver.hpp"
#include "net/url_policy.hpp"

namespace mando::net {

struct FetchLimits {
  std::size_t max_bytes = 25 * 1024 * 1024;  // of any answer's body; more is kResourceExhausted
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};         // all hops, waits included
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};  // each connection
  // Slower than low_speed_bytes per second for low_speed_time aborts the download (a server
  // dripping bytes would otherwise hold a slot for the whole timeout). 0 bytes: no check.
  long low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{10};
  int max_redirects = 3;  // each one checked like the first URL
};

struct Fetched {
  std::string url;           // the final URL, normalised (CheckedUrl::url)
  int status = 0;            // 2xx
  std::string content_type;  // as the server sent it, possibly empty: never trust it alone
  std::string body;
};

struct FetcherOptions {
  int max_per_host = 4;  // downloads from one host at once (more wait their turn); <= 0: no cap
};

class Fetcher {
 public:
  Fetcher(HttpClient& client, UrlPolicy policy, Resolver& resolver, FetcherOptions options = {});

  // The life of one fetch, hop by hop (at most limits.max_redirects + 1 hops):
  //  1. check_url (scheme, userinfo, host spelling, port);
  //  2. resolve the host (an IP literal is its own address) and check EVERY address: a name with
  //     any address in the private network is refused outright, even if others are public,
  //     because curl may pick any of them;
  //  3. wait for a slot of the host (FetcherOptions::max_per_host);
  //  4. GET with curl pinned to exactly the checked addresses (CURLOPT_RESOLVE), and every socket
  //     curl opens checked once more (ClientRequest::allow_connect) so that no DNS answer of
  //     curl's own (rebinding) and no happy-eyeballs fallback reaches an unchecked address; no
  //     proxy from the environment, no Accept-Encoding (bodies arrive as stored and the byte cap
  //     is on what we hold), no credentials or cookies (nothing is sent to carry across hosts);
  //  5. a 301, 302, 303, 307 or 308 with a Location: resolve it against this hop's URL and go
  //     to 1; any other status ends the fetch (2xx: the body, else kUnavailable).
  boost::asio::awaitable<Result<Fetched>> fetch(std::string url, FetchLimits limits = {});

  const UrlPolicy& policy() const { return policy_; }

 private:
  // Steps 2 to 4 for one hop; the answer's status is the caller's to judge.
  boost::asio::awaitable<Result<ClientResponse>> get(
      CheckedUrl url, FetchLimits limits, std::chrono::steady_clock::time_point deadline);

  HttpClient& client_;
  const UrlPolicy policy_;
  Resolver& resolver_;
  HostSlots slots_;
};

// "25 MiB", "512 KiB", "1000 bytes": a byte count as users read it in error messages.
std::string describe_size(std::size_t bytes);

}  // namespace mando::net
