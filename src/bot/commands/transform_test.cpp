// /transform and "Transform images" as the module runs them: the ingress over an in-memory
// queue, and the worker route with the real fetcher (allowed to reach one loopback image
// server, names resolved from a table), the real decoder processes (the test worker, which
// crashes on request), a real blob store and a fake Discord. Hostile inputs each end in their
// own line of the answer; the rest of the job goes on.

#include "bot/commands/transform.hpp"

#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bot/jobs.hpp"
#include "bot/tasks.hpp"
#include "bot/worker_test_fixture.hpp"
#include "net/resolver.hpp"
#include "support/fake_task_queue.hpp"
#include "support/loopback_server.hpp"
#include "support/test_data.hpp"
#include "transform/pipeline.hpp"
#include "transform/test_images.hpp"

namespace mando::bot {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using transform::testing::decode;
using transform::testing::distance;
using transform::testing::Pixels;
using transform::testing::Rgb;
using transform::testing::SheetGrid;

constexpr Rgb kRed{220, 30, 30};
constexpr Rgb kGreen{30, 200, 40};
constexpr Rgb kBlue{30, 40, 220};

// A web server of fixed answers by path: the pictures and tricks a job's URLs point at.
class ImageServer {
 public:
  explicit ImageServer(std::map<std::string, net::Response> answers)
      : answers_(std::make_shared<const std::map<std::string, net::Response>>(std::move(answers))),
        server_(routes(answers_)) {}

  std::string url(std::string_view path) const { return server_.url() + std::string(path); }
  std::string host_port() const { return server_.url().substr(std::string("http://").size()); }

 private:
  using Answers = std::shared_ptr<const std::map<std::string, net::Response>>;
  static net::Router routes(Answers answers) {
    net::Router router;
    router.add("GET", "/*", [answers](net::Request request) -> asio::awaitable<net::Response> {
      const auto it = answers->find(std::string(request.path()));
      co_return it == answers->end() ? net::Response::text(404, "no such picture") : it->second;
    });
    return router;
  }

  Answers answers_;
  mando::testing::LoopbackServer server_;
};

net::Response file(std::string body, std::string content_type) {
  net::Response response;
  response.headers.set("Content-Type", std::move(content_type));
  response.body = std::move(body);
  return response;
}

net::Response redirect(std::string location) {
  net::Response response;
  response.status = 302;
  response.headers.set("Location", std::move(location));
  return response;
}

std::string picture(Rgb colour, std::string_view saver) {
  return transform::testing::encode(Pixels::solid(320, 240, colour), saver);
}

class TransformModuleTest : public WorkerFixture {
 protected:
  static void SetUpTestSuite() { transform::init_vips(); }

  TransformModuleTest() {
    for (const char* q : {"transform-images", "reply-discord"}) {
      queue::Queue declared;
      declared.name = {"mando", "local", q};
      EXPECT_TRUE(run(queue_.create_queue(declared)));
    }
    module_ = make_module(deps());
    EXPECT_TRUE(module_->register_into(registry_));
  }

  commands::TransformDeps deps() {
    commands::TransformDeps deps;
    deps.tasks = &tasks_;
    deps.jobs = &jobs_;
    deps.finish = &finish_;
    deps.blobs = store_.get();
    deps.fetcher = &fetcher_;
    deps.decoders = &decoders_;
    deps.discord = &rest_;
    deps.metrics = &metrics_;
    return deps;
  }
  static std::shared_ptr<commands::TransformModule> make_module(commands::TransformDeps deps) {
    return std::make_shared<commands::TransformModule>(std::move(deps));
  }

  discord::Interaction interaction(std::string_view fixture, std::string_view urls_option) {
    auto body = json::parse(mando::testing::read_test_data(fixture)).as_object();
    body["id"] = interaction_id(++ids_);
    if (!urls_option.empty()) {
      body["data"].as_object()["options"].as_array()[0].as_object()["value"] = urls_option;
    }
    return discord::parse_interaction(json::serialize(body)).value();
  }
  json::value answer(discord::Interaction interaction) {
    return json::parse(run(registry_.dispatch(std::move(interaction))).to_json());
  }

  std::vector<queue::Task> tasks(std::string_view queue_id) {
    return queue_.tasks_in({"mando", "local", std::string(queue_id)});
  }

  // The worker's answer to a transform-images task of `urls`, as the ingress would write it.
  net::Response transform(std::vector<std::string> urls,
                          commands::TransformModule* module = nullptr, std::string format = "png") {
    ++ids_;  // a user of its own: a job still running would hold the next one back
    TransformJob job{{interaction_id(ids_), "1180000000000000001", "tok",
                      fmt::format("user{}", ids_), std::nullopt},
                     std::move(urls),
                     128,
                     "centre",
                     std::move(format)};
    job.target.attachment_size_limit = 8 * 1024 * 1024;
    net::Request request;
    request.method = "POST";
    request.target = "/workers/transform-images";
    request.body = to_json(job);
    return run((module != nullptr ? module : module_.get())->transform_images(std::move(request)));
  }

  // The one message handed to reply-discord.
  ReplyJob reply() {
    auto replies = tasks("reply-discord");
    EXPECT_EQ(replies.size(), 1u);
    if (replies.empty()) return {};
    return parse_reply_job(replies[0].request.body).value();
  }

  ImageServer images_{{
      {"/red.png", file(picture(kRed, "png"), "image/png")},
      {"/green.jpg", file(picture(kGreen, "jpeg"), "image/jpeg")},
      // A WebP that says it is a web page: the bytes decide, not the Content-Type.
      {"/blue", file(picture(kBlue, "webp"), "text/html; charset=utf-8")},
      {"/drawing.svg", file(R"(<svg xmlns="http://www.w3.org/2000/svg"/>)", "image/svg+xml")},
      {"/scan.tiff", file(picture(kRed, "tiff"), "image/tiff")},
      {"/bomb.png", file(transform::testing::png_bomb(100'000, 100'000), "image/png")},
      {"/truncated.jpg", file(picture(kGreen, "jpeg").substr(0, 300), "image/jpeg")},
      {"/decoder-crash", file("test:crash", "image/png")},  // the test worker aborts mid-image
      {"/to-metadata", redirect("http://169.254.169.254/latest/meta-data/")},
      {"/to-loopback", redirect("http://127.0.0.1/admin")},
  }};
  int ids_ = 0;
  mando::testing::FakeTaskQueue queue_{queue::now()};
  TaskSender tasks_{queue_, core::QueueConfig{}};
  net::TableResolver resolver_{{
      {"images.test", {asio::ip::make_address("127.0.0.1")}},
      {"intranet.test", {asio::ip::make_address("10.0.0.1")}},
  }};
  net::Fetcher fetcher_{
      http_, net::UrlPolicy::create({.allow_http = true, .allow = {images_.host_port()}}).value(),
      resolver_};
  transform::WorkerPool decoders_{ioc_.get_executor(), [] {
                                    transform::PoolOptions options;
                                    options.workers = 2;
                                    options.executable = MANDO_TEST_WORKER;
                                    options.args = {};
                                    return options;
                                  }()};
  std::shared_ptr<commands::TransformModule> module_;
  discord::CommandRegistry registry_;
};

// --- the ingress ---------------------------------------------------------------------------------

TEST_F(TransformModuleTest, ACommandIsDeferredAndQueuedWithItsUrlsThenAttachments) {
  auto command = interaction("discord/command_transform_guild.json", "");
  EXPECT_EQ(answer(command).at("type").as_int64(), 5);
  EXPECT_EQ(answer(command).at("type").as_int64(), 5) << "a retried interaction is answered";
  auto queued = tasks("transform-images");
  ASSERT_EQ(queued.size(), 1u) << "and queued once";
  EXPECT_EQ(queued[0].name.task, command.id);
  EXPECT_EQ(queued[0].request.url, "/workers/transform-images");
  auto job = json::parse(queued[0].request.body).as_object();
  const auto& urls = job.at("urls").as_array();
  ASSERT_EQ(urls.size(), 4u);
  EXPECT_EQ(urls[0].as_string(), "https://example.com/a.png");
  EXPECT_EQ(urls[1].as_string(), "https://example.org/b.jpg");
  EXPECT_TRUE(urls[2].as_string().starts_with("https://cdn.discordapp.com/ephemeral-attachments/"));
  EXPECT_EQ(job.at("size").as_int64(), 256);
  EXPECT_EQ(job.at("crop").as_string(), "entropy");
  EXPECT_EQ(job.at("format").as_string(), "webp");
}

TEST_F(TransformModuleTest, TwentyOneUrlsAreRefusedBeforeAnythingIsQueued) {
  std::string urls;
  for (int i = 1; i <= 21; ++i) urls += fmt::format("https://example.com/{}.png ", i);
  auto refused = answer(interaction("discord/command_transform_guild.json", urls));
  EXPECT_EQ(refused.at("type").as_int64(), 4);
  EXPECT_EQ(refused.at("data").at("flags").as_int64(), 64) << "ephemeral";
  const std::string content(refused.at("data").at("content").as_string());
  EXPECT_NE(content.find("At most 20 images per transform (got 23)"), std::string::npos) << content;
  EXPECT_TRUE(tasks("transform-images").empty());
  EXPECT_EQ(jobs_.size(), 0u) << "not counted against the user";
}

TEST_F(TransformModuleTest, TheMessageCommandTakesTheMessagesImages) {
  auto command = interaction("discord/message_command_transform.json", "");
  EXPECT_EQ(answer(command).at("type").as_int64(), 5);
  auto queued = tasks("transform-images");
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_FALSE(json::parse(queued[0].request.body).at("urls").as_array().empty());
}

// --- the worker ----------------------------------------------------------------------------------

TEST_F(TransformModuleTest, EveryHostileInputGetsItsReasonAndTheOthersAreTransformed) {
  const std::vector<std::string> urls{
      images_.url("/red.png"),
      images_.url("/drawing.svg"),
      images_.url("/green.jpg"),
      images_.url("/scan.tiff"),
      images_.url("/bomb.png"),
      images_.url("/truncated.jpg"),
      images_.url("/decoder-crash"),
      images_.url("/to-metadata"),
      images_.url("/to-loopback"),
      "http://2130706433/a.png",
      "http://[::ffff:127.0.0.1]/a.png",
      "http://intranet.test/a.png",
      images_.url("/blue"),
      "ftp://example.com/a.png",
  };
  auto response = transform(urls);
  ASSERT_EQ(response.status, 200) << response.body;

  ReplyJob sent = reply();
  const std::string content(sent.message.at("content").as_string());
  // Line by line, the start of each (a decoder's own words may follow "could not be read").
  const std::vector<std::string> expected{
      "image 2: SVG images are not supported (JPEG, PNG, WebP or GIF only)",
      "image 4: TIFF images are not supported (JPEG, PNG, WebP or GIF only)",
      "image 5: larger than 50 megapixels (100000 × 100000)",
      "image 6: could not be read",
      "image 7: could not be read",
      "image 8: address not allowed",
      "image 9: address not allowed",
      "image 10: address not allowed",
      "image 11: address not allowed",
      "image 12: address not allowed",
      "image 14: only http and https URLs are allowed",
  };
  std::vector<std::string> lines;
  for (std::size_t start = 0; start <= content.size();) {
    const auto end = std::min(content.find('\n', start), content.size());
    lines.push_back(content.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), expected.size()) << content;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_TRUE(lines[i].starts_with(expected[i])) << lines[i];
  }
  EXPECT_EQ(lines[4], "image 7: could not be read") << "a decoder that died says no more";

  // Three results, each stored and linked; the sheet shows them in their cells, in order.
  const auto& embed = sent.message.at("embeds").at(0).as_object();
  EXPECT_EQ(embed.at("title").as_string(), "3 images, 128 × 128");
  const std::string description(embed.at("description").as_string());
  for (int k : {1, 3, 13}) {
    const std::string key = fmt::format("transform/{}/{}.png", sent.target.interaction_id, k);
    auto stored = run(store_->get(key));
    ASSERT_TRUE(stored) << key;
    EXPECT_EQ(decode(stored->bytes).width, 128);
    EXPECT_NE(description.find(fmt::format("[{}](", k)), std::string::npos) << description;
  }
  EXPECT_EQ(sent.filename, "sheet.png");
  EXPECT_EQ(embed.at("image").at("url").as_string(), "attachment://sheet.png");
  auto sheet_blob = run(store_->get(sent.blob_key));
  ASSERT_TRUE(sheet_blob);
  const auto sheet = decode(sheet_blob->bytes);
  ASSERT_TRUE(sheet.ok);
  const SheetGrid grid(sheet.width, urls.size(), 256);
  const std::map<int, Rgb> tiles{{0, kRed}, {2, kGreen}, {12, kBlue}};
  for (const auto& [k, colour] : tiles) {
    EXPECT_LT(distance(sheet.at(grid.x(k) + 128, grid.y(k) + 128), colour), 16) << "cell " << k;
  }
  EXPECT_LT(distance(sheet.at(grid.x(1) + 128, grid.y(1) + 128), {128, 128, 128}), 16)
      << "a failed input's cell is grey";

  const std::string metrics = metrics_text();
  EXPECT_NE(metrics.find("mando_transform_images_total{outcome=\"done\"} 3"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("mando_transform_images_total{outcome=\"download\"} 6"),
            std::string::npos);
  EXPECT_NE(metrics.find("mando_transform_images_total{outcome=\"decode\"} 5"), std::string::npos);
}

TEST_F(TransformModuleTest, TheDecoderThatDiedIsReplacedForTheNextJob) {
  ASSERT_EQ(transform({images_.url("/decoder-crash"), images_.url("/red.png")}).status, 200);
  EXPECT_EQ(std::string(reply().message.at("content").as_string()), "image 1: could not be read");
  ASSERT_TRUE(run(queue_.purge_queue({"mando", "local", "reply-discord"})));
  ASSERT_EQ(transform({images_.url("/green.jpg"), images_.url("/red.png")}).status, 200);
  EXPECT_EQ(std::string(reply().message.at("content").as_string()), "");
}

TEST_F(TransformModuleTest, TheJobByteCapRefusesWhatComesPastIt) {
  auto capped = deps();
  capped.limits.max_job_bytes = images_.url("").size();  // less than any picture
  capped.limits.downloads_per_job = 1;                   // one at a time: the order is known
  auto module = make_module(std::move(capped));
  auto response = transform({images_.url("/red.png")}, module.get());
  ASSERT_EQ(response.status, 200);
  const std::string content(reply().message.at("content").as_string());
  EXPECT_NE(content.find("None of your images could be used."), std::string::npos) << content;
  EXPECT_NE(content.find("image 1: over the "), std::string::npos) << content;
  EXPECT_NE(content.find(" of one transform in all"), std::string::npos) << content;
}

TEST_F(TransformModuleTest, WhenNothingCouldBeUsedTheReasonsAreTheAnswer) {
  ASSERT_EQ(transform({images_.url("/drawing.svg"), images_.url("/nowhere.png")}).status, 200);
  ReplyJob sent = reply();
  EXPECT_EQ(std::string(sent.message.at("content").as_string()),
            "None of your images could be used.\n"
            "image 1: SVG images are not supported (JPEG, PNG, WebP or GIF only)\n"
            "image 2: the server answered HTTP 404");
  EXPECT_TRUE(sent.message.at("embeds").as_array().empty());
  EXPECT_TRUE(sent.blob_key.empty()) << "no sheet of nothing";
}

TEST_F(TransformModuleTest, ABlobStoreDownIsRetriedByTheQueue) {
  auto flaky = deps();
  flaky.blobs = flaky_store_.get();
  auto module = make_module(std::move(flaky));
  flaky_.down = true;
  set_clock(std::chrono::seconds(30));
  auto response = transform({images_.url("/red.png")}, module.get());
  EXPECT_EQ(response.status, 503) << "the queue retries";
  EXPECT_EQ(response.body.find("10.0.0.9"), std::string::npos) << response.body;
  EXPECT_TRUE(tasks("reply-discord").empty());
}

TEST_F(TransformModuleTest, DecodersThatCannotStartAreRetriedNotBlamedOnThePictures) {
  transform::PoolOptions options;
  options.workers = 1;
  options.executable = "/nonexistent/mando";
  options.args = {};
  transform::WorkerPool broken(ioc_.get_executor(), options);
  auto without = deps();
  without.decoders = &broken;
  auto module = make_module(std::move(without));
  set_clock(std::chrono::seconds(30));
  auto response = transform({images_.url("/red.png")}, module.get());
  EXPECT_EQ(response.status, 503) << "the queue retries";
  EXPECT_TRUE(tasks("reply-discord").empty());
}

TEST_F(TransformModuleTest, ProgressIsShownBeforeTheAnswerAndNeverAfter) {
  auto patient = deps();
  patient.progress_after = std::chrono::milliseconds(1);
  auto module = make_module(std::move(patient));
  set_clock(std::chrono::seconds(30));
  ASSERT_EQ(transform({images_.url("/red.png"), images_.url("/green.jpg")}, module.get()).status,
            200);
  // The route has returned: every progress edit it made has been answered, and the final
  // message is only queued (reply-discord sends it), so no progress line can come after it.
  auto edits = discord_server_.requests();
  ASSERT_FALSE(edits.empty());
  EXPECT_LE(edits.size(), 1u) << "at most one edit per kMinEditInterval";
  EXPECT_EQ(edits[0].method, "PATCH");
  const std::string content(json::parse(edits[0].body).at("content").as_string());
  EXPECT_TRUE(content.starts_with("Transforming your images\u2026 downloading ")) << content;
  EXPECT_NE(content.find("/2, resizing "), std::string::npos) << content;
  EXPECT_EQ(tasks("reply-discord").size(), 1u);
}

TEST_F(TransformModuleTest, PastTheGiveUpPointNothingIsFetched) {
  set_clock(std::chrono::minutes(12) + std::chrono::seconds(5));
  auto response = transform({images_.url("/red.png")});
  EXPECT_EQ(response.status, 200) << "the queue stops";
  EXPECT_TRUE(tasks("reply-discord").empty());
  EXPECT_NE(metrics_text().find("mando_discord_replies_total{outcome=\"gave_up\"} 1"),
            std::string::npos);
}

TEST_F(TransformModuleTest, AMalformedTaskIsRefusedForGood) {
  net::Request request;
  request.method = "POST";
  request.body = R"({"target":{},"urls":[]})";
  EXPECT_EQ(run(module_->transform_images(request)).status, 400);
  EXPECT_TRUE(tasks("reply-discord").empty());
}

}  // namespace
}  // namespace mando::bot
