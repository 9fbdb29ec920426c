// /imagine end to end (issue 13): the real `mando serve` against the Discord emulator and the
// fake GPU provider (src/provider_emulator), which speaks the Replicate-style API, signs its
// webhooks per Standard Webhooks and injects faults on request. Webhooks reach mando through a
// relay on a port fixed before mando starts (the [imagine] public_url), which forwards them to
// whichever mando runs now: a restarted mando gets the webhooks of jobs submitted before.
//
// Every wait is bounded: the emulator's long polls wake on the event itself; the fake's and
// mando's counters are read under a deadline.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "imagine/standard_webhooks.hpp"
#include "net/http_client.hpp"
#include "support/bot_e2e_fixture.hpp"
#include "support/fake_provider_thread.hpp"
#include "support/loopback_server.hpp"
#include <signal.h>

namespace mando::testing {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using provider_emulator::FakeProviderOptions;

constexpr std::string_view kToken = "r8_e2e_token";
constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// Forwards POST /webhooks/* to the mando of the moment, as a reverse proxy in front of the bot
// would; 502 while there is none.
class WebhookRelay {
 public:
  WebhookRelay() : server_(routes()), client_(server_.executor()) {}

  std::string url() const { return server_.url(); }
  void set_target(std::string url) {
    std::lock_guard lock(mutex_);
    target_ = std::move(url);
  }

 private:
  net::Router routes() {
    net::Router router;
    router.add("POST", "/webhooks/*", [this](net::Request r) -> asio::awaitable<net::Response> {
      std::string target;
      {
        std::lock_guard lock(mutex_);
        target = target_;
      }
      if (target.empty()) co_return net::Response::text(502, "no bot");
      net::ClientRequest forward;
      forward.method = "POST";
      forward.url = target + r.target;
      for (const auto& [name, value] : r.headers.fields()) {
        std::string lower = name;
        std::ranges::transform(lower, lower.begin(),
                               [](unsigned char c) { return std::tolower(c); });
        if (lower.starts_with("webhook-") || lower.starts_with("x-fal-webhook-") ||
            lower == "content-type") {
          forward.headers.add(name, value);
        }
      }
      forward.body = std::move(r.body);
      auto answer = co_await client_.send(std::move(forward));
      if (!answer) co_return net::Response::text(502, answer.error().message);
      net::Response response;
      response.status = answer->status;
      response.body = std::move(answer->body);
      co_return response;
    });
    return router;
  }

  std::mutex mutex_;
  std::string target_;
  LoopbackServer server_;
  net::HttpClient client_;  // on the server's loop, destroyed first
};

FakeProviderOptions fake_options() {
  FakeProviderOptions options;
  options.api_token = std::string(kToken);
  options.webhook_secret = std::string(kSecret);
  options.generation = 300ms;
  options.progress_steps = 3;
  options.image_size = 128;
  return options;
}

class ImagineE2eTest : public BotE2eFixture {
 protected:
  ImagineE2eTest() : BotE2eFixture("") { configure(""); }

  // mando.toml for the fake provider, `extra` appended (new tables only).
  void configure(std::string_view extra) {
    const std::string fake = fake_->url();
    write_config(fmt::format(R"(
[cpu]
threads = 2
[bot]
max_running_per_user = 200
max_queued_per_user = 200
[queues.imagine]
min_backoff = "100ms"
max_backoff = "500ms"
[queues.imagine-events]
min_backoff = "100ms"
max_backoff = "500ms"
[queues.reply-discord]
min_backoff = "100ms"
max_backoff = "500ms"
[transform]
workers = 1
[fetch]
allow_http = true
allow = ["{0}"]
[imagine]
public_url = "{1}"
poll_after = "1s"
[imagine.models.fake]
provider = "replicate"
endpoint = "{2}/v1"
version = "fake-version-1"
description = "the test's fake"
[imagine.models.fakevideo]
provider = "replicate"
endpoint = "{2}/v1"
version = "fake-video-1"
video = true
[imagine.models.falfake]
provider = "fal"
endpoint = "{2}/fal"
version = "fake-ai/flux/dev"
jwks_url = "{2}/fal/.well-known/jwks.json"
[imagine.models.openaifake]
provider = "openai"
endpoint = "{2}/openai/v1"
version = "fake-image-1"
[imagine.models.fakeimg]
provider = "replicate"
endpoint = "{2}/v1"
version = "fake-img2img-1"
image_input = true
upscale = "fakeup"
[imagine.models.fakeup]
provider = "replicate"
endpoint = "{2}/v1"
version = "fake-upscaler-1"
image_input = true
{3}
)",
                             fake.substr(std::string_view("http://").size()), relay_.url(), fake,
                             extra));
  }

  // Starts mando (the models' secrets from the environment) and points the relay at it.
  void start(std::map<std::string, std::string> env = {}) {
    for (std::string model : {"FAKE", "FAKEVIDEO", "FALFAKE", "OPENAIFAKE", "FAKEIMG", "FAKEUP"}) {
      env["MANDO_IMAGINE_MODELS_" + model + "_API_TOKEN"] = kToken;
      env["MANDO_IMAGINE_MODELS_" + model + "_WEBHOOK_SECRET"] = kSecret;
    }
    start_bot(std::move(env));
    relay_.set_target(urls_.url);
  }

  // Sends `count` /imagine commands from ten users at once; expects each deferred.
  void send_many(int count, std::string_view prompt) {
    std::vector<std::future<Result<emulator::SentInteraction>>> sent;
    for (int i = 0; i < count; ++i) {
      auto invocation =
          emulator().parse_command_text(fmt::format("/imagine prompt:\"{} {}\"", prompt, i));
      ASSERT_TRUE(invocation) << invocation.error().message;
      invocation->user_id = std::to_string(1180000000000001000 + i % 10);
      sent.push_back(
          asio::co_spawn(ioc_, emulator().send_command(std::move(*invocation)), asio::use_future));
    }
    for (auto& s : sent) {
      auto interaction = s.get();
      ASSERT_TRUE(interaction) << interaction.error().message;
      EXPECT_EQ(interaction->response.at("type").as_int64(), 5);
    }
  }

  int messages_with_attachment() {
    int n = 0;
    for (const auto& m : emulator().messages()) {
      if (!m.at("attachments").as_array().empty()) ++n;
    }
    return n;
  }

  // The message once it is no longer a progress line ("Imagining..."): its final form.
  json::object final_form(const std::string& message_id) {
    json::object message = next_version(message_id);
    for (int edits = 0; edits < 20; ++edits) {
      const std::string content(message.at("content").as_string());
      if (!content.starts_with("Imagining") && !content.starts_with("Canceling")) break;
      message = next_version(message_id, message.at("version").as_int64());
    }
    return message;
  }

  // Waits (bounded) until `done(fake stats)` holds.
  bool wait_fake(const std::function<bool(const provider_emulator::FakeStats&)>& done) {
    for (auto deadline = std::chrono::steady_clock::now() + kReplyLimit;
         std::chrono::steady_clock::now() < deadline;) {
      if (done(fake_->stats())) return true;
      asio::steady_timer timer(ioc_, 20ms);
      call(timer.async_wait(asio::use_awaitable));
    }
    return false;
  }

  net::ClientResponse post_webhook(std::string_view id, std::int64_t timestamp,
                                   std::string_view body, std::string signature = "") {
    auto hooks = *imagine::StandardWebhooks::create({std::string(kSecret)});
    net::HttpClient client(ioc_.get_executor());
    net::ClientRequest request;
    request.method = "POST";
    request.url = urls_.url + "/webhooks/imagine/replicate?job=1180000000000000050";
    request.headers.set("content-type", "application/json");
    request.headers.set("webhook-id", id);
    request.headers.set("webhook-timestamp", std::to_string(timestamp));
    request.headers.set("webhook-signature",
                        signature.empty() ? hooks.sign(id, timestamp, body) : signature);
    request.body = std::string(body);
    auto response = call(client.send(std::move(request)));
    EXPECT_TRUE(response);
    return response.value_or(net::ClientResponse{});
  }

  WebhookRelay relay_;
  FakeProviderThread fake_{fake_options()};
};

std::string content_of(const json::object& message) {
  return std::string(message.at("content").as_string());
}

TEST_F(ImagineE2eTest, FourImagesArriveAsAGridWithTheirLinksAndButtons) {
  start();
  auto sent = command(R"(/imagine prompt:"a lighthouse at dusk" count:4 seed:42 aspect:16:9)");
  ASSERT_TRUE(sent.message_id);
  auto message = final_form(*sent.message_id);
  // The grid, then each image as a file of its own.
  ASSERT_EQ(message.at("attachments").as_array().size(), 5u) << json::serialize(message);
  EXPECT_EQ(message.at("attachments").at(0).at("filename"), "grid.png");
  EXPECT_EQ(message.at("attachments").at(4).at("filename"), "4.png");
  const std::string grid = attachment(message);
  EXPECT_EQ(grid.substr(0, 4), "\x89PNG");

  const auto& embed = message.at("embeds").at(0).as_object();
  EXPECT_EQ(embed.at("title"), "a lighthouse at dusk");
  const std::string description(embed.at("description").as_string());
  EXPECT_NE(description.find("**fake** · seed 42 · 16:9"), std::string::npos) << description;
  std::smatch link;
  ASSERT_TRUE(std::regex_search(description, link, std::regex(R"(\[4\]\((http[^)]+)\))")))
      << description;
  EXPECT_EQ(http_get(link[1]).substr(0, 4), "\x89PNG") << "each image is stored by mando";
  const auto& buttons = message.at("components").at(0).at("components").as_array();
  ASSERT_EQ(buttons.size(), 2u);
  EXPECT_EQ(buttons[0].at("label"), "Re-roll");
  EXPECT_EQ(buttons[1].at("label"), "Delete");

  const auto stats = fake_->stats();
  EXPECT_EQ(stats.submitted, 1);
  EXPECT_GE(stats.webhooks_sent, 3);
}

TEST_F(ImagineE2eTest, HundredJobsWithEveryWebhookTwiceAndShuffledArePostedOnceEach) {
  fake_->set_faults({.duplicate_webhooks = true, .shuffle_webhooks = true});
  start();
  constexpr int kJobs = 100;
  send_many(kJobs, "fox");
  ASSERT_TRUE(wait_fake([](const auto& s) { return s.submitted == kJobs && s.running == 0; }));
  // Each reply-discord task is named after its interaction: one edit with the picture each.
  ASSERT_TRUE(wait_for_metric(
      fmt::format("mando_discord_replies_total{{outcome=\"delivered\"}} {}", kJobs)));
  EXPECT_EQ(messages_with_attachment(), kJobs);
  const std::string text = metrics();
  EXPECT_NE(text.find("mando_imagine_webhooks_total{result=\"duplicate\"}"), std::string::npos)
      << "the copies were seen and dropped";
}

TEST_F(ImagineE2eTest, ABadOrStaleSignatureIsRefusedAndChangesNothing) {
  start();
  const std::string body = R"({"id":"p1","status":"succeeded","output":["http://x/1.png"]})";
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_EQ(
      post_webhook("msg_bad", now, body, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").status,
      401);
  EXPECT_EQ(post_webhook("msg_stale", now - 600, body).status, 401);
  EXPECT_EQ(post_webhook("msg_tampered", now, body).status, 200) << "the right signature passes";
  const std::string text = metrics();
  EXPECT_NE(text.find("mando_imagine_webhooks_total{result=\"unauthenticated\"} 2"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("mando_imagine_jobs_total{"), std::string::npos) << "no job changed";
}

TEST_F(ImagineE2eTest, WithoutWebhooksPollingDelivers) {
  fake_->set_faults({.drop_webhooks = true});
  start();
  auto sent = command(R"(/imagine prompt:"a quiet harbour")");
  ASSERT_TRUE(sent.message_id);
  auto message = final_form(*sent.message_id);
  EXPECT_EQ(message.at("attachments").as_array().size(), 1u) << json::serialize(message);
  EXPECT_GE(fake_->stats().polls, 1);
  EXPECT_EQ(fake_->stats().webhooks_sent, 0);
}

TEST_F(ImagineE2eTest, KillNineWithFiftyInFlightLosesNothing) {
  fake_->set_generation(5s);  // all still generating when mando dies
  start();
  constexpr int kJobs = 50;
  send_many(kJobs, "owl");
  ASSERT_TRUE(wait_fake([](const auto& s) { return s.submitted == kJobs; }));
  processes_.back()->signal(SIGKILL);
  processes_.back()->wait(10s);
  relay_.set_target("");  // webhooks fail while no mando runs; the fake retries, then gives up
  start();
  ASSERT_TRUE(wait_for_metric(
      fmt::format("mando_discord_replies_total{{outcome=\"delivered\"}} {}", kJobs)));
  EXPECT_EQ(messages_with_attachment(), kJobs);
  // A submit the kill cut after the provider took it and before mando stored the provider's id
  // is not sent again: the prediction's first event names it, and mando adopts it.
  EXPECT_EQ(fake_->stats().submitted, kJobs) << "nothing submitted twice";
}

TEST_F(ImagineE2eTest, AFailedPredictionSaysWhyInTheProvidersWords) {
  start();
  auto sent = command(R"(/imagine prompt:"something [nsfw]")");
  ASSERT_TRUE(sent.message_id);
  const std::string content = content_of(final_form(*sent.message_id));
  EXPECT_NE(content.find("The provider could not make this: NSFW content detected"),
            std::string::npos)
      << content;
  EXPECT_NE(content.find("(interaction " + sent.interaction_id + ")"), std::string::npos);
}

TEST_F(ImagineE2eTest, OnlyTheAuthorMayDelete) {
  start();
  auto sent = command(R"(/imagine prompt:"a red kite")");
  ASSERT_TRUE(sent.message_id);
  auto message = final_form(*sent.message_id);
  const std::string delete_id(
      message.at("components").at(0).at("components").at(1).at("custom_id").as_string());
  auto stranger = call(emulator().click(*sent.message_id, delete_id, "1180000000000009999"));
  ASSERT_TRUE(stranger);
  EXPECT_EQ(stranger->response.at("type").as_int64(), 4);
  EXPECT_EQ(stranger->response.at("data").at("flags").as_int64() & 64, 64) << "ephemeral";
  EXPECT_NE(json::serialize(stranger->response).find("Only the person who asked"),
            std::string::npos);
  EXPECT_EQ(emulator().message(*sent.message_id)->at("attachments").as_array().size(), 1u);

  auto author = call(emulator().click(*sent.message_id, delete_id));
  ASSERT_TRUE(author);
  EXPECT_EQ(author->response.at("type").as_int64(), 7);
  const auto gone = *emulator().message(*sent.message_id);
  EXPECT_TRUE(gone.at("attachments").as_array().empty());
  EXPECT_TRUE(gone.at("embeds").as_array().empty());
}

TEST_F(ImagineE2eTest, AVideoIsAnAttachmentOrALinkAboveTheUploadLimit) {
  start();
  auto sent = command("/imagine prompt:waves video:true");
  ASSERT_TRUE(sent.message_id);
  auto message = final_form(*sent.message_id);
  ASSERT_EQ(message.at("attachments").as_array().size(), 1u) << json::serialize(message);
  EXPECT_EQ(message.at("attachments").at(0).at("filename"), "video.mp4");
  EXPECT_EQ(attachment(message).substr(4, 4), "ftyp");

  emulator().set_attachment_size_limit(1024);
  auto large = command(R"(/imagine prompt:"more waves" video:true)");
  ASSERT_TRUE(large.message_id);
  auto linked = final_form(*large.message_id);
  EXPECT_TRUE(linked.at("attachments").as_array().empty()) << json::serialize(linked);
  EXPECT_NE(json::serialize(linked).find("/blobs/imagine/"), std::string::npos)
      << json::serialize(linked);
}

TEST_F(ImagineE2eTest, ATokenAboutToExpireIsCanceledAtTheProviderAndTold) {
  // The give-up point at its shortest; the job takes a minute.
  start({{"MANDO_BOT_GIVE_UP_AFTER", "10s"}});
  auto sent = command(R"(/imagine prompt:"a slow painting [slow]")");
  ASSERT_TRUE(sent.message_id);
  const std::string content = content_of(final_form(*sent.message_id));
  EXPECT_NE(content.find("took too long, so I canceled the job"), std::string::npos) << content;
  EXPECT_EQ(fake_->stats().canceled, 1);
}

TEST_F(ImagineE2eTest, CancelWhileItRunsOnlyForTheAuthor) {
  fake_->set_generation(6s);  // three steps: the first progress line after 2 s
  start();
  auto sent = command(R"(/imagine prompt:"a long exposure")");
  ASSERT_TRUE(sent.message_id);
  json::object message = next_version(*sent.message_id);
  for (int edits = 0; edits < 10 && message.at("components").as_array().empty(); ++edits) {
    message = next_version(*sent.message_id, message.at("version").as_int64());
  }
  ASSERT_TRUE(content_of(message).starts_with("Imagining")) << json::serialize(message);
  const std::string cancel(
      message.at("components").at(0).at("components").at(0).at("custom_id").as_string());
  auto stranger = call(emulator().click(*sent.message_id, cancel, "1180000000000009999"));
  ASSERT_TRUE(stranger);
  EXPECT_NE(json::serialize(stranger->response).find("Only the person who asked"),
            std::string::npos);
  auto author = call(emulator().click(*sent.message_id, cancel));
  ASSERT_TRUE(author);
  EXPECT_EQ(author->response.at("type").as_int64(), 7) << json::serialize(author->response);
  const std::string ended = content_of(final_form(*sent.message_id));
  EXPECT_NE(ended.find("Canceled: nothing more will be made"), std::string::npos) << ended;
  EXPECT_EQ(fake_->stats().canceled, 1);
}

TEST_F(ImagineE2eTest, RateLimitedSubmitsAreRetriedAndVanishedOutputsSaidSo) {
  fake_->set_faults({.submit_429 = 2});
  start();
  auto sent = command(R"(/imagine prompt:"patience")");
  ASSERT_TRUE(sent.message_id);
  EXPECT_EQ(final_form(*sent.message_id).at("attachments").as_array().size(), 1u)
      << "two 429s, then the queue's retry went through";
  EXPECT_EQ(fake_->stats().refused, 2);

  fake_->set_faults({.output_ttl = 1ms});  // the provider deletes its outputs at once
  auto gone = command(R"(/imagine prompt:"fleeting")");
  ASSERT_TRUE(gone.message_id);
  const std::string content = content_of(final_form(*gone.message_id));
  EXPECT_NE(content.find("the provider's result could not be used: the server answered HTTP 404"),
            std::string::npos)
      << content;
}

TEST_F(ImagineE2eTest, OverTheDailyQuotaTheUserIsToldWhenItResets) {
  start({{"MANDO_IMAGINE_DAILY_PER_USER", "1"}});
  auto first = command(R"(/imagine prompt:"one")");
  ASSERT_TRUE(first.message_id);
  auto invocation = emulator().parse_command_text(R"(/imagine prompt:"two")");
  ASSERT_TRUE(invocation);
  auto second = call(emulator().send_command(std::move(*invocation)));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->response.at("type").as_int64(), 4);
  EXPECT_EQ(second->response.at("data").at("flags").as_int64() & 64, 64) << "ephemeral";
  EXPECT_NE(json::serialize(second->response)
                .find("You have used your 1 /imagine jobs for today. You can imagine again <t:"),
            std::string::npos)
      << json::serialize(second->response);
}

TEST_F(ImagineE2eTest, AResultAfterTheGiveUpPointIsPostedAfterAll) {
  fake_->set_faults({.ignore_cancel = true});
  start({{"MANDO_BOT_GIVE_UP_AFTER", "10s"}});
  auto sent = command(R"(/imagine prompt:"a late heron [late]")");
  ASSERT_TRUE(sent.message_id);
  auto message = final_form(*sent.message_id);
  EXPECT_NE(content_of(message).find("took too long, so I canceled the job"), std::string::npos)
      << json::serialize(message);
  // The provider ran on regardless; its result replaces the line while the token lives.
  message = next_version(*sent.message_id, message.at("version").as_int64());
  EXPECT_EQ(message.at("attachments").as_array().size(), 1u) << json::serialize(message);
  EXPECT_EQ(message.at("embeds").at(0).at("title"), "a late heron [late]");
}

TEST_F(ImagineE2eTest, VariationAndUpscaleStartFromTheStoredImage) {
  start();
  auto sent = command(R"(/imagine prompt:"a gull" model:fakeimg count:2)");
  ASSERT_TRUE(sent.message_id);
  auto message = final_form(*sent.message_id);
  const auto& rows = message.at("components").as_array();
  ASSERT_EQ(rows.size(), 3u) << json::serialize(message);
  EXPECT_EQ(rows[1].at("components").at(1).at("label"), "V2");
  EXPECT_EQ(rows[2].at("components").at(0).at("label"), "U1");
  const std::string vary(rows[1].at("components").at(1).at("custom_id").as_string());
  const std::string upscale(rows[2].at("components").at(0).at("custom_id").as_string());

  for (const auto& [custom_id, version, image] :
       {std::tuple{vary, "fake-img2img-1", "/2.png"},
        std::tuple{upscale, "fake-upscaler-1", "/1.png"}}) {
    auto clicked = call(emulator().click(*sent.message_id, custom_id));
    ASSERT_TRUE(clicked && !clicked->failed);
    ASSERT_EQ(clicked->response.at("type").as_int64(), 5) << json::serialize(clicked->response);
    ASSERT_TRUE(clicked->message_id);
    auto derived = final_form(*clicked->message_id);
    EXPECT_FALSE(derived.at("attachments").as_array().empty()) << json::serialize(derived);
    bool seen = false;
    for (const auto& t : fake_->timelines()) {
      if (t.version == version &&
          t.image.find("/blobs/imagine/" + sent.interaction_id + image) != std::string::npos) {
        seen = true;
      }
    }
    EXPECT_TRUE(seen) << version << " was not asked with the stored " << image;
  }
}

TEST_F(ImagineE2eTest, TheFalShapeDeliversThroughItsSignedCompletion) {
  start();
  auto sent = command(R"(/imagine prompt:"a fal harbour" model:falfake count:2)");
  ASSERT_TRUE(sent.message_id);
  auto message = final_form(*sent.message_id);
  ASSERT_EQ(message.at("attachments").as_array().size(), 3u) << json::serialize(message);
  EXPECT_EQ(message.at("attachments").at(0).at("filename"), "grid.png");
  EXPECT_NE(metrics().find("mando_imagine_webhooks_total{result=\"accepted\"} 1"),
            std::string::npos)
      << "the completion came by webhook, checked against the JWKS";
}

TEST_F(ImagineE2eTest, TheOpenAiShapeDeliversTheImagesItAnswered) {
  start();
  auto sent = command(R"(/imagine prompt:"an openai harbour" model:openaifake)");
  ASSERT_TRUE(sent.message_id);
  auto message = final_form(*sent.message_id);
  ASSERT_EQ(message.at("attachments").as_array().size(), 1u) << json::serialize(message);
  EXPECT_EQ(attachment(message).substr(0, 4), "\x89PNG");
  EXPECT_EQ(fake_->stats().webhooks_sent, 0);
}

}  // namespace
}  // namespace mando::testing
