#include "bot/commands/imagine_request.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "bot/commands/transform_inputs.hpp"
#include "core/utf8.hpp"
#include "imagine/input_template.hpp"

namespace mando::bot::commands {

namespace {

constexpr std::size_t kMaxChoices = 25;
constexpr std::size_t kMaxChoiceName = 100;

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

tl::unexpected<Error> refuse(std::string sentence) {
  return fail(ErrorKind::kInvalidArgument, std::move(sentence));
}

Result<const core::ImagineModel*> choose_model(const core::ImagineConfig& config,
                                               const std::optional<std::string>& named,
                                               bool video) {
  if (config.models.empty()) {
    return refuse(
        "No image models are set up on this bot yet. (Operators: add an [imagine.models.NAME] "
        "table, see docs/IMAGINE.md.)");
  }
  if (named) {
    const auto* model = find_model(config, *named);
    if (model == nullptr) {
      std::vector<std::string_view> names;
      for (const auto& m : config.models) names.push_back(m.name);
      return refuse(fmt::format("There is no model called `{}`. Models here: {}.",
                                core::code_point_prefix(*named, 40), fmt::join(names, ", ")));
    }
    if (video && !model->video) return refuse(fmt::format("`{}` makes no videos.", model->name));
    return model;
  }
  if (video) {
    auto it = std::ranges::find_if(config.models, [](const auto& m) { return m.video; });
    if (it == config.models.end()) return refuse("No video model is set up on this bot.");
    return &*it;
  }
  const auto* model = find_model(config, config.default_model);
  return model != nullptr ? model : &config.models.front();
}

}  // namespace

const core::ImagineModel* find_model(const core::ImagineConfig& config, std::string_view name) {
  auto it = std::ranges::find_if(config.models, [&](const auto& m) { return m.name == name; });
  return it == config.models.end() ? nullptr : &*it;
}

Result<ImagineJob> imagine_request(const discord::Options& options,
                                   const discord::Interaction& interaction,
                                   const core::ImagineConfig& config,
                                   const std::function<std::int64_t()>& random_seed) {
  ImagineJob job;
  job.prompt = options.get_string("prompt", "");
  job.negative = options.get_string("negative", "");
  if (job.prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
    return refuse("Tell me what to draw in `prompt`.");
  }
  if (core::code_points(job.prompt) > kMaxPromptLength ||
      core::code_points(job.negative) > kMaxPromptLength) {
    return refuse(fmt::format("Prompts are at most {} characters.", kMaxPromptLength));
  }
  job.video = options.get_bool("video", false);
  auto model = choose_model(config, options.get_string("model"), job.video);
  if (!model) return tl::unexpected(model.error());
  const core::ImagineModel& m = **model;
  job.model = m.name;
  job.video = m.video;
  job.count = static_cast<int>(options.get_int("count", 1));
  if (job.video) job.count = 1;
  if (job.count < 1 || job.count > m.max_count) {
    return refuse(fmt::format("`{}` makes 1 to {} images at once.", m.name, m.max_count));
  }
  job.aspect = options.get_string("aspect", "1:1");
  if (std::ranges::none_of(imagine::kAspects,
                           [&](const auto& a) { return a.name == job.aspect; })) {
    return refuse("That aspect ratio is not one I offer.");
  }
  if (auto image = options.get_string("image")) {
    if (!m.image_input) return refuse(fmt::format("`{}` does not take an image.", m.name));
    job.image = attachment_url(interaction.data, *image);
    if (job.image.empty())
      return refuse("Discord did not send the file of `image`; please try again.");
  }
  const auto seed = options.get_int("seed");
  job.seed = seed ? *seed : random_seed();
  if (job.seed < 0 || job.seed > kMaxImagineSeed) {
    return refuse(fmt::format("`seed` is 0 to {}.", kMaxImagineSeed));
  }
  if (auto ok = check_job(job, interaction, config); !ok) return tl::unexpected(ok.error());
  return job;
}

Result<void> check_job(const ImagineJob& job, const discord::Interaction& interaction,
                       const core::ImagineConfig& config) {
  const auto* model = find_model(config, job.model);
  if (model == nullptr) return refuse(fmt::format("`{}` is no longer offered here.", job.model));
  const std::string text = lower(job.prompt + "\n" + job.negative);
  for (const auto& word : config.deny) {
    if (!word.empty() && text.find(lower(word)) != std::string::npos) {
      return refuse("Your prompt was refused: it contains words this bot does not draw.");
    }
  }
  if (model->nsfw && !interaction.channel_nsfw) {
    return refuse(fmt::format("`{}` is only available in age-restricted channels.", model->name));
  }
  return {};
}

std::vector<discord::Choice> model_choices(const core::ImagineConfig& config,
                                           std::string_view typed, bool nsfw_allowed) {
  const std::string needle = lower(typed);
  std::vector<discord::Choice> choices;
  for (const auto& m : config.models) {
    if (choices.size() == kMaxChoices) break;
    if (m.nsfw && !nsfw_allowed) continue;
    if (lower(m.name).find(needle) == std::string::npos &&
        lower(m.description).find(needle) == std::string::npos) {
      continue;
    }
    std::string name = m.name;
    if (!m.description.empty()) name += ": " + m.description;
    if (!m.price.empty()) name += " (" + m.price + ")";
    choices.push_back({std::string(core::code_point_prefix(name, kMaxChoiceName)), m.name});
  }
  return choices;
}

}  // namespace mando::bot::commands
