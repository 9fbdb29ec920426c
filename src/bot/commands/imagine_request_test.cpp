// What /imagine refuses at the ingress, and what it makes of what it accepts.

#include "bot/commands/imagine_request.hpp"

#include <gtest/gtest.h>

#include "discord/interaction.hpp"

namespace mando::bot::commands {
namespace {

using discord::InteractionOption;
using discord::OptionType;

core::ImagineModel model(std::string name) {
  core::ImagineModel m;
  m.name = std::move(name);
  m.provider = "replicate";
  m.description = "a test model";
  m.price = "$0.01 per image";
  return m;
}

core::ImagineConfig config() {
  core::ImagineConfig c;
  c.models = {model("flux"), model("sdxl"), model("clip"), model("adult")};
  c.models[1].image_input = true;
  c.models[1].max_count = 2;
  c.models[2].video = true;
  c.models[3].nsfw = true;
  c.default_model = "flux";
  c.deny = {"Forbidden Thing"};
  return c;
}

struct Typed {
  std::vector<InteractionOption> options;
  discord::Interaction interaction;

  Typed& text(std::string name, std::string value) {
    options.push_back({std::move(name), OptionType::kString, std::move(value)});
    return *this;
  }
  Typed& number(std::string name, std::int64_t value) {
    options.push_back({std::move(name), OptionType::kInteger, value});
    return *this;
  }
  Typed& flag(std::string name, bool value) {
    options.push_back({std::move(name), OptionType::kBoolean, value});
    return *this;
  }
  Result<ImagineJob> read(const core::ImagineConfig& c = config()) {
    return imagine_request(discord::Options(options), interaction, c, [] { return 777; });
  }
};

std::string refusal(Typed typed, const core::ImagineConfig& c = config()) {
  auto job = typed.read(c);
  EXPECT_FALSE(job);
  if (job) return {};
  EXPECT_EQ(job.error().kind, ErrorKind::kInvalidArgument);
  return job.error().message;
}

TEST(ImagineRequest, DefaultsAndTheSeedChosenHere) {
  auto job = Typed().text("prompt", "a red fox").read();
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->model, "flux");
  EXPECT_EQ(job->seed, 777) << "a random seed, so the message can say how to make it again";
  EXPECT_EQ(job->count, 1);
  EXPECT_EQ(job->aspect, "1:1");
  EXPECT_FALSE(job->video);

  auto chosen = Typed()
                    .text("prompt", "a red fox")
                    .text("model", "sdxl")
                    .number("count", 2)
                    .number("seed", 42)
                    .text("aspect", "16:9")
                    .text("negative", "blur")
                    .read();
  ASSERT_TRUE(chosen) << chosen.error().message;
  EXPECT_EQ(chosen->model, "sdxl");
  EXPECT_EQ(chosen->seed, 42);
  EXPECT_EQ(chosen->count, 2);
  EXPECT_EQ(chosen->aspect, "16:9");
  EXPECT_EQ(chosen->negative, "blur");
}

TEST(ImagineRequest, VideoPicksTheVideoModelAndMakesOne) {
  auto job = Typed().text("prompt", "waves").flag("video", true).number("count", 3).read();
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->model, "clip");
  EXPECT_TRUE(job->video);
  EXPECT_EQ(job->count, 1);
  EXPECT_NE(refusal(Typed().text("prompt", "waves").text("model", "flux").flag("video", true))
                .find("`flux` makes no videos"),
            std::string::npos);
  auto no_video = config();
  no_video.models.erase(no_video.models.begin() + 2);
  EXPECT_NE(
      refusal(Typed().text("prompt", "waves").flag("video", true), no_video).find("No video model"),
      std::string::npos);
}

TEST(ImagineRequest, RefusalsSayWhatToDo) {
  EXPECT_NE(refusal(Typed().text("prompt", "   ")).find("Tell me what to draw"), std::string::npos);
  EXPECT_NE(refusal(Typed().text("prompt", std::string(1001, 'a'))).find("at most 1000"),
            std::string::npos);
  EXPECT_NE(
      refusal(Typed().text("prompt", "x").text("model", "midjourney"))
          .find("There is no model called `midjourney`. Models here: flux, sdxl, clip, adult."),
      std::string::npos);
  EXPECT_NE(refusal(Typed().text("prompt", "x").text("model", "sdxl").number("count", 3))
                .find("`sdxl` makes 1 to 2 images"),
            std::string::npos);
  EXPECT_NE(
      refusal(Typed().text("prompt", "x").text("image", "att1")).find("does not take an image"),
      std::string::npos);
  EXPECT_NE(refusal(Typed().text("prompt", "x").text("model", "sdxl").text("image", "att1"))
                .find("Discord did not send the file"),
            std::string::npos);
  EXPECT_NE(refusal(Typed().text("prompt", "x").number("seed", 4294967296)).find("`seed` is 0 to"),
            std::string::npos);
  EXPECT_NE(refusal(Typed().text("prompt", "x").text("aspect", "2:1")).find("aspect ratio"),
            std::string::npos);
  EXPECT_NE(refusal(Typed().text("prompt", "x"), core::ImagineConfig{}).find("No image models"),
            std::string::npos);
}

TEST(ImagineRequest, TheDenyListAndNsfwModelsHoldForRerollsToo) {
  EXPECT_NE(refusal(Typed().text("prompt", "a forbidden thing, please")).find("was refused"),
            std::string::npos)
      << "case-insensitive, anywhere";
  EXPECT_NE(refusal(Typed().text("prompt", "fine").text("negative", "FORBIDDEN THING"))
                .find("was refused"),
            std::string::npos);
  EXPECT_NE(refusal(Typed().text("prompt", "x").text("model", "adult"))
                .find("only available in age-restricted channels"),
            std::string::npos);
  Typed nsfw_channel;
  nsfw_channel.interaction.channel_nsfw = true;
  EXPECT_TRUE(nsfw_channel.text("prompt", "x").text("model", "adult").read());

  // A Re-roll re-checks a stored job against today's configuration and the click's channel.
  ImagineJob stored;
  stored.model = "adult";
  stored.prompt = "x";
  EXPECT_FALSE(check_job(stored, discord::Interaction{}, config()));
  EXPECT_TRUE(check_job(stored, nsfw_channel.interaction, config()));
  stored.model = "gone";
  EXPECT_NE(check_job(stored, nsfw_channel.interaction, config())
                .error()
                .message.find("no longer offered"),
            std::string::npos);
}

TEST(ImagineRequest, ModelChoicesForAutocomplete) {
  auto all = model_choices(config(), "", false);
  ASSERT_EQ(all.size(), 3u) << "the NSFW model only where it may run";
  EXPECT_EQ(all[0].name, "flux: a test model ($0.01 per image)");
  EXPECT_EQ(std::get<std::string>(all[0].value), "flux");
  EXPECT_EQ(model_choices(config(), "SD", false).size(), 1u);
  EXPECT_EQ(model_choices(config(), "", true).size(), 4u);
  EXPECT_TRUE(model_choices(config(), "nothing like it", true).empty());
}

}  // namespace
}  // namespace mando::bot::commands
