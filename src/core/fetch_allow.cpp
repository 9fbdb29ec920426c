#include "core/fetch_allow.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

namespace mando::core {
namespace {

namespace ip = boost::asio::ip;

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Whether a label would make a URL parser read the whole host as an IPv4 number (the WHATWG
// "ends in a number" rule: decimal, or hexadecimal after 0x).
bool is_numeric_label(std::string_view label) {
  if (is_digits(label)) return true;
  if (label.size() < 2 || label[0] != '0' || (label[1] != 'x' && label[1] != 'X')) return false;
  return std::all_of(label.begin() + 2, label.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

std::optional<int> parse_number(std::string_view s, int max) {
  int v = 0;
  if (!is_digits(s) || s.size() > 5) return std::nullopt;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v > max) return std::nullopt;
  return v;
}

class EntryParser {
 public:
  explicit EntryParser(std::string_view text) : text_(text) {}

  Result<FetchAllowEntry> parse() const {
    if (text_.empty()) return bad("an entry must not be empty");
    // Asio would read an unknown interface name as zone 0, quietly widening the entry.
    if (text_.find('%') != std::string_view::npos) return bad("zone ids (%eth0) are not supported");
    if (text_.find('/') != std::string_view::npos) return network();
    boost::system::error_code ec;
    const ip::address single = ip::make_address(std::string(text_), ec);
    if (!ec) return single.is_v4() ? from_network(single, 32) : from_network(single, 128);
    return host_port();
  }

 private:
  tl::unexpected<Error> bad(std::string_view why) const {
    return fail(ErrorKind::kInvalidArgument, fmt::format("\"{}\": {}", text_, why));
  }

  Result<FetchAllowEntry> network() const {
    const std::size_t slash = text_.find('/');
    boost::system::error_code ec;
    const ip::address base = ip::make_address(std::string(text_.substr(0, slash)), ec);
    if (ec) return bad("a network is written ADDR/LEN, such as 10.1.0.0/16 or fd00::/8");
    const int bits = base.is_v4() ? 32 : 128;
    const auto length = parse_number(text_.substr(slash + 1), bits);
    if (!length) return bad(fmt::format("the prefix length must be from 0 to {}", bits));
    return from_network(base, *length);
  }

  Result<FetchAllowEntry> from_network(const ip::address& base, int length) const {
    FetchAllowEntry entry;
    if (base.is_v4()) {
      entry.v4 = ip::network_v4(base.to_v4(), static_cast<unsigned short>(length));
    } else {
      const ip::address_v6 v6 = base.to_v6();
      if (v6.is_v4_mapped() && length >= 96) {
        // Checked as the IPv4 address they map (net::UrlPolicy does the same with addresses).
        entry.v4 = ip::network_v4(ip::make_address_v4(ip::v4_mapped, v6),
                                  static_cast<unsigned short>(length - 96));
      } else {
        entry.v6 = ip::network_v6(v6, static_cast<unsigned short>(length));
      }
    }
    const bool host_bits =
        entry.v4 ? entry.v4->canonical() != *entry.v4 : entry.v6->canonical() != *entry.v6;
    if (host_bits) {
      const std::string canonical =
          entry.v4 ? entry.v4->canonical().to_string() : entry.v6->canonical().to_string();
      return bad(fmt::format("host bits are set; the network is {}", canonical));
    }
    return entry;
  }

  Result<FetchAllowEntry> host_port() const {
    std::string_view host;
    std::string_view port;
    FetchAllowEntry entry;
    if (text_.front() == '[') {
      const std::size_t close = text_.find(']');
      if (close == std::string_view::npos || close + 1 >= text_.size() || text_[close + 1] != ':') {
        return bad("an IPv6 address with a port is written [ADDR]:PORT");
      }
      boost::system::error_code ec;
      const ip::address_v6 v6 = ip::make_address_v6(std::string(text_.substr(1, close - 1)), ec);
      if (ec) return bad("there is no IPv6 address between the brackets");
      entry.host = v6.to_string();
      port = text_.substr(close + 2);
    } else {
      const std::size_t colon = text_.rfind(':');
      if (colon == std::string_view::npos) {
        return bad("must be HOST:PORT, a network ADDR/LEN or one address");
      }
      if (text_.find(':') != colon)
        return bad("an IPv6 address with a port is written [ADDR]:PORT");
      host = text_.substr(0, colon);
      port = text_.substr(colon + 1);
      auto name = host_name(host);
      if (!name) return tl::unexpected(name.error());
      entry.host = std::move(*name);
    }
    const auto number = parse_number(port, 65535);
    if (!number || *number == 0) return bad("the port must be from 1 to 65535");
    entry.port = static_cast<std::uint16_t>(*number);
    return entry;
  }

  // A dotted-quad IPv4 address in canonical form, or a DNS name lower-cased without its
  // trailing dot.
  Result<std::string> host_name(std::string_view host) const {
    boost::system::error_code ec;
    const ip::address_v4 v4 = ip::make_address_v4(std::string(host), ec);
    if (!ec) return v4.to_string();
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (host.empty()) return bad("the host is empty");
    std::string out;
    for (char c : host) {
      const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const bool ok = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') ||
                      lower == '-' || lower == '_' || lower == '.';
      if (!ok) return bad("a host name has only letters, digits, '-', '_' and dots");
      out += lower;
    }
    if (out.front() == '.' || out.back() == '.' || out.find("..") != std::string::npos) {
      return bad("a host name has no empty labels");
    }
    if (is_numeric_label(out.substr(out.rfind('.') + 1))) {
      return bad("write an IPv4 address as four decimal numbers, such as 10.0.0.1");
    }
    return out;
  }

  std::string_view text_;
};

}  // namespace

Result<FetchAllowEntry> parse_fetch_allow_entry(std::string_view text) {
  return EntryParser(text).parse();
}

}  // namespace mando::core
