#pragma once
// The grammar of `[fetch] allow` entries: destinations an operator lets mando download from
// although net::UrlPolicy would refuse them (a private address, a port other than 80 and 443).
// It lives in core so that load_config() refuses a bad entry at start, naming it, and
// net::UrlPolicy reads exactly the same parse.
//
//   HOST:PORT  a host name or an IP address (IPv6 in brackets) and one port. URLs naming
//              exactly this host and port may be fetched, whatever addresses the name resolves
//              to: both the address block and the port rule are lifted, for that pair only.
//   ADDR/LEN   a network (10.1.0.0/16, fd00::/8): its addresses are no longer blocked, but
//              only on the ports every URL may use (80, 443). Name the port with a HOST:PORT
//              entry to go beyond them.
//   ADDR       one address: ADDR/32 or ADDR/128.
//
// The entries are strict where URLs are lenient: IPv4 addresses only as four decimal numbers
// (no 127.1, 0x7f.0.0.1 or 2130706433), networks without host bits set. A typo in an allow list
// should stop mando at start, not quietly allow something else.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include "core/error.hpp"

namespace mando::core {

struct FetchAllowEntry {
  // HOST:PORT entries: the host in lower case, without brackets or a trailing dot; an IP address
  // in its canonical text form (what boost::asio::ip::address::to_string() prints).
  std::string host;
  std::uint16_t port = 0;
  // Network entries (exactly one is set, and then `host` is empty). A network of IPv4-mapped
  // IPv6 addresses (::ffff:10.0.0.0/104) is stored as the IPv4 network it maps.
  std::optional<boost::asio::ip::network_v4> v4;
  std::optional<boost::asio::ip::network_v6> v6;

  bool is_network() const { return v4 || v6; }
};

// Parses one entry. Errors are kInvalidArgument, their message quotes the entry and says what
// is wrong ("\"10.1.0.0/33\": the prefix length must be from 0 to 32").
Result<FetchAllowEntry> parse_fetch_allow_entry(std::string_view text);

}  // namespace mando::core
