// /mando: its options, its message, and the module over an in-memory queue, a real blob store
// and CPU pool and a fake Discord: the command, the buttons, the worker route generate-image and
// its ends (give-up point, blob store down), and the ingress's answer in time (ack_budget).

#include "bot/commands/mando.hpp"

#include <atomic>
#include <future>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "bot/jobs.hpp"
#include "bot/tasks.hpp"
#include "bot/worker_test_fixture.hpp"
#include "support/fake_task_queue.hpp"
#include "support/test_data.hpp"

namespace mando::bot {
namespace {

namespace json = boost::json;
using commands::MandoOptions;
using std::chrono::minutes;
using std::chrono::seconds;

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

// --- the module ---------------------------------------------------------------------------------

// A queue whose creates wait for release() while `stuck`: an enqueue behind a slow store.
class StuckQueue : public mando::testing::FakeTaskQueue {
 public:
  explicit StuckQueue(boost::asio::any_io_executor executor)
      : FakeTaskQueue(queue::now()), gate_(std::move(executor), 1) {}

  boost::asio::awaitable<Result<queue::Task>> create_task(queue::Task task) override {
    if (stuck) co_await gate_.async_receive(boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return co_await FakeTaskQueue::create_task(std::move(task));
  }
  boost::asio::awaitable<Result<void>> delete_task(queue::TaskName name) override {
    auto deleted = co_await FakeTaskQueue::delete_task(std::move(name));
    if (deleted) deletes_.set_value();
    co_return deleted;
  }

  void release() { gate_.try_send(boost::system::error_code{}); }
  std::future<void> deleted() { return deletes_.get_future(); }

  std::atomic<bool> stuck{false};

 private:
  boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> gate_;
  std::promise<void> deletes_;
};

class MandoModuleTest : public WorkerFixture {
 protected:
  MandoModuleTest() {
    module_ = make_module(deps());
    EXPECT_TRUE(module_->register_into(registry_));
    for (const char* q : {"create-image", "reply-discord"}) {
      queue::Queue declared;
      declared.name = {"mando", "local", q};
      EXPECT_TRUE(run(queue_.create_queue(declared)));
    }
  }

  commands::MandoDeps deps() {
    commands::MandoDeps deps;
    deps.tasks = &tasks_;
    deps.jobs = &jobs_;
    deps.cpu = &cpu_;
    deps.blobs = store_.get();
    deps.finish = &finish_;
    deps.metrics = &metrics_;
    return deps;
  }
  static std::shared_ptr<commands::MandoModule> make_module(commands::MandoDeps deps) {
    return std::make_shared<commands::MandoModule>(std::move(deps));
  }

  discord::Interaction command(std::string_view options_json) {
    auto body =
        json::parse(mando::testing::read_test_data("discord/command_mando_guild.json")).as_object();
    body["id"] = interaction_id(++ids_);
    body["data"].as_object()["options"] = json::parse(options_json);
    body["attachment_size_limit"] = 8 * 1024 * 1024;
    return discord::parse_interaction(json::serialize(body)).value();
  }

  json::value answer(discord::Interaction interaction) {
    return json::parse(run(registry_.dispatch(std::move(interaction))).to_json());
  }

  std::vector<queue::Task> tasks(std::string_view queue_id) {
    return queue_.tasks_in({"mando", "local", std::string(queue_id)});
  }

  net::Response post(const queue::Task& task, commands::MandoModule* module = nullptr) {
    net::Request request;
    request.method = "POST";
    request.target = task.request.url;
    request.body = task.request.body;
    return run((module != nullptr ? module : module_.get())->generate_image(std::move(request)));
  }

  // A create-image task for a job of interaction `id`, as the ingress writes it.
  static queue::Task image_task(std::string id) {
    ImageJob job{
        {std::move(id), "1180000000000000001", "tok", "u", std::nullopt}, "seed=1 size=64", ""};
    queue::Task task;
    task.request.url = "/workers/generate-image";
    task.request.body = to_json(job);
    return task;
  }

  int ids_ = 0;
  StuckQueue queue_{ioc_.get_executor()};
  TaskSender tasks_{queue_, core::QueueConfig{}};
  core::CpuPool cpu_{1};
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
  EXPECT_EQ(reply.target.attachment_size_limit, 8u * 1024 * 1024) << "from the interaction";
  EXPECT_EQ(reply.url, buttons[2].at("url").as_string()) << "the link to fall back to";
}

TEST_F(MandoModuleTest, AUserOverTheLimitIsToldHowManyJobsWait) {
  ASSERT_EQ(answer(command("[]")).at("type").as_int64(), 5);
  ASSERT_EQ(answer(command("[]")).at("type").as_int64(), 5);
  auto refused = answer(command("[]"));
  EXPECT_EQ(refused.at("type").as_int64(), 4);
  EXPECT_EQ(refused.at("data").at("flags").as_int64(), 64);
  const std::string content(refused.at("data").at("content").as_string());
  EXPECT_NE(content.find("2 jobs waiting"), std::string::npos) << content;
}

TEST_F(MandoModuleTest, AnAnimationTooLargeIsAnEphemeralError) {
  auto refused = answer(command(R"([{"name":"animated","type":5,"value":true},
                                   {"name":"size","type":4,"value":2000}])"));
  EXPECT_EQ(refused.at("data").at("flags").as_int64(), 64);
  EXPECT_TRUE(tasks("create-image").empty());
}

TEST_F(MandoModuleTest, AnExpiredTokenIsDroppedBeforeRendering) {
  set_clock(std::chrono::minutes(20));
  auto response = post(image_task(interaction_id()));
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("expired"), std::string::npos);
  EXPECT_TRUE(tasks("reply-discord").empty());
  EXPECT_TRUE(discord_server_.requests().empty());
  EXPECT_NE(metrics_text().find("mando_discord_replies_total{outcome=\"token_expired\"} 1"),
            std::string::npos);
}

TEST_F(MandoModuleTest, ButtonsRerollAndVary) {
  auto click = [this](std::string custom_id) {
    auto body =
        json::parse(mando::testing::read_test_data("discord/component_button.json")).as_object();
    body["id"] = interaction_id(++ids_);
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

TEST_F(MandoModuleTest, AnEnqueueThatDoesNotAnswerInTimeIsAnsweredBusy) {
  auto hurried = deps();
  hurried.ack_budget = std::chrono::milliseconds(50);
  auto module = make_module(std::move(hurried));
  discord::CommandRegistry registry;
  ASSERT_TRUE(module->register_into(registry));
  queue_.stuck = true;
  auto deleted = queue_.deleted();

  auto busy = json::parse(run(registry.dispatch(command("[]"))).to_json());
  EXPECT_EQ(busy.at("type").as_int64(), 4);
  EXPECT_EQ(busy.at("data").at("flags").as_int64(), 64) << "ephemeral";
  EXPECT_NE(std::string(busy.at("data").at("content").as_string()).find("busy"), std::string::npos);
  EXPECT_NE(metrics_text().find("mando_interactions_busy_total 1"), std::string::npos)
      << metrics_text();
  EXPECT_EQ(jobs_.size(), 0u) << "not counted against the user";

  // The enqueue lands after all: the task is taken back, so nothing draws into the busy message.
  queue_.release();
  EXPECT_EQ(deleted.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_TRUE(tasks("create-image").empty());
}

TEST_F(MandoModuleTest, PastTheGiveUpPointTheWorkerSaysSoInsteadOfDrawing) {
  const std::string id = interaction_id();
  set_clock(minutes(12) + seconds(5));
  auto response = post(image_task(id));
  EXPECT_EQ(response.status, 200) << "the queue stops";
  EXPECT_NE(only_failure_line(id).find("took too long"), std::string::npos);
  EXPECT_TRUE(tasks("reply-discord").empty());
  EXPECT_NE(metrics_text().find("mando_discord_replies_total{outcome=\"gave_up\"} 1"),
            std::string::npos);
}

TEST_F(MandoModuleTest, ABlobStoreDownIsRetriedUntilTheGiveUpPoint) {
  auto flaky = deps();
  flaky.blobs = flaky_store_.get();
  auto module = make_module(std::move(flaky));
  flaky_.down = true;
  const std::string id = interaction_id();
  set_clock(seconds(30));
  auto response = post(image_task(id), module.get());
  EXPECT_EQ(response.status, 503) << "the queue retries";
  EXPECT_EQ(response.body.find("10.0.0.9"), std::string::npos) << response.body;
  EXPECT_TRUE(discord_server_.requests().empty());

  set_clock(minutes(12));
  EXPECT_EQ(post(image_task(id), module.get()).status, 200);
  EXPECT_NE(only_failure_line(id).find("took too long"), std::string::npos);
  EXPECT_TRUE(tasks("reply-discord").empty());
  EXPECT_EQ(jobs_.size(), 0u) << "the job is over";
}

}  // namespace
}  // namespace mando::bot
