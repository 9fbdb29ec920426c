#include "emulator/interaction_sender.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "discord/interaction.hpp"
#include "discord/signature.hpp"

namespace mando::emulator {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

InteractionRecord record(std::string guild_id) {
  InteractionRecord rec;
  rec.id = "1180000000000000099";
  rec.token = "tok";
  rec.type = 2;
  rec.user_id = std::string(kDefaultUserId);
  rec.guild_id = std::move(guild_id);
  rec.channel_id = std::string(rec.guild_id.empty() ? kDmChannelId : kGuildChannelId);
  rec.authorizing_integration_owners = {{"0", rec.guild_id.empty() ? "0" : rec.guild_id}};
  return rec;
}

TEST(InteractionSenderTest, GuildAndDmBodiesParseAsDiscordInteractions) {
  json::object data{{"data", {{"id", "1"}, {"name", "mando"}, {"type", 1}}}};
  const json::object guild = interaction_body(record(std::string(kDefaultGuildId)), data,
                                              "1180000000000000001", 8 * 1024 * 1024);
  EXPECT_EQ(guild.at("attachment_size_limit").as_int64(), 8 * 1024 * 1024);
  EXPECT_EQ(guild.at("context").as_int64(), 0);
  EXPECT_TRUE(guild.at("member").at("user").is_object());
  EXPECT_FALSE(guild.contains("user"));
  auto parsed = discord::parse_interaction(json::serialize(guild));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->guild_id.value_or(""), kDefaultGuildId);
  EXPECT_EQ(parsed->user.id, kDefaultUserId);

  const json::object dm = interaction_body(record(""), data, "1180000000000000001", 10485760);
  EXPECT_EQ(dm.at("context").as_int64(), 1);
  EXPECT_EQ(dm.at("attachment_size_limit").as_int64(), 10485760);
  EXPECT_FALSE(dm.contains("member"));
  EXPECT_FALSE(dm.contains("guild_id"));
  auto dm_parsed = discord::parse_interaction(json::serialize(dm));
  ASSERT_TRUE(dm_parsed) << dm_parsed.error().message;
  EXPECT_EQ(dm_parsed->user.id, kDefaultUserId);
}

TEST(InteractionSenderTest, RequestIsSignedLikeDiscord) {
  // The same seed, the same key: what `mando dev` relies on across restarts.
  const std::string seed(64, 'a');
  InteractionSigner signer(seed);
  EXPECT_EQ(InteractionSigner(seed).public_key_hex(), signer.public_key_hex());
  EXPECT_NE(InteractionSigner("").public_key_hex(), signer.public_key_hex());
  const auto request =
      signed_interaction_request(signer, "http://127.0.0.1:1/interactions", R"({"type":1})", 3s);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.timeout, 3s);
  EXPECT_EQ(request.headers.get("User-Agent").value_or(""),
            "Discord-Interactions/1.0 (+https://discord.com)");
  auto verifier = discord::SignatureVerifier::from_hex(signer.public_key_hex());
  ASSERT_TRUE(verifier);
  const auto signature = request.headers.get("X-Signature-Ed25519").value_or("");
  const auto timestamp = request.headers.get("X-Signature-Timestamp").value_or("");
  EXPECT_TRUE(verifier->verify(signature, timestamp, request.body));
  EXPECT_FALSE(verifier->verify(signature, timestamp, R"({"type":2})"));
}

}  // namespace
}  // namespace mando::emulator
