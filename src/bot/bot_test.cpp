// The bot's parts that need neither network nor queue: job limits and task bodies. /mando is
// tested in commands/mando_test.cpp, reply-discord in workers/reply_discord_test.cpp.

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "bot/job_tracker.hpp"
#include "bot/jobs.hpp"
#include "bot/worker_test_fixture.hpp"

namespace mando::bot {
namespace {

namespace json = boost::json;
using std::chrono::steady_clock;
using std::chrono::system_clock;

// --- job limits -------------------------------------------------------------------------------

TEST(JobTracker, LimitsQueuedAndRunningJobsPerUser) {
  core::BotConfig config;
  config.max_running_per_user = 1;
  config.max_queued_per_user = 2;
  JobTracker jobs(JobLimits(config, {}), true);
  const auto t = steady_clock::now();
  auto ann = [](std::string id) { return DiscordTarget{std::move(id), "app", "tok", "ann", {}}; };
  EXPECT_TRUE(jobs.admit(ann("1"), t).admitted);
  EXPECT_TRUE(jobs.admit(ann("2"), t).admitted);
  auto third = jobs.admit(ann("3"), t);
  EXPECT_FALSE(third.admitted);
  EXPECT_EQ(third.queued, 2);
  auto again = jobs.admit(ann("1"), t);
  EXPECT_TRUE(again.admitted) << "the same interaction again is not a new job";
  EXPECT_FALSE(again.fresh);
  EXPECT_TRUE(jobs.admit({"x", "app", "tok", "bob", {}}, t).admitted) << "limits are per user";

  using Start = JobTracker::Start;
  EXPECT_EQ(jobs.start(ann("1"), t), Start::kStarted);
  EXPECT_EQ(jobs.start(ann("2"), t), Start::kUserBusy) << "one running job at most";
  EXPECT_TRUE(jobs.admit(ann("3"), t).admitted) << "a started job frees a queued place";
  EXPECT_FALSE(jobs.admit(ann("4"), t).admitted);
  jobs.finish("1");
  EXPECT_EQ(jobs.start(ann("2"), t), Start::kStarted);
  EXPECT_EQ(jobs.size(), 3u);
}

TEST(JobTracker, PositionsAndForgettingExpiredJobs) {
  JobTracker jobs(JobLimits(core::BotConfig{}, {}), true);
  const auto t = steady_clock::now();
  auto job = [](std::string id) { return DiscordTarget{id, "app", "tok", "user-" + id, {}}; };
  jobs.admit(job("a"), t);
  jobs.admit(job("b"), t + std::chrono::seconds(1));
  jobs.admit(job("c"), t + std::chrono::seconds(2));
  ASSERT_TRUE(jobs.position("c"));
  EXPECT_EQ(jobs.position("c")->position, 3);
  EXPECT_EQ(jobs.position("c")->waiting, 3);
  const auto interval = std::chrono::seconds(10);
  auto edits = jobs.claim_progress(t + std::chrono::milliseconds(1500), t, 10, interval);
  ASSERT_EQ(edits.size(), 2u);
  EXPECT_EQ(edits[1].target.interaction_id, "b");
  EXPECT_EQ(edits[1].position.position, 2);
  EXPECT_EQ(jobs.claim_progress(t + std::chrono::seconds(3), t, 10, interval).size(), 1u)
      << "only c: a and b are being edited";
  EXPECT_TRUE(jobs.editing("a"));
  EXPECT_EQ(jobs.start(job("a"), t), JobTracker::Start::kStarted);
  jobs.end_progress("a");
  jobs.end_progress("b");
  EXPECT_FALSE(jobs.editing("a"));
  EXPECT_TRUE(
      jobs.claim_progress(t + std::chrono::seconds(3), t + std::chrono::seconds(5), 10, interval)
          .empty())
      << "b moved up to 1, but its last line is younger than the interval";
  EXPECT_EQ(
      jobs.claim_progress(t + std::chrono::seconds(3), t + std::chrono::seconds(11), 1, interval)
          .size(),
      1u)
      << "and at most max_edits per round";
  EXPECT_FALSE(jobs.position("a")) << "a running job has no place in line";
  EXPECT_EQ(jobs.position("b")->position, 1);
  jobs.forget_before(t + std::chrono::milliseconds(1500));
  EXPECT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs.position("c")->position, 1);
}

TEST(JobTracker, GuildOverridesAndSplitIngress) {
  core::BotConfig config;
  config.max_queued_per_user = 1;
  JobLimits limits(config, {{"7", 0, 3}});
  EXPECT_EQ(limits.for_guild("7").max_queued, 3);
  EXPECT_EQ(limits.for_guild("7").max_running, 3);
  EXPECT_EQ(limits.for_guild(std::nullopt).max_queued, 1);
  JobTracker split(limits, false);
  const auto t = steady_clock::now();
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(split.admit({std::to_string(i), "app", "tok", "u", {}}, t).admitted);
}

// --- task bodies ------------------------------------------------------------------------------

TEST(Jobs, BodiesRoundTripAndRefuseMissingFields) {
  ImageJob job{{"123", "456", "secret-token", "789", "42"}, "seed=1 size=64", "sy=12"};
  auto back = parse_image_job(to_json(job));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->target.token, "secret-token");
  EXPECT_EQ(back->target.guild_id, "42");
  EXPECT_EQ(back->spec, job.spec);
  EXPECT_EQ(back->options, "sy=12");

  ReplyJob reply{{"1", "2", "t", "3", std::nullopt},
                 json::object{{"content", "hi"}},
                 "mando/1/mandala.png",
                 "mandala.png",
                 "image/png",
                 "",
                 true,
                 {{"mando/1/2.png", "2.png", "image/png"}}};
  auto reply_back = parse_reply_job(to_json(reply));
  ASSERT_TRUE(reply_back) << reply_back.error().message;
  EXPECT_FALSE(reply_back->target.guild_id);
  EXPECT_EQ(reply_back->message.at("content").as_string(), "hi");
  EXPECT_TRUE(reply_back->post_late);
  ASSERT_EQ(reply_back->extra_files.size(), 1u);
  EXPECT_EQ(reply_back->extra_files[0].blob_key, "mando/1/2.png");
  EXPECT_EQ(reply_back->extra_files[0].filename, "2.png");
  EXPECT_FALSE(parse_reply_job(R"({"target":{"interaction_id":"1","application_id":"2",)"
                               R"("token":"t","user_id":"3"},"message":{},)"
                               R"("extra_files":[{"blob_key":"k"}]})"))
      << "an extra file needs its name";
  EXPECT_EQ(reply_back->blob_key, "mando/1/mandala.png");

  auto missing = parse_image_job(R"({"target":{"interaction_id":"1"},"spec":"x"})");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("application_id"), std::string::npos);
  EXPECT_FALSE(parse_reply_job("[]"));
  EXPECT_FALSE(parse_reply_job("not json"));
}

TEST(Jobs, TransformBodiesRoundTripAndRefuseBadShapes) {
  TransformJob job{{"1", "2", "t", "3", std::nullopt, 8 << 20},
                   {"https://a.example/1.png", "https://cdn.discordapp.com/2.jpg"},
                   256,
                   "entropy",
                   "webp"};
  auto back = parse_transform_job(to_json(job));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->urls, job.urls);
  EXPECT_EQ(back->size, 256);
  EXPECT_EQ(back->crop, "entropy");
  EXPECT_EQ(back->format, "webp");
  EXPECT_EQ(back->target.attachment_size_limit, 8u << 20);

  const std::string target = R"("target":{"interaction_id":"1","application_id":"2",)"
                             R"("token":"t","user_id":"3"})";
  for (const std::string& bad :
       {"{" + target + R"(,"urls":"x","size":1,"crop":"none","format":"png"})",
        "{" + target + R"(,"urls":[1],"size":1,"crop":"none","format":"png"})",
        "{" + target + R"(,"urls":[],"size":"big","crop":"none","format":"png"})",
        "{" + target + R"(,"urls":[],"size":1,"format":"png"})"}) {
    auto parsed = parse_transform_job(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().message.find("transform-images task"), std::string::npos);
  }
}

TEST(Jobs, TokenLifetimeComesFromTheInteractionId) {
  const auto now = system_clock::now();
  DiscordTarget fresh{snowflake_at(now - std::chrono::minutes(14)), "a", "t", "u", std::nullopt};
  EXPECT_FALSE(fresh.token_expired(now));
  DiscordTarget old{snowflake_at(now - std::chrono::minutes(15)), "a", "t", "u", std::nullopt};
  EXPECT_TRUE(old.token_expired(now));
  // The fixture's interaction id is from 2023.
  auto t = snowflake_time("1180000000000000050");
  ASSERT_TRUE(t);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count() / 86400,
            19692);
  EXPECT_FALSE(snowflake_time("12ab"));
}

TEST(Jobs, BodiesCarryTheUploadLimitAndTheLink) {
  ReplyJob reply{{"1", "2", "t", "3", std::nullopt, 25 * 1024 * 1024},
                 json::object{{"content", ""}},
                 "k",
                 "mandala.png",
                 "image/png",
                 "https://cdn/x.png",
                 false,
                 {}};
  auto back = parse_reply_job(to_json(reply));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->target.attachment_size_limit, 25u * 1024 * 1024);
  EXPECT_EQ(back->target.upload_limit(), 25u * 1024 * 1024);
  EXPECT_EQ(back->url, "https://cdn/x.png");
  // A body written before the limit was carried: Discord's limit without boosts.
  auto old = parse_image_job(
      R"({"target":{"interaction_id":"1","application_id":"2","token":"t","user_id":"3"},"spec":"x"})");
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->target.upload_limit(), kDefaultAttachmentSizeLimit);
  EXPECT_FALSE(parse_image_job(
      R"({"target":{"interaction_id":"1","application_id":"2","token":"t","user_id":"3","attachment_size_limit":"x"},"spec":"x"})"));
}

}  // namespace
}  // namespace mando::bot
