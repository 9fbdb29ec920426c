#include "net/router.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

namespace mando::net {
namespace {

// A coroutine of its own (not a capturing lambda): it owns its arguments across the co_await.
boost::asio::awaitable<Response> run_guarded(std::shared_ptr<const Guard> guard,
                                             std::shared_ptr<const Handler> handler,
                                             Request request) {
  if (auto refused = (*guard)(request)) co_return std::move(*refused);
  co_return co_await (*handler)(std::move(request));
}

}  // namespace

std::optional<Response> refuse_proxied(const Request& request) {
  for (std::string_view name :
       {"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP", "Via",
        "True-Client-IP", "CF-Connecting-IP"}) {
    if (request.headers.get(name)) {
      return Response::json_error(
          403, fmt::format("this is mando's internal listener, which never answers proxied "
                           "requests (the request has {}): point the reverse proxy at "
                           "[server] listen",
                           name));
    }
  }
  return std::nullopt;
}

Router::Router(Guard guard) : guard_(std::make_shared<const Guard>(std::move(guard))) {}

void Router::add(std::string method, std::string pattern, Handler handler) {
  if (guard_) {
    handler = [guard = guard_, inner = std::make_shared<const Handler>(std::move(handler))](
                  Request request) { return run_guarded(guard, inner, std::move(request)); };
  }
  auto it = std::find_if(patterns_.begin(), patterns_.end(),
                         [&](const Pattern& p) { return p.pattern == pattern; });
  if (it == patterns_.end()) {
    const bool prefix = pattern.ends_with("/*");
    it = patterns_.insert(patterns_.end(), Pattern{std::move(pattern), prefix, {}, {}});
  }
  for (const auto& r : it->routes) {
    if (r.method == method) {
      fmt::print(stderr, "router: {} {} registered twice\n", method, it->pattern);
      std::abort();
    }
  }
  it->routes.push_back(Route{std::move(method), std::move(handler)});
  // HEAD is answered by the GET handler (RFC 9110 §9.3.2), so it is allowed with GET.
  std::set<std::string_view> allowed;
  for (const auto& r : it->routes) {
    allowed.insert(r.method);
    if (r.method == "GET") allowed.insert("HEAD");
  }
  it->allow = fmt::format("{}", fmt::join(allowed, ", "));
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  // The best pattern for the path regardless of method: exact beats prefix, longer prefix beats
  // shorter. Then the method decides between 200 and 405.
  const Pattern* best = nullptr;
  for (const auto& p : patterns_) {
    // "/blobs/*" matches paths that start with "/blobs/" and have something after it.
    const std::string_view pattern = p.pattern;
    const bool hit = p.prefix ? path.size() > pattern.size() - 1 &&
                                    path.starts_with(pattern.substr(0, pattern.size() - 1))
                              : path == pattern;
    if (!hit) continue;
    if (!p.prefix) {
      best = &p;  // patterns are unique: no other exact one can match
      break;
    }
    if (best == nullptr || p.pattern.size() > best->pattern.size()) best = &p;
  }
  Match m;
  if (best == nullptr) {
    m.route = "unmatched";
    m.status = 404;
    return m;
  }
  m.route = best->pattern;
  const Handler* get = nullptr;
  for (const auto& r : best->routes) {
    if (r.method == method) m.handler = &r.handler;
    if (r.method == "GET") get = &r.handler;
  }
  // HEAD is GET without the body; the server drops the body.
  if (m.handler == nullptr && method == "HEAD") m.handler = get;
  if (m.handler == nullptr) {
    m.status = 405;
    m.allow = best->allow;
  }
  return m;
}

}  // namespace mando::net
