#include "discord/command_registry.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "support/test_data.hpp"

namespace mando::discord {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// Runs a coroutine to completion on a local io_context.
template <typename T>
T run(asio::awaitable<T> work) {
  asio::io_context ioc;
  auto future = asio::co_spawn(ioc, std::move(work), asio::use_future);
  ioc.run();
  return future.get();
}

InteractionOption opt(std::string name, OptionType type, OptionValue value, bool focused = false) {
  return InteractionOption{std::move(name), type, std::move(value), focused};
}

Interaction command(std::string name, std::vector<InteractionOption> options = {},
                    std::vector<std::string> subcommand = {}) {
  Interaction i;
  i.id = "100";
  i.application_id = "101";
  i.type = InteractionType::kApplicationCommand;
  i.token = "secret-token";
  i.user = User{"102", "tester", std::nullopt};
  i.data.id = "103";
  i.data.name = std::move(name);
  i.data.options = std::move(options);
  i.data.subcommand = std::move(subcommand);
  return i;
}

Interaction component(std::string custom_id,
                      InteractionType type = InteractionType::kMessageComponent) {
  Interaction i = command("");
  i.type = type;
  i.data.custom_id = std::move(custom_id);
  i.data.component_type = 2;
  return i;
}

// Records the context the handler saw and answers with a fixed message.
struct Seen {
  std::optional<CommandContext> command;
  std::optional<AutocompleteContext> autocomplete;
};

// A command shaped like /mando, with one option of each kind of constraint.
CommandSpec mando_spec(std::shared_ptr<Seen> seen) {
  CommandSpec spec;
  spec.name = "mando";
  spec.description = "Draw a unique mandala";
  spec.options = {
      {.name = "style",
       .description = "Drawing style",
       .type = OptionType::kString,
       .required = true,
       .choices = {{"Bezier fill", std::string("bezier_fill")}, {"Lines", std::string("lines")}}},
      {.name = "symmetry",
       .description = "Rotational symmetry",
       .type = OptionType::kInteger,
       .min_value = 3,
       .max_value = 32},
      {.name = "seed", .description = "Random seed", .type = OptionType::kInteger},
      {.name = "scale",
       .description = "Scale",
       .type = OptionType::kNumber,
       .min_value = 0.5,
       .max_value = 2},
      {.name = "title",
       .description = "Caption",
       .type = OptionType::kString,
       .min_length = 2,
       .max_length = 10},
      {.name = "palette",
       .description = "Colour palette",
       .type = OptionType::kString,
       .autocomplete = true},
      {.name = "layers",
       .description = "Layers",
       .type = OptionType::kInteger,
       .choices = {{"Few", std::int64_t{2}}, {"Many", std::int64_t{8}}}},
      {.name = "public", .description = "Show to everyone", .type = OptionType::kBoolean},
      {.name = "friend", .description = "Dedicate to", .type = OptionType::kUser},
  };
  spec.handler = [seen](CommandContext ctx) -> asio::awaitable<InteractionResponse> {
    seen->command = ctx;
    co_return InteractionResponse::deferred();
  };
  spec.autocomplete = [seen](AutocompleteContext ctx) -> asio::awaitable<std::vector<Choice>> {
    seen->autocomplete = ctx;
    std::vector<Choice> choices;
    for (int i = 0; i < 30; ++i) {
      choices.push_back({"palette " + std::to_string(i), "p" + std::to_string(i)});
    }
    co_return choices;
  };
  return spec;
}

CommandHandler answer(std::string text) {
  return [text](CommandContext) -> asio::awaitable<InteractionResponse> {
    co_return InteractionResponse::message(text);
  };
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto added = registry_.add(mando_spec(seen_));
    ASSERT_TRUE(added) << added.error().message;
  }

  InteractionResponse dispatch(Interaction i) { return run(registry_.dispatch(std::move(i))); }

  // Dispatches /mando with `options` plus the required style, expecting an ephemeral refusal.
  std::string refusal(std::vector<InteractionOption> options, bool add_style = true) {
    if (add_style)
      options.insert(options.begin(), opt("style", OptionType::kString, std::string("lines")));
    seen_->command.reset();
    auto r = dispatch(command("mando", std::move(options)));
    EXPECT_EQ(r.type, ResponseType::kChannelMessageWithSource);
    EXPECT_TRUE(r.is_ephemeral());
    EXPECT_FALSE(seen_->command) << "the handler ran";
    return std::string(r.content());
  }

  std::shared_ptr<Seen> seen_ = std::make_shared<Seen>();
  CommandRegistry registry_;
};

TEST_F(RegistryTest, RunsTheHandlerWithTypedOptions) {
  auto r = dispatch(command(
      "mando", {opt("style", OptionType::kString, std::string("bezier_fill")),
                opt("symmetry", OptionType::kInteger, std::int64_t{12}),
                opt("scale", OptionType::kNumber, 1.5), opt("public", OptionType::kBoolean, true),
                opt("title", OptionType::kString, std::string("héllo")),
                opt("friend", OptionType::kUser, std::string("4242"))}));
  EXPECT_EQ(r.type, ResponseType::kDeferredChannelMessageWithSource);
  ASSERT_TRUE(seen_->command);
  const CommandContext& ctx = *seen_->command;
  EXPECT_EQ(ctx.interaction.id, "100");
  EXPECT_EQ(ctx.get_string("style"), "bezier_fill");
  EXPECT_EQ(ctx.get_int("symmetry"), 12);
  EXPECT_EQ(ctx.get_int("seed"), std::nullopt);
  EXPECT_EQ(ctx.get_int("seed", 7), 7);
  EXPECT_EQ(ctx.get_int("style"), std::nullopt);  // a string, not an integer
  EXPECT_EQ(ctx.get_number("scale"), 1.5);
  EXPECT_EQ(ctx.get_number("symmetry"), 12.0);  // integers read as numbers
  EXPECT_EQ(ctx.get_number("missing", 0.25), 0.25);
  EXPECT_EQ(ctx.get_bool("public"), true);
  EXPECT_EQ(ctx.get_bool("missing", false), false);
  EXPECT_EQ(ctx.get_string("missing", "x"), "x");
  EXPECT_EQ(ctx.get_string("friend"), "4242");
  EXPECT_TRUE(ctx.options().has("title"));
  EXPECT_FALSE(ctx.options().has("palette"));
}

TEST_F(RegistryTest, UnknownCommandIsAnEphemeralReply) {
  auto r = dispatch(command("foo"));
  EXPECT_EQ(r.type, ResponseType::kChannelMessageWithSource);
  EXPECT_TRUE(r.is_ephemeral());
  EXPECT_EQ(r.content(), "Unknown command `/foo`.");
}

TEST_F(RegistryTest, RefusesOutOfRangeNumbers) {
  EXPECT_EQ(refusal({opt("symmetry", OptionType::kInteger, std::int64_t{40})}),
            "Option `symmetry` must be between 3 and 32 (got 40).");
  EXPECT_EQ(refusal({opt("symmetry", OptionType::kInteger, std::int64_t{2})}),
            "Option `symmetry` must be between 3 and 32 (got 2).");
  EXPECT_EQ(refusal({opt("scale", OptionType::kNumber, 2.5)}),
            "Option `scale` must be between 0.5 and 2 (got 2.5).");
}

TEST_F(RegistryTest, AcceptsBoundaryValues) {
  for (std::int64_t v : {3, 32}) {
    dispatch(command("mando", {opt("style", OptionType::kString, std::string("lines")),
                               opt("symmetry", OptionType::kInteger, v)}));
    EXPECT_TRUE(seen_->command) << v;
    seen_->command.reset();
  }
}

TEST_F(RegistryTest, RefusesValuesOfTheWrongType) {
  EXPECT_EQ(refusal({opt("symmetry", OptionType::kInteger, std::string("twelve"))}),
            "Option `symmetry` must be a whole number (got `twelve`).");
  EXPECT_EQ(refusal({opt("symmetry", OptionType::kInteger, 12.5)}),
            "Option `symmetry` must be a whole number (got 12.5).");
  EXPECT_EQ(refusal({opt("symmetry", OptionType::kString, std::string("12"))}),
            "Option `symmetry` must be a whole number (got `12`).");
  EXPECT_EQ(refusal({opt("public", OptionType::kBoolean, std::int64_t{1})}),
            "Option `public` must be true or false (got 1).");
  EXPECT_EQ(refusal({opt("scale", OptionType::kNumber, std::numeric_limits<double>::infinity())}),
            "Option `scale` must be a number (got inf).");
  EXPECT_EQ(refusal({opt("friend", OptionType::kUser, std::string("@everyone"))}),
            "Option `friend` must be a user (got `@everyone`).");
  EXPECT_EQ(refusal({opt("seed", OptionType::kInteger, OptionValue())}),
            "Option `seed` must be a whole number (got nothing).");
}

TEST_F(RegistryTest, RefusesValuesNotAmongTheChoices) {
  EXPECT_EQ(refusal({opt("style", OptionType::kString, std::string("neon"))}, false),
            "Option `style` must be one of `bezier_fill`, `lines` (got `neon`).");
  EXPECT_EQ(refusal({opt("layers", OptionType::kInteger, std::int64_t{3})}),
            "Option `layers` must be one of 2, 8 (got 3).");
  dispatch(command("mando", {opt("style", OptionType::kString, std::string("lines")),
                             opt("layers", OptionType::kInteger, std::int64_t{8})}));
  EXPECT_TRUE(seen_->command);
}

TEST_F(RegistryTest, RefusesStringsOfTheWrongLength) {
  EXPECT_EQ(refusal({opt("title", OptionType::kString, std::string("x"))}),
            "Option `title` must be 2 to 10 characters long (got 1).");
  EXPECT_EQ(refusal({opt("title", OptionType::kString, std::string("abcdefghijk"))}),
            "Option `title` must be 2 to 10 characters long (got 11).");
  // Characters, not bytes: ten two-byte characters fit.
  dispatch(command("mando", {opt("style", OptionType::kString, std::string("lines")),
                             opt("title", OptionType::kString, std::string("éééééééééé"))}));
  EXPECT_TRUE(seen_->command);
}

TEST_F(RegistryTest, RefusesMissingRequiredUnknownAndRepeatedOptions) {
  EXPECT_EQ(refusal({}, false), "Option `style` is required.");
  EXPECT_EQ(refusal({opt("colour", OptionType::kString, std::string("red"))}),
            "Unknown option `colour` for `/mando`.");
  EXPECT_EQ(refusal({opt("seed", OptionType::kInteger, std::int64_t{1}),
                     opt("seed", OptionType::kInteger, std::int64_t{2})}),
            "Option `seed` was given more than once.");
}

TEST_F(RegistryTest, QuotesHostileValuesSafely) {
  auto text = refusal(
      {opt("style", OptionType::kString, std::string("`@everyone`\n") + std::string(200, 'x'))},
      false);
  EXPECT_EQ(text.find("`@everyone`"), std::string::npos) << text;
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  EXPECT_LT(text.size(), 200u) << text;
}

TEST_F(RegistryTest, HandlerExceptionsBecomeAnEphemeralReply) {
  CommandSpec spec;
  spec.name = "boom";
  spec.description = "Throws";
  spec.handler = [](CommandContext) -> asio::awaitable<InteractionResponse> {
    throw std::runtime_error("kaput");
    co_return InteractionResponse::message("unreachable");
  };
  ASSERT_TRUE(registry_.add(std::move(spec)));
  auto r = dispatch(command("boom"));
  EXPECT_TRUE(r.is_ephemeral());
  EXPECT_NE(r.content().find("Something went wrong"), std::string_view::npos);
}

TEST_F(RegistryTest, AutocompleteReturnsAtMost25Choices) {
  Interaction i = command("mando", {opt("style", OptionType::kString, std::string("lines")),
                                    opt("palette", OptionType::kString, std::string("twi"), true)});
  i.type = InteractionType::kAutocomplete;
  auto r = dispatch(std::move(i));
  EXPECT_EQ(r.type, ResponseType::kApplicationCommandAutocompleteResult);
  ASSERT_TRUE(r.data.at("choices").is_array());
  EXPECT_EQ(r.data.at("choices").as_array().size(), 25u);
  EXPECT_EQ(r.data.at("choices").as_array()[0],
            json::parse(R"({"name":"palette 0","value":"p0"})"));
  ASSERT_TRUE(seen_->autocomplete);
  EXPECT_EQ(seen_->autocomplete->focused, "palette");
  EXPECT_EQ(seen_->autocomplete->partial, "twi");
  EXPECT_EQ(seen_->autocomplete->options().get_string("style"), "lines");
  EXPECT_FALSE(seen_->command);
}

TEST_F(RegistryTest, AutocompleteFixture) {
  auto i = parse_interaction(testing::read_test_data("discord/autocomplete.json"));
  ASSERT_TRUE(i) << i.error().message;
  auto r = dispatch(std::move(*i));
  EXPECT_EQ(r.type, ResponseType::kApplicationCommandAutocompleteResult);
  EXPECT_EQ(r.data.at("choices").as_array().size(), 25u);
}

// A message menu command ("Apps" > "Transform images") beside a slash command of another
// type: routed by name and type, with the target message in data.resolved.
TEST_F(RegistryTest, MessageCommandIsRoutedByTypeWithItsTarget) {
  auto seen = std::make_shared<std::optional<CommandContext>>();
  CommandSpec menu;
  menu.type = CommandType::kMessage;
  menu.name = "Transform images";
  menu.handler = [seen](CommandContext ctx) -> asio::awaitable<InteractionResponse> {
    *seen = ctx;
    co_return InteractionResponse::deferred();
  };
  auto added = registry_.add(menu);
  ASSERT_TRUE(added) << added.error().message;
  menu.name = "mando";  // the same name as the slash command: another command
  ASSERT_TRUE(registry_.add(menu));
  EXPECT_FALSE(registry_.add(menu)) << "a second message command of the same name";

  auto i = parse_interaction(testing::read_test_data("discord/message_command_transform.json"));
  ASSERT_TRUE(i) << i.error().message;
  EXPECT_EQ(i->data.type, 3);
  EXPECT_EQ(i->data.target_id, "1180000000000000070");
  auto r = dispatch(std::move(*i));
  EXPECT_EQ(r.type, ResponseType::kDeferredChannelMessageWithSource);
  ASSERT_TRUE(seen->has_value());
  const auto& messages = (*seen)->interaction.data.resolved.at("messages").as_object();
  EXPECT_TRUE(messages.contains("1180000000000000070"));

  // A slash command interaction named like a menu command does not reach it.
  seen->reset();
  auto slash = dispatch(command("Transform images"));
  EXPECT_TRUE(slash.is_ephemeral());
  EXPECT_FALSE(seen->has_value());

  const json::array listed = registry_.commands_json();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[1].at("type").as_int64(), 3);
  EXPECT_EQ(listed[1].at("name").as_string(), "Transform images");
  EXPECT_EQ(listed[1].at("description").as_string(), "");
  EXPECT_FALSE(listed[1].as_object().contains("options"));
}

TEST(RegistrySpec, MenuCommandsHaveNoDescriptionOrOptionsAndAMenuName) {
  auto handler = [](CommandContext) -> asio::awaitable<InteractionResponse> {
    co_return InteractionResponse::deferred();
  };
  auto refused = [&](CommandSpec spec) {
    spec.handler = handler;
    CommandRegistry registry;
    auto added = registry.add(std::move(spec));
    return added ? std::string() : added.error().message;
  };
  CommandSpec spec{.type = CommandType::kMessage, .name = "Transform images"};
  EXPECT_EQ(refused(spec), "");
  spec.description = "Resize";
  EXPECT_NE(refused(spec).find("no description"), std::string::npos);
  spec.description = "";
  spec.options = {{.name = "size", .description = "Side", .type = OptionType::kInteger}};
  EXPECT_NE(refused(spec).find("no options"), std::string::npos);
  spec.options.clear();
  spec.name = "a name that is far longer than thirty-two characters";
  EXPECT_NE(refused(spec).find("1-32"), std::string::npos);
  spec.name = "two\nlines";
  EXPECT_NE(refused(spec).find("one line"), std::string::npos);
  spec.name = "Transform images";
  spec.type = static_cast<CommandType>(4);
  EXPECT_NE(refused(spec).find("unknown command type 4"), std::string::npos);
}

TEST(ParseMenuInteraction, MessageCommandWithoutTargetIsRefused) {
  auto body = json::parse(testing::read_test_data("discord/message_command_transform.json"));
  body.at("data").as_object().erase("target_id");
  auto parsed = parse_interaction(json::serialize(body));
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("data.target_id"), std::string::npos);
}

TEST_F(RegistryTest, AutocompleteProblemsAnswerNoChoices) {
  for (auto [name, option] :
       {std::pair{"foo", "palette"}, std::pair{"mando", "title"}, std::pair{"mando", "nope"}}) {
    Interaction i = command(name, {opt(option, OptionType::kString, std::string("x"), true)});
    i.type = InteractionType::kAutocomplete;
    auto r = dispatch(std::move(i));
    EXPECT_EQ(r.type, ResponseType::kApplicationCommandAutocompleteResult) << name << option;
    EXPECT_TRUE(r.data.at("choices").as_array().empty()) << name << option;
  }
}

TEST_F(RegistryTest, AutocompleteDropsChoicesDiscordWouldRefuse) {
  CommandSpec spec;
  spec.name = "count";
  spec.description = "Counts";
  spec.options = {
      {.name = "n", .description = "N", .type = OptionType::kInteger, .autocomplete = true}};
  spec.handler = answer("x");
  spec.autocomplete = [](AutocompleteContext ctx) -> asio::awaitable<std::vector<Choice>> {
    EXPECT_EQ(ctx.partial, "12");
    co_return std::vector<Choice>{{"", std::int64_t{1}},
                                  {"wrong type", std::string("2")},
                                  {std::string(150, 'n'), std::int64_t{3}},
                                  {"ok", std::int64_t{4}}};
  };
  ASSERT_TRUE(registry_.add(std::move(spec)));
  Interaction i = command("count", {opt("n", OptionType::kInteger, std::int64_t{12}, true)});
  i.type = InteractionType::kAutocomplete;
  auto r = dispatch(std::move(i));
  const auto& choices = r.data.at("choices").as_array();
  ASSERT_EQ(choices.size(), 2u) << json::serialize(choices);
  EXPECT_EQ(choices[0].at("name").as_string().size(), 100u);
  EXPECT_EQ(choices[1].at("value"), 4);
}

TEST_F(RegistryTest, RoutesComponentsByLongestPrefix) {
  std::vector<std::string> calls;
  auto handler = [&calls](std::string tag) -> ComponentHandler {
    return [&calls, tag](ComponentContext ctx) -> asio::awaitable<InteractionResponse> {
      calls.push_back(tag + "|" + ctx.prefix + "|" + ctx.rest + "|" + ctx.custom_id());
      co_return InteractionResponse::deferred_update();
    };
  };
  ASSERT_TRUE(registry_.add_component_prefix("mando:", handler("short")));
  ASSERT_TRUE(registry_.add_component_prefix("mando:reroll:", handler("long")));
  ASSERT_TRUE(registry_.add_modal_prefix("mando:custom", handler("modal")));

  EXPECT_EQ(dispatch(component("mando:reroll:4242")).type, ResponseType::kDeferredUpdateMessage);
  dispatch(component("mando:vary:7"));
  dispatch(component("mando:custom", InteractionType::kModalSubmit));
  EXPECT_EQ(calls, (std::vector<std::string>{"long|mando:reroll:|4242|mando:reroll:4242",
                                             "short|mando:|vary:7|mando:vary:7",
                                             "modal|mando:custom||mando:custom"}));

  // Component and modal prefixes are separate tables.
  auto unknown_modal = dispatch(component("mando:reroll:1", InteractionType::kModalSubmit));
  EXPECT_TRUE(unknown_modal.is_ephemeral());
  EXPECT_EQ(unknown_modal.content(), "Unknown form `mando:reroll:1`.");
  auto unknown = dispatch(component("other:1"));
  EXPECT_TRUE(unknown.is_ephemeral());
  EXPECT_EQ(unknown.content(), "Unknown component `other:1`.");
  EXPECT_EQ(calls.size(), 3u);
}

TEST_F(RegistryTest, RefusesBadPrefixes) {
  auto noop = [](ComponentContext) -> asio::awaitable<InteractionResponse> {
    co_return InteractionResponse::deferred_update();
  };
  EXPECT_FALSE(registry_.add_component_prefix("", noop));
  EXPECT_FALSE(registry_.add_component_prefix("x:", nullptr));
  ASSERT_TRUE(registry_.add_component_prefix("x:", noop));
  auto again = registry_.add_component_prefix("x:", noop);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kAlreadyExists);
  EXPECT_TRUE(registry_.add_modal_prefix("x:", noop));  // another table
}

TEST_F(RegistryTest, PingIsAPong) {
  Interaction i;
  i.type = InteractionType::kPing;
  EXPECT_EQ(dispatch(std::move(i)).to_json(), R"({"type":1})");
}

TEST_F(RegistryTest, GuildFixtureReachesTheHandler) {
  auto i = parse_interaction(testing::read_test_data("discord/command_mando_dm_user_install.json"));
  ASSERT_TRUE(i) << i.error().message;
  auto r = dispatch(std::move(*i));
  EXPECT_EQ(r.type, ResponseType::kDeferredChannelMessageWithSource) << r.content();
  ASSERT_TRUE(seen_->command);
  EXPECT_EQ(seen_->command->get_string("style"), "bezier_fill");
  EXPECT_EQ(seen_->command->interaction.user.id, "1180000000000000060");
}

// ---------------------------------------------------------------------------------------------
// Subcommands

CommandSpec admin_spec(std::shared_ptr<Seen> seen) {
  CommandSpec spec;
  spec.name = "admin";
  spec.description = "Administration";
  spec.options = {
      {.name = "queue",
       .description = "Queue tools",
       .type = OptionType::kSubCommandGroup,
       .options = {{.name = "purge",
                    .description = "Purge tasks",
                    .type = OptionType::kSubCommand,
                    .options = {{.name = "older-than",
                                 .description = "Days",
                                 .type = OptionType::kInteger,
                                 .required = true,
                                 .min_value = 1}}}}},
      {.name = "stats", .description = "Statistics", .type = OptionType::kSubCommand},
  };
  spec.handler = [seen](CommandContext ctx) -> asio::awaitable<InteractionResponse> {
    seen->command = ctx;
    co_return InteractionResponse::ephemeral("ok");
  };
  return spec;
}

TEST_F(RegistryTest, SubcommandsAreValidatedAgainstTheirOwnOptions) {
  ASSERT_TRUE(registry_.add(admin_spec(seen_)));
  dispatch(command("admin", {opt("older-than", OptionType::kInteger, std::int64_t{3})},
                   {"queue", "purge"}));
  ASSERT_TRUE(seen_->command);
  EXPECT_EQ(seen_->command->subcommand(), (std::vector<std::string>{"queue", "purge"}));
  EXPECT_EQ(seen_->command->get_int("older-than"), 3);
  seen_->command.reset();

  EXPECT_EQ(dispatch(command("admin", {}, {"queue", "purge"})).content(),
            "Option `older-than` is required.");
  EXPECT_EQ(dispatch(command("admin", {opt("older-than", OptionType::kInteger, std::int64_t{0})},
                             {"queue", "purge"}))
                .content(),
            "Option `older-than` must be at least 1 (got 0).");
  EXPECT_EQ(dispatch(command("admin", {}, {"queue", "nope"})).content(),
            "Unknown subcommand `/admin queue nope`.");
  EXPECT_EQ(dispatch(command("admin")).content(), "Command `/admin` needs a subcommand.");
  EXPECT_EQ(dispatch(command("mando", {}, {"x"})).content(), "Unknown subcommand `/mando x`.");
  EXPECT_FALSE(seen_->command);
  dispatch(command("admin", {}, {"stats"}));
  EXPECT_TRUE(seen_->command);
}

// ---------------------------------------------------------------------------------------------
// Spec validation

CommandSpec minimal(std::string name = "ok") {
  CommandSpec spec;
  spec.name = std::move(name);
  spec.description = "A command";
  spec.handler = answer("x");
  return spec;
}

OptionSpec string_option(std::string name, bool required = false) {
  return {.name = std::move(name),
          .description = "An option",
          .type = OptionType::kString,
          .required = required};
}

std::string add_error(CommandSpec spec) {
  CommandRegistry registry;
  auto added = registry.add(std::move(spec));
  EXPECT_FALSE(added);
  if (added) return "";
  EXPECT_EQ(added.error().kind, ErrorKind::kInvalidArgument);
  return added.error().message;
}

TEST(RegistrySpec, AcceptsAValidSpec) {
  CommandRegistry registry;
  auto added = registry.add(mando_spec(std::make_shared<Seen>()));
  EXPECT_TRUE(added) << added.error().message;
  EXPECT_TRUE(registry.add(minimal("a-b_9")));
  EXPECT_TRUE(registry.add(minimal(std::string(32, 'x'))));
  EXPECT_TRUE(registry.add(admin_spec(std::make_shared<Seen>())));
}

TEST(RegistrySpec, RefusesBadNamesAndDescriptions) {
  for (const std::string& name :
       std::vector<std::string>{"", "Mando", "has space", std::string(33, 'x'), "ünï", "a.b"}) {
    EXPECT_NE(add_error(minimal(name)).find("names must be 1-32"), std::string::npos) << name;
  }
  CommandSpec empty = minimal();
  empty.description = "";
  EXPECT_EQ(add_error(empty), "command `ok`: the description must be 1-100 characters");
  CommandSpec long_description = minimal();
  long_description.description = std::string(101, 'd');
  EXPECT_NE(add_error(long_description).find("description"), std::string::npos);
  CommandSpec hundred = minimal();
  hundred.description = std::string(50, 'd') + std::string(50, 'd');
  EXPECT_TRUE(CommandRegistry().add(std::move(hundred)));
  CommandSpec option_name = minimal();
  option_name.options = {string_option("Bad")};
  EXPECT_EQ(add_error(option_name),
            "command `ok`: option `Bad`: names must be 1-32 characters of a-z, 0-9, '-' and '_'");
}

TEST(RegistrySpec, RefusesDuplicatesAndMissingHandlers) {
  CommandRegistry registry;
  ASSERT_TRUE(registry.add(minimal("dup")));
  auto again = registry.add(minimal("dup"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "command `dup`: already registered");
  CommandSpec no_handler = minimal();
  no_handler.handler = nullptr;
  EXPECT_EQ(add_error(no_handler), "command `ok`: no handler");
  CommandSpec dup_option = minimal();
  dup_option.options = {string_option("a"), string_option("a")};
  EXPECT_EQ(add_error(dup_option), "command `ok`: option `a`: duplicate option name");
}

TEST(RegistrySpec, RefusesTooManyOptionsOrChoices) {
  CommandSpec options = minimal();
  for (int i = 0; i < 26; ++i) options.options.push_back(string_option("o" + std::to_string(i)));
  EXPECT_EQ(add_error(options), "command `ok`: at most 25 options (got 26)");
  options.options.pop_back();
  EXPECT_TRUE(CommandRegistry().add(std::move(options)));

  CommandSpec choices = minimal();
  OptionSpec o = string_option("c");
  for (int i = 0; i < 26; ++i)
    o.choices.push_back({"c" + std::to_string(i), "v" + std::to_string(i)});
  choices.options = {o};
  EXPECT_EQ(add_error(choices), "command `ok`: option `c`: at most 25 choices (got 26)");
}

TEST(RegistrySpec, RefusesRequiredAfterOptional) {
  CommandSpec spec = minimal();
  spec.options = {string_option("a"), string_option("b", true)};
  EXPECT_EQ(add_error(spec),
            "command `ok`: option `b`: required options must come before optional ones");
}

TEST(RegistrySpec, RefusesChoicesWithAutocompleteAndAutocompleteWithoutHandler) {
  CommandSpec spec = minimal();
  OptionSpec o = string_option("c");
  o.choices = {{"A", std::string("a")}};
  o.autocomplete = true;
  spec.options = {o};
  spec.autocomplete = [](AutocompleteContext) -> asio::awaitable<std::vector<Choice>> {
    co_return std::vector<Choice>{};
  };
  EXPECT_EQ(add_error(spec),
            "command `ok`: option `c`: choices and autocomplete are mutually exclusive");

  CommandSpec no_handler = minimal();
  OptionSpec a = string_option("a");
  a.autocomplete = true;
  no_handler.options = {a};
  EXPECT_NE(add_error(no_handler).find("no autocomplete handler"), std::string::npos);
}

TEST(RegistrySpec, RefusesConstraintsThatDoNotFitTheType) {
  auto with = [](OptionSpec o) {
    CommandSpec spec = minimal();
    spec.options = {std::move(o)};
    return add_error(std::move(spec));
  };
  EXPECT_NE(with({.name = "n",
                  .description = "d",
                  .type = OptionType::kInteger,
                  .min_value = 5,
                  .max_value = 4})
                .find("min_value 5 is greater than max_value 4"),
            std::string::npos);
  EXPECT_NE(with({.name = "n", .description = "d", .type = OptionType::kInteger, .min_value = 1.5})
                .find("must be integers"),
            std::string::npos);
  EXPECT_NE(with({.name = "n", .description = "d", .type = OptionType::kString, .min_value = 1})
                .find("INTEGER and NUMBER options only"),
            std::string::npos);
  EXPECT_NE(with({.name = "n", .description = "d", .type = OptionType::kInteger, .min_length = 1})
                .find("STRING options only"),
            std::string::npos);
  EXPECT_NE(with({.name = "n", .description = "d", .type = OptionType::kString, .max_length = 6001})
                .find("max_length must be 1-6000"),
            std::string::npos);
  EXPECT_NE(with({.name = "n",
                  .description = "d",
                  .type = OptionType::kString,
                  .min_length = 5,
                  .max_length = 4})
                .find("min_length 5 is greater than max_length 4"),
            std::string::npos);
  EXPECT_NE(with({.name = "n",
                  .description = "d",
                  .type = OptionType::kBoolean,
                  .choices = {{"y", std::string("y")}}})
                .find("choices apply to STRING, INTEGER and NUMBER"),
            std::string::npos);
  EXPECT_NE(with({.name = "n",
                  .description = "d",
                  .type = OptionType::kInteger,
                  .choices = {{"y", std::string("y")}}})
                .find("does not fit a INTEGER option"),
            std::string::npos);
  EXPECT_NE(with({.name = "n",
                  .description = "d",
                  .type = OptionType::kString,
                  .choices = {{"", std::string("y")}}})
                .find("choice names must be 1-100"),
            std::string::npos);
  EXPECT_NE(with({.name = "n",
                  .description = "d",
                  .type = OptionType::kNumber,
                  .min_value = std::numeric_limits<double>::quiet_NaN()})
                .find("finite"),
            std::string::npos);
}

TEST(RegistrySpec, RefusesImpossibleSubcommandShapes) {
  CommandSpec mixed = minimal();
  mixed.options = {{.name = "s", .description = "d", .type = OptionType::kSubCommand},
                   string_option("x")};
  EXPECT_NE(add_error(mixed).find("cannot be mixed"), std::string::npos);
  CommandSpec nested = minimal();
  nested.options = {
      {.name = "s",
       .description = "d",
       .type = OptionType::kSubCommand,
       .options = {{.name = "t", .description = "d", .type = OptionType::kSubCommand}}}};
  EXPECT_EQ(add_error(nested),
            "command `ok`: option `s`: option `t`: a subcommand cannot hold subcommands or groups");
  CommandSpec leaf_in_group = minimal();
  leaf_in_group.options = {{.name = "g",
                            .description = "d",
                            .type = OptionType::kSubCommandGroup,
                            .options = {string_option("x")}}};
  EXPECT_NE(add_error(leaf_in_group).find("may only hold subcommands"), std::string::npos);
  CommandSpec required_sub = minimal();
  required_sub.options = {
      {.name = "s", .description = "d", .type = OptionType::kSubCommand, .required = true}};
  EXPECT_NE(add_error(required_sub).find("subcommands and groups take no"), std::string::npos);
  CommandSpec leaf_with_options = minimal();
  OptionSpec leaf = string_option("x");
  leaf.options = {string_option("y")};
  leaf_with_options.options = {leaf};
  EXPECT_NE(add_error(leaf_with_options).find("only subcommands and groups hold options"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// commands_json

TEST(RegistryJson, ProducesTheBulkOverwriteBody) {
  CommandRegistry registry;
  ASSERT_TRUE(registry.add(mando_spec(std::make_shared<Seen>())));
  CommandSpec about = minimal("about");
  about.description = "About mando";
  about.integration_types = {0, 1};
  about.contexts = {0, 1, 2};
  ASSERT_TRUE(registry.add(std::move(about)));
  ASSERT_TRUE(registry.add(admin_spec(std::make_shared<Seen>())));

  const json::value expected = json::parse(R"([
    {"name":"mando","description":"Draw a unique mandala","type":1,"options":[
      {"type":3,"name":"style","description":"Drawing style","required":true,
       "choices":[{"name":"Bezier fill","value":"bezier_fill"},{"name":"Lines","value":"lines"}]},
      {"type":4,"name":"symmetry","description":"Rotational symmetry","min_value":3,"max_value":32},
      {"type":4,"name":"seed","description":"Random seed"},
      {"type":10,"name":"scale","description":"Scale","min_value":0.5,"max_value":2.0},
      {"type":3,"name":"title","description":"Caption","min_length":2,"max_length":10},
      {"type":3,"name":"palette","description":"Colour palette","autocomplete":true},
      {"type":4,"name":"layers","description":"Layers","choices":[{"name":"Few","value":2},{"name":"Many","value":8}]},
      {"type":5,"name":"public","description":"Show to everyone"},
      {"type":6,"name":"friend","description":"Dedicate to"}]},
    {"name":"about","description":"About mando","type":1,"integration_types":[0,1],"contexts":[0,1,2]},
    {"name":"admin","description":"Administration","type":1,"options":[
      {"type":2,"name":"queue","description":"Queue tools","options":[
        {"type":1,"name":"purge","description":"Purge tasks","options":[
          {"type":4,"name":"older-than","description":"Days","required":true,"min_value":1}]}]},
      {"type":1,"name":"stats","description":"Statistics"}]}
  ])");
  const json::array actual = registry.commands_json();
  EXPECT_EQ(json::value(actual), expected) << json::serialize(actual);
  // INTEGER bounds are JSON integers, NUMBER bounds JSON doubles.
  const auto& symmetry = actual[0].at("options").at(1);
  EXPECT_TRUE(symmetry.at("min_value").is_int64());
  EXPECT_TRUE(actual[0].at("options").at(3).at("min_value").is_double());
}

}  // namespace
}  // namespace mando::discord
