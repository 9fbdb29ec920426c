#include "net/fetcher.hpp"

#include <algorithm>
#include <atomic>
#include <optional>
#include <utility>
#include <vector>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <fmt/format.h>

#include "core/log.hpp"

namespace mando::net {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// "+host:port:addr1,[addr2]", curl's CURLOPT_RESOLVE spelling. The '+' lets the entry expire
// from the client's DNS cache like a looked-up one (60 s): without it every host ever fetched
// would stay there for good. It is used at once, and the connect check covers the rest.
std::string pin(const CheckedUrl& url, const std::vector<asio::ip::address>& addresses) {
  std::string out = fmt::format("+{}:{}:", url.host, url.port);
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (i > 0) out += ',';
    const std::string text = addresses[i].to_string();
    out += addresses[i].is_v6() ? fmt::format("[{}]", text) : text;
  }
  return out;
}

// The next hop's URL, or nullopt. Servers put raw UTF-8 and spaces in Location now and then;
// those bytes are percent-encoded first, as a browser would.
std::optional<std::string> follow(const std::string& base, std::string_view location) {
  std::string encoded;
  for (char c : location) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80 || byte == ' ') {
      encoded += fmt::format("%{:02X}", byte);
    } else {
      encoded += c;
    }
  }
  auto ref = boost::urls::parse_uri_reference(encoded);
  auto from = boost::urls::parse_uri(base);
  if (!ref || !from) return std::nullopt;
  boost::urls::url next;
  if (!boost::urls::resolve(*from, *ref, next)) return std::nullopt;
  return std::string(next.buffer());
}

std::string describe_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{} s", d.count() / 1000);
  return fmt::format("{} ms", d.count());
}

// Turns the client's technical errors into what a user reads; the detail goes to the log.
// A timeout well before the whole deadline is the low-speed limit or the connect timeout: the
// server was too slow, however long the user would have waited. curl's own timeout is set to the
// time left rounded up, so it ends at the deadline or after; the slack covers the clock reads.
Error for_user(const Error& e, const FetchLimits& limits, Clock::time_point deadline) {
  switch (e.kind) {
    case ErrorKind::kResourceExhausted:
      return {e.kind, "larger than " + describe_size(limits.max_bytes)};
    case ErrorKind::kDeadlineExceeded:
      if (Clock::now() + std::chrono::milliseconds(10) >= deadline) {
        return {e.kind,
                fmt::format("took more than {} to download", describe_duration(limits.timeout))};
      }
      return {e.kind, "too slow to download"};
    case ErrorKind::kInvalidArgument:
      return {e.kind, "not a valid URL"};
    default:
      return {ErrorKind::kUnavailable, "could not download from the server"};
  }
}

tl::unexpected<Error> logged(const Error& e, std::string_view host, Error shown) {
  core::logger("net")->info("event=fetch_failed host={} error=\"{}\"", host, e.to_string());
  return tl::unexpected(std::move(shown));
}

}  // namespace

std::string describe_size(std::size_t bytes) {
  constexpr std::size_t kKiB = 1024;
  constexpr std::size_t kMiB = 1024 * kKiB;
  if (bytes >= kMiB && bytes % kMiB == 0) return fmt::format("{} MiB", bytes / kMiB);
  if (bytes >= kKiB && bytes % kKiB == 0) return fmt::format("{} KiB", bytes / kKiB);
  return fmt::format("{} bytes", bytes);
}

Fetcher::Fetcher(HttpClient& client, UrlPolicy policy, Resolver& resolver, FetcherOptions options)
    : client_(client),
      policy_(std::move(policy)),
      resolver_(resolver),
      slots_(options.max_per_host) {}

asio::awaitable<Result<ClientResponse>> Fetcher::get(CheckedUrl url, FetchLimits limits,
                                                     Clock::time_point deadline) {
  std::vector<asio::ip::address> addresses;
  if (url.literal) {
    addresses.push_back(*url.literal);  // check_url has checked it
  } else {
    auto resolved = co_await resolver_.resolve(url.host);
    if (!resolved) co_return logged(resolved.error(), url.host, resolved.error());
    addresses = std::move(*resolved);
    // Every address, not only the first: curl may connect to any of them (happy eyeballs, the
    // next one after a refusal), so a name with one address in the private network is refused
    // outright, however many public ones it has.
    for (const auto& a : addresses) {
      if (auto ok = policy_.check_address(a, url.port, url.host); !ok) {
        co_return logged(Error{ok.error().kind, fmt::format("{} resolves to {}: {}", url.host,
                                                            a.to_string(), ok.error().message)},
                         url.host, ok.error());
      }
    }
  }

  auto lease = co_await slots_.acquire(url.host, deadline);
  // Rounded up, so that curl's timeout cannot fire before the deadline (see for_user).
  const auto remaining = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  if (!lease || remaining.count() <= 0) {
    const Error e{ErrorKind::kDeadlineExceeded, "the deadline passed before the request"};
    co_return logged(e, url.host, for_user(e, limits, Clock::time_point::min()));
  }

  ClientRequest request;
  request.url = url.url;
  request.timeout = remaining;
  request.connect_timeout = std::min(limits.connect_timeout, remaining);
  request.max_response_bytes = limits.max_bytes;
  request.low_speed_bytes = limits.low_speed_bytes;
  request.low_speed_time = limits.low_speed_time;
  request.use_env_proxy = false;
  // Names only: curl never resolves an IP literal, and the connect check covers it.
  if (!url.literal) request.resolve.push_back(pin(url, addresses));
  // Should curl ever reach for an address not pinned above, this refuses it and remembers why,
  // so the user reads the real reason rather than "could not download".
  std::atomic<bool> refused{false};
  const UrlPolicy* policy = &policy_;
  request.allow_connect = [policy, host = url.host, &refused](const sockaddr* a, socklen_t n) {
    if (policy->check_socket_address(a, n, host)) return true;
    refused = true;
    return false;
  };
  auto response = co_await client_.send(std::move(request));
  if (!response) {
    if (refused) {
      co_return logged(response.error(), url.host,
                       Error{ErrorKind::kPermissionDenied, "address not allowed"});
    }
    co_return logged(response.error(), url.host, for_user(response.error(), limits, deadline));
  }
  co_return std::move(response);
}

asio::awaitable<Result<Fetched>> Fetcher::fetch(std::string url, FetchLimits limits) {
  const Clock::time_point deadline = Clock::now() + limits.timeout;
  std::string next = std::move(url);
  for (int hop = 0;; ++hop) {
    auto checked = policy_.check_url(next);
    if (!checked) co_return tl::unexpected(checked.error());
    const CheckedUrl current = *checked;
    auto response = co_await get(std::move(*checked), limits, deadline);
    if (!response) co_return tl::unexpected(response.error());

    const auto location = response->headers.get("Location");
    if (is_redirect(response->status) && location) {
      if (hop >= limits.max_redirects) {
        co_return fail(ErrorKind::kInvalidArgument, "too many redirects");
      }
      auto target = follow(current.url, *location);
      if (!target) {
        co_return logged(Error{ErrorKind::kUnavailable,
                               // Its length only: a Location may carry tokens.
                               fmt::format("unusable Location ({} bytes)", location->size())},
                         current.host,
                         Error{ErrorKind::kUnavailable, "the server sent an invalid redirect"});
      }
      next = std::move(*target);
      continue;
    }
    if (response->status < 200 || response->status > 299) {
      // 404 and 410 say the file is gone, which no retry changes.
      const bool gone = response->status == 404 || response->status == 410;
      co_return fail(gone ? ErrorKind::kNotFound : ErrorKind::kUnavailable,
                     fmt::format("the server answered HTTP {}", response->status));
    }
    Fetched out;
    out.url = current.url;
    out.status = response->status;
    out.content_type = std::string(response->headers.get("Content-Type").value_or(""));
    out.body = std::move(response->body);
    co_return std::move(out);
  }
}

}  // namespace mando::net
