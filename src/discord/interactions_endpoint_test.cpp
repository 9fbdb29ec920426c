#include "discord/interactions_endpoint.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "support/test_data.hpp"

namespace mando::discord {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// A fixed test key: the Ed25519 seed 0x01 0x02 ... 0x20.
const std::string kSeed = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
const std::string kTimestamp = "1700000000";

std::string fixture(const std::string& name) { return testing::read_test_data("discord/" + name); }

// A request signed the way Discord signs one: Ed25519 over timestamp + raw body.
net::Request signed_request(const std::string& body, const std::string& timestamp = kTimestamp) {
  net::Request request;
  request.method = "POST";
  request.target = "/interactions";
  request.remote = "127.0.0.1:5555";
  request.headers.set("Content-Type", "application/json");
  auto signature = sign_hex(kSeed, timestamp + body);
  EXPECT_TRUE(signature);
  request.headers.set("X-Signature-Ed25519", signature.value_or(""));
  request.headers.set("X-Signature-Timestamp", timestamp);
  request.body = body;
  return request;
}

CommandRegistry make_registry() {
  CommandRegistry registry;
  CommandSpec about;
  about.name = "about";
  about.description = "About";
  about.handler = [](CommandContext) -> asio::awaitable<InteractionResponse> {
    co_return InteractionResponse::message("mando here");
  };
  EXPECT_TRUE(registry.add(std::move(about)));
  CommandSpec mando;
  mando.name = "mando";
  mando.description = "Draw";
  mando.options = {
      {.name = "symmetry",
       .description = "n",
       .type = OptionType::kInteger,
       .min_value = 3,
       .max_value = 32},
      {.name = "palette", .description = "p", .type = OptionType::kString, .autocomplete = true},
      {.name = "seed", .description = "s", .type = OptionType::kInteger},
      {.name = "style", .description = "s", .type = OptionType::kString},
  };
  mando.handler = [](CommandContext ctx) -> asio::awaitable<InteractionResponse> {
    co_return InteractionResponse::message("symmetry " +
                                           std::to_string(ctx.get_int("symmetry", 8)));
  };
  mando.autocomplete = [](AutocompleteContext ctx) -> asio::awaitable<std::vector<Choice>> {
    co_return std::vector<Choice>{{"Twilight", ctx.partial + "light"}};
  };
  EXPECT_TRUE(registry.add(std::move(mando)));
  auto update = [](ComponentContext) -> asio::awaitable<InteractionResponse> {
    co_return InteractionResponse::deferred_update();
  };
  EXPECT_TRUE(registry.add_component_prefix("mando:reroll:", update));
  EXPECT_TRUE(registry.add_modal_prefix("mando:custom", update));
  return registry;
}

class EndpointTest : public ::testing::Test {
 protected:
  EndpointTest() : registry_(make_registry()), endpoint_(make_endpoint({})) {}

  InteractionsEndpoint make_endpoint(InteractionsEndpointOptions options) {
    auto pair = key_pair_from_secret_hex(kSeed);
    EXPECT_TRUE(pair);
    auto verifier = SignatureVerifier::from_hex(pair->public_key_hex);
    EXPECT_TRUE(verifier);
    return InteractionsEndpoint(std::move(*verifier), registry_, std::move(options));
  }

  static net::Response call(const InteractionsEndpoint& endpoint, net::Request request) {
    asio::io_context ioc;
    auto future = asio::co_spawn(ioc, endpoint.handle(std::move(request)), asio::use_future);
    ioc.run();
    return future.get();
  }
  net::Response call(net::Request request) { return call(endpoint_, std::move(request)); }

  static void expect_401(const net::Response& r, const std::string& what) {
    EXPECT_EQ(r.status, 401) << what;
    EXPECT_EQ(r.headers.get("Content-Type"), "application/json") << what;
    EXPECT_EQ(json::parse(r.body),
              json::parse(R"({"error":{"code":401,"message":"invalid request signature"}})"))
        << what;
  }

  CommandRegistry registry_;
  InteractionsEndpoint endpoint_;
};

TEST_F(EndpointTest, AnswersASignedPing) {
  auto r = call(signed_request(fixture("ping.json")));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  EXPECT_EQ(r.body, R"({"type":1})");
}

TEST_F(EndpointTest, RefusesOneChangedByteIn401) {
  const std::string body = fixture("ping.json");
  const net::Request good = signed_request(body);

  net::Request body_changed = good;
  body_changed.body[body_changed.body.size() / 2] ^= 0x01;
  expect_401(call(body_changed), "body");

  net::Request timestamp_changed = good;
  timestamp_changed.headers.set("X-Signature-Timestamp", "1700000001");
  expect_401(call(timestamp_changed), "timestamp");

  net::Request signature_changed = good;
  std::string signature(*good.headers.get("X-Signature-Ed25519"));
  signature[10] = signature[10] == 'a' ? 'b' : 'a';
  signature_changed.headers.set("X-Signature-Ed25519", signature);
  expect_401(call(signature_changed), "signature");

  net::Request body_appended = good;
  body_appended.body += " ";
  expect_401(call(body_appended), "appended whitespace");

  EXPECT_EQ(call(good).status, 200);  // the untouched request still passes
}

TEST_F(EndpointTest, RefusesMissingOrMalformedHeadersWith401) {
  const net::Request good = signed_request(fixture("ping.json"));
  for (const char* header : {"X-Signature-Ed25519", "X-Signature-Timestamp"}) {
    net::Request r = good;
    r.headers.remove(header);
    expect_401(call(r), std::string("missing ") + header);
  }
  const std::string signature(*good.headers.get("X-Signature-Ed25519"));
  for (const std::string& bad :
       {std::string(), std::string(128, 'z'), signature.substr(0, 127), signature + "00",
        std::string(128, '0'), std::string("not hex at all")}) {
    net::Request r = good;
    r.headers.set("X-Signature-Ed25519", bad);
    expect_401(call(r), "signature '" + bad + "'");
  }
}

TEST_F(EndpointTest, RefusesSignaturesByAnotherKey) {
  net::Request r = signed_request(fixture("ping.json"));
  auto other = generate_key_pair();
  r.headers.set("X-Signature-Ed25519", *sign_hex(other.secret_key_hex, kTimestamp + r.body));
  expect_401(call(r), "other key");
}

TEST_F(EndpointTest, HeaderNamesAreCaseInsensitive) {
  net::Request r = signed_request(fixture("ping.json"));
  net::Request lower;
  lower.method = r.method;
  lower.target = r.target;
  lower.body = r.body;
  lower.headers.set("x-signature-ed25519", *r.headers.get("X-Signature-Ed25519"));
  lower.headers.set("x-signature-timestamp", *r.headers.get("X-Signature-Timestamp"));
  EXPECT_EQ(call(lower).status, 200);
}

TEST_F(EndpointTest, MalformedJsonWithAValidSignatureIs400) {
  auto r = call(signed_request("{\"type\":"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("error").at("code"), 400);
  EXPECT_NE(
      std::string(v.at("error").at("message").as_string()).find("interaction: malformed JSON"),
      std::string::npos)
      << r.body;
}

TEST_F(EndpointTest, WrongShapeIs400NamingTheField) {
  auto r = call(signed_request(
      R"({"type":2,"id":"1","application_id":"2","token":"t","user":{"id":"3","username":"u"},"data":{"id":"4","name":7}})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body).at("error").at("message"),
            "interaction: field `data.name` must be a string");
}

TEST_F(EndpointTest, UnknownCommandIsAn200EphemeralReply) {
  std::string body = fixture("command_no_options.json");
  body.replace(body.find("\"name\":\"about\""), 14, "\"name\":\"nope\"");
  auto r = call(signed_request(body));
  EXPECT_EQ(r.status, 200);
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("type"), 4);
  EXPECT_EQ(v.at("data").at("flags"), 64);
  EXPECT_EQ(v.at("data").at("content"), "Unknown command `/nope`.");
}

TEST_F(EndpointTest, DispatchesCommands) {
  auto r = call(signed_request(fixture("command_mando_guild.json")));
  EXPECT_EQ(r.status, 200);
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("type"), 4);
  EXPECT_EQ(v.at("data").at("content"), "symmetry 12");
  EXPECT_FALSE(v.at("data").as_object().contains("flags"));
}

TEST_F(EndpointTest, OptionProblemsAreEphemeralNot400) {
  std::string body = fixture("command_mando_guild.json");
  body.replace(body.find("\"value\":12"), 10, "\"value\":40");
  auto r = call(signed_request(body));
  EXPECT_EQ(r.status, 200);
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("data").at("flags"), 64);
  EXPECT_EQ(v.at("data").at("content"), "Option `symmetry` must be between 3 and 32 (got 40).");
}

TEST_F(EndpointTest, EveryFixtureIsAnswered) {
  const std::map<std::string, int> expected_type = {
      {"ping.json", 1},
      {"command_mando_guild.json", 4},
      {"command_mando_dm_user_install.json", 4},
      {"command_no_options.json", 4},
      {"autocomplete.json", 8},
      {"component_button.json", 6},
      {"modal_submit.json", 6},
  };
  for (const auto& [name, type] : expected_type) {
    auto r = call(signed_request(fixture(name)));
    ASSERT_EQ(r.status, 200) << name << ": " << r.body;
    EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
    EXPECT_EQ(json::parse(r.body).at("type"), type) << name << ": " << r.body;
  }
}

TEST_F(EndpointTest, AutocompleteAnswersChoices) {
  auto r = call(signed_request(fixture("autocomplete.json")));
  EXPECT_EQ(
      json::parse(r.body),
      json::parse(R"({"type":8,"data":{"choices":[{"name":"Twilight","value":"twilight"}]}})"));
}

TEST_F(EndpointTest, TimestampWindowIsOffByDefault) {
  // Any signed timestamp passes without a window, even one that is not a number.
  EXPECT_EQ(call(signed_request(fixture("ping.json"), "1")).status, 200);
  EXPECT_EQ(call(signed_request(fixture("ping.json"), "yesterday")).status, 200);
}

TEST_F(EndpointTest, TimestampWindowRefusesOldAndFutureRequests) {
  InteractionsEndpointOptions options;
  options.timestamp_window = 5s;
  options.clock = [] {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  };
  InteractionsEndpoint endpoint = make_endpoint(std::move(options));
  const std::string body = fixture("ping.json");
  for (const char* ok : {"1700000000", "1699999995", "1700000005"}) {
    EXPECT_EQ(call(endpoint, signed_request(body, ok)).status, 200) << ok;
  }
  for (const char* bad : {"1699999994", "1700000006", "0", "", "17e8", "-1700000000",
                          "1700000000.5", "99999999999999999999999"}) {
    expect_401(call(endpoint, signed_request(body, bad)), std::string("timestamp ") + bad);
  }
}

}  // namespace
}  // namespace mando::discord
