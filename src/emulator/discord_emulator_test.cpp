#include "emulator/discord_emulator.hpp"

#include <functional>
#include <mutex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "discord/interaction.hpp"
#include "discord/rate_limiter.hpp"
#include "discord/rest_client.hpp"
#include "discord/signature.hpp"
#include "support/loopback_server.hpp"
#include "support/run_awaitable.hpp"

namespace mando::emulator {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::run_awaitable;

// A PNG signature and IHDR of 640 x 480 (the rest of the file does not matter to Discord's size
// report).
const std::string kPng =
    std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x02\x80\0\0\x01\xe0", 24) +
    std::string(100, 'x');

struct BotSeen {
  bool signature_ok = false;
  std::string user_agent;
  std::string content_type;
  discord::Interaction interaction;
  json::object body;
};

// The test bot: verifies the signature with mando's own verifier and answers what `answer`
// says (default: type 5, deferred).
class TestBot {
 public:
  using Answer = std::function<net::Response(const discord::Interaction&)>;

  explicit TestBot(const std::string& public_key_hex)
      : verifier_(discord::SignatureVerifier::from_hex(public_key_hex).value()) {
    net::Router router;
    router.add("POST", "/interactions", [this](net::Request r) { return handle(std::move(r)); });
    server_ = std::make_unique<testing::LoopbackServer>(std::move(router));
  }
  std::string url() const { return server_->url() + "/interactions"; }
  void set_answer(Answer answer) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(answer);
  }
  std::vector<BotSeen> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  asio::awaitable<net::Response> handle(net::Request request) {
    BotSeen seen;
    seen.signature_ok =
        verifier_.verify(request.headers.get("X-Signature-Ed25519").value_or(""),
                         request.headers.get("X-Signature-Timestamp").value_or(""), request.body);
    seen.user_agent = std::string(request.headers.get("User-Agent").value_or(""));
    seen.content_type = std::string(request.headers.get("Content-Type").value_or(""));
    auto parsed = discord::parse_interaction(request.body);
    if (!seen.signature_ok) co_return net::Response::text(401, "bad signature");
    if (!parsed) co_return net::Response::text(400, parsed.error().message);
    seen.interaction = *parsed;
    seen.body = json::parse(request.body).as_object();
    std::lock_guard lock(mutex_);
    seen_.push_back(seen);
    if (answer_) co_return answer_(*parsed);
    co_return net::Response::json(200, discord::InteractionResponse::deferred().to_json());
  }

  discord::SignatureVerifier verifier_;
  mutable std::mutex mutex_;
  Answer answer_;
  std::vector<BotSeen> seen_;
  std::unique_ptr<testing::LoopbackServer> server_;
};

class EmulatorTest : public ::testing::Test {
 protected:
  EmulatorTest() : work_(client_ioc_.get_executor()) {
    client_ = std::make_unique<net::HttpClient>(client_ioc_.get_executor());
    client_thread_ = std::thread([this] { client_ioc_.run(); });
    EmulatorOptions options;
    options.webhook_limit = 5;
    options.webhook_window = 1000ms;
    emulator_ = std::make_unique<DiscordEmulator>(client_ioc_.get_executor(), *client_, options);
    net::Router router;
    emulator_->install_routes(router);
    discord_ = std::make_unique<testing::LoopbackServer>(std::move(router));
    bot_ = std::make_unique<TestBot>(emulator_->public_key_hex());
    emulator_->set_bot_url(bot_->url());
    http_ = std::make_unique<net::HttpClient>(ioc_.get_executor());
  }

  ~EmulatorTest() override {
    bot_.reset();
    discord_.reset();
    emulator_.reset();
    http_.reset();
    client_.reset();
    work_.reset();
    client_ioc_.stop();
    client_thread_.join();
  }

  discord::RestClient rest(discord::RateLimiter& limiter) {
    discord::RestClientOptions options;
    options.api_base_url = discord_->url() + "/api/v10";
    options.bot_token = "test-token";
    options.backoff_base = 10ms;
    return discord::RestClient(*http_, limiter, options);
  }

  SentInteraction send(std::string name = "mando") {
    CommandInvocation invocation;
    invocation.name = std::move(name);
    invocation.options.push_back(json::object{{"name", "seed"}, {"type", 4}, {"value", 7}});
    auto sent = run_awaitable(ioc_, emulator_->send_command(std::move(invocation)));
    EXPECT_TRUE(sent) << sent.error().message;
    return sent.value_or(SentInteraction{});
  }

  net::ClientResponse call(std::string method, std::string target, std::string body = {},
                           std::string user_agent = "DiscordBot (https://x, 1.0)") {
    net::ClientRequest request;
    request.method = std::move(method);
    request.url = discord_->url() + target;
    request.body = std::move(body);
    request.headers.set("User-Agent", user_agent);
    if (!request.body.empty()) request.headers.set("Content-Type", "application/json");
    auto response = run_awaitable(ioc_, http_->send(std::move(request)));
    EXPECT_TRUE(response) << response.error().message;
    return response.value_or(net::ClientResponse{});
  }

  std::string original_path(const SentInteraction& sent) {
    return "/api/v10/webhooks/" + emulator_->application_id() + "/" + sent.token +
           "/messages/@original";
  }

  // GETs `target` (a long poll of 20 s) while the REST client edits @original of `token` to
  // `content`: the poll's answer. The client gives up at 10 s, so only a poll that the edit
  // woke answers at all.
  std::optional<net::ClientResponse> poll_during_edit(std::string target, std::string token,
                                                      std::string content) {
    discord::InMemoryRateLimiter limiter;
    auto client = rest(limiter);
    std::optional<net::ClientResponse> polled;
    auto poll = [&]() -> asio::awaitable<void> {
      net::ClientRequest request;
      request.url = discord_->url() + target;
      request.timeout = 10s;
      auto response = co_await http_->send(std::move(request));
      if (response) polled = std::move(*response);
    };
    auto edit = [&]() -> asio::awaitable<void> {
      json::object payload{{"content", content}};
      auto edited =
          co_await client.edit_original_response(emulator_->application_id(), token, payload);
      EXPECT_TRUE(edited);
    };
    asio::co_spawn(ioc_, poll(), asio::detached);
    asio::co_spawn(ioc_, edit(), asio::detached);
    ioc_.restart();
    ioc_.run();
    return polled;
  }

  std::int64_t stat(std::string_view group, std::string_view key) {
    return emulator_->stats().at(group).at(key).as_int64();
  }

  asio::io_context client_ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<net::HttpClient> client_;
  std::thread client_thread_;
  std::unique_ptr<DiscordEmulator> emulator_;
  std::unique_ptr<testing::LoopbackServer> discord_;
  std::unique_ptr<TestBot> bot_;
  asio::io_context ioc_;  // the test's: REST client and control calls
  std::unique_ptr<net::HttpClient> http_;
};

TEST_F(EmulatorTest, SignedCommandIsDeferredIntoALoadingMessage) {
  const auto before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const SentInteraction sent = send();
  ASSERT_FALSE(sent.failed) << sent.failure;
  EXPECT_EQ(sent.response_status, 200);
  EXPECT_EQ(sent.response.at("type").as_int64(), 5);
  ASSERT_TRUE(sent.message_id);

  const auto seen = bot_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].signature_ok);
  EXPECT_EQ(seen[0].user_agent, "Discord-Interactions/1.0 (+https://discord.com)");
  EXPECT_EQ(seen[0].content_type, "application/json");
  const discord::Interaction& interaction = seen[0].interaction;
  EXPECT_EQ(interaction.type, discord::InteractionType::kApplicationCommand);
  EXPECT_EQ(interaction.id, sent.interaction_id);
  EXPECT_EQ(interaction.token, sent.token);
  EXPECT_GE(interaction.token.size(), 60u);
  EXPECT_EQ(interaction.user.id, "1180000000000000060");
  EXPECT_EQ(interaction.guild_id.value_or(""), "1180000000000000020");
  ASSERT_EQ(interaction.data.options.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(interaction.data.options[0].value), 7);
  EXPECT_TRUE(seen[0].body.at("member").at("user").is_object());
  // The id is a snowflake of now: the bot reads the interaction time from it.
  const auto id_ms = static_cast<std::int64_t>(std::stoull(interaction.id) >> 22) + 1420070400000;
  EXPECT_GE(id_ms, before_ms);
  EXPECT_LE(id_ms, before_ms + 5000);

  const auto message = emulator_->message(*sent.message_id).value();
  EXPECT_EQ(message.at("flags").as_int64(), 128);
  EXPECT_EQ(message.at("content").as_string(), "");
  EXPECT_EQ(message.at("version").as_int64(), 1);
  EXPECT_FALSE(message.contains("completed_ms"));
  EXPECT_EQ(stat("interactions", "sent"), 1);
  EXPECT_EQ(emulator_->stats().at("interactions").at("by_response_type").at("5").as_int64(), 1);
}

TEST_F(EmulatorTest, BadAnswersFailTheInteraction) {
  bot_->set_answer([](const discord::Interaction&) { return net::Response::text(500, "boom"); });
  SentInteraction sent = send();
  EXPECT_TRUE(sent.failed);
  bot_->set_answer([](const discord::Interaction&) {
    return net::Response::json(200, discord::InteractionResponse::pong().to_json());
  });
  sent = send();
  EXPECT_TRUE(sent.failed);
  EXPECT_NE(sent.failure.find("PONG"), std::string::npos);
  bot_->set_answer([](const discord::Interaction&) {
    return net::Response::json(200, discord::InteractionResponse::deferred_update().to_json());
  });
  EXPECT_TRUE(send().failed);  // type 6 answers components only
  EXPECT_EQ(stat("interactions", "failed"), 3);
  // A failed interaction's token opens nothing.
  EXPECT_EQ(call("GET", original_path(sent)).status, 404);
}

TEST_F(EmulatorTest, RestClientEditWithMultipartIsStoredWithPngSize) {
  const SentInteraction sent = send();
  discord::InMemoryRateLimiter limiter;
  auto client = rest(limiter);
  json::object payload{
      {"content", "done"},
      {"embeds", json::array{json::object{{"title", "Mandala"},
                                          {"image", {{"url", "attachment://mandala.png"}}}}}},
      {"attachments", json::array{json::object{{"id", 0}, {"filename", "mandala.png"}}}}};
  std::vector<discord::Attachment> files{{"mandala.png", kPng, "image/png"}};
  auto edited = run_awaitable(
      ioc_, client.edit_original_response(emulator_->application_id(), sent.token, payload, files));
  ASSERT_TRUE(edited) << edited.error().message;
  const auto& message = edited->as_object();
  EXPECT_EQ(message.at("id").as_string(), *sent.message_id);
  EXPECT_EQ(message.at("content").as_string(), "done");
  EXPECT_EQ(message.at("flags").as_int64(), 0);  // no longer loading
  EXPECT_EQ(message.at("author").at("bot").as_bool(), true);
  EXPECT_EQ(message.at("interaction_metadata").at("id").as_string(), sent.interaction_id);
  ASSERT_EQ(message.at("attachments").as_array().size(), 1u);
  const auto& attachment = message.at("attachments").at(0).as_object();
  EXPECT_EQ(attachment.at("filename").as_string(), "mandala.png");
  EXPECT_EQ(attachment.at("width").as_int64(), 640);
  EXPECT_EQ(attachment.at("height").as_int64(), 480);
  EXPECT_EQ(attachment.at("size").as_int64(), static_cast<std::int64_t>(kPng.size()));
  EXPECT_EQ(attachment.at("content_type").as_string(), "image/png");
  const std::string url(attachment.at("url").as_string());
  EXPECT_EQ(message.at("embeds").at(0).at("image").at("url").as_string(), url);

  const std::string prefix = discord_->url();
  ASSERT_EQ(url.substr(0, prefix.size()), prefix);
  const auto bytes = call("GET", url.substr(prefix.size()));
  EXPECT_EQ(bytes.status, 200);
  EXPECT_EQ(bytes.body, kPng);
  EXPECT_EQ(bytes.headers.get("Content-Type").value_or(""), "image/png");

  const auto stored = emulator_->message(*sent.message_id).value();
  EXPECT_EQ(stored.at("version").as_int64(), 2);
  EXPECT_TRUE(stored.contains("completed_ms"));
  EXPECT_EQ(emulator_->stats().at("bad_user_agent").as_int64(), 0);
}

TEST_F(EmulatorTest, EditKeepsOnlyListedAttachments) {
  const SentInteraction sent = send();
  discord::InMemoryRateLimiter limiter;
  auto client = rest(limiter);
  std::vector<discord::Attachment> files{{"a.png", kPng, "image/png"}};
  auto first = run_awaitable(
      ioc_, client.edit_original_response(emulator_->application_id(), sent.token, {}, files));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(first->at("attachments").as_array().size(), 1u);
  // Without `attachments`, new files are appended; with it, only listed ones remain.
  files[0].filename = "b.png";
  auto second = run_awaitable(
      ioc_, client.edit_original_response(emulator_->application_id(), sent.token, {}, files));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->at("attachments").as_array().size(), 2u);
  json::object keep_b{
      {"attachments", json::array{json::object{{"id", second->at("attachments").at(1).at("id")}}}}};
  auto third = run_awaitable(
      ioc_, client.edit_original_response(emulator_->application_id(), sent.token, keep_b));
  ASSERT_TRUE(third);
  ASSERT_EQ(third->at("attachments").as_array().size(), 1u);
  EXPECT_EQ(third->at("attachments").at(0).at("filename").as_string(), "b.png");
}

TEST_F(EmulatorTest, RateLimitAnswers429WithDiscordHeadersAndRestClientWaitsItOut) {
  const SentInteraction first = send();
  const std::string path = original_path(first);
  for (int i = 0; i < 5; ++i) {
    const auto response = call("GET", path);
    ASSERT_EQ(response.status, 200) << i;
    EXPECT_EQ(response.headers.get("X-RateLimit-Limit").value_or(""), "5");
    EXPECT_EQ(response.headers.get("X-RateLimit-Remaining").value_or(""), std::to_string(4 - i));
    EXPECT_TRUE(response.headers.get("X-RateLimit-Reset"));
    EXPECT_TRUE(response.headers.get("X-RateLimit-Reset-After"));
    EXPECT_FALSE(response.headers.get("X-RateLimit-Bucket").value_or("").empty());
  }
  const auto limited = call("GET", path);
  ASSERT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers.get("X-RateLimit-Scope").value_or(""), "user");
  EXPECT_EQ(limited.headers.get("X-RateLimit-Remaining").value_or(""), "0");
  EXPECT_EQ(limited.headers.get("Retry-After").value_or(""), "1");
  const auto body = json::parse(limited.body).as_object();
  EXPECT_EQ(body.at("message").as_string(), "You are being rate limited.");
  EXPECT_FALSE(body.at("global").as_bool());
  EXPECT_GT(body.at("retry_after").as_double(), 0.0);
  EXPECT_LE(body.at("retry_after").as_double(), 1.0);
  EXPECT_EQ(call("GET", path).status, 429);  // straight into the exhausted bucket again
  EXPECT_EQ(stat("rate_limits", "responses_429"), 2);
  EXPECT_EQ(stat("rate_limits", "consecutive_429"), 1);

  // mando's client reads the headers and waits instead of hitting the limit.
  const SentInteraction second = send();
  discord::InMemoryRateLimiter limiter;
  auto client = rest(limiter);
  for (int i = 0; i < 8; ++i) {
    json::object payload{{"content", "edit " + std::to_string(i)}};
    auto edited = run_awaitable(
        ioc_, client.edit_original_response(emulator_->application_id(), second.token, payload));
    ASSERT_TRUE(edited) << i << " " << edited.error().message;
  }
  EXPECT_EQ(stat("rate_limits", "consecutive_429"), 1);
  EXPECT_EQ(stat("rate_limits", "ignored_exhausted"), 2);
  EXPECT_EQ(emulator_->message(*second.message_id)->at("content").as_string(), "edit 7");
}

TEST_F(EmulatorTest, InjectedFaultsAreRetriedByRestClient) {
  const SentInteraction sent = send();
  emulator_->add_fault({"PATCH", "@original", 1, 500, 0});
  emulator_->add_fault({"PATCH", "@original", 1, 429, 0.2});
  discord::InMemoryRateLimiter limiter;
  auto client = rest(limiter);
  json::object payload{{"content", "after faults"}};
  auto edited = run_awaitable(
      ioc_, client.edit_original_response(emulator_->application_id(), sent.token, payload));
  ASSERT_TRUE(edited) << edited.error().message;
  const auto stats = emulator_->stats();
  EXPECT_EQ(stats.at("rest").at("by_status").at("500").as_int64(), 1);
  EXPECT_EQ(stats.at("rest").at("by_status").at("429").as_int64(), 1);
  EXPECT_EQ(stats.at("rate_limits").at("faults_injected").as_int64(), 2);
  EXPECT_EQ(stats.at("rate_limits").at("consecutive_429").as_int64(), 0);
}

TEST_F(EmulatorTest, DelayedResponsesArriveLate) {
  const SentInteraction sent = send();
  emulator_->delay_responses(1, 300ms);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(call("GET", original_path(sent)).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
}

TEST_F(EmulatorTest, ExpiredTokenAnswers401InvalidWebhookToken) {
  const SentInteraction sent = send();
  ASSERT_TRUE(emulator_->expire(sent.interaction_id));
  const auto raw = call("PATCH", original_path(sent), R"({"content":"late"})");
  EXPECT_EQ(raw.status, 401);
  EXPECT_EQ(json::parse(raw.body).at("code").as_int64(), 50027);
  EXPECT_EQ(json::parse(raw.body).at("message").as_string(), "Invalid Webhook Token");
  discord::InMemoryRateLimiter limiter;
  auto client = rest(limiter);
  auto edited = run_awaitable(
      ioc_, client.edit_original_response(emulator_->application_id(), sent.token, {}));
  ASSERT_FALSE(edited);
  EXPECT_EQ(edited.error().kind, ErrorKind::kUnauthenticated);
}

TEST_F(EmulatorTest, DiscordShapedErrors) {
  const SentInteraction sent = send();
  auto code = [](const net::ClientResponse& r) {
    return json::parse(r.body).at("code").as_int64();
  };
  const auto unknown = call("GET", "/api/v10/webhooks/1180000000000000001/nope/messages/@original");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(code(unknown), 10015);
  const auto route = call("GET", "/api/v10/nothing/here");
  EXPECT_EQ(route.status, 404);
  EXPECT_EQ(json::parse(route.body).at("message").as_string(), "404: Not Found");
  EXPECT_EQ(code(route), 0);
  EXPECT_EQ(call("PUT", original_path(sent)).status, 405);
  const auto bad_json = call("PATCH", original_path(sent), "{nope");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(code(bad_json), 50109);
  const auto too_long = call("PATCH", original_path(sent),
                             json::serialize(json::object{{"content", std::string(2001, 'x')}}));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(code(too_long), 50035);
  EXPECT_TRUE(json::parse(too_long.body).at("errors").at("content").at("_errors").is_array());
  const auto unknown_message = call(
      "GET", "/api/v10/webhooks/1180000000000000001/" + sent.token + "/messages/123", "", "curl");
  EXPECT_EQ(unknown_message.status, 404);
  EXPECT_EQ(code(unknown_message), 10008);
  EXPECT_EQ(emulator_->stats().at("bad_user_agent").as_int64(), 1);
}

TEST_F(EmulatorTest, FollowupReplacesLoadingThenPostsNewMessages) {
  const SentInteraction sent = send();
  discord::InMemoryRateLimiter limiter;
  auto client = rest(limiter);
  json::object payload{{"content", "first"}};
  auto first =
      run_awaitable(ioc_, client.create_followup(emulator_->application_id(), sent.token, payload));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->at("id").as_string(), *sent.message_id);  // took the loading message's place
  payload["content"] = "second";
  auto second =
      run_awaitable(ioc_, client.create_followup(emulator_->application_id(), sent.token, payload));
  ASSERT_TRUE(second);
  EXPECT_NE(second->at("id").as_string(), *sent.message_id);
  EXPECT_EQ(emulator_->messages().size(), 2u);
  const auto callback =
      call("POST", "/api/v10/interactions/" + sent.interaction_id + "/" + sent.token + "/callback",
           R"({"type":4,"data":{"content":"x"}})");
  EXPECT_EQ(callback.status, 400);
  EXPECT_EQ(json::parse(callback.body).at("code").as_int64(), 40060);
}

TEST_F(EmulatorTest, LongPollAnswersOnEdit) {
  const SentInteraction sent = send();
  auto polled = poll_during_edit(
      "/_emulator/messages/" + *sent.message_id + "?after_version=1&timeout_ms=20000", sent.token,
      "painted");
  ASSERT_TRUE(polled);
  const auto message = json::parse(polled->body).as_object();
  EXPECT_EQ(message.at("version").as_int64(), 2);
  EXPECT_EQ(message.at("content").as_string(), "painted");

  auto ready = run_awaitable(ioc_, emulator_->wait_completed(1, 5s));
  EXPECT_TRUE(ready);
  auto not_ready = run_awaitable(ioc_, emulator_->wait_completed(2, 50ms));
  EXPECT_FALSE(not_ready);
}

TEST_F(EmulatorTest, ControlApiParsesTextWithRegisteredTypesAndClicks) {
  // Register /mando: `seed` is a STRING option, so "12" stays a string.
  net::ClientRequest put;
  put.method = "PUT";
  put.url = discord_->url() + "/api/v10/applications/1180000000000000001/commands";
  put.headers.set("Authorization", "Bot abc");
  put.headers.set("User-Agent", "DiscordBot (https://x, 1.0)");
  put.headers.set("Content-Type", "application/json");
  put.body =
      R"([{"name":"mando","description":"draw","options":[{"name":"seed","type":3,"description":"s"},)"
      R"({"name":"symmetry","type":4,"description":"n"}]}])";
  auto registered = run_awaitable(ioc_, http_->send(put));
  ASSERT_TRUE(registered);
  ASSERT_EQ(registered->status, 200) << registered->body;
  EXPECT_TRUE(json::parse(registered->body).at(0).at("id").is_string());
  put.headers.remove("Authorization");
  EXPECT_EQ(run_awaitable(ioc_, http_->send(put))->status, 401);

  bot_->set_answer([](const discord::Interaction& i) {
    if (i.type == discord::InteractionType::kMessageComponent) {
      return net::Response::json(200, discord::InteractionResponse::update("updated").to_json());
    }
    return net::Response::json(
        200, R"({"type":4,"data":{"content":"hi","components":[{"type":1,"components":[)"
             R"({"type":2,"style":1,"label":"Again","custom_id":"again"}]}]}})");
  });
  net::ClientRequest post;
  post.method = "POST";
  post.url = discord_->url() + "/_emulator/interactions";
  post.headers.set("Content-Type", "application/json");
  post.body = R"({"text":"/mando seed:12 symmetry:6"})";
  auto answered = run_awaitable(ioc_, http_->send(post));
  ASSERT_TRUE(answered);
  ASSERT_EQ(answered->status, 200) << answered->body;
  const auto answer = json::parse(answered->body).as_object();
  const std::string message_id(answer.at("message_id").as_string());
  const auto seen = bot_->seen();
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_EQ(seen[0].interaction.data.options.size(), 2u);
  EXPECT_EQ(std::get<std::string>(seen[0].interaction.data.options[0].value), "12");
  EXPECT_EQ(std::get<std::int64_t>(seen[0].interaction.data.options[1].value), 6);

  post.url = discord_->url() + "/_emulator/click";
  post.body = json::serialize(json::object{{"message_id", message_id}, {"custom_id", "again"}});
  auto clicked = run_awaitable(ioc_, http_->send(post));
  ASSERT_TRUE(clicked);
  ASSERT_EQ(clicked->status, 200) << clicked->body;
  const auto after = bot_->seen();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].interaction.data.custom_id, "again");
  EXPECT_EQ(after[1].interaction.message_id.value_or(""), message_id);
  const auto message = emulator_->message(message_id).value();
  EXPECT_EQ(message.at("content").as_string(), "updated");
  EXPECT_EQ(message.at("version").as_int64(), 2);

  net::ClientRequest page;
  page.url = discord_->url() + "/";
  auto html = run_awaitable(ioc_, http_->send(page));
  ASSERT_TRUE(html);
  EXPECT_EQ(html->status, 200);
  EXPECT_NE(html->body.find("<html"), std::string::npos);
}

TEST_F(EmulatorTest, UploadsAreResolvedAttachmentsAndMessageCommandsCarryTheirMessage) {
  // Uploaded through the control API, as the web page would, then named by an option.
  net::ClientRequest post;
  post.method = "POST";
  post.url = discord_->url() + "/_emulator/uploads?filename=cat.png";
  post.headers.set("Content-Type", "image/png");
  post.body = "\x89PNG not really";
  auto uploaded = run_awaitable(ioc_, http_->send(post));
  ASSERT_TRUE(uploaded);
  ASSERT_EQ(uploaded->status, 200) << uploaded->body;
  const auto file = json::parse(uploaded->body).as_object();
  const std::string id(file.at("id").as_string());
  EXPECT_EQ(file.at("filename").as_string(), "cat.png");
  EXPECT_EQ(file.at("size").as_int64(), 15);
  EXPECT_TRUE(file.at("ephemeral").as_bool());

  CommandInvocation invocation;
  invocation.name = "transform";
  invocation.options.push_back(json::object{{"name", "image1"}, {"type", 11}, {"value", id}});
  auto sent = run_awaitable(ioc_, emulator_->send_command(invocation));
  ASSERT_TRUE(sent) << sent.error().message;
  const auto seen = bot_->seen();
  ASSERT_EQ(seen.size(), 1u);
  const auto& resolved = seen[0].body.at("data").at("resolved").at("attachments").at(id);
  EXPECT_EQ(resolved.at("url"), file.at("url"));
  // What the URL serves is the file, byte for byte.
  net::ClientRequest get;
  get.url = std::string(file.at("url").as_string());
  auto served = run_awaitable(ioc_, http_->send(get));
  ASSERT_TRUE(served);
  EXPECT_EQ(served->body, "\x89PNG not really");
  EXPECT_EQ(served->headers.get("Content-Type").value_or(""), "image/png");

  // Typed as text, an attachment option names the file: the latest upload of that name.
  invocation.options[0].as_object()["value"] = "cat.png";
  ASSERT_TRUE(run_awaitable(ioc_, emulator_->send_command(invocation)));
  EXPECT_EQ(bot_->seen().back().body.at("data").at("options").at(0).at("value").as_string(), id);

  invocation.options[0].as_object()["value"] = "1180000000000000999";
  auto unknown = run_awaitable(ioc_, emulator_->send_command(invocation));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("names no upload"), std::string::npos);

  // A message command on the message the first interaction made.
  CommandInvocation menu;
  menu.name = "Transform images";
  menu.target_message_id = sent->message_id.value();
  ASSERT_TRUE(run_awaitable(ioc_, emulator_->send_command(menu)));
  const auto data = bot_->seen().back().body.at("data").as_object();
  EXPECT_EQ(data.at("type").as_int64(), 3);
  EXPECT_EQ(data.at("target_id").as_string(), menu.target_message_id);
  EXPECT_EQ(data.at("resolved").at("messages").at(menu.target_message_id).at("id").as_string(),
            menu.target_message_id);
  EXPECT_EQ(bot_->seen().back().interaction.data.target_id, menu.target_message_id);
  menu.target_message_id = "1180000000000000999";
  auto missing = run_awaitable(ioc_, emulator_->send_command(menu));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);

  post.url = discord_->url() + "/_emulator/uploads";
  auto nameless = run_awaitable(ioc_, http_->send(post));
  ASSERT_TRUE(nameless);
  EXPECT_EQ(nameless->status, 400);
}

TEST_F(EmulatorTest, AttachmentSizeLimitIsSentAndEnforced) {
  SentInteraction sent = send();
  EXPECT_EQ(bot_->seen().back().body.at("attachment_size_limit").as_int64(), 10485760);
  // Lowered through the control API: the next interaction says so, and a bigger file is 413.
  EXPECT_EQ(call("POST", "/_emulator/settings", R"({"attachment_size_limit":64})").status, 200);
  EXPECT_EQ(call("POST", "/_emulator/settings", R"({"attachment_size_limit":"big"})").status, 400);
  sent = send();
  EXPECT_EQ(bot_->seen().back().body.at("attachment_size_limit").as_int64(), 64);
  EXPECT_EQ(json::parse(call("GET", "/_emulator/info").body).at("attachment_size_limit"), 64);
  discord::InMemoryRateLimiter limiter;
  auto client = rest(limiter);
  std::vector<discord::Attachment> files{{"mandala.png", kPng, "image/png"}};  // 124 bytes
  auto edited = run_awaitable(
      ioc_, client.edit_original_response(emulator_->application_id(), sent.token, {}, files));
  ASSERT_FALSE(edited);
  EXPECT_EQ(emulator_->stats().at("rest").at("by_status").at("413").as_int64(), 1);
  EXPECT_EQ(emulator_->message(*sent.message_id)->at("flags").as_int64(), 128);  // unchanged
  emulator_->set_attachment_size_limit(kPng.size());
  edited = run_awaitable(
      ioc_, client.edit_original_response(emulator_->application_id(), sent.token, {}, files));
  ASSERT_TRUE(edited) << edited.error().message;
}

TEST_F(EmulatorTest, AutomodFaultBlocksTheNextEdits) {
  const SentInteraction sent = send();
  EXPECT_EQ(call("POST", "/_emulator/faults", R"({"kind":"automod","count":2})").status, 200);
  EXPECT_EQ(call("POST", "/_emulator/faults", R"({"kind":"nope"})").status, 400);
  for (int i = 0; i < 2; ++i) {
    const auto blocked = call("PATCH", original_path(sent), R"({"content":"bad words"})");
    EXPECT_EQ(blocked.status, 400);
    const auto body = json::parse(blocked.body).as_object();
    EXPECT_EQ(body.at("code").as_int64(), 200000);
    EXPECT_EQ(body.at("message").as_string(), "Message was blocked by automatic moderation");
  }
  EXPECT_EQ(emulator_->message(*sent.message_id)->at("blocked_edits").as_int64(), 2);
  EXPECT_EQ(call("PATCH", original_path(sent), R"({"content":"fine"})").status, 200);
  EXPECT_EQ(stat("rate_limits", "faults_injected"), 2);
}

TEST_F(EmulatorTest, EventsLongPollAnswersEveryChangeSinceACursor) {
  const SentInteraction first = send();
  const SentInteraction second = send();
  auto events = [&](std::uint64_t after, int timeout_ms) {
    return json::parse(call("GET", "/_emulator/events?after=" + std::to_string(after) +
                                       "&timeout_ms=" + std::to_string(timeout_ms))
                           .body)
        .as_object();
  };
  const auto all = events(0, 0);
  ASSERT_EQ(all.at("messages").as_array().size(), 2u);
  EXPECT_EQ(all.at("messages").at(0).at("id").as_string(), *first.message_id);
  EXPECT_FALSE(all.at("more").as_bool());
  const auto cursor = all.at("cursor").to_number<std::uint64_t>();
  EXPECT_TRUE(events(cursor, 0).at("messages").as_array().empty());

  // A poll waiting at the cursor answers with the edit, and only with it.
  auto answer =
      poll_during_edit("/_emulator/events?after=" + std::to_string(cursor) + "&timeout_ms=20000",
                       second.token, "painted");
  ASSERT_TRUE(answer);
  const auto polled = json::parse(answer->body).as_object();
  ASSERT_EQ(polled.at("messages").as_array().size(), 1u);
  EXPECT_EQ(polled.at("messages").at(0).at("content").as_string(), "painted");
  EXPECT_GT(polled.at("cursor").to_number<std::uint64_t>(), cursor);
  // A cursor from another emulator run starts over.
  EXPECT_TRUE(events(cursor + 1000, 0).at("reset").as_bool());
}

TEST_F(EmulatorTest, StopEndsLongPolls) {
  const SentInteraction sent = send();
  std::optional<int> status;
  auto poll = [&]() -> asio::awaitable<void> {
    net::ClientRequest request;
    request.url = discord_->url() + "/_emulator/messages/" + *sent.message_id +
                  "?after_version=1&timeout_ms=30000";
    request.timeout = 10s;
    auto response = co_await http_->send(std::move(request));
    if (response) status = response->status;
  };
  // Whether stop() comes before or after the poll starts waiting, the poll answers at once: a
  // stopped emulator ends waits and starts none. Without that, the client's 10 s bound fails it.
  auto stop = [&]() -> asio::awaitable<void> {
    co_await asio::this_coro::executor;
    emulator_->stop();
  };
  asio::co_spawn(ioc_, poll(), asio::detached);
  asio::co_spawn(ioc_, stop(), asio::detached);
  ioc_.restart();
  ioc_.run();
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 200);  // the message as it is
  EXPECT_EQ(call("GET", "/_emulator/events?after=99&timeout_ms=30000").status, 200);
}

}  // namespace
}  // namespace mando::emulator
