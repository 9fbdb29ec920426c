#include "core/fetch_allow.hpp"

#include <string>

#include <gtest/gtest.h>

namespace mando::core {
namespace {

TEST(FetchAllowEntry, HostPortEntriesAreNormalised) {
  auto name = parse_fetch_allow_entry("Files.Internal.:8080");
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_FALSE(name->is_network());
  EXPECT_EQ(name->host, "files.internal");
  EXPECT_EQ(name->port, 8080);
  auto v4 = parse_fetch_allow_entry("127.0.0.1:4567");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  auto v6 = parse_fetch_allow_entry("[0:0:0:0:0:0:0:1]:443");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 443);
}

TEST(FetchAllowEntry, NetworksAndSingleAddresses) {
  auto v4 = parse_fetch_allow_entry("10.1.0.0/16");
  ASSERT_TRUE(v4 && v4->v4);
  EXPECT_EQ(v4->v4->to_string(), "10.1.0.0/16");
  EXPECT_TRUE(v4->host.empty());
  auto v6 = parse_fetch_allow_entry("fd00::/8");
  ASSERT_TRUE(v6 && v6->v6);
  EXPECT_EQ(v6->v6->prefix_length(), 8);
  auto one = parse_fetch_allow_entry("192.168.1.5");
  ASSERT_TRUE(one && one->v4);
  EXPECT_EQ(one->v4->prefix_length(), 32);
  auto one6 = parse_fetch_allow_entry("fd00::5");
  ASSERT_TRUE(one6 && one6->v6);
  EXPECT_EQ(one6->v6->prefix_length(), 128);
  // IPv4-mapped networks become the IPv4 networks they map.
  auto mapped = parse_fetch_allow_entry("::ffff:10.0.0.0/104");
  ASSERT_TRUE(mapped && mapped->v4);
  EXPECT_EQ(mapped->v4->to_string(), "10.0.0.0/8");
  auto all = parse_fetch_allow_entry("0.0.0.0/0");
  ASSERT_TRUE(all && all->v4);
}

TEST(FetchAllowEntry, MistakesAreRefusedSayingWhy) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "must not be empty"},
      {"example.com", "HOST:PORT"},
      {"10.1.2.0/16", "host bits are set; the network is 10.1.0.0/16"},
      {"10.1.0.0/33", "from 0 to 32"},
      {"fd00::/129", "from 0 to 128"},
      {"fd00::/", "from 0 to 128"},
      {"10.0.0/8", "ADDR/LEN"},
      {"[::1]", "[ADDR]:PORT"},
      {"[::1]:", "from 1 to 65535"},
      {"[nope]:80", "no IPv6 address"},
      {"a:b:80", "[ADDR]:PORT"},
      {"127.1:80", "four decimal numbers"},
      {"010.0.0.1:80", "four decimal numbers"},
      {"0x7f.0.0.1:80", "four decimal numbers"},
      {"host:0", "from 1 to 65535"},
      {"host:65536", "from 1 to 65535"},
      {"host:http", "from 1 to 65535"},
      {"ho st:80", "letters, digits"},
      {"a..b:80", "empty labels"},
      {"a..:80", "empty labels"},
      {":80", "the host is empty"},
      {"[fe80::1%eth0]:80", "zone ids"},
      {"fe80::/10%1", "zone ids"},
  };
  for (const auto& [text, why] : cases) {
    auto entry = parse_fetch_allow_entry(text);
    ASSERT_FALSE(entry) << text;
    EXPECT_EQ(entry.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_NE(entry.error().message.find(std::string("\"") + text + "\""), std::string::npos)
        << entry.error().message;
    EXPECT_NE(entry.error().message.find(why), std::string::npos) << entry.error().message;
  }
}

}  // namespace
}  // namespace mando::core
