#include "imagine/fal.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "discord/signature.hpp"
#include "imagine/fal_webhooks.hpp"
#include "imagine/openai_provider.hpp"
#include "support/run_awaitable.hpp"

namespace mando::imagine {
namespace {

namespace asio = boost::asio;

TEST(FalTest, ModelIdsAndTheSubmitUrl) {
  EXPECT_EQ(fal::app_id("fal-ai/flux/dev").value_or(""), "fal-ai/flux");
  EXPECT_EQ(fal::app_id("fal-ai/fast-sdxl").value_or(""), "fal-ai/fast-sdxl");
  for (const char* bad : {"flux", "fal-ai/../x", "fal-ai//dev", "fal-ai/flux?x=1", ""}) {
    EXPECT_FALSE(fal::app_id(bad)) << bad;
  }
  EXPECT_EQ(fal::submit_url("https://queue.fal.run", "fal-ai/flux/dev",
                            "https://bot.example/webhooks/imagine/fal?job=42")
                .value_or(""),
            "https://queue.fal.run/fal-ai/flux/dev?fal_webhook="
            "https%3A%2F%2Fbot.example%2Fwebhooks%2Fimagine%2Ffal%3Fjob%3D42");
  EXPECT_EQ(fal::submit_url("https://queue.fal.run", "fal-ai/flux/dev", "").value_or(""),
            "https://queue.fal.run/fal-ai/flux/dev");
}

TEST(FalTest, StatusesResultsAndWebhooks) {
  auto queued = fal::parse_status("r1", R"({"status":"IN_QUEUE","queue_position":2})");
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->status, Status::kStarting);
  EXPECT_EQ(queued->queue_position, 3) << "fal counts from 0, mando from 1";
  auto running = fal::parse_status(
      "r1", R"({"status":"IN_PROGRESS","logs":[{"message":" 40%|####      | 8/20"}]})");
  ASSERT_TRUE(running);
  EXPECT_EQ(running->status, Status::kProcessing);
  EXPECT_EQ(running->percent, 40);
  EXPECT_EQ(fal::parse_status("r1", R"({"status":"COMPLETED"})")->status, Status::kSucceeded);
  EXPECT_FALSE(fal::parse_status("r1", R"({"status":"DONE"})"));

  auto outputs = fal::parse_result(
      R"({"images":[{"url":"https://v3.fal.media/a.png"},{"url":"https://v3.fal.media/b.png"}],)"
      R"("video":{"url":"https://v3.fal.media/c.mp4"},"seed":1})");
  ASSERT_TRUE(outputs);
  EXPECT_EQ(*outputs,
            (std::vector<std::string>{"https://v3.fal.media/a.png", "https://v3.fal.media/b.png",
                                      "https://v3.fal.media/c.mp4"}));

  auto ok = fal::parse_webhook(
      R"({"request_id":"r1","status":"OK","payload":{"images":[{"url":"https://x/1.png"}]}})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, Status::kSucceeded);
  EXPECT_EQ(ok->outputs, std::vector<std::string>{"https://x/1.png"});
  auto error = fal::parse_webhook(
      R"({"request_id":"r1","status":"ERROR","error":"Invalid status code: 422",)"
      R"("payload":{"detail":[{"loc":["body","prompt"],"msg":"field required"}]}})");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, Status::kFailed);
  EXPECT_EQ(error->error, "Invalid status code: 422: field required");
  EXPECT_FALSE(fal::parse_webhook(R"({"status":"OK"})"));
}

TEST(OpenAiTest, ImagesAnswers) {
  auto b64 = openai::parse_images(
      R"({"created":1,"data":[{"b64_json":"iVBORw0K"},{"url":"https://x/2.png"}]})", "sync-1");
  ASSERT_TRUE(b64) << b64.error().message;
  EXPECT_EQ(b64->status, Status::kSucceeded);
  EXPECT_EQ(b64->provider_job_id, "sync-1");
  ASSERT_EQ(b64->outputs.size(), 2u);
  EXPECT_TRUE(b64->outputs[0].starts_with("data:")) << b64->outputs[0];
  EXPECT_TRUE(b64->outputs[0].ends_with(";base64,iVBORw0K"));
  EXPECT_EQ(b64->outputs[1], "https://x/2.png");
  EXPECT_FALSE(openai::parse_images(R"({"data":[]})", "x"));
  EXPECT_FALSE(openai::parse_images(R"({"error":{"message":"no"}})", "x"));
}

// A fal-style signer: the key pair, its JWKS and the signature headers of a body.
struct FalSigner {
  discord::KeyPair keys = discord::generate_key_pair();

  std::string jwks() const {
    return boost::json::serialize(boost::json::object{
        {"keys", boost::json::array{boost::json::object{{"kty", "RSA"}, {"n", "x"}, {"e", "AQAB"}},
                                    ed25519_jwk(keys.public_key_hex, "k1")}}});
  }
  net::Headers sign(std::string_view body, std::int64_t timestamp) const {
    const std::string ts = std::to_string(timestamp);
    net::Headers h;
    h.set("x-fal-webhook-request-id", "r1");
    h.set("x-fal-webhook-user-id", "u1");
    h.set("x-fal-webhook-timestamp", ts);
    h.set("x-fal-webhook-signature",
          *discord::sign_hex(keys.secret_key_hex, fal::signed_message("r1", "u1", ts, body)));
    return h;
  }
};

TEST(FalWebhooksTest, VerifiesAgainstTheJwksFetchedOnceAndRefetchedForANewKey) {
  FalSigner signer;
  FalSigner rotated;
  int fetches = 0;
  std::string served = signer.jwks();
  FalWebhookVerifier verifier([&]() -> asio::awaitable<Result<std::string>> {
    ++fetches;
    co_return served;
  });
  asio::io_context ioc;
  const auto now = std::chrono::system_clock::now();
  const std::int64_t t =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const std::string body = R"({"request_id":"r1","status":"OK"})";
  auto verify = [&](const net::Headers& h, std::string_view b,
                    std::chrono::system_clock::time_point at) {
    return testing::run_awaitable(ioc, verifier.verify(h, b, at));
  };

  auto ok = verify(signer.sign(body, t), body, now);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, "fal-r1");
  EXPECT_TRUE(verify(signer.sign(body, t), body, now));
  EXPECT_EQ(fetches, 1) << "the keys are kept";

  EXPECT_EQ(verify(signer.sign(body, t), body + " ", now).error().kind, ErrorKind::kUnauthenticated)
      << "the raw body is signed";
  EXPECT_EQ(verify(signer.sign(body, t - 301), body, now).error().kind,
            ErrorKind::kUnauthenticated);
  net::Headers missing = signer.sign(body, t);
  missing.remove("x-fal-webhook-user-id");
  EXPECT_EQ(verify(missing, body, now).error().kind, ErrorKind::kUnauthenticated);

  // A new key: a miss fetches again, but at most once a minute.
  served = rotated.jwks();
  EXPECT_FALSE(verify(rotated.sign(body, t), body, now)) << "fetched under a minute ago";
  const int before = fetches;
  EXPECT_TRUE(verify(rotated.sign(body, t + 61), body, now + std::chrono::seconds(61)));
  EXPECT_EQ(fetches, before + 1);
}

TEST(FalWebhooksTest, NoKeysIsUnavailableAndABadJwksIsRefused) {
  FalWebhookVerifier verifier([]() -> asio::awaitable<Result<std::string>> {
    co_return fail(ErrorKind::kUnavailable, "could not resolve rest.fal.ai");
  });
  asio::io_context ioc;
  FalSigner signer;
  const auto now = std::chrono::system_clock::now();
  const std::int64_t t =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  auto r = testing::run_awaitable(ioc, verifier.verify(signer.sign("{}", t), "{}", now));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable) << "the provider retries";
  EXPECT_FALSE(parse_jwks(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"short"}]})"));
  EXPECT_FALSE(parse_jwks("[]"));
}

}  // namespace
}  // namespace mando::imagine
