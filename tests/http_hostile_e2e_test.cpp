// The real `mando serve` under hostile clients (issue 11):
//   - Node's own `http` client posts bodies far over [server] max_body_bytes, 50 times each, and
//     must read every 413 instead of a connection reset (the lingering close);
//   - thousands of idle keep-alive connections against max_connections = 200 and an fd limit of
//     1024: signed interactions keep being answered, the oldest idle connections are the ones
//     closed, and mando never runs out of descriptors.

#include <memory>
#include <regex>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/process_limits.hpp"
#include "support/discord_key.hpp"
#include "support/process.hpp"
#include "support/raw_http.hpp"
#include "support/temp_dir.hpp"
#include "support/test_data.hpp"
#include <signal.h>

namespace mando::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class HostileClientsTest : public ::testing::Test {
 protected:
  // Starts `mando serve` (through `prefix`, e.g. prlimit) and returns its port.
  std::uint16_t start(std::map<std::string, std::string> env,
                      std::vector<std::string> prefix = {}) {
    env.emplace("MANDO_DISCORD_PUBLIC_KEY", key_.public_hex());
    env.emplace("MANDO_LOG_LEVEL", "warn");
    std::vector<std::string> argv = std::move(prefix);
    for (std::string arg :
         {std::string(MANDO_BINARY), std::string("serve"), std::string("--listen"),
          std::string("127.0.0.1:0"), std::string("--data-dir"), (dir_.path() / "data").string()}) {
      argv.push_back(std::move(arg));
    }
    server_ = std::make_unique<Process>(argv, env);
    std::string err;
    const auto port = wait_for_loopback_port(*server_, &err);
    if (!port) ADD_FAILURE() << "mando did not print its address: " << err;
    return port.value_or(0);
  }

  // Stops mando with SIGTERM; returns its stderr.
  std::string stop() {
    server_->signal(SIGTERM);
    auto result = server_->wait(30s);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.err;
  }

  TempDir dir_;
  TestKey key_;
  std::unique_ptr<Process> server_;
};

// The value of an unlabelled series in a Prometheus text page, or -1.
double metric(const std::string& page, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(page, m, std::regex("\n" + name + " ([0-9.e+]+)\n"))) return -1;
  return std::stod(m[1]);
}

TEST_F(HostileClientsTest, NodeClientReadsEvery413WhileStillSendingItsBody) {
  const auto port = start({});  // max_body_bytes 1 MiB by default
  ASSERT_NE(port, 0);
  auto client = run({"/usr/bin/env", "node", std::string(MANDO_NPM_DIR) + "/early_413_client.mjs",
                     "--url", fmt::format("http://127.0.0.1:{}", port), "--path", "/interactions",
                     "--sizes", "4194304,16777216", "--times", "50"},
                    {}, {}, 240s);
  ASSERT_EQ(client.exit_code, 0) << "node (on the PATH?):\n" << client.out << client.err;
  const auto at = client.out.rfind("{\"results\"");
  ASSERT_NE(at, std::string::npos) << client.out;
  const auto last = client.out.substr(at);
  const auto results = json::parse(last).at("results").as_array();
  ASSERT_EQ(results.size(), 100u);
  int answered = 0;
  for (const auto& item : results) {
    const auto& r = item.as_object();
    const bool ok = r.at("status") == 413 && r.at("error").is_null() &&
                    r.at("body").as_string().find("request body too large") != json::string::npos;
    if (ok) {
      ++answered;
    } else {
      ADD_FAILURE() << "not answered: " << json::serialize(r);
    }
  }
  EXPECT_EQ(answered, 100);
  stop();
}

TEST_F(HostileClientsTest, ThousandsOfIdleConnectionsDoNotStarveSignedInteractions) {
  constexpr int kIdle = 2000;
  constexpr int kMaxConnections = 200;
  // This process holds the idle clients: it needs more descriptors than mando may have.
  auto own = core::raise_fd_limit();
  ASSERT_TRUE(own) << own.error().message;
  if (own->soft < kIdle + 256) GTEST_SKIP() << "fd hard limit " << own->hard << " is too low";

  const auto port = start({{"MANDO_SERVER_MAX_CONNECTIONS", std::to_string(kMaxConnections)},
                           {"MANDO_QUEUE_API_TOKEN", ""}},
                          {"/usr/bin/prlimit", "--nofile=1024:1024"});
  ASSERT_NE(port, 0);
  const std::string ping = read_test_data("discord/ping.json");
  const std::string about = read_test_data("discord/command_no_options.json");

  // Each client makes one request, so it is a real keep-alive connection, then stays idle.
  // Beyond 200 every new one makes mando close the oldest idle one.
  std::vector<std::unique_ptr<PlainSocket>> idle;
  int interactions = 0;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<PlainSocket>(port));
    ASSERT_EQ(idle.back()->send_all(raw_request("GET", "/healthz")), 0);
    auto r = idle.back()->read_response();
    ASSERT_TRUE(r) << "idle client " << i << " got no answer";
    ASSERT_EQ(r->status, 200);
    if (i % 100 == 99) {
      PlainSocket discord(port);
      ASSERT_EQ(discord.send_all(signed_request(key_, i % 200 == 99 ? ping : about)), 0);
      auto answer = discord.read_response();
      ASSERT_TRUE(answer) << "interaction after " << i << " idle clients got no answer";
      EXPECT_EQ(answer->status, 200) << answer->body;
      ++interactions;
    }
  }
  EXPECT_EQ(interactions, kIdle / 100);

  // The closed clients are exactly the oldest ones: a prefix of the opening order.
  int first_open = 0;
  while (first_open < kIdle && idle[first_open]->peer_closed()) ++first_open;
  for (int i = first_open; i < kIdle; ++i) {
    EXPECT_FALSE(idle[i]->peer_closed()) << "client " << i << " was closed but older ones live";
  }
  EXPECT_GE(first_open, kIdle - kMaxConnections);
  EXPECT_GE(kIdle - first_open, kMaxConnections / 2);  // the newest ones were kept
  for (int i = kIdle - 5; i < kIdle; ++i) {            // and still work
    ASSERT_EQ(idle[i]->send_all(raw_request("GET", "/healthz")), 0);
    auto r = idle[i]->read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }

  // SQLite still works (the queue API lists from it), and mando never hit its fd limit.
  PlainSocket api(port);
  ASSERT_EQ(api.send_all(raw_request("GET", "/v2/projects/mando/locations/local/queues")), 0);
  auto queues = api.read_response();
  ASSERT_TRUE(queues);
  EXPECT_EQ(queues->status, 200) << queues->body;
  PlainSocket scrape(port);
  ASSERT_EQ(scrape.send_all(raw_request("GET", "/metrics")), 0);
  auto page = scrape.read_response();
  ASSERT_TRUE(page);
  const std::string text = "\n" + page->body;
  EXPECT_EQ(metric(text, "process_max_fds"), 1024);
  EXPECT_GT(metric(text, "process_open_fds"), kMaxConnections / 2);
  EXPECT_LT(metric(text, "process_open_fds"), 1024);
  EXPECT_LE(metric(text, "mando_http_connections_open"), kMaxConnections);
  EXPECT_GE(metric(text, "mando_http_connections_evicted_total"), first_open);

  idle.clear();
  const auto err = stop();
  EXPECT_EQ(err.find("accept failed"), std::string::npos) << err;
  EXPECT_EQ(err.find("Too many open files"), std::string::npos) << err;
}

}  // namespace
}  // namespace mando::testing
