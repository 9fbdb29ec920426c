#include "net/url_policy.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <netinet/in.h>

namespace mando::net {
namespace {

namespace ip = boost::asio::ip;

constexpr std::string_view kAddressNotAllowed = "address not allowed";
constexpr std::string_view kNotAUrl = "not a valid URL";
constexpr std::string_view kBadHost = "the host name is not valid";
// Longer URLs are not image links; the bound also keeps error paths and logs small.
constexpr std::size_t kMaxUrlLength = 8192;

struct V4Range {
  std::uint32_t base;
  int length;
};

// IANA's special-purpose IPv4 registry, every block that is not globally reachable or that
// reaches something other than the public internet.
constexpr std::array<V4Range, 14> kBlockedV4 = {{
    {0x00000000, 8},   // 0.0.0.0/8 "this network" (0.0.0.0 connects to the local host)
    {0x0a000000, 8},   // 10.0.0.0/8 private
    {0x64400000, 10},  // 100.64.0.0/10 carrier-grade NAT
    {0x7f000000, 8},   // 127.0.0.0/8 loopback
    {0xa9fe0000, 16},  // 169.254.0.0/16 link-local, cloud metadata (169.254.169.254)
    {0xac100000, 12},  // 172.16.0.0/12 private
    {0xc0000000, 24},  // 192.0.0.0/24 IETF protocol assignments
    {0xc0000200, 24},  // 192.0.2.0/24 documentation
    {0xc0a80000, 16},  // 192.168.0.0/16 private
    {0xc6120000, 15},  // 198.18.0.0/15 benchmarking
    {0xc6336400, 24},  // 198.51.100.0/24 documentation
    {0xcb007100, 24},  // 203.0.113.0/24 documentation
    {0xe0000000, 4},   // 224.0.0.0/4 multicast
    {0xf0000000, 4},   // 240.0.0.0/4 reserved, and 255.255.255.255 broadcast
}};

bool in_v4_range(std::uint32_t a, const V4Range& r) {
  const std::uint32_t mask = r.length == 0 ? 0 : ~std::uint32_t{0} << (32 - r.length);
  return (a & mask) == r.base;
}

bool blocked_v4(std::uint32_t a) {
  return std::any_of(kBlockedV4.begin(), kBlockedV4.end(),
                     [a](const V4Range& r) { return in_v4_range(a, r); });
}

bool in_v6_network(const ip::address_v6& a, const ip::network_v6& net) {
  return ip::network_v6(a, net.prefix_length()).canonical() == net;
}

// Blocked outright, whatever follows the prefix.
const std::vector<ip::network_v6>& blocked_v6() {
  static const std::vector<ip::network_v6> kBlocked = {
      ip::make_network_v6("::/96"),           // ::, ::1 and the deprecated IPv4-compatible form
      ip::make_network_v6("64:ff9b:1::/48"),  // local-use NAT64: its IPv4 side is site policy
      ip::make_network_v6("100::/64"),        // discard-only
      ip::make_network_v6("2001::/32"),       // Teredo: a tunnel, not a host
      ip::make_network_v6("2001:db8::/32"),   // documentation
      ip::make_network_v6("fc00::/7"),        // unique local
      ip::make_network_v6("fe80::/10"),       // link-local
      ip::make_network_v6("fec0::/10"),       // site-local (deprecated, still routed by some)
      ip::make_network_v6("ff00::/8"),        // multicast
  };
  return kBlocked;
}

std::uint32_t v4_at(const ip::address_v6::bytes_type& b, std::size_t offset) {
  return std::uint32_t{b[offset]} << 24 | std::uint32_t{b[offset + 1]} << 16 |
         std::uint32_t{b[offset + 2]} << 8 | std::uint32_t{b[offset + 3]};
}

// The IPv4 address an IPv6 address carries and would reach through a translator or a tunnel:
// mapped (::ffff:0:0/96) and translated (::ffff:0:0:0/96) forms, NAT64 (64:ff9b::/96) and 6to4
// (2002::/16, the IPv4 address in bits 16 to 47).
std::optional<std::uint32_t> embedded_v4(const ip::address_v6& a) {
  static const ip::network_v6 kMapped = ip::make_network_v6("::ffff:0:0/96");
  static const ip::network_v6 kTranslated = ip::make_network_v6("::ffff:0:0:0/96");
  static const ip::network_v6 kNat64 = ip::make_network_v6("64:ff9b::/96");
  static const ip::network_v6 k6to4 = ip::make_network_v6("2002::/16");
  const auto bytes = a.to_bytes();
  if (in_v6_network(a, kMapped) || in_v6_network(a, kTranslated) || in_v6_network(a, kNat64)) {
    return v4_at(bytes, 12);
  }
  if (in_v6_network(a, k6to4)) return v4_at(bytes, 2);
  return std::nullopt;
}

bool is_default_port(std::string_view scheme, std::uint16_t port) {
  return port == (scheme == "https" ? 443 : 80);
}

tl::unexpected<Error> invalid(std::string message) {
  return fail(ErrorKind::kInvalidArgument, std::move(message));
}

// ---------------------------------------------------------------------------------------------
// Host names as a browser reads them (WHATWG URL standard, "host parsing"). Written here because
// Boost.URL follows RFC 3986, where 127.1 or 0x7f.0.0.1 are plain names, while browsers, curl's
// resolver and getaddrinfo (inet_aton) read them as IPv4 addresses.

// One part of an IPv4 number: decimal, octal after a leading 0, hexadecimal after 0x. Values
// past 2^32 are as invalid as any other non-number (the caller refuses them either way).
std::optional<std::uint64_t> parse_ipv4_part(std::string_view part) {
  if (part.empty()) return std::nullopt;
  unsigned base = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    base = 16;
    part.remove_prefix(2);
  } else if (part.size() >= 2 && part[0] == '0') {
    base = 8;
    part.remove_prefix(1);
  }
  std::uint64_t value = 0;
  for (char c : part) {
    unsigned digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else {
      return std::nullopt;  // upper-case hex digits were lower-cased by the caller
    }
    if (digit >= base) return std::nullopt;
    value = value * base + digit;
    if (value > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  }
  return value;
}

std::vector<std::string_view> split_labels(std::string_view host) {
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t dot = host.find('.');
    parts.push_back(host.substr(0, dot));
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  return parts;
}

// nullopt: a name. An error: the last label is a number but the whole is no IPv4 address (a
// browser refuses such a URL; so do we). `host` is lower case, at most one trailing dot.
Result<std::optional<std::uint32_t>> parse_ipv4_host(std::string_view host) {
  std::vector<std::string_view> parts = split_labels(host);
  if (parts.size() > 1 && parts.back().empty()) parts.pop_back();
  const std::string_view last = parts.back();
  const bool ends_in_number =
      (!last.empty() &&
       std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) ||
      parse_ipv4_part(last).has_value();
  if (!ends_in_number) return std::optional<std::uint32_t>();
  if (parts.size() > 4) return invalid(std::string(kBadHost));
  std::vector<std::uint64_t> numbers;
  for (std::string_view part : parts) {
    auto n = parse_ipv4_part(part);
    if (!n) return invalid(std::string(kBadHost));
    numbers.push_back(*n);
  }
  std::uint64_t value = numbers.back();
  if (value >= (std::uint64_t{1} << (8 * (5 - numbers.size()))))
    return invalid(std::string(kBadHost));
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) {
    if (numbers[i] > 255) return invalid(std::string(kBadHost));
    value += numbers[i] << (8 * (3 - i));
  }
  return std::optional<std::uint32_t>(static_cast<std::uint32_t>(value));
}

// A decoded reg-name host: lower case, without its trailing dot, only [a-z0-9._-].
Result<std::string> normalise_name(std::string_view decoded) {
  if (decoded.empty()) return invalid("the URL has no host");
  std::string out;
  out.reserve(decoded.size());
  for (char c : decoded) {
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool ok = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') ||
                    lower == '-' || lower == '_' || lower == '.';
    if (!ok) return invalid(std::string(kBadHost));
    out += lower;
  }
  if (out.back() == '.') out.pop_back();
  if (out.empty() || out.front() == '.' || out.back() == '.' ||
      out.find("..") != std::string::npos) {
    return invalid(std::string(kBadHost));
  }
  return out;
}

std::string_view trim_controls(std::string_view s) {
  // As a browser does with pasted URLs: C0 controls and spaces around the URL are dropped.
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20) s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20) s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_blocked_address(const ip::address& a) {
  if (a.is_v4()) return blocked_v4(a.to_v4().to_uint());
  const ip::address_v6 v6 = a.to_v6();
  if (auto v4 = embedded_v4(v6)) return blocked_v4(*v4);
  const auto& blocked = blocked_v6();
  return std::any_of(blocked.begin(), blocked.end(),
                     [&v6](const ip::network_v6& net) { return in_v6_network(v6, net); });
}

Result<UrlPolicy> UrlPolicy::create(FetchPolicyOptions options) {
  UrlPolicy policy;
  policy.allow_http_ = options.allow_http;
  for (const std::string& text : options.allow) {
    auto entry = core::parse_fetch_allow_entry(text);
    if (!entry) return tl::unexpected(entry.error());
    (entry->is_network() ? policy.networks_ : policy.host_ports_).push_back(std::move(*entry));
  }
  return policy;
}

bool UrlPolicy::allowed_host_port(std::string_view host, std::uint16_t port) const {
  return std::any_of(host_ports_.begin(), host_ports_.end(), [&](const core::FetchAllowEntry& e) {
    return e.port == port && e.host == host;
  });
}

bool UrlPolicy::allowed_network(const ip::address& a) const {
  // A mapped address is the IPv4 host itself; parse_fetch_allow_entry stores mapped networks as
  // IPv4 networks to match.
  const bool v4 = a.is_v4() || a.to_v6().is_v4_mapped();
  ip::address_v4 a4;
  if (a.is_v4()) {
    a4 = a.to_v4();
  } else if (v4) {
    a4 = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  return std::any_of(networks_.begin(), networks_.end(), [&](const core::FetchAllowEntry& e) {
    if (v4) return e.v4 && ip::network_v4(a4, e.v4->prefix_length()).canonical() == *e.v4;
    return e.v6 && in_v6_network(a.to_v6(), *e.v6);
  });
}

Result<void> UrlPolicy::check_address(const ip::address& a, std::uint16_t port,
                                      std::string_view host) const {
  if (allowed_host_port(host, port)) return {};
  if (!allowed_network(a) && is_blocked_address(a)) {
    return fail(ErrorKind::kPermissionDenied, std::string(kAddressNotAllowed));
  }
  if (port != 80 && port != 443) return invalid(fmt::format("port {} is not allowed", port));
  return {};
}

Result<void> UrlPolicy::check_socket_address(const sockaddr* address, socklen_t length,
                                             std::string_view host) const {
  if (address != nullptr && address->sa_family == AF_INET &&
      length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in{};
    std::memcpy(&in, address, sizeof in);
    return check_address(ip::address_v4(ntohl(in.sin_addr.s_addr)), ntohs(in.sin_port), host);
  }
  if (address != nullptr && address->sa_family == AF_INET6 &&
      length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, address, sizeof in6);
    ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
    return check_address(ip::address_v6(bytes, in6.sin6_scope_id), ntohs(in6.sin6_port), host);
  }
  return fail(ErrorKind::kPermissionDenied, std::string(kAddressNotAllowed));
}

Result<CheckedUrl> UrlPolicy::check_url(std::string_view url) const {
  url = trim_controls(url);
  if (url.size() > kMaxUrlLength) return invalid("the URL is too long");
  auto parsed = boost::urls::parse_uri(url);
  // Boost.URL 1.81 reads a host that only starts with a dotted quad ("8.8.8.8.evil.com",
  // "1.2.3.4.5") as that IPv4 address followed by a path without its '/'. Percent-encoding the
  // host's first character makes it a reg-name, which the WHATWG rules below read whole.
  std::string reparsed;
  if (parsed && parsed->host_type() == boost::urls::host_type::ipv4 &&
      !parsed->encoded_path().empty() && parsed->encoded_path().front() != '/') {
    const auto at = static_cast<std::size_t>(parsed->encoded_host().data() - url.data());
    reparsed = fmt::format("{}%{:02X}{}", url.substr(0, at), static_cast<unsigned char>(url[at]),
                           url.substr(at + 1));
    parsed = boost::urls::parse_uri(reparsed);
  }
  if (!parsed) return invalid(std::string(kNotAUrl));
  const std::string_view path = parsed->encoded_path();
  if (parsed->has_authority() && !path.empty() && path.front() != '/') {
    return invalid(std::string(kNotAUrl));  // the misreading above in a form not foreseen
  }

  CheckedUrl out;
  for (char c : parsed->scheme()) {
    out.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (out.scheme != "https" && !(allow_http_ && out.scheme == "http")) {
    return invalid(allow_http_ ? "only http and https URLs are allowed"
                               : "only https URLs are allowed");
  }
  if (!parsed->has_authority()) return invalid("the URL has no host");
  if (parsed->has_userinfo()) return invalid("URLs with a user name or password are not allowed");

  switch (parsed->host_type()) {
    case boost::urls::host_type::ipv4:
      out.literal = ip::address_v4(parsed->host_ipv4_address().to_uint());
      break;
    case boost::urls::host_type::ipv6:
      out.literal = ip::address_v6(parsed->host_ipv6_address().to_bytes());
      break;
    case boost::urls::host_type::name: {
      auto name = normalise_name(parsed->host_name());
      if (!name) return tl::unexpected(name.error());
      auto v4 = parse_ipv4_host(*name);
      if (!v4) return tl::unexpected(v4.error());
      if (*v4) {
        out.literal = ip::address_v4(**v4);
      } else {
        out.host = std::move(*name);
      }
      break;
    }
    default:  // no host, or an IPvFuture literal ([v1.x]) nothing can connect to
      return invalid(parsed->host_type() == boost::urls::host_type::none ? "the URL has no host"
                                                                         : std::string(kBadHost));
  }
  if (out.literal) out.host = out.literal->to_string();

  out.port = out.scheme == "https" ? 443 : 80;
  if (std::string_view digits = parsed->port(); !digits.empty()) {
    digits.remove_prefix(std::min(digits.find_first_not_of('0'), digits.size()));  // as browsers
    if (digits.size() > 5) return invalid("the port is not valid");
    unsigned value = 0;
    for (char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535) return invalid("the port is not valid");
    out.port = static_cast<std::uint16_t>(value);
  }

  if (out.literal) {
    if (auto ok = check_address(*out.literal, out.port, out.host); !ok) {
      return tl::unexpected(ok.error());
    }
  } else if (out.port != 80 && out.port != 443 && !allowed_host_port(out.host, out.port)) {
    return invalid(fmt::format("port {} is not allowed", out.port));
  }

  const bool bracket = out.literal && out.literal->is_v6();
  out.url =
      fmt::format("{}://{}{}{}", out.scheme, bracket ? "[" : "", out.host, bracket ? "]" : "");
  if (!is_default_port(out.scheme, out.port)) out.url += fmt::format(":{}", out.port);
  out.url += path.empty() ? std::string_view("/") : path;
  if (parsed->has_query()) {
    out.url += '?';
    out.url += parsed->encoded_query();
  }
  return out;
}

}  // namespace mando::net
