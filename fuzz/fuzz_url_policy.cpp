// Fuzzes the SSRF guard: the URL parser with its numeric-host rules, the allow-entry grammar and
// the address checks. The input is lines: the URL first, then allow entries; a line "http" lets
// plain http through. Whatever they hold:
//  - every refusal is kInvalidArgument, or kPermissionDenied saying exactly "address not
//    allowed", in a short message;
//  - an accepted URL is https (or http when allowed), has no fragment and no user info, a
//    lower-case host and a permitted port, and checking its normalised form answers the same;
//  - an accepted URL's IP literal passes check_address, and without allow entries it is never
//    in a blocked range;
//  - an IPv4 address and its mapped IPv6 form are blocked alike (the first bytes of the input).

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/fetch_allow.hpp"
#include "net/url_policy.hpp"
#include <arpa/inet.h>
#include <netinet/in.h>

namespace {

using mando::ErrorKind;
using mando::net::CheckedUrl;
using mando::net::UrlPolicy;
namespace ip = boost::asio::ip;

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string> split_lines(std::string_view input) {
  std::vector<std::string> out;
  for (;;) {
    const std::size_t end = input.find('\n');
    out.emplace_back(input.substr(0, end));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 1);
  }
  return out;
}

void check_refusal(const mando::Error& e) {
  check(e.kind == ErrorKind::kInvalidArgument || e.kind == ErrorKind::kPermissionDenied);
  check(e.kind != ErrorKind::kPermissionDenied || e.message == "address not allowed");
  check(!e.message.empty() && e.message.size() < 80);
}

void check_accepted(const UrlPolicy& policy, const CheckedUrl& u, bool strict) {
  check(u.scheme == "https" || (u.scheme == "http" && policy.allow_http()));
  check(u.url.starts_with(u.scheme + "://"));
  check(u.url.find('#') == std::string::npos);
  const std::size_t start = u.scheme.size() + 3;
  const std::string_view authority =
      std::string_view(u.url).substr(start, u.url.find('/', start) - start);
  check(authority.find('@') == std::string_view::npos);
  for (char c : u.host) check(!(c >= 'A' && c <= 'Z'));
  if (u.literal) {
    check(u.host == u.literal->to_string());
    check(policy.check_address(*u.literal, u.port, u.host).has_value());
    if (strict) check(!mando::net::is_blocked_address(*u.literal));
  } else if (strict) {
    check(u.port == 80 || u.port == 443);
  }
  auto again = policy.check_url(u.url);
  check(again.has_value());
  check(again->url == u.url && again->scheme == u.scheme && again->host == u.host &&
        again->port == u.port && again->literal == u.literal);
}

void check_url(const UrlPolicy& policy, const std::string& url, bool strict) {
  auto checked = policy.check_url(url);
  if (checked) {
    check_accepted(policy, *checked, strict);
  } else {
    check_refusal(checked.error());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> lines = split_lines(input);

  mando::net::FetchPolicyOptions options;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i] == "http") {
      options.allow_http = true;
      continue;
    }
    auto entry = mando::core::parse_fetch_allow_entry(lines[i]);
    if (!entry) {
      check(entry.error().kind == ErrorKind::kInvalidArgument);
      continue;
    }
    options.allow.push_back(lines[i]);
  }

  auto policy = UrlPolicy::create(options);
  check(policy.has_value());  // every entry kept above parsed
  check_url(*policy, lines[0], options.allow.empty());
  auto strict = UrlPolicy::create({.allow_http = true, .allow = {}});
  check(strict.has_value());
  check_url(*strict, lines[0], true);

  if (size >= 4) {
    ip::address_v4::bytes_type v4;
    std::memcpy(v4.data(), data, v4.size());
    const ip::address_v4 a(v4);
    const ip::address_v6 mapped = ip::make_address_v6(ip::v4_mapped, a);
    check(mando::net::is_blocked_address(a) == mando::net::is_blocked_address(mapped));
  }
  if (size >= 16) {
    ip::address_v6::bytes_type v6;
    std::memcpy(v6.data(), data, v6.size());
    const ip::address_v6 a(v6);
    const bool blocked = mando::net::is_blocked_address(a);
    // Whatever an address is, a policy without entries agrees with the blocked ranges, and the
    // socket-address form of the check agrees with the address form.
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(443);
    std::memcpy(&in6.sin6_addr, v6.data(), v6.size());
    auto by_socket = strict->check_socket_address(reinterpret_cast<const sockaddr*>(&in6),
                                                  sizeof in6, "fuzz.example");
    check(by_socket.has_value() == !blocked);
    check(strict->check_address(a, 443, "fuzz.example").has_value() == !blocked);
  }
  return 0;
}
