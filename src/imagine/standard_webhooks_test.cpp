#include "imagine/standard_webhooks.hpp"

#include <gtest/gtest.h>

namespace mando::imagine {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

// The Standard Webhooks specification's own test vector.
constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::string_view kTimestamp = "1614265330";
constexpr std::int64_t kSentAt = 1614265330;
constexpr std::string_view kBody = R"({"test": 2432232314})";
constexpr std::string_view kSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

const sys_seconds kNow{seconds(kSentAt + 10)};

StandardWebhooks verifier(std::vector<std::string> secrets = {std::string(kSecret)}) {
  auto made = StandardWebhooks::create(secrets);
  EXPECT_TRUE(made.has_value()) << made.error().message;
  return *made;
}

TEST(StandardWebhooksTest, SignsAndVerifiesTheSpecificationsVector) {
  const auto hooks = verifier();
  EXPECT_EQ(hooks.sign(kId, kSentAt, kBody), kSignature);
  EXPECT_TRUE(hooks.verify({kId, kTimestamp, kSignature}, kBody, kNow).has_value());
  // The prefix is optional in the secret, as in the reference libraries.
  const auto bare = verifier({std::string(kSecret.substr(6))});
  EXPECT_TRUE(bare.verify({kId, kTimestamp, kSignature}, kBody, kNow).has_value());
}

TEST(StandardWebhooksTest, RefusesAnyChangeToWhatIsSigned) {
  const auto hooks = verifier();
  const auto refused = [&](StandardWebhooks::Headers headers, std::string_view body) {
    const auto result = hooks.verify(headers, body, kNow);
    return !result && result.error().kind == ErrorKind::kUnauthenticated;
  };
  EXPECT_TRUE(refused({kId, kTimestamp, kSignature}, R"({"test":2432232314})"));  // re-serialised
  EXPECT_TRUE(refused({"msg_other", kTimestamp, kSignature}, kBody));
  EXPECT_TRUE(refused({kId, "1614265331", kSignature}, kBody));
  EXPECT_TRUE(refused({kId, kTimestamp, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="}, kBody));
  EXPECT_TRUE(refused({kId, kTimestamp, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, kBody));
  EXPECT_TRUE(refused({kId, kTimestamp, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, kBody));
  EXPECT_TRUE(refused({kId, kTimestamp, "v1,not base64!"}, kBody));
  EXPECT_TRUE(refused({"", kTimestamp, kSignature}, kBody));
  EXPECT_TRUE(refused({kId, "", kSignature}, kBody));
  EXPECT_TRUE(refused({kId, kTimestamp, ""}, kBody));
  EXPECT_TRUE(refused({kId, "1614265330.0", kSignature}, kBody));
  EXPECT_TRUE(refused({kId, "99999999999999999999999", kSignature}, kBody));
}

TEST(StandardWebhooksTest, AcceptsAnyMatchingEntryAmongSeveral) {
  const auto hooks = verifier();
  const std::string header = "v1a,c29tZXRoaW5nIGVsc2U= v1,AAAA " + std::string(kSignature);
  EXPECT_TRUE(hooks.verify({kId, kTimestamp, header}, kBody, kNow).has_value());
}

TEST(StandardWebhooksTest, EverySecretOfARotationVerifies) {
  const std::string next = "whsec_" + std::string("c2Vjb25kIHNlY3JldCBieXRlcw==");
  const auto rotating = verifier({next, std::string(kSecret)});
  EXPECT_TRUE(rotating.verify({kId, kTimestamp, kSignature}, kBody, kNow).has_value());
  const auto only_next = verifier({next});
  EXPECT_FALSE(only_next.verify({kId, kTimestamp, kSignature}, kBody, kNow).has_value());
  // sign() uses the first secret.
  EXPECT_TRUE(only_next.verify({kId, kTimestamp, rotating.sign(kId, kSentAt, kBody)}, kBody, kNow)
                  .has_value());
}

TEST(StandardWebhooksTest, RefusesTimestampsOutsideFiveMinutesEitherWay) {
  const auto hooks = verifier();
  const StandardWebhooks::Headers headers{kId, kTimestamp, kSignature};
  const sys_seconds sent{seconds(kSentAt)};
  EXPECT_TRUE(hooks.verify(headers, kBody, sent + seconds(300)).has_value());
  EXPECT_TRUE(hooks.verify(headers, kBody, sent - seconds(300)).has_value());
  const auto stale = hooks.verify(headers, kBody, sent + seconds(301));
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().kind, ErrorKind::kUnauthenticated);
  EXPECT_NE(stale.error().message.find("5 minutes"), std::string::npos);
  EXPECT_FALSE(hooks.verify(headers, kBody, sent - seconds(301)).has_value());
}

TEST(StandardWebhooksTest, RefusesSecretsThatDoNotDecodeWithoutEchoingThem) {
  for (const std::vector<std::string>& secrets : {std::vector<std::string>{},
                                                  {"whsec_"},
                                                  {"whsec_not*base64"},
                                                  {std::string(kSecret), "x!"}}) {
    const auto made = StandardWebhooks::create(secrets);
    ASSERT_FALSE(made.has_value());
    EXPECT_EQ(made.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_EQ(made.error().message.find("base64!"), std::string::npos);
  }
  const auto second = StandardWebhooks::create({std::string(kSecret), "x!"});
  EXPECT_NE(second.error().message.find("secret 2"), std::string::npos);
}

}  // namespace
}  // namespace mando::imagine
