#include "imagine/replicate.hpp"

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

namespace mando::imagine::replicate {
namespace {

namespace json = boost::json;

json::object input() { return json::object{{"prompt", "a red fox"}, {"num_outputs", 2}}; }

TEST(ReplicateTest, CreateCallForAVersionIdAsksForEveryWebhookEvent) {
  const auto call = create_call("5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",
                                input(), "https://bot.example/webhooks/imagine/replicate?job=42");
  ASSERT_TRUE(call.has_value()) << call.error().message;
  EXPECT_EQ(call->path, "/predictions");
  const auto body = json::parse(call->body).as_object();
  EXPECT_EQ(body.at("version"), "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa");
  EXPECT_EQ(body.at("input"), input());
  EXPECT_EQ(body.at("webhook"), "https://bot.example/webhooks/imagine/replicate?job=42");
  EXPECT_EQ(body.at("webhook_events_filter"),
            (json::array{"start", "output", "logs", "completed"}));
}

TEST(ReplicateTest, CreateCallForAModelNameUsesTheModelsRoute) {
  const auto call = create_call("black-forest-labs/flux-schnell", input(), "");
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->path, "/models/black-forest-labs/flux-schnell/predictions");
  const auto body = json::parse(call->body).as_object();
  EXPECT_FALSE(body.contains("version"));
  EXPECT_FALSE(body.contains("webhook"));  // polling only
  EXPECT_FALSE(body.contains("webhook_events_filter"));

  const auto pinned = create_call(
      "stability-ai/sdxl:39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b", input(),
      "");
  ASSERT_TRUE(pinned.has_value());
  EXPECT_EQ(pinned->path, "/predictions");
  EXPECT_EQ(json::parse(pinned->body).as_object().at("version"),
            "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b");
}

TEST(ReplicateTest, CreateCallRefusesVersionsThatWouldChangeThePath) {
  for (std::string_view bad :
       {"", "../admin/x", "owner/name/extra", "owner/", "a/b c", "x:", "owner/na?me"}) {
    EXPECT_FALSE(create_call(bad, input(), "").has_value()) << bad;
  }
}

TEST(ReplicateTest, CancelAfterIsWholeSecondsAndNeverBelowTheApisMinimum) {
  EXPECT_EQ(cancel_after(std::chrono::seconds(840)), "840s");
  EXPECT_EQ(cancel_after(std::chrono::seconds(1)), "5s");
  EXPECT_EQ(cancel_after(std::chrono::seconds(-30)), "5s");
}

TEST(ReplicateTest, ParsesAPredictionInEachStatus) {
  const auto starting = parse_prediction(R"({
    "id": "ufawqhfynnddngldkgtslldrkq", "version": "5c7d", "status": "starting",
    "input": {"text": "Alice"}, "output": null, "error": null, "logs": null, "metrics": {}})");
  ASSERT_TRUE(starting.has_value()) << starting.error().message;
  EXPECT_EQ(starting->provider_job_id, "ufawqhfynnddngldkgtslldrkq");
  EXPECT_EQ(starting->status, Status::kStarting);
  EXPECT_TRUE(starting->outputs.empty());
  EXPECT_EQ(starting->percent, std::nullopt);

  const auto processing = parse_prediction(
      R"({"id": "p", "status": "processing", "logs": "Using seed: 7\n  0%|          | 0/4 [00:00<?, ?it/s]\r 50%|#####     | 2/4 [00:01<00:01,  1.9it/s]\r"})");
  ASSERT_TRUE(processing.has_value());
  EXPECT_EQ(processing->status, Status::kProcessing);
  EXPECT_EQ(processing->percent, 50);

  const auto one = parse_prediction(
      R"({"id": "p", "status": "succeeded", "output": "https://replicate.delivery/a.mp4"})");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->outputs, std::vector<std::string>{"https://replicate.delivery/a.mp4"});

  const auto many = parse_prediction(
      R"({"id": "p", "status": "succeeded", "output": ["https://replicate.delivery/0.png", 7, null, "https://replicate.delivery/1.png"]})");
  ASSERT_TRUE(many.has_value());
  EXPECT_EQ(many->outputs, (std::vector<std::string>{"https://replicate.delivery/0.png",
                                                     "https://replicate.delivery/1.png"}));

  const auto failed = parse_prediction(
      R"({"id": "p", "status": "failed", "error": "NSFW content detected. Try running it again, or try a different prompt."})");
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->status, Status::kFailed);
  EXPECT_EQ(failed->error,
            "NSFW content detected. Try running it again, or try a different prompt.");

  for (auto [text, status] :
       {std::pair{"canceled", Status::kCanceled}, {"aborted", Status::kAborted}}) {
    const auto ended = parse_prediction(fmt::format(R"({{"id": "p", "status": "{}"}})", text));
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->status, status);
  }
}

TEST(ReplicateTest, RefusesPredictionsWithoutAnIdOrAKnownStatus) {
  for (std::string_view bad :
       {"", "[]", "{", R"({"status": "starting"})", R"({"id": "", "status": "starting"})",
        R"({"id": 7, "status": "starting"})", R"({"id": "p"})", R"({"id": "p", "status": "done"})",
        R"({"id": "p", "status": 1})"}) {
    const auto parsed = parse_prediction(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalidArgument);
  }
}

TEST(ReplicateTest, PercentComesFromTheLastTqdmBar) {
  EXPECT_EQ(percent_from_logs(""), std::nullopt);
  EXPECT_EQ(percent_from_logs("loading weights\nwarming up"), std::nullopt);
  EXPECT_EQ(percent_from_logs(" 10%|#         | 5/50\n 40%|####      | 20/50\nsaving"), 40);
  EXPECT_EQ(percent_from_logs("100%|##########| 50/50 [00:05<00:00]"), 100);
  EXPECT_EQ(percent_from_logs("got 50% of the way | really"), std::nullopt);  // not a bar
  EXPECT_EQ(percent_from_logs("250%| nope"), std::nullopt);
  EXPECT_EQ(percent_from_logs("%|"), std::nullopt);
}

}  // namespace
}  // namespace mando::imagine::replicate
