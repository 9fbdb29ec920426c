#include "discord/interaction.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "support/test_data.hpp"

namespace mando::discord {
namespace {

namespace json = boost::json;

std::string fixture(const std::string& name) { return testing::read_test_data("discord/" + name); }

Interaction parse_ok(const std::string& body) {
  auto parsed = parse_interaction(body);
  EXPECT_TRUE(parsed) << parsed.error().message;
  return parsed ? *parsed : Interaction{};
}

std::string parse_error(const std::string& body) {
  auto parsed = parse_interaction(body);
  EXPECT_FALSE(parsed) << body;
  if (parsed) return "";
  EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalidArgument);
  return parsed.error().message;
}

// A minimal guild command interaction whose `data` is `data_json`.
// `extra`: more top-level fields, each with its leading comma.
std::string command_body(const std::string& data_json, int type = 2,
                         const std::string& extra = "") {
  return R"({"id":"10","application_id":"11","type":)" + std::to_string(type) +
         R"(,"token":"tok","version":1,"guild_id":"12","channel_id":"13","locale":"en-US",)"
         R"("member":{"user":{"id":"14","username":"u","global_name":null}},"data":)" +
         data_json + extra + "}";
}

TEST(ParseInteraction, Ping) {
  Interaction i = parse_ok(fixture("ping.json"));
  EXPECT_EQ(i.type, InteractionType::kPing);
  EXPECT_EQ(i.id, "1180000000000000051");
  EXPECT_EQ(i.application_id, "1180000000000000001");
}

TEST(ParseInteraction, PingNeedsOnlyItsType) {
  EXPECT_EQ(parse_ok(R"({"type":1})").type, InteractionType::kPing);
}

// The parse builds its tree in a short-lived arena; data.resolved is kept, so it must be a copy
// on the heap (ASan reports a read of the arena otherwise), also for a body past the arena.
TEST(ParseInteraction, ResolvedIsCopiedOutOfTheParse) {
  for (int users : {1, 200}) {
    std::string entries;
    for (int n = 0; n < users; ++n) {
      const std::string id = std::to_string(1000 + n);
      entries += (n == 0 ? "" : ",") + ("\"" + id + R"(":{"id":")" + id + R"(","username":"user)" +
                                        std::to_string(n) + "\"}");
    }
    Interaction i = parse_ok(command_body(
        R"({"id":"20","name":"mando","type":1,"resolved":{"users":{)" + entries + "}}}"));
    EXPECT_EQ(i.data.resolved.storage().get(), json::storage_ptr().get());
    ASSERT_TRUE(i.data.resolved.contains("users"));
    const json::object& parsed = i.data.resolved.at("users").as_object();
    EXPECT_EQ(parsed.size(), static_cast<std::size_t>(users));
    EXPECT_EQ(parsed.at("1000").at("username").as_string(), "user0");
  }
}

TEST(ParseInteraction, GuildCommandTakesUserFromMember) {
  Interaction i = parse_ok(fixture("command_mando_guild.json"));
  EXPECT_EQ(i.type, InteractionType::kApplicationCommand);
  EXPECT_EQ(i.id, "1180000000000000050");
  EXPECT_EQ(i.application_id, "1180000000000000001");
  EXPECT_EQ(i.token, "aW50ZXJhY3Rpb246MTE4MDAwMDAwMDAwMDAwMDA1MDpGQUtFVE9LRU5GT1JURVNUSU5HT05MWQ");
  EXPECT_EQ(i.version, 1);
  EXPECT_EQ(i.guild_id, "1180000000000000020");
  EXPECT_EQ(i.channel_id, "1180000000000000030");
  EXPECT_EQ(i.user.id, "1180000000000000060");
  EXPECT_EQ(i.user.username, "tester");
  EXPECT_EQ(i.user.global_name, "Tester");
  EXPECT_EQ(i.locale, "en-US");
  EXPECT_EQ(i.guild_locale, "en-US");
  EXPECT_EQ(i.data.id, "1180000000000000040");
  EXPECT_EQ(i.data.name, "mando");
  EXPECT_EQ(i.data.type, 1);
  EXPECT_TRUE(i.data.subcommand.empty());
  ASSERT_EQ(i.data.options.size(), 3u);
  EXPECT_EQ(i.data.options[0].name, "symmetry");
  EXPECT_EQ(i.data.options[0].type, OptionType::kInteger);
  EXPECT_EQ(i.data.options[0].value, OptionValue(std::int64_t{12}));
  EXPECT_EQ(i.data.options[1].name, "palette");
  EXPECT_EQ(i.data.options[1].value, OptionValue(std::string("twilight")));
  EXPECT_EQ(i.data.options[2].value, OptionValue(std::int64_t{4242}));
  EXPECT_FALSE(i.data.options[0].focused);
  EXPECT_FALSE(i.channel_nsfw);
  EXPECT_EQ(i.app_permissions, 562949953601536u);
  EXPECT_TRUE(i.guild_install);
  EXPECT_FALSE(parse_ok(fixture("command_mando_dm_user_install.json")).guild_install);
}

TEST(ParseInteraction, ReadsWhetherTheChannelIsAgeRestricted) {
  std::string body = fixture("command_mando_guild.json");
  const auto at = body.find(R"("nsfw":false)");
  ASSERT_NE(at, std::string::npos);
  EXPECT_TRUE(parse_ok(std::string(body).replace(at, 12, R"("nsfw":true)")).channel_nsfw);
  EXPECT_FALSE(parse_interaction(std::string(body).replace(at, 12, R"("nsfw":"yes")")));
}

TEST(ParseInteraction, DmCommandTakesTopLevelUser) {
  Interaction i = parse_ok(fixture("command_mando_dm_user_install.json"));
  EXPECT_EQ(i.type, InteractionType::kApplicationCommand);
  EXPECT_FALSE(i.guild_id);
  EXPECT_EQ(i.channel_id, "1180000000000000031");
  EXPECT_EQ(i.user.id, "1180000000000000060");
  EXPECT_EQ(i.user.username, "tester");
  EXPECT_EQ(i.locale, "de");
  ASSERT_EQ(i.data.options.size(), 1u);
  EXPECT_EQ(i.data.options[0].name, "style");
  EXPECT_EQ(i.data.options[0].value, OptionValue(std::string("bezier_fill")));
  EXPECT_EQ(i.attachment_size_limit, 10485760u);
  EXPECT_FALSE(parse_ok(fixture("command_mando_guild.json")).attachment_size_limit)
      << "absent: unknown, not zero";
}

TEST(ParseInteraction, CommandWithoutOptions) {
  Interaction i = parse_ok(fixture("command_no_options.json"));
  EXPECT_EQ(i.data.name, "about");
  EXPECT_TRUE(i.data.options.empty());
  EXPECT_TRUE(i.data.subcommand.empty());
}

TEST(ParseInteraction, ComponentButton) {
  Interaction i = parse_ok(fixture("component_button.json"));
  EXPECT_EQ(i.type, InteractionType::kMessageComponent);
  EXPECT_EQ(i.data.custom_id, "mando:reroll:4242");
  EXPECT_EQ(i.data.component_type, 2);
  EXPECT_TRUE(i.data.values.empty());
  EXPECT_EQ(i.message_id, "1180000000000000080");
  EXPECT_EQ(i.user.id, "1180000000000000060");
}

TEST(ParseInteraction, SelectMenuValues) {
  Interaction i =
      parse_ok(command_body(R"({"custom_id":"pick","component_type":3,"values":["a","b"]})", 3));
  EXPECT_EQ(i.data.component_type, 3);
  EXPECT_EQ(i.data.values, (std::vector<std::string>{"a", "b"}));
  EXPECT_NE(parse_error(command_body(R"({"custom_id":"pick","component_type":3,"values":[1]})", 3))
                .find("`data.values[0]` must be a string"),
            std::string::npos);
}

TEST(ParseInteraction, Autocomplete) {
  Interaction i = parse_ok(fixture("autocomplete.json"));
  EXPECT_EQ(i.type, InteractionType::kAutocomplete);
  EXPECT_EQ(i.data.name, "mando");
  ASSERT_EQ(i.data.options.size(), 1u);
  EXPECT_EQ(i.data.options[0].name, "palette");
  EXPECT_EQ(i.data.options[0].value, OptionValue(std::string("twi")));
  EXPECT_TRUE(i.data.options[0].focused);
}

TEST(ParseInteraction, ModalSubmit) {
  Interaction i = parse_ok(fixture("modal_submit.json"));
  EXPECT_EQ(i.type, InteractionType::kModalSubmit);
  EXPECT_EQ(i.data.custom_id, "mando:custom");
  ASSERT_EQ(i.data.modal_values.size(), 2u);
  EXPECT_EQ(i.data.modal_values.at("layers"), "3");
  EXPECT_EQ(i.data.modal_values.at("colors"), "#112233,#aabbcc");
}

TEST(ParseInteraction, ModalLabelComponents) {
  Interaction i = parse_ok(command_body(
      R"({"custom_id":"m","components":[{"type":18,"component":{"type":4,"custom_id":"a","value":"x"}}]})",
      5));
  EXPECT_EQ(i.data.modal_values.at("a"), "x");
}

TEST(ParseInteraction, FlattensSubcommandGroups) {
  Interaction i = parse_ok(command_body(
      R"({"id":"1","name":"admin","type":1,"options":[{"name":"queue","type":2,"options":[
           {"name":"purge","type":1,"options":[{"name":"older-than","type":4,"value":7},
                                              {"name":"force","type":5,"value":true}]}]}]})"));
  EXPECT_EQ(i.data.subcommand, (std::vector<std::string>{"queue", "purge"}));
  ASSERT_EQ(i.data.options.size(), 2u);
  EXPECT_EQ(i.data.options[0].name, "older-than");
  EXPECT_EQ(i.data.options[0].value, OptionValue(std::int64_t{7}));
  EXPECT_EQ(i.data.options[1].value, OptionValue(true));
}

TEST(ParseInteraction, FlattensSubcommandWithoutOptions) {
  Interaction i =
      parse_ok(command_body(R"({"id":"1","name":"admin","options":[{"name":"stats","type":1}]})"));
  EXPECT_EQ(i.data.subcommand, (std::vector<std::string>{"stats"}));
  EXPECT_TRUE(i.data.options.empty());
}

TEST(ParseInteraction, RefusesImpossibleSubcommandNesting) {
  // Two subcommands at once.
  EXPECT_NE(
      parse_error(
          command_body(
              R"({"id":"1","name":"a","options":[{"name":"x","type":1},{"name":"y","type":1}]})"))
          .find("exactly one subcommand"),
      std::string::npos);
  // A leaf option directly inside a group.
  EXPECT_NE(
      parse_error(
          command_body(
              R"({"id":"1","name":"a","options":[{"name":"g","type":2,"options":[{"name":"v","type":3,"value":"x"}]}]})"))
          .find("`data.options[0].options[0].type`"),
      std::string::npos);
  // A subcommand inside a subcommand.
  EXPECT_NE(
      parse_error(
          command_body(
              R"({"id":"1","name":"a","options":[{"name":"s","type":1,"options":[{"name":"t","type":1}]}]})"))
          .find("`data.options[0].options[0].type`"),
      std::string::npos);
}

TEST(ParseInteraction, NumberValuesArriveAsIntegersOrDoubles) {
  Interaction i = parse_ok(command_body(
      R"({"id":"1","name":"a","options":[{"name":"n","type":10,"value":2},{"name":"m","type":10,"value":0.5},{"name":"i","type":4,"value":-3}]})"));
  EXPECT_EQ(i.data.options[0].value, OptionValue(2.0));
  EXPECT_EQ(i.data.options[1].value, OptionValue(0.5));
  EXPECT_EQ(i.data.options[2].value, OptionValue(std::int64_t{-3}));
}

TEST(ParseInteraction, KeepsValuesOfTheWrongTypeForTheRegistryToJudge) {
  Interaction i = parse_ok(command_body(
      R"({"id":"1","name":"a","options":[{"name":"n","type":4,"value":"twelve"},{"name":"m","type":4}]})"));
  EXPECT_EQ(i.data.options[0].value, OptionValue(std::string("twelve")));
  EXPECT_EQ(i.data.options[1].value, OptionValue());
}

TEST(ParseInteraction, IgnoresUnknownFields) {
  Interaction i = parse_ok(command_body(
      R"({"id":"1","name":"a","future":{"x":[1,2,3]},"options":[{"name":"n","type":3,"value":"v","new":1}]})"));
  EXPECT_EQ(i.data.options.size(), 1u);
}

TEST(ParseInteraction, RefusesMalformedJson) {
  EXPECT_NE(parse_error("{").find("interaction: malformed JSON"), std::string::npos);
  EXPECT_NE(parse_error("").find("malformed JSON"), std::string::npos);
  EXPECT_NE(parse_error("{\"type\":1} trailing").find("malformed JSON"), std::string::npos);
  EXPECT_NE(parse_error(std::string("{\"type\":\"\xff\"}")).find("malformed JSON"),
            std::string::npos);
  EXPECT_EQ(parse_error("[1,2]"), "interaction: body must be a JSON object");
}

TEST(ParseInteraction, RefusesAbsurdNesting) {
  EXPECT_NE(parse_error(std::string(10000, '[')).find("malformed JSON"), std::string::npos);
  // Deep nesting inside a field nobody reads is refused too: the limit is the parser's.
  std::string deep = "{\"type\":2,\"x\":" + std::string(40, '[') + std::string(40, ']') + "}";
  EXPECT_NE(parse_error(deep).find("malformed JSON"), std::string::npos);
}

TEST(ParseInteraction, NamesTheFieldOfTheWrongShape) {
  EXPECT_EQ(parse_error(command_body(R"({"id":"1","name":5})")),
            "interaction: field `data.name` must be a string");
  EXPECT_EQ(parse_error(command_body(R"({"id":"1"})")),
            "interaction: field `data.name` must be a string");
  EXPECT_EQ(
      parse_error(command_body(R"({"id":"1","name":"a"})", 2, R"(,"attachment_size_limit":"big")")),
      "interaction: field `attachment_size_limit` must be an integer");
  EXPECT_EQ(
      parse_error(command_body(R"({"id":"1","name":"a"})", 2, R"(,"attachment_size_limit":-1)")),
      "interaction: field `attachment_size_limit` must not be negative");
  EXPECT_EQ(parse_error(command_body(R"({"id":1,"name":"a"})")),
            "interaction: field `data.id` must be a snowflake (a string of digits)");
  EXPECT_EQ(parse_error(R"({"id":"1"})"),
            "interaction: field `type` must be an interaction type (1-5)");
  EXPECT_EQ(parse_error(R"({"type":99})"),
            "interaction: field `type` must be an interaction type (1-5)");
  EXPECT_EQ(parse_error(command_body(R"("x")")), "interaction: field `data` must be an object");
  EXPECT_EQ(parse_error(command_body(R"({"id":"1","name":"a","options":{}})")),
            "interaction: field `data.options` must be an array");
  EXPECT_EQ(parse_error(command_body(
                R"({"id":"1","name":"a","options":[{"name":"x","type":3,"value":{}}]})")),
            "interaction: field `data.options[0].value` must be a string, a number or a boolean");
  EXPECT_EQ(
      parse_error(command_body(R"({"id":"1","name":"a","options":[{"name":"x","type":12}]})")),
      "interaction: field `data.options[0].type` must be an option type (1-11)");
  EXPECT_EQ(
      parse_error(command_body(
          R"({"id":"1","name":"a","options":[{"name":"x","type":3,"value":"v","focused":"yes"}]})")),
      "interaction: field `data.options[0].focused` must be a boolean");
  EXPECT_EQ(parse_error(command_body(R"({"component_type":2})", 3)),
            "interaction: field `data.custom_id` must be a string");
  EXPECT_EQ(
      parse_error(command_body(
          R"({"custom_id":"m","components":[{"components":[{"custom_id":"a","value":3}]}]})", 5)),
      "interaction: field `data.components[0].components[0].value` must be a string");
}

TEST(ParseInteraction, RequiresTheFieldsItUses) {
  const std::string data = R"("data":{"id":"1","name":"a"})";
  const std::string user = R"("user":{"id":"14","username":"u"})";
  EXPECT_EQ(parse_error(R"({"type":2,"application_id":"1","token":"t",)" + user + "," + data + "}"),
            "interaction: field `id` must be a snowflake (a string of digits)");
  EXPECT_EQ(parse_error(R"({"type":2,"id":"1","application_id":"1",)" + user + "," + data + "}"),
            "interaction: field `token` must be a string");
  EXPECT_EQ(parse_error(R"({"type":2,"id":"1","application_id":"1","token":"t",)" + data + "}"),
            "interaction: field `member.user` (in a guild) or `user` (in a DM) must be an object");
  EXPECT_EQ(parse_error(R"({"type":2,"id":"1","application_id":"1","token":"t","member":{},)" +
                        data + "}"),
            "interaction: field `member.user` must be an object");
  EXPECT_EQ(
      parse_error(
          R"({"type":2,"id":"1","application_id":"1","token":"t","user":{"id":"x","username":"u"},)" +
          data + "}"),
      "interaction: field `user.id` must be a snowflake (a string of digits)");
  EXPECT_EQ(parse_error(R"({"type":2,"id":"1","application_id":"1","token":"t",)" + user + "}"),
            "interaction: field `data` must be an object");
}

TEST(ParseInteraction, HugeNumbersDoNotCrash) {
  auto parsed = parse_interaction(command_body(
      R"({"id":"1","name":"a","options":[{"name":"a","type":4,"value":1e999},{"name":"b","type":4,"value":18446744073709551615}]})"));
  if (parsed) {
    EXPECT_FALSE(std::holds_alternative<std::int64_t>(parsed->data.options[1].value));
  }
}

// ---------------------------------------------------------------------------------------------
// Responses

json::value json_of(const InteractionResponse& r) { return json::parse(r.to_json()); }

TEST(InteractionResponse, Pong) {
  EXPECT_EQ(InteractionResponse::pong().to_json(), R"({"type":1})");
}

TEST(InteractionResponse, MessageAndEphemeral) {
  EXPECT_EQ(json_of(InteractionResponse::message("hi")),
            json::parse(R"({"type":4,"data":{"content":"hi","allowed_mentions":{"parse":[]}}})"));
  auto e = InteractionResponse::ephemeral("secret");
  EXPECT_TRUE(e.is_ephemeral());
  EXPECT_EQ(e.content(), "secret");
  EXPECT_EQ(
      json_of(e),
      json::parse(
          R"({"type":4,"data":{"content":"secret","allowed_mentions":{"parse":[]},"flags":64}})"));
  EXPECT_FALSE(InteractionResponse::message("x").is_ephemeral());
}

TEST(InteractionResponse, Deferred) {
  EXPECT_EQ(InteractionResponse::deferred().to_json(), R"({"type":5})");
  EXPECT_EQ(json_of(InteractionResponse::deferred(true)),
            json::parse(R"({"type":5,"data":{"flags":64}})"));
  EXPECT_EQ(InteractionResponse::deferred_update().to_json(), R"({"type":6})");
  EXPECT_EQ(json_of(InteractionResponse::update("new")).at("type"), 7);
}

TEST(InteractionResponse, AutocompleteAndModal) {
  auto r = InteractionResponse::autocomplete(
      {{"Twilight", std::string("twilight")}, {"Three", std::int64_t{3}}, {"Half", 0.5}});
  EXPECT_EQ(
      json_of(r),
      json::parse(
          R"({"type":8,"data":{"choices":[{"name":"Twilight","value":"twilight"},{"name":"Three","value":3},{"name":"Half","value":0.5}]}})"));
  EXPECT_EQ(json_of(InteractionResponse::autocomplete({})),
            json::parse(R"({"type":8,"data":{"choices":[]}})"));
  auto m =
      InteractionResponse::modal("mando:custom", "Custom", json::array{json::object{{"type", 1}}});
  EXPECT_EQ(
      json_of(m),
      json::parse(
          R"({"type":9,"data":{"custom_id":"mando:custom","title":"Custom","components":[{"type":1}]}})"));
}

TEST(InteractionResponse, EscapeHatchDataIsSentAsIs) {
  auto r = InteractionResponse::message("look");
  r.data["embeds"] = json::array{json::object{{"title", "Mandala"}}};
  EXPECT_EQ(json_of(r).at("data").at("embeds").at(0).at("title"), "Mandala");
}

}  // namespace
}  // namespace mando::discord
