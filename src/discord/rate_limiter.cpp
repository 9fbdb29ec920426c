#include "discord/rate_limiter.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "core/log.hpp"

namespace mando::discord {
namespace {

constexpr std::size_t kPruneAbove = 4096;  // buckets kept before expired ones are dropped

const std::shared_ptr<spdlog::logger>& module_log() {
  static const auto logger = core::logger("discord");
  return logger;
}

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

SteadyDuration seconds(double s) {
  return std::chrono::duration_cast<SteadyDuration>(std::chrono::duration<double>(s));
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

InMemoryRateLimiter::InMemoryRateLimiter(RateLimiterOptions options) : options_(options) {}

std::string InMemoryRateLimiter::bucket_key(const RouteKey& route) const {
  const auto it = route_to_bucket_.find(route.route);
  const std::string& hash = it != route_to_bucket_.end() ? it->second : "route:" + route.route;
  return hash + "|" + route.resource;
}

void InMemoryRateLimiter::prune_invalid(SteadyTime now) {
  while (!invalid_.empty() && now - invalid_.front() >= options_.invalid_window) {
    invalid_.pop_front();
  }
  if (invalid_.size() < options_.brake_threshold && brake_logged_) {
    brake_logged_ = false;
    module_log()->warn("rate limit brake released invalid_requests={}", invalid_.size());
  }
}

std::size_t InMemoryRateLimiter::invalid_requests(SteadyTime now) {
  std::lock_guard lock(mutex_);
  prune_invalid(now);
  return invalid_.size();
}

bool InMemoryRateLimiter::braking(SteadyTime now) {
  std::lock_guard lock(mutex_);
  prune_invalid(now);
  return invalid_.size() >= options_.brake_threshold;
}

Result<SteadyDuration> InMemoryRateLimiter::acquire(const RouteKey& route, SteadyTime now) {
  std::lock_guard lock(mutex_);
  SteadyDuration wait{0};

  // The brake first: refusing is cheaper for Discord than any request.
  prune_invalid(now);
  const bool brake = invalid_.size() >= options_.brake_threshold;
  if (brake) {
    if (!route.essential) {
      return fail(ErrorKind::kResourceExhausted,
                  fmt::format("discord: rate limiter brake: {} invalid requests (401/403/429) in "
                              "the last {} minutes; non-essential request {} refused",
                              invalid_.size(), options_.invalid_window.count(), route.route));
    }
    wait = std::max(wait, brake_next_ - now);
  }

  wait = std::max(wait, global_blocked_until_ - now);

  Bucket* bucket = nullptr;
  const std::string key = bucket_key(route);
  if (auto it = buckets_.find(key); it != buckets_.end()) {
    bucket = &it->second;
    wait = std::max(wait, bucket->blocked_until - now);
    if (bucket->remaining <= 0 && now < bucket->reset_at) {
      wait = std::max(wait, bucket->reset_at - now);
    }
  }

  if (!route.global_exempt) {
    if (now - global_window_start_ >= std::chrono::seconds(1)) {
      global_window_start_ = now;
      global_count_ = 0;
    }
    if (global_count_ >= options_.global_per_second) {
      wait = std::max(wait, global_window_start_ + std::chrono::seconds(1) - now);
    }
  }

  if (wait > SteadyDuration::zero()) return wait;

  // Go: reserve.
  if (bucket != nullptr) {
    if (now >= bucket->reset_at) {
      bucket->remaining = bucket->limit;
      bucket->reset_at = now + bucket->window;
    }
    --bucket->remaining;
  }
  if (!route.global_exempt) ++global_count_;
  if (brake) brake_next_ = now + options_.brake_interval;
  return SteadyDuration::zero();
}

void InMemoryRateLimiter::update(const RouteKey& route, const RateLimitHeaders& headers, int status,
                                 SteadyTime now) {
  std::lock_guard lock(mutex_);
  if (headers.bucket) route_to_bucket_[route.route] = *headers.bucket;
  const std::string key = bucket_key(route);

  if (headers.limit || headers.remaining || headers.reset_after) {
    Bucket& bucket = buckets_[key];
    if (headers.limit) bucket.limit = std::max(1L, *headers.limit);
    if (headers.remaining) bucket.remaining = *headers.remaining;
    if (headers.reset_after) {
      bucket.window = std::min(seconds(*headers.reset_after), options_.max_block);
      bucket.reset_at = now + bucket.window;
    }
  }

  if (status == 429) {
    const SteadyDuration retry_after =
        headers.retry_after ? std::min(seconds(*headers.retry_after), options_.max_block)
                            : options_.default_retry_after;
    if (headers.global) {
      global_blocked_until_ = std::max(global_blocked_until_, now + retry_after);
    } else {
      Bucket& bucket = buckets_[key];
      bucket.remaining = 0;
      bucket.blocked_until = std::max(bucket.blocked_until, now + retry_after);
    }
    module_log()->warn("discord rate limited route=\"{}\" scope={} global={} retry_after_ms={}",
                       route.route, headers.scope.value_or("user"), headers.global,
                       std::chrono::duration_cast<std::chrono::milliseconds>(retry_after).count());
  }

  const bool invalid =
      status == 401 || status == 403 || (status == 429 && headers.scope.value_or("") != "shared");
  if (invalid) {
    invalid_.push_back(now);
    prune_invalid(now);
    if (invalid_.size() >= options_.brake_threshold && !brake_logged_) {
      brake_logged_ = true;
      module_log()->error(
          "DISCORD INVALID REQUEST BRAKE ON: invalid_requests={} window_minutes={} "
          "threshold={} (Discord bans the IP at 10000); non-essential requests are refused "
          "until the count drops",
          invalid_.size(), options_.invalid_window.count(), options_.brake_threshold);
    }
  }

  if (buckets_.size() > kPruneAbove) {
    std::erase_if(buckets_, [now](const auto& entry) {
      return entry.second.reset_at <= now && entry.second.blocked_until <= now;
    });
  }
}

}  // namespace mando::discord
