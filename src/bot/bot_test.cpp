// The bot's parts without a network: job limits, task bodies, /mando's options and its
// handlers over an in-memory queue, a real blob store and CPU pool, and the reply worker
// against a fake Discord on loopback.

#include "bot/bot.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "bot/jobs.hpp"
#include "storage/local_store_fixture.hpp"
#include "support/fake_task_queue.hpp"
#include "support/loopback_server.hpp"
#include "support/test_data.hpp"

namespace mando::bot {
namespace {

namespace json = boost::json;
using commands::MandoOptions;
using std::chrono::steady_clock;
using std::chrono::system_clock;

std::string snowflake_at(system_clock::time_point t, int increment = 0) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return std::to_string((static_cast<std::uint64_t>(ms - 1420070400000) << 22) |
                        static_cast<std::uint64_t>(increment));
}

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
                 "image/png"};
  auto reply_back = parse_reply_job(to_json(reply));
  ASSERT_TRUE(reply_back) << reply_back.error().message;
  EXPECT_FALSE(reply_back->target.guild_id);
  EXPECT_EQ(reply_back->message.at("content").as_string(), "hi");
  EXPECT_EQ(reply_back->blob_key, "mando/1/mandala.png");

  auto missing = parse_image_job(R"({"target":{"interaction_id":"1"},"spec":"x"})");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("application_id"), std::string::npos);
  EXPECT_FALSE(parse_reply_job("[]"));
  EXPECT_FALSE(parse_reply_job("not json"));
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

// --- /mando options ---------------------------------------------------------------------------

TEST(MandoOptions, CompactFormRoundTripsAndBecomesASpec) {
  MandoOptions o;
  o.seed = 4242;
  o.symmetry = 12;
  o.style = "bezier_fill";
  o.palette = "twilight";
  o.layers = 5;
  o.size = 256;
  o.animated = true;
  EXPECT_EQ(o.compact(), "sy=12;st=bezier_fill;p=twilight;l=5;z=256;a=1");
  EXPECT_EQ(o.command_text(),
            "/mando seed:4242 symmetry:12 style:bezier_fill palette:twilight layers:5 size:256 "
            "animated:True");
  auto back = MandoOptions::parse_compact(o.compact());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->compact(), o.compact());
  EXPECT_FALSE(MandoOptions::parse_compact("sy=twelve"));
  EXPECT_FALSE(MandoOptions::parse_compact("zz=1"));

  auto spec = o.spec();
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->seed, 4242u);
  EXPECT_EQ(spec->frames, commands::kAnimationFrames);
  EXPECT_EQ(spec->format, render::Format::kWebp);
  o.size = 2048;
  auto too_big = o.spec();
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message.find("at most 1024"), std::string::npos);
}

TEST(MandoMessage, EmbedsTheBlobUrlInsteadOfUploadingWhenConfigured) {
  MandoOptions o;
  o.seed = 7;
  render::MandalaSpec spec = o.spec().value();
  auto uploaded = commands::finished_message(o, spec, "mandala.png", "https://cdn/x.png", false);
  EXPECT_EQ(uploaded.at("embeds").at(0).at("image").at("url").as_string(),
            "attachment://mandala.png");
  EXPECT_EQ(uploaded.at("attachments").at(0).at("filename").as_string(), "mandala.png");
  auto linked = commands::finished_message(o, spec, "mandala.png", "https://cdn/x.png", true);
  EXPECT_EQ(linked.at("embeds").at(0).at("image").at("url").as_string(), "https://cdn/x.png");
  EXPECT_TRUE(linked.at("attachments").as_array().empty());
  EXPECT_EQ(linked.at("allowed_mentions").at("parse").as_array().size(), 0u);
  auto no_link = commands::finished_message(o, spec, "mandala.png", std::string(600, 'u'), false);
  EXPECT_EQ(no_link.at("components").at(0).at("components").as_array().size(), 2u)
      << "no link button for a URL Discord would refuse";
}

// --- the module over an in-memory queue ---------------------------------------------------------

class MandoModuleTest : public storage::LocalStoreFixture {
 protected:
  MandoModuleTest() {
    core::Config config;
    config.bot.max_queued_per_user = 2;
    config.bot.max_running_per_user = 1;
    jobs_ = std::make_unique<JobTracker>(JobLimits(config.bot, {}), true);
    commands::MandoDeps deps;
    deps.tasks = &tasks_;
    deps.jobs = jobs_.get();
    deps.cpu = &cpu_;
    deps.blobs = store_.get();
    deps.metrics = &metrics_;
    module_ = std::make_shared<commands::MandoModule>(std::move(deps));
    EXPECT_TRUE(module_->register_into(registry_));
    for (const char* q : {"create-image", "reply-discord"}) {
      queue::Queue declared;
      declared.name = {"mando", "local", q};
      EXPECT_TRUE(run(queue_.create_queue(declared)));
    }
  }

  discord::Interaction command(std::string_view options_json) {
    auto body =
        json::parse(testing::read_test_data("discord/command_mando_guild.json")).as_object();
    body["id"] = snowflake_at(system_clock::now(), ++ids_);
    body["data"].as_object()["options"] = json::parse(options_json);
    return discord::parse_interaction(json::serialize(body)).value();
  }

  json::value answer(discord::Interaction interaction) {
    return json::parse(run(registry_.dispatch(std::move(interaction))).to_json());
  }

  std::vector<queue::Task> tasks(std::string_view queue_id) {
    auto page = run(queue_.list_tasks({"mando", "local", std::string(queue_id)},
                                      queue::TaskFilter::kAll, 100, ""));
    return page ? page->items : std::vector<queue::Task>{};
  }

  net::Response post(const queue::Task& task) {
    net::Request request;
    request.method = "POST";
    request.target = task.request.url;
    request.body = task.request.body;
    return run(module_->generate_image(std::move(request)));
  }

  int ids_ = 0;
  testing::FakeTaskQueue queue_{queue::now()};
  TaskSender tasks_{queue_, core::QueueConfig{}};
  core::CpuPool cpu_{1};
  core::MetricsRegistry metrics_;
  std::unique_ptr<JobTracker> jobs_;
  std::shared_ptr<commands::MandoModule> module_;
  discord::CommandRegistry registry_;
};

TEST_F(MandoModuleTest, ACommandIsDeferredAndQueuedOnceUnderItsInteractionId) {
  auto interaction = command(R"([{"name":"symmetry","type":4,"value":12},
                                 {"name":"palette","type":3,"value":"twilight"},
                                 {"name":"size","type":4,"value":128}])");
  auto first = answer(interaction);
  EXPECT_EQ(first.at("type").as_int64(), 5);
  EXPECT_EQ(answer(interaction).at("type").as_int64(), 5) << "a retried interaction is answered";
  auto queued = tasks("create-image");
  ASSERT_EQ(queued.size(), 1u) << "and rendered once";
  EXPECT_EQ(queued[0].name.task, interaction.id);
  EXPECT_EQ(queued[0].request.url, "/workers/generate-image");
  auto job = parse_image_job(queued[0].request.body).value();
  EXPECT_EQ(job.target.token, interaction.token);
  EXPECT_NE(job.spec.find("size=128"), std::string::npos) << job.spec;
  EXPECT_NE(job.spec.find("palette=twilight"), std::string::npos) << job.spec;

  // The worker renders, stores and hands the message to reply-discord.
  auto response = post(queued[0]);
  EXPECT_EQ(response.status, 200) << response.body;
  auto replies = tasks("reply-discord");
  ASSERT_EQ(replies.size(), 1u);
  auto reply = parse_reply_job(replies[0].request.body).value();
  EXPECT_EQ(reply.filename, "mandala.png");
  auto blob = run(store_->get(reply.blob_key));
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_EQ(blob->bytes.substr(1, 3), "PNG");
  const auto& embed = reply.message.at("embeds").at(0).as_object();
  EXPECT_EQ(embed.at("image").at("url").as_string(), "attachment://mandala.png");
  const std::string description(embed.at("description").as_string());
  const std::string seed = std::string(embed.at("title").as_string()).substr(8);  // "Mandala N"
  EXPECT_NE(description.find("/mando seed:" + seed + " symmetry:12 palette:twilight size:128"),
            std::string::npos)
      << description;
  const auto& buttons = reply.message.at("components").at(0).at("components").as_array();
  ASSERT_EQ(buttons.size(), 3u);
  EXPECT_EQ(buttons[0].at("custom_id").as_string(), "mando:reroll:sy=12;p=twilight;z=128");
  EXPECT_EQ(buttons[2].at("style").as_int64(), 5);
}

TEST_F(MandoModuleTest, AUserOverTheLimitIsToldHowManyJobsWait) {
  ASSERT_EQ(answer(command("[]")).at("type").as_int64(), 5);
  ASSERT_EQ(answer(command("[]")).at("type").as_int64(), 5);
  auto refused = answer(command("[]"));
  EXPECT_EQ(refused.at("type").as_int64(), 4);
  EXPECT_EQ(refused.at("data").at("flags").as_int64(), 64);
  const std::string content(refused.at("data").at("content").as_string());
  EXPECT_NE(content.find("2 images waiting"), std::string::npos) << content;
}

TEST_F(MandoModuleTest, AnAnimationTooLargeIsAnEphemeralError) {
  auto refused = answer(command(R"([{"name":"animated","type":5,"value":true},
                                   {"name":"size","type":4,"value":2000}])"));
  EXPECT_EQ(refused.at("data").at("flags").as_int64(), 64);
  EXPECT_TRUE(tasks("create-image").empty());
}

TEST_F(MandoModuleTest, AnExpiredTokenIsDroppedBeforeRendering) {
  ImageJob job{
      {snowflake_at(system_clock::now() - std::chrono::minutes(20)), "1", "t", "u", std::nullopt},
      "seed=1 size=64",
      ""};
  queue::Task task;
  task.request.url = "/workers/generate-image";
  task.request.body = to_json(job);
  auto response = post(task);
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("expired"), std::string::npos);
  EXPECT_TRUE(tasks("reply-discord").empty());
  EXPECT_NE(metrics_.render().find("mando_discord_replies_total{outcome=\"token_expired\"} 1"),
            std::string::npos);
}

TEST_F(MandoModuleTest, ButtonsRerollAndVary) {
  auto click = [this](std::string custom_id) {
    auto body = json::parse(testing::read_test_data("discord/component_button.json")).as_object();
    body["id"] = snowflake_at(system_clock::now(), ++ids_);
    body["data"].as_object()["custom_id"] = custom_id;
    return discord::parse_interaction(json::serialize(body)).value();
  };
  EXPECT_EQ(answer(click("mando:reroll:sy=12;p=twilight")).at("type").as_int64(), 5);
  EXPECT_EQ(answer(click("mando:vary:4242:sy=12;p=twilight")).at("type").as_int64(), 5);
  auto queued = tasks("create-image");
  ASSERT_EQ(queued.size(), 2u);
  auto reroll = parse_image_job(queued[0].request.body).value();
  auto vary = parse_image_job(queued[1].request.body).value();
  EXPECT_NE(reroll.spec.find("symmetry=12"), std::string::npos);
  EXPECT_NE(vary.spec.find("seed=4242 "), std::string::npos) << vary.spec;
  EXPECT_EQ(vary.spec.find("palette=twilight"), std::string::npos) << "another palette";
  EXPECT_EQ(answer(click("mando:vary:nope")).at("data").at("flags").as_int64(), 64);
}

// --- reply-discord against a fake Discord --------------------------------------------------------

class ReplyWorkerTest : public storage::LocalStoreFixture {
 protected:
  // The fake Discord answers PATCHes with the statuses in `statuses_`, then 200.
  ReplyWorkerTest()
      : discord_server_([this] {
          net::Router router;
          router.add("PATCH", "/api/v10/webhooks/*",
                     [this](net::Request req) -> boost::asio::awaitable<net::Response> {
                       std::lock_guard lock(mutex_);
                       requests_.push_back(std::move(req));
                       int status = 200;
                       if (!statuses_.empty()) {
                         status = statuses_.front();
                         statuses_.erase(statuses_.begin());
                       }
                       co_return net::Response::json(
                           status, status == 200 ? R"({"id":"1"})"
                                                 : R"({"message":"Unknown Webhook","code":10015})");
                     });
          return router;
        }()),
        http_(ioc_.get_executor()),
        rest_(http_, limiter_,
              [this] {
                discord::RestClientOptions options;
                options.api_base_url = discord_server_.url() + "/api/v10";
                options.backoff_base = std::chrono::milliseconds(1);
                options.max_attempts = 2;
                return options;
              }()),
        jobs_(JobLimits(core::BotConfig{}, {}), true),
        worker_(rest_, *store_, jobs_, metrics_) {}

  net::Response deliver(std::string interaction_id) {
    ReplyJob job{{std::move(interaction_id), "1180000000000000001", "tok", "u", std::nullopt},
                 json::object{{"content", "done"}},
                 "mando/1/mandala.png",
                 "mandala.png",
                 "image/png"};
    net::Request request;
    request.body = to_json(job);
    return run(worker_.handle(std::move(request)));
  }

  std::mutex mutex_;
  std::vector<int> statuses_;
  std::vector<net::Request> requests_;
  testing::LoopbackServer discord_server_;
  net::HttpClient http_;
  discord::InMemoryRateLimiter limiter_;
  discord::RestClient rest_;
  core::MetricsRegistry metrics_;
  JobTracker jobs_;
  ReplyWorker worker_;
};

TEST_F(ReplyWorkerTest, DeliversTheImageAsAMultipartPatch) {
  ASSERT_TRUE(put("mando/1/mandala.png", "\x89PNG-bytes", std::chrono::hours(1)));
  auto response = deliver(snowflake_at(system_clock::now()));
  EXPECT_EQ(response.status, 200) << response.body;
  std::lock_guard lock(mutex_);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].target, "/api/v10/webhooks/1180000000000000001/tok/messages/@original");
  EXPECT_NE(requests_[0].headers.get("Content-Type").value_or("").find("multipart/form-data"),
            std::string::npos);
  EXPECT_NE(requests_[0].body.find("\x89PNG-bytes"), std::string::npos);
  EXPECT_NE(metrics_.render().find("mando_discord_replies_total{outcome=\"delivered\"} 1"),
            std::string::npos);
}

TEST_F(ReplyWorkerTest, GoneTokensAreDroppedAndOutagesRetriedByTheQueue) {
  ASSERT_TRUE(put("mando/1/mandala.png", "png", std::chrono::hours(1)));
  {
    std::lock_guard lock(mutex_);
    statuses_ = {404, 503, 503};
  }
  EXPECT_EQ(deliver(snowflake_at(system_clock::now())).status, 200) << "404: dropped";
  EXPECT_EQ(deliver(snowflake_at(system_clock::now())).status, 503) << "5xx: the queue retries";
  auto expired = deliver(snowflake_at(system_clock::now() - std::chrono::minutes(16)));
  EXPECT_EQ(expired.status, 200);
  const std::string metrics = metrics_.render();
  EXPECT_NE(metrics.find("outcome=\"token_invalid\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("outcome=\"token_expired\"} 1"), std::string::npos) << metrics;
  std::lock_guard lock(mutex_);
  EXPECT_EQ(requests_.size(), 3u) << "an expired token is not even tried";
}

}  // namespace
}  // namespace mando::bot
