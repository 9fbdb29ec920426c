#include "emulator/rate_limits.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/crypto.hpp"
#include "emulator/wire.hpp"

namespace mando::emulator {
namespace {

double seconds(RateLimits::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

net::Response too_many_requests(const RateHeaders& h, double retry_after) {
  auto response = net::Response::json(
      429, fmt::format(R"({{"message":"You are being rate limited.","retry_after":{:.3f},)"
                       R"("global":false}})",
                       retry_after));
  set_rate_headers(response, h);
  response.headers.set("Retry-After", std::to_string(static_cast<long>(std::ceil(retry_after))));
  response.headers.set("X-RateLimit-Scope", "user");
  return response;
}

}  // namespace

void set_rate_headers(net::Response& response, const RateHeaders& h) {
  const double reset =
      static_cast<double>(unix_ms()) / 1000.0 + h.reset_after;  // epoch seconds, ms decimals
  response.headers.set("X-RateLimit-Limit", std::to_string(h.limit));
  response.headers.set("X-RateLimit-Remaining", std::to_string(h.remaining));
  response.headers.set("X-RateLimit-Reset", fmt::format("{:.3f}", reset));
  response.headers.set("X-RateLimit-Reset-After", fmt::format("{:.3f}", h.reset_after));
  response.headers.set("X-RateLimit-Bucket", h.bucket);
}

std::optional<net::Response> RateLimits::admit(std::string_view route_template,
                                               std::string_view owner, std::string_view method,
                                               std::string_view family, Clock::time_point now,
                                               RateHeaders& headers) {
  Bucket& bucket = buckets_[fmt::format("{}|{}", route_template, owner)];
  headers.limit = limit_;
  headers.bucket = core::to_hex(core::sha256(route_template)).substr(0, 32);
  if (auto limited = take_bucket(bucket, now, headers)) return limited;
  return take_fault(bucket, method, family, now, headers);
}

std::optional<net::Response> RateLimits::take_bucket(Bucket& b, Clock::time_point now,
                                                     RateHeaders& headers) {
  if (now >= b.reset_at) {
    b.used = 0;
    b.reset_at = now + window_;
  }
  const bool blocked = now < b.blocked_until;
  if (blocked || b.used >= limit_) {
    const auto until = blocked ? std::max(b.blocked_until, now) : b.reset_at;
    ++responses_429_;
    if (now < b.exhausted_until) ++ignored_exhausted_;
    if (b.last_was_429 && now < b.exhausted_until) ++consecutive_429_;
    b.last_was_429 = true;
    b.exhausted_until = until;
    headers.remaining = 0;
    headers.reset_after = seconds(until - now);
    return too_many_requests(headers, seconds(until - now));
  }
  ++b.used;
  b.last_was_429 = false;
  headers.remaining = limit_ - b.used;
  headers.reset_after = seconds(b.reset_at - now);
  b.exhausted_until = headers.remaining == 0 ? b.reset_at : Clock::time_point{};
  return std::nullopt;
}

std::optional<net::Response> RateLimits::take_fault(Bucket& b, std::string_view method,
                                                    std::string_view family, Clock::time_point now,
                                                    RateHeaders& headers) {
  auto it = faults_.find(fmt::format("{} {}", method, family));
  if (it == faults_.end() || it->second.empty()) return std::nullopt;
  const Fault fault = it->second.front();
  if (--it->second.front().count <= 0) it->second.pop_front();
  ++faults_injected_;
  if (fault.status == 429) {
    b.blocked_until = now + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(fault.retry_after));
    b.exhausted_until = b.blocked_until;
    b.last_was_429 = true;
    ++responses_429_;
    headers.remaining = 0;
    headers.reset_after = fault.retry_after;
    return too_many_requests(headers, fault.retry_after);
  }
  auto response = error_response(
      fault.status == 400
          ? automod_blocked()
          : RestError{fault.status, 0, fmt::format("{}: injected fault", fault.status), {}});
  set_rate_headers(response, headers);
  return response;
}

std::chrono::milliseconds RateLimits::take_delay() {
  if (delay_count_ <= 0) return std::chrono::milliseconds(0);
  --delay_count_;
  return delay_;
}

void RateLimits::add_fault(Fault fault) {
  if (fault.count <= 0) return;
  faults_[fault.method + " " + fault.route].push_back(std::move(fault));
}

void RateLimits::delay_responses(int count, std::chrono::milliseconds delay) {
  delay_count_ = std::max(count, 0);
  delay_ = delay;
}

boost::json::object RateLimits::stats() const {
  return {{"responses_429", responses_429_},
          {"consecutive_429", consecutive_429_},
          {"ignored_exhausted", ignored_exhausted_},
          {"faults_injected", faults_injected_}};
}

}  // namespace mando::emulator
