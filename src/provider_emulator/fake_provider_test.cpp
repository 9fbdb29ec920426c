// The Replicate provider client (imagine/replicate_provider.hpp) against the fake provider:
// both sides of the predictions API and its Standard Webhooks signatures, faults included.

#include "provider_emulator/fake_provider.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/crypto.hpp"
#include "imagine/fal_provider.hpp"
#include "imagine/fal_webhooks.hpp"
#include "imagine/openai_provider.hpp"
#include "imagine/replicate.hpp"
#include "imagine/replicate_provider.hpp"
#include "imagine/standard_webhooks.hpp"
#include "support/fake_provider_thread.hpp"
#include "support/loopback_server.hpp"
#include "support/run_awaitable.hpp"

namespace mando::provider_emulator {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using imagine::Status;

struct Webhook {
  std::string id;
  std::string timestamp;
  std::string signature;
  std::string body;
  net::Headers headers;
};

// Records the webhooks it receives; wait_for() waits (bounded) until one matches.
class WebhookSink {
 public:
  WebhookSink()
      : server_([this] {
          net::Router router;
          router.add("POST", "/hook", [this](net::Request r) -> asio::awaitable<net::Response> {
            std::lock_guard lock(mutex_);
            hooks_.push_back({std::string(r.headers.get("webhook-id").value_or("")),
                              std::string(r.headers.get("webhook-timestamp").value_or("")),
                              std::string(r.headers.get("webhook-signature").value_or("")), r.body,
                              r.headers});
            changed_.notify_all();
            co_return net::Response::text(200, "ok");
          });
          return router;
        }()) {}

  std::string url() const { return server_.url() + "/hook?job=1180000000000000050"; }

  // The webhooks so far once `done(hooks)` holds (10 s at most).
  std::vector<Webhook> wait_for(const std::function<bool(const std::vector<Webhook>&)>& done) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return done(hooks_); });
    return hooks_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Webhook> hooks_;
  testing::LoopbackServer server_;
};

bool has_terminal(const std::vector<Webhook>& hooks, std::size_t copies = 1) {
  std::size_t seen = 0;
  for (const auto& h : hooks) {
    auto update = imagine::replicate::parse_prediction(h.body);
    if (update && imagine::terminal(update->status)) ++seen;
  }
  return seen >= copies;
}

class FakeProviderTest : public ::testing::Test {
 protected:
  FakeProviderTest() : fake_(options()), client_(ioc_.get_executor()) {}

  static FakeProviderOptions options() {
    FakeProviderOptions o;
    o.generation = 100ms;
    o.progress_steps = 2;
    o.image_size = 64;
    return o;
  }

  imagine::ReplicateProvider provider(std::string version = "fake-version-1",
                                      std::string token = "r8_fake_token") {
    return imagine::ReplicateProvider(
        client_, model("replicate", fake_->endpoint() + "/", std::move(version), std::move(token)));
  }

  static core::ImagineModel model(std::string kind, std::string endpoint, std::string version,
                                  std::string token = "r8_fake_token") {
    core::ImagineModel m;
    m.name = "fake";
    m.provider = std::move(kind);
    m.endpoint = std::move(endpoint);
    m.version = std::move(version);
    m.api_token = std::move(token);
    return m;
  }

  Result<imagine::JobUpdate> submit(imagine::ReplicateProvider& p, std::string prompt,
                                    std::string webhook = "") {
    imagine::Submission s;
    s.input = json::object{{"prompt", std::move(prompt)}, {"num_outputs", 2}};
    s.webhook = std::move(webhook);
    return testing::run_awaitable(ioc_, p.submit(std::move(s)));
  }

  imagine::JobUpdate wait_terminal(imagine::ReplicateProvider& p, const std::string& id) {
    // Bounded: generation takes 100 ms; each poll is a real request.
    for (int i = 0; i < 5000; ++i) {
      auto update = testing::run_awaitable(ioc_, p.poll(id));
      EXPECT_TRUE(update) << update.error().message;
      if (!update || imagine::terminal(update->status))
        return update.value_or(imagine::JobUpdate{});
      std::this_thread::yield();
    }
    ADD_FAILURE() << "never terminal";
    return {};
  }

  testing::FakeProviderThread fake_;
  asio::io_context ioc_;
  net::HttpClient client_;
};

TEST_F(FakeProviderTest, SignedWebhooksFollowThePredictionToItsOutputs) {
  WebhookSink sink;
  auto p = provider();
  auto created = submit(p, "a red fox", sink.url());
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->status, Status::kStarting);
  EXPECT_FALSE(created->provider_job_id.empty());

  const auto hooks = sink.wait_for([](const auto& h) { return has_terminal(h); });
  auto verifier = *imagine::StandardWebhooks::create({options().webhook_secret});
  ASSERT_GE(hooks.size(), 3u) << "start, logs, completed";
  std::vector<Status> statuses;
  for (const auto& h : hooks) {
    EXPECT_TRUE(
        verifier.verify({h.id, h.timestamp, h.signature}, h.body, std::chrono::system_clock::now()))
        << h.body;
    auto update = imagine::replicate::parse_prediction(h.body);
    ASSERT_TRUE(update) << h.body;
    EXPECT_EQ(update->provider_job_id, created->provider_job_id);
    statuses.push_back(update->status);
  }
  EXPECT_EQ(statuses.front(), Status::kStarting);
  EXPECT_EQ(statuses.back(), Status::kSucceeded);

  auto done = wait_terminal(p, created->provider_job_id);
  ASSERT_EQ(done.status, Status::kSucceeded);
  ASSERT_EQ(done.outputs.size(), 2u);
  net::ClientRequest get;
  get.url = done.outputs[0];
  auto png = testing::run_awaitable(ioc_, client_.send(std::move(get)));
  ASSERT_TRUE(png);
  EXPECT_EQ(png->status, 200);
  EXPECT_EQ(png->body.substr(0, 4), "\x89PNG");
  EXPECT_EQ(fake_->stats().webhooks_sent, static_cast<std::int64_t>(hooks.size()));
}

TEST_F(FakeProviderTest, ModelNamesUseTheModelsRoute) {
  auto p = provider("fake-owner/fake-model");
  auto created = submit(p, "a red fox");
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(wait_terminal(p, created->provider_job_id).status, Status::kSucceeded);
}

TEST_F(FakeProviderTest, RefusalsAreMappedToWhatTheCallerShouldDo) {
  auto wrong = provider("fake-version-1", "r8_wrong");
  auto refused = submit(wrong, "a red fox");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnauthenticated);
  EXPECT_EQ(refused.error().message.find("r8_"), std::string::npos) << "no token in messages";

  fake_->set_faults({.submit_500 = 1, .submit_429 = 1});
  auto p = provider();
  auto first = submit(p, "a red fox");
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().kind, ErrorKind::kUnavailable);
  auto second = submit(p, "a red fox");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kResourceExhausted);
  EXPECT_NE(second.error().message.find("retry after 1 s"), std::string::npos);
  EXPECT_TRUE(submit(p, "a red fox"));

  auto missing = testing::run_awaitable(ioc_, p.poll("nosuchprediction"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  auto hostile = testing::run_awaitable(ioc_, p.poll("../../v1/predictions"));
  ASSERT_FALSE(hostile);
  EXPECT_EQ(hostile.error().kind, ErrorKind::kInvalidArgument);
}

TEST_F(FakeProviderTest, FailedAndCanceledPredictions) {
  auto p = provider();
  auto failing = submit(p, "a red fox [nsfw]");
  ASSERT_TRUE(failing);
  auto failed = wait_terminal(p, failing->provider_job_id);
  EXPECT_EQ(failed.status, Status::kFailed);
  EXPECT_NE(failed.error.find("NSFW content detected"), std::string::npos);

  auto running = submit(p, "a red fox");
  ASSERT_TRUE(running);
  ASSERT_TRUE(testing::run_awaitable(ioc_, p.cancel(running->provider_job_id)));
  EXPECT_EQ(wait_terminal(p, running->provider_job_id).status, Status::kCanceled);
  EXPECT_EQ(fake_->stats().canceled, 1);
}

TEST_F(FakeProviderTest, DuplicatedWebhooksRepeatTheirId) {
  fake_->set_faults({.duplicate_webhooks = true});
  WebhookSink sink;
  auto p = provider();
  ASSERT_TRUE(submit(p, "a red fox", sink.url()));
  auto copies = [](const std::vector<Webhook>& hooks) {
    std::map<std::string, int> n;
    for (const auto& h : hooks) ++n[h.id];
    return n;
  };
  const auto hooks = sink.wait_for([&](const auto& h) {
    return has_terminal(h, 2) &&
           std::ranges::all_of(copies(h), [](auto& c) { return c.second == 2; });
  });
  EXPECT_TRUE(has_terminal(hooks, 2));
  for (const auto& [id, n] : copies(hooks)) EXPECT_EQ(n, 2) << id;
}

TEST_F(FakeProviderTest, TheFalShapeSignsItsCompletionWithTheKeyOfItsJwks) {
  WebhookSink sink;
  imagine::FalProvider fal(client_, model("fal", fake_->url() + "/fal", "fake-ai/flux/dev"));
  imagine::Submission s;
  s.input = json::object{{"prompt", "a red fox"}, {"num_images", 2}};
  s.webhook = sink.url();
  auto created = testing::run_awaitable(ioc_, fal.submit(std::move(s)));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->status, Status::kStarting);
  EXPECT_EQ(created->queue_position, 1);

  const auto hooks = sink.wait_for([](const auto& h) { return !h.empty(); });
  ASSERT_EQ(hooks.size(), 1u) << "fal sends the completion only";
  imagine::FalWebhookVerifier verifier([this]() -> asio::awaitable<Result<std::string>> {
    net::ClientRequest get;
    get.url = fake_->url() + "/fal/.well-known/jwks.json";
    auto answer = co_await client_.send(std::move(get));
    if (!answer) co_return tl::unexpected(answer.error());
    co_return answer->body;
  });
  auto id = testing::run_awaitable(
      ioc_, verifier.verify(hooks[0].headers, hooks[0].body, std::chrono::system_clock::now()));
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "fal-" + created->provider_job_id);
  auto done = fal.parse_event(hooks[0].body);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, Status::kSucceeded);
  EXPECT_EQ(done->outputs.size(), 2u);

  auto polled = testing::run_awaitable(ioc_, fal.poll(created->provider_job_id));
  ASSERT_TRUE(polled) << polled.error().message;
  EXPECT_EQ(polled->status, Status::kSucceeded);
  EXPECT_EQ(polled->outputs, done->outputs);

  imagine::Submission failing;
  failing.input = json::object{{"prompt", "a fox [fail]"}};
  auto bad = testing::run_awaitable(ioc_, fal.submit(std::move(failing)));
  ASSERT_TRUE(bad);
  imagine::JobUpdate update;
  for (int i = 0; i < 5000 && !imagine::terminal(update.status); ++i) {
    update = testing::run_awaitable(ioc_, fal.poll(bad->provider_job_id)).value_or(update);
  }
  EXPECT_EQ(update.status, Status::kFailed);
  EXPECT_NE(update.error.find("asked to fail"), std::string::npos) << update.error;
  EXPECT_TRUE(testing::run_awaitable(ioc_, fal.cancel(bad->provider_job_id))) << "already over";
}

TEST_F(FakeProviderTest, TheOpenAiShapeAnswersTheImagesThemselves) {
  imagine::OpenAiProvider openai(client_,
                                 model("openai", fake_->url() + "/openai/v1", "fake-image-1"));
  imagine::Submission s;
  s.input = json::object{{"prompt", "a red fox"}, {"n", 2}, {"size", "1024x1024"}};
  auto done = testing::run_awaitable(ioc_, openai.submit(std::move(s)));
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->status, Status::kSucceeded);
  ASSERT_EQ(done->outputs.size(), 2u);
  const std::string& first = done->outputs[0];
  ASSERT_TRUE(first.starts_with("data:"));
  auto png = core::from_base64(std::string_view(first).substr(first.find(',') + 1),
                               core::Base64::kStandard);
  ASSERT_TRUE(png);
  EXPECT_EQ(png->substr(0, 4), "\x89PNG");
  EXPECT_FALSE(testing::run_awaitable(ioc_, openai.poll(done->provider_job_id)));

  imagine::OpenAiProvider wrong(
      client_, model("openai", fake_->url() + "/openai/v1", "fake-image-1", "sk-wrong"));
  auto refused = testing::run_awaitable(ioc_, wrong.submit({}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnauthenticated);
}

}  // namespace
}  // namespace mando::provider_emulator
