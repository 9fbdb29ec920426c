#pragma once
// What a transform makes (TransformSpec, SheetSpec) and what a decoder may be asked to read
// (DecodeLimits): plain values, checked by validate(), carried to the worker processes as they
// are. Nothing here touches libvips.

#include <cstdint>
#include <string_view>

#include "core/error.hpp"

namespace mando::transform {

// How a picture becomes a size x size square.
enum class Crop {
  kAttention,  // fill the square, keep the part libvips finds most interesting (skin, colour)
  kEntropy,    // fill the square, keep the busiest part
  kCentre,     // fill the square, keep the middle
  kNone,       // fit inside the square without cropping: one side may be shorter
};

enum class Format { kJpeg, kPng, kWebp };

// "attention", "entropy", "centre", "none"; anything else is kInvalidArgument naming the choices.
Result<Crop> parse_crop(std::string_view text);
// "jpeg", "png", "webp".
Result<Format> parse_format(std::string_view text);
std::string_view to_string(Crop crop);
std::string_view to_string(Format format);
std::string_view mime_type(Format format);       // "image/jpeg"
std::string_view file_extension(Format format);  // "jpg", "png", "webp" (no dot)

inline constexpr int kMinSize = 64;
inline constexpr int kMaxSize = 2048;

struct TransformSpec {
  int size = 512;  // the square's side in pixels, kMinSize..kMaxSize
  Crop crop = Crop::kAttention;
  Format format = Format::kJpeg;
};

// What a decoder is allowed to read from one untrusted input. Each limit is checked from the
// file's header, before any pixel is decoded.
struct DecodeLimits {
  // Width x height as the header declares it (for a GIF, the largest of the screen and every
  // frame). A 50-megapixel RGBA image is 200 MB decoded; phones make 12 to 48 megapixels.
  std::uint64_t max_pixels = 50'000'000;
  // Animated GIF and WebP: only the first frame is decoded, so frames cost no decoding, but the
  // GIF decoder keeps a table entry for every frame it scans (tens of bytes each) and a 25 MiB
  // file can declare two million of them. Ten thousand is eight minutes at 20 frames a second:
  // every real animation passes, absurd ones are refused after a walk over the block headers.
  int max_frames = 10'000;
  std::uint64_t max_input_bytes = 25ull << 20;
};

// Checks size. Errors are kInvalidArgument naming the field and its range.
Result<void> validate(const TransformSpec& spec);
// Checks that every limit is positive.
Result<void> validate(const DecodeLimits& limits);

inline constexpr int kMinTile = 32;
inline constexpr int kMaxTile = 1024;
inline constexpr int kMaxSheetTiles = 256;

// A contact sheet: the pictures of one request side by side, numbered 1..n in input order.
struct SheetSpec {
  // Each cell's side in pixels before any shrinking to fit max_bytes; kMinTile..kMaxTile.
  int tile = 256;
  Format format = Format::kJpeg;
  // The encoded sheet is at most this big (Discord's upload limit for bots is 10 MiB).
  std::uint64_t max_bytes = 10ull << 20;
};

// Checks tile and max_bytes (at least 64 KiB: below that even the smallest sheet may not fit).
Result<void> validate(const SheetSpec& spec);

}  // namespace mando::transform
