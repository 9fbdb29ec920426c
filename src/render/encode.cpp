#include "render/encode.hpp"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "render/c_handle.hpp"
#include <spng.h>
#include <webp/encode.h>
#include <webp/mux.h>

namespace mando::render {
namespace {

// One premultiplied ARGB32 word to straight r, g, b, a (rounded to nearest).
inline void unpremultiply(std::uint32_t argb, std::uint8_t* out) {
  const std::uint32_t a = argb >> 24;
  if (a == 255 || a == 0) {
    out[0] = static_cast<std::uint8_t>(argb >> 16);
    out[1] = static_cast<std::uint8_t>(argb >> 8);
    out[2] = static_cast<std::uint8_t>(argb);
  } else {
    for (int i = 0; i < 3; ++i) {
      const std::uint32_t c = (argb >> (16 - 8 * i)) & 0xff;
      out[i] = static_cast<std::uint8_t>(std::min<std::uint32_t>(255, (c * 255 + a / 2) / a));
    }
  }
  out[3] = static_cast<std::uint8_t>(a);
}

// Packed rows of RGB (3 bytes, opaque images only) or RGBA (4 bytes). The RGB loop has no
// division and no branch: it is most of what PNG encoding spends outside zlib.
std::vector<std::uint8_t> pack(const Image& image, int channels) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(image.width) * image.height * channels);
  std::uint8_t* dst = out.data();
  for (int y = 0; y < image.height; ++y) {
    const std::uint8_t* row = image.pixels.data() + static_cast<std::size_t>(y) * image.stride;
    for (int x = 0; x < image.width; ++x, dst += channels) {
      std::uint32_t argb;
      std::memcpy(&argb, row + 4 * x, 4);
      if (channels == 3) {
        dst[0] = static_cast<std::uint8_t>(argb >> 16);
        dst[1] = static_cast<std::uint8_t>(argb >> 8);
        dst[2] = static_cast<std::uint8_t>(argb);
      } else {
        unpremultiply(argb, dst);
      }
    }
  }
  return out;
}

Result<Bytes> spng_failure(const char* step, int code) {
  return fail(ErrorKind::kInternal, fmt::format("png {}: {}", step, spng_strerror(code)));
}

// Measured at 1024 px on the default picture (bench/render_bench.cpp, docs/RENDERER.md):
// lossy method 2 gives method 4's size (89 KB) in half the time (41 vs 82 ms); lossless preset 0
// is 7 times faster than preset 1 (26 vs 178 ms) for 23% more bytes (254 vs 206 KB), and beats
// PNG's size.
constexpr int kLossyMethod = 2;
constexpr int kLosslessPreset = 0;

WebPConfig webp_config(const WebpOptions& o) {
  WebPConfig config;
  WebPConfigInit(&config);
  if (o.lossy) {
    config.quality = static_cast<float>(o.quality);
    config.method = o.method >= 0 ? o.method : kLossyMethod;
  } else {
    WebPConfigLosslessPreset(&config, o.method >= 0 ? o.method : kLosslessPreset);
  }
  return config;
}

// A WebPPicture holding `image` as straight ARGB, the layout libwebp uses internally.
// (WebPEncode converts to YUV itself for lossy output.)
Result<void> fill_picture(WebPPicture* pic, const Image& image) {
  pic->use_argb = 1;
  pic->width = image.width;
  pic->height = image.height;
  if (!WebPPictureAlloc(pic)) return fail(ErrorKind::kResourceExhausted, "webp: out of memory");
  std::uint8_t rgba[4];
  for (int y = 0; y < image.height; ++y) {
    const std::uint8_t* row = image.pixels.data() + static_cast<std::size_t>(y) * image.stride;
    std::uint32_t* dst = pic->argb + static_cast<std::size_t>(y) * pic->argb_stride;
    for (int x = 0; x < image.width; ++x) {
      std::uint32_t argb;
      std::memcpy(&argb, row + 4 * x, 4);
      if ((argb >> 24) != 255) {
        unpremultiply(argb, rgba);
        argb = (std::uint32_t{rgba[3]} << 24) | (std::uint32_t{rgba[0]} << 16) |
               (std::uint32_t{rgba[1]} << 8) | rgba[2];
      }
      dst[x] = argb;
    }
  }
  return {};
}

}  // namespace

std::vector<std::uint8_t> to_rgba(const Image& image) { return pack(image, 4); }

Result<Bytes> encode_png(const Image& image, const PngOptions& options) {
  CHandle<spng_ctx, spng_ctx_free> ctx(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!ctx) return fail(ErrorKind::kResourceExhausted, "png: out of memory");
  // Opaque pictures (every background but "transparent") are written as RGB: a quarter less
  // data for zlib, and smaller files.
  const bool opaque = image.opaque();
  const int channels = opaque ? 3 : 4;
  const std::vector<std::uint8_t> raw = pack(image, channels);

  spng_ihdr ihdr{};
  ihdr.width = static_cast<std::uint32_t>(image.width);
  ihdr.height = static_cast<std::uint32_t>(image.height);
  ihdr.bit_depth = 8;
  ihdr.color_type = opaque ? SPNG_COLOR_TYPE_TRUECOLOR : SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
  const int filters = options.filters != 0 ? options.filters : SPNG_FILTER_CHOICE_NONE;
  int rc = spng_set_ihdr(ctx.get(), &ihdr);
  if (rc == 0) rc = spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  if (rc == 0) rc = spng_set_option(ctx.get(), SPNG_FILTER_CHOICE, filters);
  if (rc == 0) rc = spng_set_option(ctx.get(), SPNG_IMG_COMPRESSION_LEVEL, options.level);
  if (rc == 0) rc = spng_set_option(ctx.get(), SPNG_IMG_COMPRESSION_STRATEGY, options.strategy);
  if (rc != 0) return spng_failure("setup", rc);
  rc = spng_encode_image(ctx.get(), raw.data(), raw.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  if (rc != 0) return spng_failure("encode", rc);
  std::size_t size = 0;
  CHandle<void, ::free> png(spng_get_png_buffer(ctx.get(), &size, &rc));
  if (!png) return spng_failure("buffer", rc);
  const auto* bytes = static_cast<const std::uint8_t*>(png.get());
  return Bytes(bytes, bytes + size);
}

Result<Bytes> encode_webp(const Image& image, const WebpOptions& options) {
  WebPConfig config = webp_config(options);
  WebPPicture pic;
  if (!WebPPictureInit(&pic)) return fail(ErrorKind::kInternal, "webp: library version mismatch");
  CHandle<WebPPicture, WebPPictureFree> pic_owner(&pic);
  if (auto r = fill_picture(&pic, image); !r) return tl::unexpected(r.error());
  WebPMemoryWriter writer;
  WebPMemoryWriterInit(&writer);
  CHandle<WebPMemoryWriter, WebPMemoryWriterClear> writer_owner(&writer);
  pic.writer = WebPMemoryWrite;
  pic.custom_ptr = &writer;
  if (!WebPEncode(&config, &pic)) {
    return fail(ErrorKind::kInternal,
                fmt::format("webp: encoding failed (code {})", static_cast<int>(pic.error_code)));
  }
  return Bytes(writer.mem, writer.mem + writer.size);
}

void AnimationEncoder::Deleter::operator()(WebPAnimEncoder* e) const { WebPAnimEncoderDelete(e); }

Result<AnimationEncoder> AnimationEncoder::create(int width, int height, int frame_ms,
                                                  const WebpOptions& options) {
  WebPAnimEncoderOptions anim;
  if (!WebPAnimEncoderOptionsInit(&anim)) {
    return fail(ErrorKind::kInternal, "webp: library version mismatch");
  }
  anim.anim_params.loop_count = 0;  // forever
  anim.anim_params.bgcolor = 0;
  // Every frame of a turning mandala differs almost everywhere, so sub-rectangles between
  // frames save little, and searching for them encodes each frame twice (once per disposal
  // method). Key frames only: one encode per frame.
  anim.kmin = 0;
  anim.kmax = 1;
  anim.allow_mixed = 0;
  AnimationEncoder out;
  out.options_ = options;
  out.encoder_.reset(WebPAnimEncoderNew(width, height, &anim));
  if (!out.encoder_) return fail(ErrorKind::kResourceExhausted, "webp: out of memory");
  out.width_ = width;
  out.height_ = height;
  out.frame_ms_ = frame_ms;
  return out;
}

Result<void> AnimationEncoder::add(const Image& frame) {
  if (!encoder_) return fail(ErrorKind::kFailedPrecondition, "webp: animation already finished");
  if (frame.width != width_ || frame.height != height_) {
    return fail(ErrorKind::kInvalidArgument, "webp: every frame must have the same size");
  }
  WebPConfig config = webp_config(options_);
  WebPPicture pic;
  if (!WebPPictureInit(&pic)) return fail(ErrorKind::kInternal, "webp: library version mismatch");
  CHandle<WebPPicture, WebPPictureFree> pic_owner(&pic);
  if (auto r = fill_picture(&pic, frame); !r) return r;
  if (!WebPAnimEncoderAdd(encoder_.get(), &pic, frames_ * frame_ms_, &config)) {
    return fail(ErrorKind::kInternal, fmt::format("webp: adding frame {} failed: {}", frames_,
                                                  WebPAnimEncoderGetError(encoder_.get())));
  }
  ++frames_;
  return {};
}

Result<Bytes> AnimationEncoder::finish() {
  if (!encoder_) return fail(ErrorKind::kFailedPrecondition, "webp: animation already finished");
  auto encoder = std::move(encoder_);
  WebPData data;
  WebPDataInit(&data);
  CHandle<WebPData, WebPDataClear> data_owner(&data);
  if (!WebPAnimEncoderAdd(encoder.get(), nullptr, frames_ * frame_ms_, nullptr) ||
      !WebPAnimEncoderAssemble(encoder.get(), &data)) {
    return fail(ErrorKind::kInternal, fmt::format("webp: assembling the animation failed: {}",
                                                  WebPAnimEncoderGetError(encoder.get())));
  }
  return Bytes(data.bytes, data.bytes + data.size);
}

}  // namespace mando::render
