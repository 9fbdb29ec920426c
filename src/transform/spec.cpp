#include "transform/spec.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace mando::transform {
namespace {

// One table per enum: the name that parse_* accepts and to_string prints, in one place.
constexpr std::array<std::pair<Crop, std::string_view>, 4> kCrops{{
    {Crop::kAttention, "attention"},
    {Crop::kEntropy, "entropy"},
    {Crop::kCentre, "centre"},
    {Crop::kNone, "none"},
}};

struct FormatInfo {
  Format format;
  std::string_view name, mime, extension;
};
constexpr std::array<FormatInfo, 3> kFormats{{
    {Format::kJpeg, "jpeg", "image/jpeg", "jpg"},
    {Format::kPng, "png", "image/png", "png"},
    {Format::kWebp, "webp", "image/webp", "webp"},
}};

const FormatInfo& info(Format format) {
  for (const auto& f : kFormats) {
    if (f.format == format) return f;
  }
  return kFormats[0];
}

tl::unexpected<Error> invalid(std::string message) {
  return fail(ErrorKind::kInvalidArgument, std::move(message));
}

}  // namespace

Result<Crop> parse_crop(std::string_view text) {
  for (const auto& [crop, name] : kCrops) {
    if (name == text) return crop;
  }
  return invalid(fmt::format("unknown crop \"{}\" (attention, entropy, centre or none)", text));
}

Result<Format> parse_format(std::string_view text) {
  for (const auto& f : kFormats) {
    if (f.name == text) return f.format;
  }
  return invalid(fmt::format("unknown format \"{}\" (jpeg, png or webp)", text));
}

std::string_view to_string(Crop crop) {
  for (const auto& [c, name] : kCrops) {
    if (c == crop) return name;
  }
  return "attention";
}

std::string_view to_string(Format format) { return info(format).name; }
std::string_view mime_type(Format format) { return info(format).mime; }
std::string_view file_extension(Format format) { return info(format).extension; }

Result<void> validate(const TransformSpec& spec) {
  if (spec.size < kMinSize || spec.size > kMaxSize) {
    return invalid(fmt::format("size {} is out of range ({}..{})", spec.size, kMinSize, kMaxSize));
  }
  return {};
}

Result<void> validate(const DecodeLimits& limits) {
  if (limits.max_pixels == 0 || limits.max_frames <= 0 || limits.max_input_bytes == 0) {
    return invalid("decode limits must be positive");
  }
  return {};
}

Result<void> validate(const SheetSpec& spec) {
  if (spec.tile < kMinTile || spec.tile > kMaxTile) {
    return invalid(fmt::format("tile {} is out of range ({}..{})", spec.tile, kMinTile, kMaxTile));
  }
  if (spec.max_bytes < (64u << 10)) return invalid("max_bytes must be at least 64 KiB");
  return {};
}

}  // namespace mando::transform
