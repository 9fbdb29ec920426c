#include "discord/rate_limit_protocol.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

namespace mando::discord {
namespace {

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    if (!segment.empty()) out.push_back(segment);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::optional<double> parse_double(std::string_view s) {
  // std::from_chars for double is in libstdc++ 12; trim spaces the peer may send.
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  return value;
}

std::optional<long> parse_long(std::string_view s) {
  long value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 0) return std::nullopt;
  return value;
}

}  // namespace

RouteKey route_key(std::string_view method, std::string_view path) {
  path = path.substr(0, path.find('?'));
  const std::vector<std::string_view> segments = split_path(path);
  RouteKey key;
  std::string route = std::string(method) + " ";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string_view s = segments[i];
    const bool token_route = (segments[0] == "webhooks" || segments[0] == "interactions") &&
                             segments.size() >= 3 && is_digits(segments[1]);
    if (token_route && i == 2) {
      route += "/{token}";
    } else if (is_digits(s)) {
      route += "/{id}";
    } else {
      route += "/";
      route += s;
    }
  }
  if (segments.empty()) route += "/";
  key.route = std::move(route);

  if (segments.size() >= 3 && is_digits(segments[1]) &&
      (segments[0] == "webhooks" || segments[0] == "interactions")) {
    key.resource = fmt::format("{}/{}/{}", segments[0], segments[1], segments[2]);
    key.global_exempt = true;
    key.essential = true;
    key.needs_authorization = false;
  } else if (segments.size() >= 2 && is_digits(segments[1]) &&
             (segments[0] == "channels" || segments[0] == "guilds" || segments[0] == "webhooks")) {
    key.resource = fmt::format("{}/{}", segments[0], segments[1]);
  }
  return key;
}

RateLimitHeaders RateLimitHeaders::parse(const net::Headers& headers, std::string_view body) {
  RateLimitHeaders out;
  if (auto v = headers.get("X-RateLimit-Limit")) out.limit = parse_long(*v);
  if (auto v = headers.get("X-RateLimit-Remaining")) out.remaining = parse_long(*v);
  if (auto v = headers.get("X-RateLimit-Reset-After")) out.reset_after = parse_double(*v);
  if (auto v = headers.get("X-RateLimit-Bucket"); v && !v->empty()) out.bucket = std::string(*v);
  if (auto v = headers.get("X-RateLimit-Scope"); v && !v->empty()) out.scope = std::string(*v);
  if (auto v = headers.get("X-RateLimit-Global")) out.global = net::iequals(*v, "true");
  if (out.scope && *out.scope == "global") out.global = true;

  if (!body.empty()) {
    boost::system::error_code ec;
    const boost::json::value json = boost::json::parse(body, ec);
    if (!ec && json.is_object()) {
      const auto& o = json.get_object();
      if (const auto* r = o.if_contains("retry_after"); r != nullptr && r->is_number()) {
        const double value = r->to_number<double>(ec);
        if (!ec && std::isfinite(value) && value >= 0) out.retry_after = value;
      }
      if (const auto* g = o.if_contains("global"); g != nullptr && g->is_bool() && g->get_bool()) {
        out.global = true;
      }
    }
  }
  if (!out.retry_after) {
    if (auto v = headers.get("Retry-After")) out.retry_after = parse_double(*v);
  }
  return out;
}

}  // namespace mando::discord
