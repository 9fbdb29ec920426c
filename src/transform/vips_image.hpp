#pragma once
// Internal to src/transform: the libvips pieces pipeline.cpp and sheet.cpp share.

#include <string>
#include <string_view>

#include "core/c_handle.hpp"
#include "core/error.hpp"
#include "transform/spec.hpp"
#include <vips/vips.h>

namespace mando::transform::detail {

using Image = core::CHandle<VipsImage, g_object_unref>;

// libvips' error text since the last call (its first line), cleared for the next job.
std::string take_vips_error();

// The Error for a failed decode: "could not be read (<libvips' reason>)", kResourceExhausted when
// libvips ran out of memory, kInvalidArgument otherwise.
Error decode_error();

// probe()s `input`, then decodes it to fit a side x side square (filling it and cropping unless
// crop is kNone) in 8-bit sRGB, with or without alpha. The result is lazy: pixels are decoded
// when the caller writes it, so decoding errors may surface there too.
Result<Image> load_fitted(std::string_view input, int side, Crop crop, const DecodeLimits& limits);

// JPEG and WebP take `quality` (1..100); PNG ignores it. Metadata is stripped. A JPEG cannot
// hold alpha: transparent pixels become white.
Result<std::string> encode(VipsImage* image, Format format, int quality);

inline constexpr int kDefaultQuality = 85;

}  // namespace mando::transform::detail
