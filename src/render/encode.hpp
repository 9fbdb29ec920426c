#pragma once
// Image encoders for the renderer's pixels: PNG (libspng), WebP lossless and lossy, animated
// WebP (libwebp, libwebpmux). Each call owns its encoder state; all are thread-safe.
//
// Cairo's pixels are premultiplied native-endian ARGB32; PNG and WebP want straight
// (unpremultiplied) RGBA. Opaque images, the common case, skip the division entirely.
// The settings below were chosen by measurement: see docs/RENDERER.md and bench/render_bench.cpp.

#include <cstdint>
#include <memory>
#include <vector>

#include "core/error.hpp"
#include "render/mandala.hpp"

struct WebPAnimEncoder;

namespace mando::render {

using Bytes = std::vector<std::uint8_t>;

struct PngOptions {
  // Measured at 1024 px on the default picture (docs/RENDERER.md): flat vector art compresses
  // best with no row filter (the filters turn flat runs into noise around every antialiased
  // edge), and zlib level 3 gives nearly level 6's size in under half the time.
  int level = 3;     // zlib level 0..9
  int filters = 0;   // an spng_filter_choice bit set (SPNG_FILTER_CHOICE_*); 0 = none only
  int strategy = 0;  // zlib strategy: 0 default, 1 filtered, 3 run-length
};

struct WebpOptions {
  bool lossy = false;
  int quality = 90;  // lossy: 1..100
  int method = -1;   // 0 (fast) .. 6 (small); -1 = mando's measured default for the mode
};

Result<Bytes> encode_png(const Image& image, const PngOptions& options = {});
Result<Bytes> encode_webp(const Image& image, const WebpOptions& options = {});

// Straight RGBA bytes, 4 per pixel, rows packed.
std::vector<std::uint8_t> to_rgba(const Image& image);

// An animated WebP, fed one frame at a time so that only one frame's pixels live at once.
class AnimationEncoder {
 public:
  // Frames of width x height, each shown for frame_ms; loops forever.
  static Result<AnimationEncoder> create(int width, int height, int frame_ms,
                                         const WebpOptions& options);
  Result<void> add(const Image& frame);
  Result<Bytes> finish();  // the encoder is spent afterwards

 private:
  struct Deleter {
    void operator()(WebPAnimEncoder* e) const;
  };
  AnimationEncoder() = default;
  std::unique_ptr<WebPAnimEncoder, Deleter> encoder_;
  int width_ = 0, height_ = 0, frame_ms_ = 0, frames_ = 0;
  WebpOptions options_;
};

}  // namespace mando::render
