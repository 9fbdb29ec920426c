#pragma once
// What an untrusted file claims to be, read from its first bytes and headers only: the type by
// magic bytes (never by name or Content-Type), the declared size and, for animations, the frame
// count. The pipeline refuses a file here, before libvips sees it, when it is of a type mando
// does not decode or declares more than DecodeLimits allow; a PNG header claiming
// 100,000 x 100,000 pixels costs 33 bytes of reading, not 40 GB of memory.
//
// Pure functions over bytes: no allocation that depends on the input, no libvips.

#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "transform/spec.hpp"

namespace mando::transform {

enum class ImageType { kJpeg, kPng, kWebp, kGif };

std::string_view to_string(ImageType type);  // "JPEG", "PNG", "WebP", "GIF"

struct ImageHeader {
  ImageType type = ImageType::kJpeg;
  std::uint32_t width = 0;  // as declared; for a GIF the largest extent of the screen and frames
  std::uint32_t height = 0;
  int frames = 1;  // animations: frames found by walking the block or chunk headers
};

// Detects the type and reads the header. Every error is kInvalidArgument:
//   "the file is empty", "the file is 31.2 MiB, larger than 25 MiB",
//   "TIFF images are not supported (JPEG, PNG, WebP or GIF only)" (and SVG, PDF, HEIF, AVIF,
//   JPEG XL, JPEG 2000, BMP, Photoshop, MP4), "not a supported image type (...)",
//   "could not be read (no JPEG frame header)" for a recognised but malformed header,
//   "larger than 50 megapixels (100000 × 100000)",
//   "the animation has more than 10000 frames".
Result<ImageHeader> probe(std::string_view bytes, const DecodeLimits& limits);

// probe()'s first check on its own, for callers that must not parse the bytes (the pool, which
// refuses an oversized input before sending it to a worker): "the file is empty" or "the file is
// 31.2 MiB, larger than 25.0 MiB".
Result<void> check_input_size(std::size_t size, const DecodeLimits& limits);

}  // namespace mando::transform
