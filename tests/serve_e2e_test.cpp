// End-to-end tests of the real `mando` binary: started on an ephemeral loopback port, driven
// over HTTP, stopped with SIGTERM. Requests are signed here with libsodium directly, the way
// Discord signs them, independently of mando's own signing code.

#include <array>
#include <filesystem>
#include <fstream>
#include <regex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include "net/http_server.hpp"
#include "support/discord_key.hpp"
#include "support/process.hpp"
#include "support/raw_http.hpp"
#include "support/test_data.hpp"
#include <signal.h>

namespace mando::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string fixture(const std::string& name) { return read_test_data("discord/" + name); }

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("mando-e2e-{}-{}", ::getpid(), counter_++);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Starts `mando serve` and returns the public port it printed (internal_port_: the other).
  std::uint16_t start(std::map<std::string, std::string> env = {},
                      std::vector<std::string> extra = {}) {
    env.emplace("MANDO_DISCORD_PUBLIC_KEY", key_.public_hex());
    env.emplace("MANDO_LOG_LEVEL", "info");
    std::vector<std::string> argv = {MANDO_BINARY,  "serve",      "--listen",
                                     "127.0.0.1:0", "--data-dir", (dir_ / "data").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<Process>(argv, env);
    auto urls = wait_for_serve_urls(*server_, 30s);
    if (!urls) {
      ADD_FAILURE() << "mando did not print its addresses: " << server_->wait(5s).err;
      return 0;
    }
    internal_port_ = loopback_port(urls->internal_url);
    EXPECT_NE(internal_port_, 0) << urls->internal_url;
    EXPECT_NE(loopback_port(urls->url), 0) << urls->url;
    return loopback_port(urls->url);
  }

  std::optional<RawResponse> request(std::uint16_t port, const std::string& raw) {
    RawConnection c(port);
    c.send(raw);
    return c.read_response();
  }

  static inline int counter_ = 0;
  std::uint16_t internal_port_ = 0;
  fs::path dir_;
  TestKey key_;
  std::unique_ptr<Process> server_;
};

TEST_F(ServeTest, ServesHealthReadinessAndMetrics) {
  auto port = start();
  auto health = request(port, raw_request("GET", "/healthz"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = request(port, raw_request("GET", "/readyz"));
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(request(internal_port_, raw_request("GET", "/healthz"))->status, 200);
  auto metrics = request(internal_port_, raw_request("GET", "/metrics"));
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(metrics->body.find(
                R"(mando_http_requests_total{route="/healthz",method="GET",status="200"} 2)"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("mando_http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(metrics->body.find("mando_http_requests_in_flight"), std::string::npos);
  EXPECT_TRUE(fs::is_directory(dir_ / "data"));
}

TEST_F(ServeTest, AnswersASignedPing) {
  auto port = start();
  auto r = request(port, signed_request(key_, fixture("ping.json")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.get("Content-Type"), "application/json");
  EXPECT_EQ(boost::json::parse(r->body), boost::json::parse(R"({"type":1})"));
}

TEST_F(ServeTest, AnswersTheAboutCommand) {
  auto port = start();
  auto r = request(port, signed_request(key_, fixture("command_no_options.json")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto v = boost::json::parse(r->body);
  EXPECT_EQ(v.at("type").as_int64(), 4);
  EXPECT_NE(std::string(v.at("data").at("content").as_string()).find(MANDO_VERSION_STRING),
            std::string::npos)
      << r->body;
}

TEST_F(ServeTest, RefusesBadSignaturesWith401) {
  auto port = start();
  auto body = fixture("ping.json");
  auto good = signed_request(key_, body);
  // One changed byte in the body, the timestamp or the signature.
  std::string tampered_body = good;
  tampered_body[tampered_body.size() - 2] ^= 1;
  std::string tampered_ts = good;
  tampered_ts.replace(tampered_ts.find("1700000000"), 10, "1700000001");
  std::string tampered_sig = good;
  auto sig_at = tampered_sig.find("X-Signature-Ed25519: ") + 21;
  tampered_sig[sig_at] = tampered_sig[sig_at] == 'a' ? 'b' : 'a';
  for (const auto& raw :
       {tampered_body, tampered_ts, tampered_sig, raw_request("POST", "/interactions", body)}) {
    auto r = request(port, raw);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
  }
}

TEST_F(ServeTest, OversizedInteractionGets413) {
  auto port = start({{"MANDO_SERVER_MAX_BODY_BYTES", "4KiB"}});
  auto r = request(port, signed_request(key_, std::string(8192, ' ') + fixture("ping.json")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServeTest, WithoutPublicKeyInteractionsAnswer503) {
  auto port = start({{"MANDO_DISCORD_PUBLIC_KEY", ""}});
  auto r = request(port, signed_request(key_, fixture("ping.json")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
}

TEST_F(ServeTest, SigtermDrainsAndExitsZero) {
  auto port = start();
  ASSERT_TRUE(request(port, raw_request("GET", "/healthz")));
  server_->signal(SIGTERM);
  auto result = server_->wait(30s);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("stopped"), std::string::npos) << result.err;
}

// The deployment the README describes: a reverse proxy forwards the internet to [server] listen,
// so every request arrives from 127.0.0.1 with forwarding headers. Nothing of the queue API,
// the worker routes or the metrics may answer it.
TEST_F(ServeTest, BehindAProxyThePublicListenerServesNoInternalRoute) {
  auto port = start();
  const std::string proxied = "X-Forwarded-For: 203.0.113.7\r\nForwarded: for=203.0.113.7\r\n";
  const std::string task =
      R"({"task":{"httpRequest":{"url":"http://169.254.169.254/latest/meta-data/"}}})";
  for (auto [method, target, body] : std::initializer_list<std::array<std::string, 3>>{
           {"GET", "/metrics", ""},
           {"GET", "/v2/projects/mando/locations/local/queues", ""},
           {"POST", "/v2/projects/mando/locations/local/queues/create-image/tasks", task},
           {"POST", "/v2/projects/mando/locations/local/queues/create-image:purge", "{}"},
           {"POST", "/workers/generate-image", "{}"},
           {"POST", "/workers/reply-discord", "{}"}}) {
    for (const std::string& headers : {std::string(), proxied}) {
      auto r = request(port, raw_request(method, target, body, headers));
      ASSERT_TRUE(r) << method << " " << target;
      EXPECT_EQ(r->status, 404) << method << " " << target << ": " << r->body;
    }
  }
}

TEST_F(ServeTest, TheInternalListenerRefusesProxiedRequestsAndWantsTheToken) {
  start();
  // A proxy pointed at the internal listener by mistake still exposes nothing.
  for (const char* header : {"X-Forwarded-For: 203.0.113.7", "Forwarded: for=203.0.113.7",
                             "X-Real-IP: 203.0.113.7", "Via: 1.1 nginx"}) {
    auto metrics =
        request(internal_port_, raw_request("GET", "/metrics", "", fmt::format("{}\r\n", header)));
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 403) << header;
  }
  // Loopback is not a credential: the API wants the token even from 127.0.0.1.
  const std::string queues = "/v2/projects/mando/locations/local/queues";
  auto anonymous = request(internal_port_, raw_request("GET", queues));
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;
  // The token mando generated at its first start, readable by its owner only.
  const fs::path token_file = dir_ / "data" / "api_token";
  ASSERT_TRUE(fs::exists(token_file));
  EXPECT_EQ(fs::status(token_file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::string token;
  std::ifstream(token_file) >> token;
  EXPECT_EQ(token.size(), 64u);
  auto authorised =
      request(internal_port_,
              raw_request("GET", queues, "", fmt::format("Authorization: Bearer {}\r\n", token)));
  ASSERT_TRUE(authorised);
  EXPECT_EQ(authorised->status, 200) << authorised->body;
}

TEST_F(ServeTest, ASecondServeOnTheSameDataDirStopsAtStartSayingWhy) {
  start();
  auto second = run(
      {MANDO_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", (dir_ / "data").string()},
      {{"MANDO_DISCORD_PUBLIC_KEY", key_.public_hex()}});
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("another mando dispatches from this store"), std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find(fmt::format("(pid {})", server_->pid())), std::string::npos)
      << second.err;
  EXPECT_EQ(second.out.find("listening on"), std::string::npos) << "it must not start serving";
}

TEST_F(ServeTest, BadConfigFailsAtStartNamingTheKey) {
  auto r = run({MANDO_BINARY, "serve", "--listen", "127.0.0.1:0"},
               {{"MANDO_SERVER_IDLE_TIMEOUT", "forever"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("[server] idle_timeout (from MANDO_SERVER_IDLE_TIMEOUT)"), std::string::npos)
      << r.err;
}

TEST(Cli, VersionAndHelp) {
  auto v = run({MANDO_BINARY, "version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out, fmt::format("mando {}\n", MANDO_VERSION_STRING));
  for (std::vector<std::string> cmd : {std::vector<std::string>{"--help"},
                                       {"serve", "--help"},
                                       {"version", "--help"},
                                       {"config", "check", "--help"},
                                       {"keys", "generate", "--help"},
                                       {"keys", "sign", "--help"},
                                       {"commands", "sync", "--help"}}) {
    cmd.insert(cmd.begin(), MANDO_BINARY);
    auto r = run(cmd);
    EXPECT_EQ(r.exit_code, 0) << fmt::format("{}", fmt::join(cmd, " "));
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  auto unknown = run({MANDO_BINARY, "frobnicate"});
  EXPECT_NE(unknown.exit_code, 0);
}

TEST(Cli, ConfigCheckPrintsEffectiveConfigWithSecretsRedacted) {
  auto dir = fs::temp_directory_path() / fmt::format("mando-cli-{}", ::getpid());
  fs::create_directories(dir);
  std::ofstream(dir / "m.toml") << "[server]\nlisten = \"0.0.0.0:9999\"\n";
  auto r = run({MANDO_BINARY, "config", "check", (dir / "m.toml").string()},
               {{"MANDO_DISCORD_BOT_TOKEN", "very-secret-token"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("listen = \"0.0.0.0:9999\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bot_token = \"<redacted>\""), std::string::npos);
  EXPECT_EQ(r.out.find("very-secret-token"), std::string::npos);
  EXPECT_EQ(r.err.find("very-secret-token"), std::string::npos);

  std::ofstream(dir / "bad.toml") << "[server]\nmax_body_bytes = \"huge\"\n";
  auto bad = run({MANDO_BINARY, "config", "check", (dir / "bad.toml").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("[server] max_body_bytes"), std::string::npos) << bad.err;
  fs::remove_all(dir);
}

TEST(Cli, ExampleConfigIsValid) {
  auto example = test_data_dir().parent_path().parent_path() / "mando.example.toml";
  auto r = run({MANDO_BINARY, "config", "check", example.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(Cli, KeysGenerateAndSignMatchLibsodium) {
  auto keys = run({MANDO_BINARY, "keys", "generate"});
  ASSERT_EQ(keys.exit_code, 0);
  std::smatch m;
  std::regex re("public_key=([0-9a-f]{64})\nsecret_key=([0-9a-f]+)\n");
  ASSERT_TRUE(std::regex_match(keys.out, m, re)) << keys.out;
  auto dir = fs::temp_directory_path() / fmt::format("mando-keys-{}", ::getpid());
  fs::create_directories(dir);
  std::ofstream(dir / "secret") << m[2].str() << "\n";
  auto sig = run({MANDO_BINARY, "keys", "sign", "--secret-key-file", (dir / "secret").string(),
                  "--timestamp", "123"},
                 {}, "{\"type\":1}");
  fs::remove_all(dir);
  ASSERT_EQ(sig.exit_code, 0) << sig.err;
  ASSERT_EQ(sig.out.size(), 129u);
  unsigned char pk[32], s[64];
  sodium_hex2bin(pk, sizeof pk, m[1].str().data(), 64, nullptr, nullptr, nullptr);
  sodium_hex2bin(s, sizeof s, sig.out.data(), 128, nullptr, nullptr, nullptr);
  std::string message = "123{\"type\":1}";
  EXPECT_EQ(crypto_sign_verify_detached(s, reinterpret_cast<const unsigned char*>(message.data()),
                                        message.size(), pk),
            0);
}

// A stand-in for Discord's command endpoints: one registered command ("old"), and every PUT
// recorded.
class FakeDiscord {
 public:
  FakeDiscord() {
    net::Router router;
    router.add("GET", "/api/v10/applications/1180000000000000001/commands",
               [](net::Request) -> boost::asio::awaitable<net::Response> {
                 co_return net::Response::json(
                     200, R"([{"id":"9","application_id":"1180000000000000001","version":"1",)"
                          R"("type":1,"name":"old","description":"gone"}])");
               });
    router.add("PUT", "/api/v10/applications/1180000000000000001/commands",
               [this](net::Request req) -> boost::asio::awaitable<net::Response> {
                 std::lock_guard lock(mutex_);
                 puts_.push_back(req);
                 co_return net::Response::json(200, req.body);
               });
    server_ =
        std::make_unique<net::HttpServer>(ioc_, std::move(router), net::ServerOptions{}, metrics_);
    port_ = server_->listen("127.0.0.1:0").value().port;
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~FakeDiscord() {
    boost::asio::co_spawn(ioc_, server_->shutdown(std::chrono::seconds(1)), boost::asio::use_future)
        .get();
    ioc_.stop();
    thread_.join();
  }
  std::string base_url() const { return fmt::format("http://127.0.0.1:{}/api/v10", port_); }
  std::vector<net::Request> puts() {
    std::lock_guard lock(mutex_);
    return puts_;
  }

 private:
  core::MetricsRegistry metrics_;
  boost::asio::io_context ioc_;
  std::unique_ptr<net::HttpServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<net::Request> puts_;
};

TEST(Cli, CommandsSyncBulkOverwritesAndReports) {
  FakeDiscord discord;
  std::map<std::string, std::string> env = {{"MANDO_DISCORD_API_BASE_URL", discord.base_url()},
                                            {"MANDO_DISCORD_APPLICATION_ID", "1180000000000000001"},
                                            {"MANDO_DISCORD_BOT_TOKEN", "test-bot-token"}};

  auto dry = run({MANDO_BINARY, "commands", "sync", "--dry-run"}, env);
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(discord.puts().empty());
  EXPECT_NE(dry.out.find("would sync"), std::string::npos) << dry.out;

  auto r = run({MANDO_BINARY, "commands", "sync"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("added      about"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("removed    old"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("test-bot-token"), std::string::npos);
  EXPECT_EQ(r.err.find("test-bot-token"), std::string::npos);
  auto puts = discord.puts();
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts[0].headers.get("Authorization"), "Bot test-bot-token");
  EXPECT_TRUE(puts[0].headers.get("User-Agent")->starts_with("DiscordBot ("))
      << *puts[0].headers.get("User-Agent");
  EXPECT_EQ(puts[0].headers.get("Content-Type"), "application/json");
  auto body = boost::json::parse(puts[0].body);
  ASSERT_TRUE(body.is_array());
  ASSERT_EQ(body.as_array().size(), 5u);
  EXPECT_EQ(body.as_array()[0].at("name").as_string(), "about");
  EXPECT_EQ(body.as_array()[1].at("name").as_string(), "mando");
  EXPECT_EQ(body.as_array()[2].at("name").as_string(), "transform");
  EXPECT_EQ(body.as_array()[3].at("name").as_string(), "Transform images");
  EXPECT_EQ(body.as_array()[3].at("type").as_int64(), 3);
  EXPECT_EQ(body.as_array()[4].at("name").as_string(), "imagine");
  EXPECT_EQ(body.as_array()[4].at("options").at(3).at("autocomplete"), true) << "model";

  auto missing =
      run({MANDO_BINARY, "commands", "sync"}, {{"MANDO_DISCORD_API_BASE_URL", discord.base_url()}});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("application_id"), std::string::npos);
}

}  // namespace
}  // namespace mando::testing
