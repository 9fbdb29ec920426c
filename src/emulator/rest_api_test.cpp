#include "emulator/rest_api.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace mando::emulator {
namespace {

namespace json = boost::json;

std::vector<std::string_view> segments(std::initializer_list<std::string_view> s) { return s; }

TEST(RestApiTest, MatchesDiscordsRoutes) {
  std::string allow;
  auto original =
      match_rest(segments({"webhooks", "1", "tok", "messages", "@original"}), "PATCH", allow);
  ASSERT_TRUE(original);
  EXPECT_TRUE(allow.empty());
  EXPECT_EQ(original->family, "@original");
  EXPECT_EQ(original->token, "tok");
  EXPECT_EQ(original->template_,
            "PATCH /webhooks/{application.id}/{interaction.token}/messages/@original");
  auto message = match_rest(segments({"webhooks", "1", "tok", "messages", "77"}), "GET", allow);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->family, "message");
  EXPECT_EQ(message->message_id, "77");
  auto followup = match_rest(segments({"webhooks", "1", "tok"}), "POST", allow);
  ASSERT_TRUE(followup);
  EXPECT_EQ(followup->family, "followup");
  auto callback = match_rest(segments({"interactions", "5", "tok", "callback"}), "POST", allow);
  ASSERT_TRUE(callback);
  EXPECT_EQ(callback->interaction_id, "5");
  EXPECT_TRUE(match_rest(segments({"applications", "1", "commands"}), "PUT", allow));
  EXPECT_TRUE(allow.empty());

  EXPECT_TRUE(match_rest(segments({"applications", "1", "commands"}), "DELETE", allow));
  EXPECT_EQ(allow, "GET, PUT");
  EXPECT_FALSE(match_rest(segments({"webhooks", "1", "tok", "other"}), "GET", allow));
  EXPECT_FALSE(match_rest(segments({"channels", "1"}), "GET", allow));
}

TEST(RestApiTest, UserAgentMustBeDiscordBots) {
  EXPECT_TRUE(good_user_agent("DiscordBot (https://example.com, 1.0)"));
  EXPECT_FALSE(good_user_agent("DiscordBot (https://example.com)"));
  EXPECT_FALSE(good_user_agent("curl/8.0"));
  EXPECT_FALSE(good_user_agent(std::nullopt));
}

net::Request multipart(std::string file) {
  net::Request request;
  request.method = "PATCH";
  request.headers.set("Content-Type", "multipart/form-data; boundary=b");
  request.body =
      "--b\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n{\"content\":\"x\"}"
      "\r\n--b\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"a.png\"\r\n\r\n" +
      file + "\r\n--b--\r\n";
  return request;
}

TEST(RestApiTest, PayloadFilesOverTheLimitAre413WithCode40005) {
  RestError error;
  auto fits = read_payload(multipart(std::string(100, 'x')), 100, error);
  ASSERT_TRUE(fits) << error.message;
  EXPECT_EQ(fits->object.at("content").as_string(), "x");
  ASSERT_EQ(fits->files.size(), 1u);
  EXPECT_EQ(fits->files.at(0).data.size(), 100u);

  EXPECT_FALSE(read_payload(multipart(std::string(101, 'x')), 100, error));
  EXPECT_EQ(error.status, 413);
  EXPECT_EQ(error.code, 40005);
  EXPECT_EQ(error.message, "Request entity too large");
  const auto body = json::parse(error_response(error).body).as_object();
  EXPECT_EQ(body.at("code").as_int64(), 40005);
  EXPECT_EQ(body.at("message").as_string(), "Request entity too large");
  EXPECT_FALSE(body.contains("errors"));
}

TEST(RestApiTest, PayloadErrorsAreDiscordShaped) {
  RestError error;
  net::Request json_body;
  json_body.body = "{nope";
  EXPECT_FALSE(read_payload(json_body, 10, error));
  EXPECT_EQ(error.code, 50109);
  json_body.body = "[1]";
  EXPECT_FALSE(read_payload(json_body, 10, error));
  EXPECT_EQ(error.code, 50035);
  net::Request no_payload;
  no_payload.headers.set("Content-Type", "multipart/form-data; boundary=b");
  no_payload.body =
      "--b\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"a\"\r\n\r\nx\r\n"
      "--b--\r\n";
  EXPECT_FALSE(read_payload(no_payload, 10, error));
  EXPECT_EQ(error.code, 50035);
  EXPECT_TRUE(error.errors.contains("payload_json"));
}

}  // namespace
}  // namespace mando::emulator
