#pragma once
// What an /imagine interaction asks for, read and checked at the ingress against the
// configuration ([imagine]): which model, and whether this user may use it here. Every refusal
// is kInvalidArgument with the sentence the user reads (ephemeral), nothing is sent anywhere.
//
//   model   the `model` option (a NAME of [imagine.models.NAME]), else with `video` the first
//           video model, else [imagine] default_model;
//   checks  the prompt against the deny list (case-insensitive, anywhere in the prompt or the
//           negative prompt), NSFW models only where Discord marks the channel age-restricted,
//           `count` up to the model's max_count, `image` only for models that take one;
//   seed    the user's, or a random one chosen here, so the finished message can say how to
//           make the same picture again.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bot/jobs.hpp"
#include "core/config.hpp"
#include "discord/command_registry.hpp"

namespace mando::bot::commands {

inline constexpr int kMaxPromptLength = 1000;
inline constexpr std::int64_t kMaxImagineSeed = 4294967295;  // what most models take

// The job for `interaction` (the target left empty: the caller fills it).
Result<ImagineJob> imagine_request(const discord::Options& options,
                                   const discord::Interaction& interaction,
                                   const core::ImagineConfig& config,
                                   const std::function<std::int64_t()>& random_seed);

// The checks that hold for every job, a Re-roll's too (with the click's interaction): the model
// still offered, the deny list, NSFW models only in age-restricted channels.
Result<void> check_job(const ImagineJob& job, const discord::Interaction& interaction,
                       const core::ImagineConfig& config);

// The model `name` names, or nullptr.
const core::ImagineModel* find_model(const core::ImagineConfig& config, std::string_view name);

// The `model` option's autocomplete: the models whose name or description contains `typed`
// (case-insensitive), "name: description (price)" as Discord shows them, at most 25.
std::vector<discord::Choice> model_choices(const core::ImagineConfig& config,
                                           std::string_view typed, bool nsfw_allowed);

}  // namespace mando::bot::commands
