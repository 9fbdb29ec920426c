#include "bot/commands/transform_inputs.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "discord/interaction.hpp"
#include "support/test_data.hpp"

namespace mando::bot::commands {
namespace {

namespace json = boost::json;

discord::Interaction fixture(const std::string& name) {
  auto parsed = discord::parse_interaction(testing::read_test_data("discord/" + name));
  EXPECT_TRUE(parsed) << parsed.error().message;
  return parsed ? *parsed : discord::Interaction{};
}

Result<TransformRequest> from_command(const discord::Interaction& i, int max_inputs = 20) {
  return transform_request(discord::Options(i.data.options), i.data, max_inputs);
}

TEST(TransformInputs, LinksFirstThenAttachmentsWithTheOptions) {
  auto request = from_command(fixture("command_transform_guild.json"));
  ASSERT_TRUE(request) << request.error().message;
  ASSERT_EQ(request->urls.size(), 4u);
  EXPECT_EQ(request->urls[0], "https://example.com/a.png");
  EXPECT_EQ(request->urls[1], "https://example.org/b.jpg");
  EXPECT_TRUE(request->urls[2].starts_with("https://cdn.discordapp.com/ephemeral-attachments/"));
  EXPECT_NE(request->urls[2].find("/one.jpg?"), std::string::npos);
  EXPECT_NE(request->urls[3].find("/two.png?"), std::string::npos);
  EXPECT_EQ(request->size, 256);
  EXPECT_EQ(request->crop, "entropy");
  EXPECT_EQ(request->format, "webp");
}

TEST(TransformInputs, DefaultsNoImageAndTooManyImages) {
  discord::Interaction i = fixture("command_transform_guild.json");
  i.data.options.clear();
  auto none = from_command(i);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("at least one image"), std::string::npos);

  std::string links;
  for (int n = 0; n < 21; ++n) links += "https://example.com/" + std::to_string(n) + ".png ";
  i.data.options = {{"urls", discord::OptionType::kString, links, false}};
  auto many = from_command(i);
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error().message, "At most 20 images per transform (got 21).");
  auto fits = from_command(i, 21);
  ASSERT_TRUE(fits) << fits.error().message;
  EXPECT_EQ(fits->size, kDefaultTransformSize);
  EXPECT_EQ(fits->crop, "attention");
  EXPECT_EQ(fits->format, "jpeg");
}

TEST(TransformInputs, AnAttachmentOptionWithoutItsResolvedFileIsRefused) {
  discord::Interaction i = fixture("command_transform_guild.json");
  i.data.resolved.at("attachments").as_object().erase("1180000000000000082");
  auto request = from_command(i);
  ASSERT_FALSE(request);
  EXPECT_NE(request.error().message.find("`image2`"), std::string::npos);
}

TEST(TransformInputs, MenuTakesImageAttachmentsThenEmbedImages) {
  discord::Interaction i = fixture("message_command_transform.json");
  auto request = menu_transform_request(i.data, 20);
  ASSERT_TRUE(request) << request.error().message;
  ASSERT_EQ(request->urls.size(), 2u);
  EXPECT_TRUE(request->urls[0].starts_with("https://cdn.discordapp.com/attachments/"));
  EXPECT_EQ(request->urls[1],
            "https://images-ext-1.discordapp.net/external/abc/https/example.com/"
            "dog.jpg");  // Discord's proxy, not the linked site
  EXPECT_EQ(request->size, kDefaultTransformSize);
}

TEST(TransformInputs, MenuTakesAnEmbedShowingAnAttachmentOnce) {
  discord::Interaction i = fixture("message_command_transform.json");
  json::object& message = i.data.resolved.at("messages").at("1180000000000000070").as_object();
  const json::object& attachment = message.at("attachments").at(0).as_object();
  // A bot's message: its embed shows its own attachment (attachment://cat.png, resolved).
  message["embeds"] =
      json::array{json::object{{"type", "rich"},
                               {"image", json::object{{"url", attachment.at("url")},
                                                      {"proxy_url", attachment.at("proxy_url")}}}}};
  auto request = menu_transform_request(i.data, 20);
  ASSERT_TRUE(request) << request.error().message;
  ASSERT_EQ(request->urls.size(), 1u);
  EXPECT_EQ(request->urls[0], attachment.at("url").as_string());
}

TEST(TransformInputs, MenuOnAMessageWithoutImagesSaysSo) {
  discord::Interaction i = fixture("message_command_transform.json");
  json::object& message = i.data.resolved.at("messages").at("1180000000000000070").as_object();
  json::array& attachments = message.at("attachments").as_array();
  attachments[0].as_object()["content_type"] = "application/pdf";
  message["embeds"] = json::array{json::object{{"type", "rich"}, {"description", "text"}}};
  auto request = menu_transform_request(i.data, 20);
  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().message, "That message has no images to transform.");

  i.data.target_id = "1180000000000000099";  // not in resolved
  EXPECT_FALSE(menu_transform_request(i.data, 20));
}

}  // namespace
}  // namespace mando::bot::commands
