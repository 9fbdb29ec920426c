#pragma once
// Maps (method, path) to a handler. Handlers are plain coroutines from Request to Response:
// they never see a socket, so tests call them directly.
//
// Patterns are exact paths ("/healthz") or prefixes ending in "/*" ("/blobs/*", which matches
// "/blobs/a/b" but not "/blobs"). Exact patterns win over prefixes; longer prefixes win over
// shorter ones. The pattern is also the `route` label of the request metrics, so a path full of
// ids never explodes the label set. HEAD falls back to the GET handler (the server drops the
// body).
//
// A router may have a guard: a check every request passes before its handler (the internal
// listener's guard refuses requests that came through a reverse proxy). A guard answers a
// response to send instead of calling the handler, or nullopt to go on.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "net/http_message.hpp"

namespace mando::net {

using Handler = std::function<boost::asio::awaitable<Response>(Request)>;
using Guard = std::function<std::optional<Response>(const Request&)>;

// The guard of the internal listener: 403 for any request that carries a header a reverse proxy
// adds (Forwarded, X-Forwarded-*, X-Real-IP, Via, ...). What sits behind a proxy is public,
// whatever address the connection comes from: loopback is not a credential.
std::optional<Response> refuse_proxied(const Request& request);

class Router {
 public:
  Router() = default;
  // Every handler added to this router runs only for the requests `guard` lets through.
  explicit Router(Guard guard);

  // Registers `handler` for `method` (e.g. "POST") on `pattern`. Registering the same method
  // and pattern twice is a programming error and aborts.
  void add(std::string method, std::string pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null when status is 404 or 405
    std::string_view route;            // the matched pattern, or "unmatched"
    int status = 200;                  // 200, 404 (no pattern) or 405 (pattern, other method)
    std::string_view allow;            // for 405: the methods the pattern accepts, "GET, HEAD"
  };
  // Allocates nothing: it runs once per request. The views live as long as the router.
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method;
    Handler handler;
  };
  // Every method registered on one pattern, with its Allow header computed by add().
  struct Pattern {
    std::string pattern;
    bool prefix = false;
    std::vector<Route> routes;
    std::string allow;
  };
  std::vector<Pattern> patterns_;
  std::shared_ptr<const Guard> guard_;
};

}  // namespace mando::net
