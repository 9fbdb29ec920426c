#include "imagine/input_template.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace mando::imagine {
namespace {

namespace json = boost::json;

Inputs fox() {
  Inputs in;
  in.prompt = "a red fox {seed}";
  in.seed = 1234;
  in.count = 4;
  in.aspect = "16:9";
  return in;
}

TEST(InputTemplate, LonePlaceholdersKeepTheirTypeAndMissingOnesAreLeftOut) {
  auto input = fill_input(default_input_template("replicate"), fox());
  ASSERT_TRUE(input) << input.error().message;
  EXPECT_EQ(*input, (json::object{{"prompt", "a red fox {seed}"},  // user text is not expanded
                                  {"aspect_ratio", "16:9"},
                                  {"num_outputs", 4},
                                  {"seed", 1234}}));
}

TEST(InputTemplate, PlaceholdersInsideTextAndNestedObjects) {
  Inputs in = fox();
  in.negative = "blurry";
  in.image = "https://cdn.example/a.png";
  auto input = fill_input(
      R"({"prompt":"photo of {prompt}, seed {seed}","size":{"w":"{width}","h":"{height}"},)"
      R"("extra":[1,"{negative}",true],"init":"{image}","steps":30,"braces":"{ {x y} {"})",
      in);
  ASSERT_TRUE(input) << input.error().message;
  EXPECT_EQ(*input, json::parse(R"({"prompt":"photo of a red fox {seed}, seed 1234",)"
                                R"("size":{"w":1344,"h":768},"extra":[1,"blurry",true],)"
                                R"("init":"https://cdn.example/a.png","steps":30,)"
                                R"("braces":"{ {x y} {"})"));

  auto openai = fill_input(default_input_template("openai"), in);
  ASSERT_TRUE(openai);
  EXPECT_EQ(openai->at("size"), "1344x768");
  EXPECT_EQ(openai->at("n"), 4);
}

TEST(InputTemplate, ChecksNameWhatIsWrong) {
  EXPECT_TRUE(check_input_template(default_input_template("replicate")));
  EXPECT_TRUE(check_input_template(default_input_template("fal")));
  EXPECT_TRUE(check_input_template(default_input_template("openai")));
  auto unknown = check_input_template(R"({"prompt":"{prompt}","steps":"{stpes}"})");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown placeholder {stpes}"), std::string::npos)
      << unknown.error().message;
  EXPECT_FALSE(check_input_template("[1,2]"));
  EXPECT_FALSE(check_input_template("{"));
  EXPECT_FALSE(fill_input("not json", fox()));
}

}  // namespace
}  // namespace mando::imagine
