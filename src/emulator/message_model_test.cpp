#include "emulator/message_model.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace mando::emulator {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

const std::string kPng = std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x20\0\0\0\x10", 24);

class MessageModelTest : public ::testing::Test {
 protected:
  MessageModelTest() { model_.set_public_url("http://127.0.0.1:9", true); }

  InteractionRecord& open(int type = 2) {
    InteractionRecord rec;
    rec.type = type;
    rec.name = "mando";
    rec.user_id = std::string(kDefaultUserId);
    rec.guild_id = std::string(kDefaultGuildId);
    rec.channel_id = std::string(kGuildChannelId);
    return model_.open_interaction(std::move(rec));
  }
  Message& deferred() {
    InteractionRecord& rec = open();
    EXPECT_EQ(model_.apply_response(rec, json::parse(R"({"type":5})"), {}), "");
    return *model_.find_message(rec.original_message_id);
  }
  static std::map<int, FormPart> file(int n, std::string name) {
    std::map<int, FormPart> files;
    files[n] = FormPart{"files[" + std::to_string(n) + "]", name, "", kPng};
    return files;
  }

  MessageModel model_{"1180000000000000001", std::chrono::seconds(60)};
};

TEST_F(MessageModelTest, InteractionsGetSnowflakesTokensAndExpire) {
  InteractionRecord& rec = open();
  EXPECT_TRUE(is_snowflake(rec.id));
  EXPECT_GE(rec.token.size(), 60u);
  EXPECT_TRUE(rec.in_flight);
  EXPECT_TRUE(model_.token_in_flight(rec.token));
  RestError error;
  EXPECT_EQ(model_.token_interaction("1180000000000000001", rec.token, Steady::now(), error), &rec);
  EXPECT_EQ(model_.token_interaction("42", rec.token, Steady::now(), error), nullptr);
  EXPECT_EQ(error.code, 10015);
  EXPECT_EQ(model_.token_interaction("1180000000000000001", rec.token, Steady::now() + 61s, error),
            nullptr);
  EXPECT_EQ(error.code, 50027);
  EXPECT_NE(open().id, rec.id);
}

TEST_F(MessageModelTest, ResponsesFollowDiscordsRules) {
  InteractionRecord& command = open();
  EXPECT_NE(model_.apply_response(command, json::parse(R"({"type":6})"), {}), "");
  EXPECT_NE(model_.apply_response(command, json::parse(R"({"type":1})"), {}), "");
  EXPECT_NE(model_.apply_response(command, json::parse(R"({"data":{}})"), {}), "");
  EXPECT_NE(model_.apply_response(command, json::parse(R"({"type":4,"data":{}})"), {}), "");
  EXPECT_FALSE(command.acknowledged);
  EXPECT_TRUE(model_.messages_json().empty());  // the invalid type 4 left nothing behind
  EXPECT_EQ(model_.apply_response(command, json::parse(R"({"type":5,"data":{"flags":64}})"), {}),
            "");
  const Message* loading = model_.find_message(command.original_message_id);
  ASSERT_NE(loading, nullptr);
  EXPECT_EQ(loading->flags, kLoadingFlag | kEphemeralFlag);
  EXPECT_EQ(model_.completed(), 0u);
  EXPECT_EQ(model_.stats().at("messages").at("loading").as_int64(), 1);

  InteractionRecord& modal = open();
  EXPECT_NE(model_.apply_response(modal, json::parse(R"({"type":9,"data":{"title":"t"}})"), {}),
            "");
  EXPECT_EQ(
      model_.apply_response(
          modal, json::parse(R"({"type":9,"data":{"custom_id":"m","title":"t","components":[]}})"),
          {}),
      "");
  EXPECT_EQ(modal.modal.at("custom_id").as_string(), "m");
}

TEST_F(MessageModelTest, EditsValidateKeepListedAttachmentsAndComplete) {
  Message& m = deferred();
  auto error = model_.apply_payload(m, json::parse(R"({"content":null})").as_object(), {}, false);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, 50006);  // still empty
  EXPECT_EQ(m.version, 1);
  error = model_.apply_payload(m, json::parse(R"({"embeds":{}})").as_object(), {}, false);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, 50035);

  json::object first{{"embeds", json::parse(R"([{"image":{"url":"attachment://a.png"}}])")}};
  ASSERT_FALSE(model_.apply_payload(m, first, file(0, "a.png"), false));
  EXPECT_EQ(m.version, 2);
  EXPECT_EQ(m.flags & kLoadingFlag, 0);
  ASSERT_TRUE(m.completed_ms);
  json::object shown = model_.message_json(m, false);
  const auto& attachment = shown.at("attachments").at(0).as_object();
  EXPECT_EQ(attachment.at("width").to_number<std::int64_t>(), 32);
  EXPECT_EQ(attachment.at("height").to_number<std::int64_t>(), 16);
  EXPECT_EQ(attachment.at("url").as_string().subview().substr(0, 18), "http://127.0.0.1:9");
  EXPECT_EQ(shown.at("embeds").at(0).at("image").at("url"), attachment.at("url"));
  EXPECT_FALSE(shown.contains("version"));
  ASSERT_NE(model_.attachment(attachment.at("id").as_string()), nullptr);

  // Unlisted old attachments go; new files join by index.
  json::object second{{"attachments", json::array{json::object{{"id", 0}}}}};
  ASSERT_FALSE(model_.apply_payload(m, second, file(0, "b.png"), false));
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(model_.attachment(m.attachments[0])->filename, "b.png");
  json::object unknown{{"attachments", json::array{json::object{{"id", 5}}}}};
  ASSERT_TRUE(model_.apply_payload(m, unknown, {}, false));
}

TEST_F(MessageModelTest, ChangesSinceAnswersEachChangedMessageOnceInChangeOrder) {
  Message& a = deferred();
  Message& b = deferred();
  const std::string a_id = a.id, b_id = b.id;
  Changes all = model_.changes_since(0, 100);
  ASSERT_EQ(all.messages.size(), 2u);
  EXPECT_EQ(all.messages[0].at("id").as_string(), a_id);
  EXPECT_FALSE(all.more);
  EXPECT_FALSE(all.reset);
  const std::uint64_t cursor = all.cursor;
  EXPECT_EQ(model_.changes_since(cursor, 100).messages.size(), 0u);

  // a edited twice, then b deleted: a once (its latest state), then b.
  ASSERT_FALSE(model_.apply_payload(a, json::object{{"content", "1"}}, {}, false));
  ASSERT_FALSE(model_.apply_payload(a, json::object{{"content", "2"}}, {}, false));
  model_.delete_message(b);
  Changes next = model_.changes_since(cursor, 100);
  ASSERT_EQ(next.messages.size(), 2u);
  EXPECT_EQ(next.messages[0].at("content").as_string(), "2");
  EXPECT_EQ(next.messages[1].at("id").as_string(), b_id);
  EXPECT_TRUE(next.messages[1].at("deleted").as_bool());
  EXPECT_EQ(next.cursor, model_.cursor());
  EXPECT_EQ(model_.messages_json().size(), 1u);

  // A limit cuts the answer; the cursor resumes after what was sent.
  Changes one = model_.changes_since(0, 1);
  ASSERT_EQ(one.messages.size(), 1u);
  EXPECT_TRUE(one.more);
  Changes rest = model_.changes_since(one.cursor, 1);
  ASSERT_EQ(rest.messages.size(), 1u);
  EXPECT_FALSE(rest.more);
  EXPECT_NE(rest.messages[0].at("id"), one.messages[0].at("id"));

  Changes ahead = model_.changes_since(model_.cursor() + 10, 100);
  EXPECT_TRUE(ahead.reset);
  EXPECT_EQ(ahead.messages.size(), 2u);
}

TEST_F(MessageModelTest, CommandsKeepTheirIdsAcrossRegistrations) {
  RestError error;
  const auto body = json::parse(R"([{"name":"mando","description":"draw"}])");
  auto first = model_.put_commands(body, error);
  ASSERT_TRUE(first);
  auto second = model_.put_commands(body, error);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->at(0).at("id"), second->at(0).at("id"));
  EXPECT_EQ(model_.command_id("mando"), first->at(0).at("id").as_string());
  EXPECT_FALSE(
      model_.put_commands(json::parse(R"([{"name":"Bad Name","description":"x"}])"), error));
  EXPECT_EQ(error.code, 50035);
  EXPECT_FALSE(model_.put_commands(json::parse(R"([{"name":"nodesc"}])"), error));
  // Menu commands (USER 2, MESSAGE 3) take names with capitals and spaces and no description.
  auto menu = model_.put_commands(
      json::parse(R"([{"name":"Transform images","type":3,"description":""}])"), error);
  ASSERT_TRUE(menu) << error.message;
  EXPECT_EQ(menu->at(0).at("type").as_int64(), 3);
  EXPECT_FALSE(model_.put_commands(
      json::parse(R"([{"name":"Transform images","description":"chat input"}])"), error));
  EXPECT_EQ(model_.commands().size(), 1u);
}

}  // namespace
}  // namespace mando::emulator
