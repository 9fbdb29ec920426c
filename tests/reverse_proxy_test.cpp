// The deployment the README describes, with a real reverse proxy: node-http-proxy (npm
// http-proxy, xfwd on, as nginx's proxy_set_header X-Forwarded-For does) in front of
// `mando serve`. Everything an outside client sends arrives at mando from 127.0.0.1 with
// forwarding headers. It must reach /interactions (and prove itself there) and nothing of the
// queue API, the worker routes or the metrics; a proxy pointed at the internal listener by
// mistake must get nothing but refusals.
//
// Needs node and tests/npm/node_modules: scripts/install-deps.sh --test installs both.

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/discord_key.hpp"
#include "support/process.hpp"
#include "support/raw_http.hpp"
#include "support/temp_dir.hpp"
#include "support/test_data.hpp"

namespace mando::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kNpmDir = MANDO_NPM_DIR;

class ReverseProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::is_directory(kNpmDir / "node_modules" / "http-proxy"))
        << "tests/npm/node_modules lacks http-proxy: run scripts/install-deps.sh --test";
    mando_ = std::make_unique<Process>(
        std::vector<std::string>{MANDO_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                                 (dir_.path() / "data").string()},
        std::map<std::string, std::string>{{"MANDO_DISCORD_PUBLIC_KEY", key_.public_hex()},
                                           {"MANDO_QUEUE_API_TOKEN", ""},
                                           {"MANDO_LOG_LEVEL", "warn"}});
    auto urls = wait_for_serve_urls(*mando_, 30s);
    ASSERT_TRUE(urls) << "mando did not start: " << mando_->wait(5s).err;
    urls_ = *urls;
  }

  // Starts the proxy in front of `target`; answers its port.
  std::uint16_t start_proxy(const std::string& target) {
    proxy_ = std::make_unique<Process>(std::vector<std::string>{
        "/usr/bin/env", "node", (kNpmDir / "reverse_proxy.mjs").string(), "--target", target});
    auto line = proxy_->wait_for_line("listening on ", 30s);
    if (!line) {
      ADD_FAILURE() << "the proxy did not start: " << proxy_->wait(5s).err;
      return 0;
    }
    return loopback_port(line->substr(std::string("listening on ").size()));
  }

  static int status(std::uint16_t port, const std::string& raw) {
    RawConnection c(port);
    c.send(raw);
    auto r = c.read_response();
    return r ? r->status : -1;
  }

  TempDir dir_;
  TestKey key_;
  ServeUrls urls_;
  std::unique_ptr<Process> mando_;
  std::unique_ptr<Process> proxy_;
};

// What an attacker on the internet tries through the proxy: every internal route.
const std::vector<std::pair<std::string, std::string>> kInternalRequests = {
    {"GET", "/metrics"},
    {"GET", "/v2/projects/mando/locations/local/queues"},
    {"POST", "/v2/projects/mando/locations/local/queues/create-image/tasks"},
    {"POST", "/v2/projects/mando/locations/local/queues/create-image:purge"},
    {"POST", "/v2/projects/mando/locations/local/queues/create-image:pause"},
    {"DELETE", "/v2/projects/mando/locations/local/queues/reply-discord"},
    {"POST", "/workers/generate-image"},
    {"POST", "/workers/reply-discord"},
};
const std::string kSsrfTask =
    R"({"task":{"httpRequest":{"url":"http://169.254.169.254/latest/meta-data/"}}})";

TEST_F(ReverseProxyTest, OutsideClientsReachTheInteractionsEndpointAndNothingInternal) {
  const auto proxy = start_proxy(urls_.url);
  ASSERT_NE(proxy, 0);
  EXPECT_EQ(status(proxy, signed_request(key_, read_test_data("discord/ping.json"))), 200);
  EXPECT_EQ(status(proxy, raw_request("POST", "/interactions", "{}")), 401);
  EXPECT_EQ(status(proxy, raw_request("GET", "/healthz")), 200);
  for (const auto& [method, target] : kInternalRequests) {
    EXPECT_EQ(status(proxy, raw_request(method, target, kSsrfTask)), 404)
        << method << " " << target;
  }
}

TEST_F(ReverseProxyTest, AProxyPointedAtTheInternalListenerGetsOnlyRefusals) {
  const auto proxy = start_proxy(urls_.internal_url);
  ASSERT_NE(proxy, 0);
  EXPECT_EQ(status(proxy, raw_request("GET", "/healthz")), 403);
  for (const auto& [method, target] : kInternalRequests) {
    EXPECT_EQ(status(proxy, raw_request(method, target, kSsrfTask)), 403)
        << method << " " << target;
  }
  // Nothing was created: the queue API, asked directly with the token, lists no task.
  std::string token;
  std::ifstream(dir_.path() / "data" / "api_token") >> token;
  RawConnection c(loopback_port(urls_.internal_url));
  c.send(raw_request("GET", "/v2/projects/mando/locations/local/queues/create-image/tasks", "",
                     fmt::format("Authorization: Bearer {}\r\n", token)));
  auto listed = c.read_response();
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200) << listed->body;
  EXPECT_EQ(listed->body, R"({"tasks":[]})");
}

}  // namespace
}  // namespace mando::testing
