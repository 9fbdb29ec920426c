#pragma once
// What a model is asked: the user's /imagine options written into the model's input object.
//
// Every provider names its inputs its own way (Replicate's SDXL takes "negative_prompt" and
// "num_outputs", FLUX takes "aspect_ratio", a video model "prompt" and "duration"), so each
// [imagine.models.NAME] may carry an `input` template: a JSON object whose string values hold
// placeholders. A value that is exactly one placeholder becomes the option's value with its
// type ("{seed}" -> 1234, a number); a placeholder inside other text is replaced as text
// ("a photo of {prompt}"); a member whose lone placeholder has no value (no negative prompt, no
// init image) is left out, so the model's own default applies. User text is never expanded
// again: a prompt that contains "{seed}" stays as typed.
//
// Placeholders: {prompt} {negative} {seed} {count} {width} {height} {aspect} {image}.

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/error.hpp"

namespace mando::imagine {

struct Inputs {
  std::string prompt;
  std::string negative;  // empty: none
  std::int64_t seed = 0;
  int count = 1;
  std::string aspect = "1:1";  // one of kAspects
  std::string image;           // the init image's URL; empty: none
};

// The aspect ratios /imagine offers, and the SDXL-sized canvas of each.
struct Aspect {
  std::string_view name;
  int width;
  int height;
};
inline constexpr Aspect kAspects[] = {
    {"1:1", 1024, 1024}, {"3:4", 896, 1152},  {"4:3", 1152, 896},
    {"9:16", 768, 1344}, {"16:9", 1344, 768},
};

// The template used when a model sets none, by provider ("replicate", "fal", "openai").
std::string_view default_input_template(std::string_view provider);

// kInvalidArgument when `template_json` is not a JSON object or names an unknown placeholder
// (the configuration check; fill_input() assumes it passed).
Result<void> check_input_template(std::string_view template_json);

// The input object for `inputs`.
Result<boost::json::object> fill_input(std::string_view template_json, const Inputs& inputs);

}  // namespace mando::imagine
