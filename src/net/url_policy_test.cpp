#include "net/url_policy.hpp"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace mando::net {
namespace {

namespace ip = boost::asio::ip;

UrlPolicy make_policy(FetchPolicyOptions options = {}) {
  auto policy = UrlPolicy::create(std::move(options));
  EXPECT_TRUE(policy) << policy.error().message;
  return std::move(*policy);
}

void expect_denied(const Result<CheckedUrl>& r, const std::string& url) {
  ASSERT_FALSE(r) << url << " was accepted as " << r->url;
  EXPECT_EQ(r.error().kind, ErrorKind::kPermissionDenied) << url << ": " << r.error().message;
  EXPECT_EQ(r.error().message, "address not allowed") << url;
}

void expect_invalid(const Result<CheckedUrl>& r, const std::string& url,
                    const std::string& message) {
  ASSERT_FALSE(r) << url << " was accepted as " << r->url;
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument) << url;
  EXPECT_EQ(r.error().message, message) << url;
}

// The first and last address of every blocked range, and the neighbours just outside it.
TEST(UrlPolicy, EveryBlockedRangeIsBlockedToItsEdges) {
  const std::vector<std::pair<const char*, bool>> cases = {
      {"0.0.0.0", true},
      {"0.255.255.255", true},
      {"1.0.0.0", false},
      {"9.255.255.255", false},
      {"10.0.0.0", true},
      {"10.255.255.255", true},
      {"11.0.0.0", false},
      {"100.63.255.255", false},
      {"100.64.0.0", true},
      {"100.127.255.255", true},
      {"100.128.0.0", false},
      {"126.255.255.255", false},
      {"127.0.0.0", true},
      {"127.255.255.255", true},
      {"128.0.0.0", false},
      {"169.253.255.255", false},
      {"169.254.0.0", true},
      {"169.254.169.254", true},
      {"169.254.255.255", true},
      {"169.255.0.0", false},
      {"172.15.255.255", false},
      {"172.16.0.0", true},
      {"172.31.255.255", true},
      {"172.32.0.0", false},
      {"191.255.255.255", false},
      {"192.0.0.0", true},
      {"192.0.0.255", true},
      {"192.0.1.0", false},
      {"192.0.2.0", true},
      {"192.0.2.255", true},
      {"192.0.3.0", false},
      {"192.167.255.255", false},
      {"192.168.0.0", true},
      {"192.168.255.255", true},
      {"192.169.0.0", false},
      {"198.17.255.255", false},
      {"198.18.0.0", true},
      {"198.19.255.255", true},
      {"198.20.0.0", false},
      {"198.51.99.255", false},
      {"198.51.100.0", true},
      {"198.51.100.255", true},
      {"198.51.101.0", false},
      {"203.0.112.255", false},
      {"203.0.113.0", true},
      {"203.0.113.255", true},
      {"203.0.114.0", false},
      {"223.255.255.255", false},
      {"224.0.0.0", true},
      {"239.255.255.255", true},
      {"240.0.0.0", true},
      {"255.255.255.254", true},
      {"255.255.255.255", true},
      {"8.8.8.8", false},
      {"::", true},
      {"::1", true},
      {"::2", true},
      {"fc00::", true},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"fbff::1", false},
      {"fe00::1", false},
      {"fe80::", true},
      {"febf:ffff::1", true},
      {"fec0::", true},
      {"feff:ffff::1", true},
      {"ff00::", true},
      {"ff02::1", true},
      {"2606:4700::1111", false},
      {"2001:db8::1", true},
      {"2001::1", true},
      {"2001:4860:4860::8888", false},
      {"100::1", true},
      {"64:ff9b:1::1", true},
  };
  for (const auto& [text, blocked] : cases) {
    EXPECT_EQ(is_blocked_address(ip::make_address(text)), blocked) << text;
  }
}

TEST(UrlPolicy, IPv4InsideIPv6IsJudgedAsThatIPv4Address) {
  const std::vector<std::pair<const char*, bool>> cases = {
      {"::ffff:127.0.0.1", true},         {"::ffff:10.1.2.3", true},    {"::ffff:8.8.8.8", false},
      {"::ffff:0:127.0.0.1", true},       {"::ffff:0:8.8.8.8", false},  {"64:ff9b::10.0.0.1", true},
      {"64:ff9b::169.254.169.254", true}, {"64:ff9b::8.8.8.8", false},  {"2002:7f00:1::", true},
      {"2002:a9fe:a9fe:1::1", true},      {"2002:0808:0808::1", false}, {"::127.0.0.1", true},
  };
  for (const auto& [text, blocked] : cases) {
    EXPECT_EQ(is_blocked_address(ip::make_address(text)), blocked) << text;
  }
}

TEST(UrlPolicy, NumericHostsAreReadAsTheAddressesTheyMean) {
  const auto policy = make_policy({.allow_http = true});
  for (const std::string url : {"http://2130706433/",
                                "http://0x7f.1/",
                                "http://0177.0.0.1/",
                                "http://127.1/",
                                "http://127.0.1/",
                                "http://0x7F000001/",
                                "http://0x7f.0x0.0x0.0x1/",
                                "http://017700000001/",
                                "http://127.0.0.1./",
                                "http://[::ffff:127.0.0.1]/",
                                "http://[::ffff:7f00:1]/",
                                "http://[::1]/",
                                "http://[0:0:0:0:0:0:0:1]/",
                                "http://0/",
                                "http://0x0/",
                                "http://%31%32%37.0.0.1/",
                                "http://169.254.169.254/latest/meta-data/",
                                "http://0xa9fea9fe/",
                                "http://10.1/",
                                "http://[fe80::1]/",
                                "http://[::]/"}) {
    expect_denied(policy.check_url(url), url);
  }
}

TEST(UrlPolicy, NumericHostsAreNormalisedToTheirCanonicalForm) {
  const auto policy = make_policy({.allow_http = true});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://134744072/", "http://8.8.8.8/"},
      {"http://0x8.0x8.0x8.0x8/x", "http://8.8.8.8/x"},
      {"http://010.010.010.010/", "http://8.8.8.8/"},
      {"http://8.526344/", "http://8.8.8.8/"},
      {"http://[2001:4860:4860:0:0:0:0:8888]/", "http://[2001:4860:4860::8888]/"},
      {"http://[::FFFF:8.8.8.8]/", "http://[::ffff:8.8.8.8]/"},
  };
  for (const auto& [in, out] : cases) {
    auto r = policy.check_url(in);
    ASSERT_TRUE(r) << in << ": " << r.error().message;
    EXPECT_EQ(r->url, out);
    ASSERT_TRUE(r->literal) << in;
    EXPECT_EQ(r->host, r->literal->to_string());
  }
}

TEST(UrlPolicy, NumbersThatAreNoAddressAreInvalid) {
  const auto policy = make_policy();
  for (const std::string url :
       {"https://1.2.3.4.5/", "https://4294967296/", "https://256.1.1.1/", "https://1.2.3.256/",
        "https://1.2.65536/", "https://foo.0x/", "https://foo.123/", "https://09/"}) {
    expect_invalid(policy.check_url(url), url, "the host name is not valid");
  }
  // Not numbers at the end: names, resolved and checked later. Boost.URL 1.81 alone would read
  // the ones starting with a dotted quad as that address plus a path.
  for (const std::string url :
       {"https://123.foo/", "https://0x7f.example/", "https://1e3/", "https://0x1g/",
        "https://8.8.8.8.nip.io/x", "https://127.0.0.1.nip.io/", "https://1.2.3.4-evil.com/"}) {
    auto r = policy.check_url(url);
    ASSERT_TRUE(r) << url << ": " << r.error().message;
    EXPECT_FALSE(r->literal) << url;
    EXPECT_EQ(r->url, url);
  }
  auto ported = policy.check_url("https://8.8.8.8.nip.io:8443/");
  ASSERT_FALSE(ported);
  EXPECT_EQ(ported.error().message, "port 8443 is not allowed");
}

TEST(UrlPolicy, NamesAreNormalised) {
  const auto policy = make_policy();
  auto r = policy.check_url("  HTTPS://Images.Example.COM.:443/A/b%20c?X=1&y=%2F#frag\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->url, "https://images.example.com/A/b%20c?X=1&y=%2F");
  EXPECT_EQ(r->scheme, "https");
  EXPECT_EQ(r->host, "images.example.com");
  EXPECT_EQ(r->port, 443);
  EXPECT_FALSE(r->literal);
  auto bare = policy.check_url("https://example.com");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->url, "https://example.com/");
  auto query = policy.check_url("https://example.com?q");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->url, "https://example.com/?q");
  auto http_port = policy.check_url("https://example.com:80/");
  ASSERT_TRUE(http_port);
  EXPECT_EQ(http_port->url, "https://example.com:80/");
  EXPECT_EQ(http_port->port, 80);
}

TEST(UrlPolicy, CheckingANormalisedUrlAnswersTheSame) {
  const auto policy = make_policy({.allow_http = true, .allow = {"files.internal:8443"}});
  for (const std::string url :
       {"HTTP://Example.com:0080/a/../b?c#d", "https://8.526344:443", "https://[::ffff:8.8.8.8]/",
        "https://files.internal:8443/x", "http://example.com:443/", "https://xn--bcher-kva.de/"}) {
    auto first = policy.check_url(url);
    ASSERT_TRUE(first) << url << ": " << first.error().message;
    auto second = policy.check_url(first->url);
    ASSERT_TRUE(second) << first->url;
    EXPECT_EQ(second->url, first->url);
    EXPECT_EQ(second->host, first->host);
    EXPECT_EQ(second->port, first->port);
    EXPECT_EQ(second->literal, first->literal);
  }
}

TEST(UrlPolicy, SchemesUserInfoAndPorts) {
  const auto strict = make_policy();
  expect_invalid(strict.check_url("http://example.com/"), "http", "only https URLs are allowed");
  expect_invalid(strict.check_url("ftp://example.com/"), "ftp", "only https URLs are allowed");
  expect_invalid(strict.check_url("file:///etc/passwd"), "file", "only https URLs are allowed");
  const auto lax = make_policy({.allow_http = true});
  EXPECT_TRUE(lax.check_url("http://example.com/"));
  expect_invalid(lax.check_url("gopher://example.com/"), "gopher",
                 "only http and https URLs are allowed");
  for (const std::string url : {"https://user@example.com/", "https://user:pw@example.com/",
                                "https://:@example.com/", "https://a%40b@example.com/"}) {
    expect_invalid(strict.check_url(url), url, "URLs with a user name or password are not allowed");
  }
  expect_invalid(strict.check_url("https://example.com:8080/"), "8080", "port 8080 is not allowed");
  expect_invalid(strict.check_url("https://example.com:0/"), "0", "port 0 is not allowed");
  expect_invalid(strict.check_url("https://8.8.8.8:22/"), "22", "port 22 is not allowed");
  expect_invalid(strict.check_url("https://example.com:65536/"), "65536", "the port is not valid");
  auto zeros = strict.check_url("https://example.com:0000000000443/");
  ASSERT_TRUE(zeros);
  EXPECT_EQ(zeros->url, "https://example.com/");
  auto empty_port = strict.check_url("https://example.com:/x");
  ASSERT_TRUE(empty_port);
  EXPECT_EQ(empty_port->url, "https://example.com/x");
}

TEST(UrlPolicy, MalformedUrlsAndHosts) {
  const auto policy = make_policy();
  expect_invalid(policy.check_url(""), "empty", "not a valid URL");
  expect_invalid(policy.check_url("example.com/a.png"), "relative", "not a valid URL");
  expect_invalid(policy.check_url("https://exa mple.com/"), "space", "not a valid URL");
  expect_invalid(policy.check_url("https:example.com"), "no authority", "the URL has no host");
  expect_invalid(policy.check_url("https:///a.png"), "empty host", "the URL has no host");
  expect_invalid(policy.check_url("https://[v1.x]/"), "ipvfuture", "the host name is not valid");
  for (const std::string url :
       {"https://b%C3%BCcher.de/", "https://exa%00mple.com/", "https://a..b/", "https://.a/",
        "https://a../", "https://a%2fb/", "https://a!b/", "https://%2e/"}) {
    expect_invalid(policy.check_url(url), url, "the host name is not valid");
  }
  expect_invalid(policy.check_url("https://example.com/" + std::string(9000, 'a')), "long",
                 "the URL is too long");
}

TEST(UrlPolicy, AHostPortEntryLiftsTheBlockAndThePortRuleForThatPairOnly) {
  const auto policy =
      make_policy({.allow_http = true, .allow = {"127.0.0.1:4567", "Files.Internal:8080"}});
  auto loopback = policy.check_url("http://127.0.0.1:4567/img.png");
  ASSERT_TRUE(loopback) << loopback.error().message;
  EXPECT_EQ(loopback->url, "http://127.0.0.1:4567/img.png");
  // The same address in another spelling is the same host once normalised...
  EXPECT_TRUE(policy.check_url("http://2130706433:4567/"));
  // ...but not as an IPv6 address, nor on another port or through another name.
  expect_denied(policy.check_url("http://[::ffff:127.0.0.1]:4567/"), "mapped");
  expect_denied(policy.check_url("http://127.0.0.1:4568/"), "other port");
  expect_denied(policy.check_url("http://127.0.0.1/"), "port 80");
  auto name = policy.check_url("http://files.internal:8080/a");
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_TRUE(policy.check_address(ip::make_address("10.0.0.7"), 8080, "files.internal"));
  EXPECT_FALSE(policy.check_address(ip::make_address("10.0.0.7"), 443, "files.internal"));
  EXPECT_FALSE(policy.check_address(ip::make_address("10.0.0.7"), 8080, "evil.example"));
  EXPECT_FALSE(policy.check_address(ip::make_address("127.0.0.1"), 4567, "evil.example"));
  expect_invalid(policy.check_url("http://files.internal:8081/"), "8081",
                 "port 8081 is not allowed");
}

TEST(UrlPolicy, ANetworkEntryLiftsTheBlockButNotThePortRule) {
  const auto policy = make_policy({.allow = {"10.1.0.0/16", "fd00::/8", "192.168.1.5"}});
  EXPECT_TRUE(policy.check_url("https://10.1.2.3/"));
  EXPECT_TRUE(policy.check_url("https://[::ffff:10.1.2.3]/"));
  EXPECT_TRUE(policy.check_url("https://[fd12::1]/"));
  EXPECT_TRUE(policy.check_url("https://192.168.1.5/"));
  expect_denied(policy.check_url("https://192.168.1.6/"), "192.168.1.6");
  expect_denied(policy.check_url("https://10.2.0.1/"), "10.2.0.1");
  expect_denied(policy.check_url("https://[fc00::1]/"), "fc00::1");
  expect_invalid(policy.check_url("https://10.1.2.3:8080/"), "port", "port 8080 is not allowed");
  EXPECT_TRUE(policy.check_address(ip::make_address("10.1.9.9"), 443, "images.internal"));
  auto port = policy.check_address(ip::make_address("10.1.9.9"), 8443, "images.internal");
  ASSERT_FALSE(port);
  EXPECT_EQ(port.error().message, "port 8443 is not allowed");
}

TEST(UrlPolicy, BadAllowEntriesAreRefusedNamingThem) {
  for (const std::string entry :
       {"", "example.com", "10.1.0.0/33", "10.1.2.0/16", "[::1]", "[::1]8080", "a:b:80", "127.1:80",
        "2130706433:80", "host:0", "host:65536", "ho st:80", "fd00::/129", "10.0.0.0/x"}) {
    auto policy = UrlPolicy::create({.allow = {"8.8.8.8/32", entry}});
    ASSERT_FALSE(policy) << '"' << entry << '"';
    EXPECT_EQ(policy.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_NE(policy.error().message.find('"' + entry + '"'), std::string::npos)
        << policy.error().message;
  }
}

TEST(UrlPolicy, SocketAddressesAreCheckedWithTheirPort) {
  const auto policy = make_policy({.allow = {"127.0.0.1:4567"}});
  auto v4 = [](const char* text, std::uint16_t port) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    inet_pton(AF_INET, text, &in.sin_addr);
    return in;
  };
  auto check4 = [&](const sockaddr_in& in, const char* host) {
    return policy.check_socket_address(reinterpret_cast<const sockaddr*>(&in), sizeof in, host);
  };
  EXPECT_TRUE(check4(v4("8.8.8.8", 443), "dns.google"));
  EXPECT_TRUE(check4(v4("127.0.0.1", 4567), "127.0.0.1"));
  EXPECT_FALSE(check4(v4("127.0.0.1", 4567), "rebound.example"));
  EXPECT_FALSE(check4(v4("127.0.0.1", 443), "127.0.0.1"));
  EXPECT_FALSE(check4(v4("169.254.169.254", 80), "metadata.example"));
  EXPECT_FALSE(check4(v4("8.8.8.8", 25), "dns.google"));

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(443);
  inet_pton(AF_INET6, "::ffff:10.0.0.1", &in6.sin6_addr);
  EXPECT_FALSE(policy.check_socket_address(reinterpret_cast<const sockaddr*>(&in6), sizeof in6,
                                           "rebound.example"));
  inet_pton(AF_INET6, "2606:4700::1111", &in6.sin6_addr);
  EXPECT_TRUE(policy.check_socket_address(reinterpret_cast<const sockaddr*>(&in6), sizeof in6,
                                          "one.one.one.one"));
  // A length too short for the family, another family, no address: refused.
  EXPECT_FALSE(policy.check_socket_address(reinterpret_cast<const sockaddr*>(&in6), 8, "x"));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, "/run/docker.sock");
  EXPECT_FALSE(policy.check_socket_address(reinterpret_cast<const sockaddr*>(&un), sizeof un, "x"));
  EXPECT_FALSE(policy.check_socket_address(nullptr, 0, "x"));
}

}  // namespace
}  // namespace mando::net
