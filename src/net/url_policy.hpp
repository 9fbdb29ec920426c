#pragma once
// The SSRF guard: which URLs that strangers give us (a Discord user's image link, a GPU
// provider's result URL, a redirect) mando may download, and which addresses it may connect to
// for them. Pure policy, no I/O: net::Fetcher asks it about every URL and every address, and the
// HTTP client's connect hook asks it again about the socket address curl is about to use.
//
// The rules, in the order they are checked:
//  1. https only (http too with allow_http). No user name or password in the URL. The fragment
//     is never sent.
//  2. The host is lower-cased and IPv4 numbers in any spelling a browser (the WHATWG URL
//     standard) or getaddrinfo would accept are read as the address they mean: 2130706433,
//     0x7f.1, 0177.0.0.1 and 127.1 are all 127.0.0.1 and are written that way in the normalised
//     URL, so curl never sees the odd spelling. Hosts that are not ASCII letters, digits, '-',
//     '_' and dots are refused (no IDNA here: write xn--... names).
//  3. A (HOST, PORT) named by an allow entry is allowed, whatever its addresses.
//  4. Otherwise every address the host has must be public: not in the blocked ranges listed in
//     url_policy.cpp (loopback, private, link-local, CGNAT, multicast, documentation,
//     benchmarking, reserved...), an IPv4 address inside IPv6 (::ffff:0:0/96, 64:ff9b::/96,
//     2002::/16 and the like) checked as the IPv4 address it carries. A network allow entry
//     lifts the block for its addresses.
//  5. And the port must be 80 or 443.
// core/fetch_allow.hpp describes the allow entries.
//
// Errors are short lower-case phrases a user can read after "image 3: ": kInvalidArgument for a
// URL mando will not fetch ("only https URLs are allowed", "port 8080 is not allowed"),
// kPermissionDenied with exactly "address not allowed" for a blocked address.
//
// Thread-safety: a UrlPolicy is immutable once created; every const member may be called from
// any thread at once.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "core/error.hpp"
#include "core/fetch_allow.hpp"
#include <sys/socket.h>

namespace mando::net {

struct FetchPolicyOptions {
  bool allow_http = false;
  std::vector<std::string> allow = {};  // core/fetch_allow.hpp entries
};

struct CheckedUrl {
  // What to hand to curl: scheme and host lower-cased, an IP host in canonical form (IPv6 in
  // brackets), the port only when it is not the scheme's default, the path ("/" when empty) and
  // query exactly as given, no fragment. check_url(url) answers the same CheckedUrl again.
  std::string url;
  std::string scheme;  // "https" or "http"
  std::string host;    // lower case, no brackets, no trailing dot; an IP in canonical form
  std::uint16_t port = 0;
  std::optional<boost::asio::ip::address> literal;  // when the host is an IP in any spelling
};

class UrlPolicy {
 public:
  // kInvalidArgument when an allow entry does not parse (the message quotes it).
  static Result<UrlPolicy> create(FetchPolicyOptions options);

  // Rules 1, 2 and, for names, the port rule of 3 and 5. An IP host gets check_address() too,
  // so a URL naming a blocked address is refused before anything resolves or connects.
  Result<CheckedUrl> check_url(std::string_view url) const;

  // Rules 3 to 5 for one address of `host` (CheckedUrl::host) on `port`.
  Result<void> check_address(const boost::asio::ip::address& a, std::uint16_t port,
                             std::string_view host) const;

  // check_address() for a socket address (AF_INET or AF_INET6; any other family is refused),
  // port included: the HTTP client's last word before it connects (ClientRequest::allow_connect).
  Result<void> check_socket_address(const sockaddr* address, socklen_t length,
                                    std::string_view host) const;

  bool allow_http() const { return allow_http_; }

 private:
  UrlPolicy() = default;

  bool allowed_host_port(std::string_view host, std::uint16_t port) const;
  bool allowed_network(const boost::asio::ip::address& a) const;

  bool allow_http_ = false;
  std::vector<core::FetchAllowEntry> host_ports_;
  std::vector<core::FetchAllowEntry> networks_;
};

// Whether an address is in a range no URL from outside may reach (rule 4 without the allow
// list); IPv4 inside IPv6 is judged as that IPv4 address. For tests and the fuzz target.
bool is_blocked_address(const boost::asio::ip::address& a);

}  // namespace mando::net
