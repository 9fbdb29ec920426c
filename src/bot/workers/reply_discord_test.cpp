// reply-discord against a fake Discord on loopback: every way a reply ends, and that each one the
// user can see is either the picture or a plain sentence with the interaction id.

#include "bot/workers/reply_discord.hpp"

#include <cctype>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bot/jobs.hpp"
#include "bot/worker_test_fixture.hpp"

namespace mando::bot {
namespace {

namespace json = boost::json;
using std::chrono::minutes;
using std::chrono::seconds;
using Answer = mando::testing::ScriptedDiscord::Answer;

constexpr std::string_view kUrl = "https://cdn.example/mando/1/mandala.png";

class ReplyWorkerTest : public WorkerFixture {
 protected:
  // A finished message as generate-image writes it (the parts the worker touches).
  ReplyJob job(std::string interaction_id, std::uint64_t upload_limit = 0) {
    ReplyJob reply{
        {std::move(interaction_id), "1180000000000000001", "tok", "u", std::nullopt, upload_limit},
        json::object{
            {"content", ""},
            {"embeds", json::array{json::object{{"image", json::object{{"url",
                                                                        "attachment://"
                                                                        "mandala.png"}}}}}},
            {"attachments", json::array{json::object{{"id", 0}, {"filename", "mandala.png"}}}}},
        "mando/1/mandala.png",
        "mandala.png",
        "image/png",
        std::string(kUrl),
        false,
        {}};
    return reply;
  }

  net::Response deliver(const ReplyJob& reply, storage::BlobStore* blobs = nullptr) {
    ReplyWorker worker(rest_, blobs != nullptr ? *blobs : *store_, finish_);
    net::Request request;
    request.body = to_json(reply);
    return run(worker.handle(std::move(request)));
  }

  bool counted(std::string_view outcome, int n = 1) {
    return metrics_text().find(fmt::format("mando_discord_replies_total{{outcome=\"{}\"}} {}",
                                           outcome, n)) != std::string::npos;
  }

  static bool multipart(const net::Request& request) {
    return request.headers.get("Content-Type").value_or("").find("multipart/form-data") !=
           std::string::npos;
  }

  void SetUp() override { ASSERT_TRUE(put("mando/1/mandala.png", "\x89PNG-bytes", minutes(60))); }
};

TEST_F(ReplyWorkerTest, DeliversTheImageAsAMultipartPatch) {
  auto response = deliver(job(interaction_id()));
  EXPECT_EQ(response.status, 200) << response.body;
  auto requests = discord_server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/api/v10/webhooks/1180000000000000001/tok/messages/@original");
  EXPECT_TRUE(multipart(requests[0]));
  EXPECT_NE(requests[0].body.find("\x89PNG-bytes"), std::string::npos);
  EXPECT_TRUE(counted("delivered"));
}

TEST_F(ReplyWorkerTest, ExtraFilesGoAlongAsFarAsTheUploadLimitAllows) {
  ASSERT_TRUE(put("mando/1/2.png", "\x89PNG-two!", minutes(60)));   // 10 bytes
  ASSERT_TRUE(put("mando/1/3.png", "\x89PNG-three", minutes(60)));  // 11 bytes
  ReplyJob reply = job(interaction_id(), 25);                       // the first file has 10 bytes
  reply.extra_files = {{"mando/1/2.png", "2.png", "image/png"},
                       {"mando/1/3.png", "3.png", "image/png"},
                       {"mando/1/gone.png", "4.png", "image/png"}};
  EXPECT_EQ(deliver(reply).status, 200);
  auto requests = discord_server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_NE(requests[0].body.find("\x89PNG-two!"), std::string::npos);
  EXPECT_EQ(requests[0].body.find("\x89PNG-three"), std::string::npos) << "21 + 11 > 25";
  EXPECT_NE(requests[0].body.find(R"({"id":1,"filename":"2.png"})"), std::string::npos)
      << "listed in the message's attachments";
  EXPECT_EQ(requests[0].body.find("4.png"), std::string::npos) << "a file that is gone is left out";
  EXPECT_TRUE(counted("delivered"));
}

TEST_F(ReplyWorkerTest, ALateResultGoesToTheChannelWhereTheBotMayPost) {
  set_clock(minutes(16));  // the token is gone
  ReplyJob late = job(interaction_id(1));
  late.post_late = true;
  late.target.late_channel_id = "1180000000000000030";
  late.target.late_attach = true;
  EXPECT_EQ(deliver(late).status, 200);
  auto requests = discord_server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/api/v10/channels/1180000000000000030/messages");
  EXPECT_TRUE(multipart(requests[0])) << "the file, which the bot may attach there";
  EXPECT_NE(requests[0].body.find("<@u> your result came after the interaction had expired"),
            std::string::npos);
  EXPECT_NE(requests[0].body.find(R"("allowed_mentions":{"users":["u"]})"), std::string::npos)
      << "only the user is mentioned";
  EXPECT_TRUE(counted("posted_late"));

  // Without the permission to post there (or a job that does not ask): dropped, counted.
  ReplyJob nowhere = job(interaction_id(2));
  nowhere.post_late = true;
  EXPECT_EQ(deliver(nowhere).status, 200);
  EXPECT_EQ(discord_server_.requests().size(), 1u);
  EXPECT_TRUE(counted("token_expired"));

  discord_server_.script({{403, R"({"message":"Missing Access","code":50001})"}});
  EXPECT_EQ(deliver(late).status, 200);
  EXPECT_TRUE(counted("late_dropped"));
}

TEST_F(ReplyWorkerTest, GoneTokensAreDroppedAndOutagesRetriedByTheQueue) {
  discord_server_.script(
      {{404, R"({"message":"Unknown Webhook","code":10015})"}, {503, "{}"}, {503, "{}"}});
  EXPECT_EQ(deliver(job(interaction_id(1))).status, 200) << "404: dropped";
  EXPECT_EQ(deliver(job(interaction_id(2))).status, 503) << "5xx: the queue retries";
  set_clock(minutes(16));
  EXPECT_EQ(deliver(job(interaction_id(3))).status, 200);
  EXPECT_TRUE(counted("token_invalid")) << metrics_text();
  EXPECT_TRUE(counted("token_expired")) << metrics_text();
  EXPECT_EQ(discord_server_.requests().size(), 3u) << "an expired token is not even tried";
}

TEST_F(ReplyWorkerTest, AFileOverTheUploadLimitIsShownFromItsLinkSayingWhy) {
  auto response = deliver(job(interaction_id(), 4));  // the file has 10 bytes
  EXPECT_EQ(response.status, 200) << response.body;
  auto requests = discord_server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(multipart(requests[0])) << "nothing over the limit is uploaded";
  auto message = json::parse(requests[0].body).as_object();
  EXPECT_EQ(message.at("embeds").at(0).at("image").at("url").as_string(), kUrl);
  EXPECT_TRUE(message.at("attachments").as_array().empty());
  EXPECT_NE(std::string(message.at("content").as_string()).find("larger than Discord"),
            std::string::npos);
  EXPECT_TRUE(counted("delivered_link"));
}

TEST_F(ReplyWorkerTest, ATooLargeFileWithoutALinkEndsWithAFailureLine) {
  auto reply = job(interaction_id(), 4);
  reply.url.clear();
  EXPECT_EQ(deliver(reply).status, 200);
  EXPECT_NE(only_failure_line(reply.target.interaction_id).find("smaller size"), std::string::npos);
  EXPECT_TRUE(counted("too_large"));
}

TEST_F(ReplyWorkerTest, Discord413FallsBackToTheLink) {
  discord_server_.script({{413, R"({"message":"Request entity too large","code":40005})"}});
  EXPECT_EQ(deliver(job(interaction_id())).status, 200);
  auto requests = discord_server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(multipart(requests[0]));
  EXPECT_FALSE(multipart(requests[1]));
  EXPECT_NE(requests[1].body.find(kUrl), std::string::npos) << requests[1].body;
  EXPECT_TRUE(counted("delivered_link"));
}

TEST_F(ReplyWorkerTest, AnAutoModRefusalEndsWithAPlainFailureLine) {
  const std::string id = interaction_id();
  discord_server_.script(
      {{400, R"({"message":"Message was blocked by automatic moderation","code":200000})"}});
  EXPECT_EQ(deliver(job(id)).status, 200) << "the queue stops";
  auto requests = discord_server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  const std::string line = failure_line(requests[1], id);
  EXPECT_NE(line.find("Discord refused the picture"), std::string::npos) << line;
  EXPECT_EQ(line.find("moderation"), std::string::npos) << "Discord's own words stay in the log";
  EXPECT_TRUE(counted("rejected"));
}

TEST_F(ReplyWorkerTest, ABlobGoneBeforeTheReplyEndsWithAFailureLine) {
  const std::string id = interaction_id();
  auto reply = job(id);
  reply.blob_key = "mando/2/mandala.png";
  EXPECT_EQ(deliver(reply).status, 200);
  EXPECT_NE(only_failure_line(id).find("lost"), std::string::npos);
  EXPECT_TRUE(counted("blob_missing"));
}

TEST_F(ReplyWorkerTest, ABlobStoreDownIsRetriedUntilTheGiveUpPoint) {
  const std::string id = interaction_id();
  flaky_.down = true;
  for (seconds at : {seconds(5), seconds(6 * 60), seconds(11 * 60 + 59)}) {
    set_clock(at);
    auto response = deliver(job(id), flaky_store_.get());
    EXPECT_EQ(response.status, 503) << "retried at " << at.count() << " s";
    EXPECT_EQ(response.body.find("10.0.0.9"), std::string::npos) << response.body;
  }
  EXPECT_TRUE(discord_server_.requests().empty());
  set_clock(minutes(12));
  EXPECT_EQ(deliver(job(id), flaky_store_.get()).status, 200);
  EXPECT_NE(only_failure_line(id).find("took too long"), std::string::npos);
  EXPECT_TRUE(counted("gave_up"));
}

TEST_F(ReplyWorkerTest, Discord5xxIsRetriedUntilTheGiveUpPointThenOneFailureLine) {
  const std::string id = interaction_id();
  discord_server_.always(Answer{502, "<html>bad gateway</html>"});
  set_clock(minutes(11));
  EXPECT_EQ(deliver(job(id)).status, 503);
  EXPECT_EQ(discord_server_.requests().size(), 2u) << "the REST client's own two attempts";

  // Past the give-up point the picture is no longer tried; the failure line is, and retried by
  // the queue while Discord still fails and the token lives.
  set_clock(minutes(12) + seconds(20));
  EXPECT_EQ(deliver(job(id)).status, 503);
  auto requests = discord_server_.requests();
  ASSERT_EQ(requests.size(), 4u);
  failure_line(requests[3], id);

  discord_server_.always(std::nullopt);
  set_clock(minutes(12) + seconds(50));
  EXPECT_EQ(deliver(job(id)).status, 200);
  requests = discord_server_.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_NE(failure_line(requests[4], id).find("took too long"), std::string::npos);
  EXPECT_TRUE(counted("gave_up"));
}

TEST_F(ReplyWorkerTest, TheFailureLineIsNotRetriedPastTheTokensLife) {
  const std::string id = interaction_id();
  discord_server_.always(Answer{503, "{}"});
  set_clock(minutes(14) + seconds(40));
  EXPECT_EQ(deliver(job(id)).status, 503) << "the token still has 20 s";
  set_clock(minutes(14) + seconds(51));
  EXPECT_EQ(deliver(job(id)).status, 200) << "the queue stops";
  EXPECT_EQ(discord_server_.requests().size(), 2u);
  EXPECT_TRUE(counted("token_expired"));
}

TEST(FailureText, IsAPlainSentenceWithTheInteractionId) {
  for (Failure f : {Failure::kTookTooLong, Failure::kNotDrawn, Failure::kRefused, Failure::kLost,
                    Failure::kTooLarge}) {
    const std::string text = failure_text(f, "1234");
    EXPECT_TRUE(text.ends_with(" (interaction 1234)")) << text;
    EXPECT_TRUE(std::isupper(static_cast<unsigned char>(text[0]))) << text;
  }
  auto message = plain_message("x");
  EXPECT_TRUE(message.at("components").as_array().empty()) << "no buttons left from before";
  EXPECT_TRUE(message.at("allowed_mentions").at("parse").as_array().empty());
}

}  // namespace
}  // namespace mando::bot
