#include "net/router.hpp"

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
  bool prefix = pattern.ends_with("/*");
  for (const auto& r : routes_) {
    if (r.method == method && r.pattern == pattern) {
      fmt::print(stderr, "router: {} {} registered twice\n", method, pattern);
      std::abort();
    }
  }
  routes_.push_back(Route{std::move(method), std::move(pattern), prefix, std::move(handler)});
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  // The best pattern for the path regardless of method: exact beats prefix, longer prefix beats
  // shorter. Then the method decides between 200 and 405.
  const Route* best = nullptr;
  for (const auto& r : routes_) {
    // "/blobs/*" matches paths that start with "/blobs/" and have something after it.
    std::string_view stem = r.prefix ? std::string_view(r.pattern).substr(0, r.pattern.size() - 1)
                                     : std::string_view(r.pattern);
    bool hit = r.prefix ? path.starts_with(stem) && path.size() > stem.size() : path == stem;
    if (!hit) continue;
    if (best == nullptr || (best->prefix && !r.prefix) ||
        (best->prefix == r.prefix && r.pattern.size() > best->pattern.size())) {
      best = &r;
    }
  }
  Match m;
  if (best == nullptr) {
    m.route = "unmatched";
    m.status = 404;
    return m;
  }
  std::set<std::string_view> allowed;
  const Handler* get = nullptr;
  for (const auto& r : routes_) {
    if (r.pattern != best->pattern) continue;
    allowed.insert(r.method);
    if (r.method == "GET") get = &r.handler;
    if (r.method == method) m.handler = &r.handler;
  }
  // HEAD is GET without the body (RFC 9110 §9.3.2); the server drops the body.
  if (m.handler == nullptr && method == "HEAD" && get != nullptr) m.handler = get;
  if (get != nullptr) allowed.insert("HEAD");
  m.route = best->pattern;
  if (m.handler == nullptr) {
    m.status = 405;
    m.allow = fmt::format("{}", fmt::join(allowed, ", "));
  }
  return m;
}

}  // namespace mando::net
