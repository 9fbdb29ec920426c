#include "support/bot_e2e_fixture.hpp"

#include <fstream>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "net/http_client.hpp"

namespace mando::testing {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

BotE2eFixture::BotE2eFixture(std::string_view config) {
  emulator::EmulatorOptions options;
  options.secret_key_seed_hex = std::string(kEmulatorKeySeed);
  server_ = emulator::EmulatorServer::start(ioc_, "127.0.0.1:0", options).value();
  thread_ = std::thread([this] { ioc_.run(); });
  write_config(config);
}

void BotE2eFixture::write_config(std::string_view config) {
  std::ofstream(dir_.path() / "mando.toml") << config;
}

BotE2eFixture::~BotE2eFixture() {
  processes_.clear();
  work_.reset();
  ioc_.stop();
  thread_.join();
  server_.reset();
}

ServeUrls BotE2eFixture::start_mando(std::vector<std::string> args,
                                     std::map<std::string, std::string> extra_env) {
  std::vector<std::string> argv{MANDO_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(),
              {"--config", (dir_.path() / "mando.toml").string(), "--listen", "127.0.0.1:0"});
  std::map<std::string, std::string> env{
      {"MANDO_DATA_DIR", (dir_.path() / "data").string()},
      {"MANDO_DISCORD_PUBLIC_KEY", emulator().public_key_hex()},
      {"MANDO_DISCORD_APPLICATION_ID", emulator().application_id()},
      {"MANDO_DISCORD_API_BASE_URL", server_->api_base_url()},
      {"MANDO_QUEUE_SIGNING_KEY", std::string(kE2eSigningKey)},
      {"MANDO_QUEUE_API_TOKEN", std::string(kE2eApiToken)},
      {"MANDO_LOG_LEVEL", "warn"},  // nobody reads the pipes while images flow
  };
  for (auto& [k, v] : extra_env) env[k] = v;
  auto process = std::make_unique<Process>(std::move(argv), std::move(env));
  auto urls = wait_for_serve_urls(*process, kStartLimit);
  if (!urls) {
    ADD_FAILURE() << "mando did not start: " << process->wait(5s).err;
    return {};
  }
  processes_.push_back(std::move(process));
  return *urls;
}

void BotE2eFixture::start_bot(std::map<std::string, std::string> extra_env) {
  urls_ = start_mando({"serve"}, std::move(extra_env));
  emulator().set_bot_url(urls_.url + "/interactions");
}

emulator::SentInteraction BotE2eFixture::command(std::string text) {
  auto invocation = emulator().parse_command_text(text);
  EXPECT_TRUE(invocation) << invocation.error().message;
  auto sent = call(emulator().send_command(std::move(*invocation)));
  EXPECT_TRUE(sent) << sent.error().message;
  EXPECT_FALSE(sent->failed) << sent->failure;
  EXPECT_EQ(sent->response.at("type").as_int64(), 5) << json::serialize(sent->response);
  return *sent;
}

json::object BotE2eFixture::next_version(const std::string& message_id, std::int64_t after) {
  auto message = call(emulator().wait_message(message_id, after, kReplyLimit));
  EXPECT_TRUE(message);
  return message ? *message : json::object{};
}

json::object BotE2eFixture::with_attachment(json::object message) {
  for (int edits = 0; edits < 10 && message.at("attachments").as_array().empty(); ++edits) {
    message =
        next_version(std::string(message.at("id").as_string()), message.at("version").as_int64());
  }
  return message;
}

json::object BotE2eFixture::finished(const std::string& message_id) {
  return with_attachment(next_version(message_id));
}

std::string BotE2eFixture::http_get(std::string url) {
  net::HttpClient client(ioc_.get_executor());
  net::ClientRequest request;
  request.url = std::move(url);
  auto response = call(client.send(std::move(request)));
  EXPECT_TRUE(response && response->status == 200);
  return response && response->status == 200 ? response->body : std::string();
}

std::string BotE2eFixture::attachment(const json::object& message) {
  const auto& attachments = message.at("attachments").as_array();
  if (attachments.empty()) return {};
  return http_get(std::string(attachments[0].at("url").as_string()));
}

std::string BotE2eFixture::metrics() {
  net::HttpClient client(ioc_.get_executor());
  net::ClientRequest request;
  request.url = urls_.internal_url + "/metrics";
  auto response = call(client.send(std::move(request)));
  return response ? response->body : std::string();
}

bool BotE2eFixture::wait_for_metric(const std::string& series) {
  for (auto deadline = std::chrono::steady_clock::now() + kReplyLimit;
       std::chrono::steady_clock::now() < deadline;) {
    if (metrics().find(series) != std::string::npos) return true;
    asio::steady_timer timer(ioc_, 50ms);
    call(timer.async_wait(asio::use_awaitable));
  }
  ADD_FAILURE() << "never saw " << series << " in\n" << metrics();
  return false;
}

int BotE2eFixture::cli(std::vector<std::string> args) {
  std::vector<std::string> argv{MANDO_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--url");
  argv.push_back(urls_.internal_url);
  auto result = run(std::move(argv), {{"MANDO_QUEUE_API_TOKEN", std::string(kE2eApiToken)}});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.exit_code;
}

}  // namespace mando::testing
