#include "render/encode.hpp"

#include <cstring>

#include <gtest/gtest.h>

#include "render/render.hpp"
#include <png.h>
#include <spng.h>
#include <webp/decode.h>
#include <webp/demux.h>

namespace mando::render {
namespace {

Image render_small(Background background, int size = 128) {
  MandalaSpec spec;
  spec.seed = 77;
  spec.size = size;
  spec.background = background;
  return render_mandala(spec).value();
}

struct Decoded {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgba;
};

// libpng's simplified API: an independent reader of what libspng wrote.
Decoded decode_png(const Bytes& png) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  EXPECT_NE(png_image_begin_read_from_memory(&image, png.data(), png.size()), 0) << image.message;
  image.format = PNG_FORMAT_RGBA;
  Decoded out{static_cast<int>(image.width), static_cast<int>(image.height), {}};
  out.rgba.resize(PNG_IMAGE_SIZE(image));
  EXPECT_NE(png_image_finish_read(&image, nullptr, out.rgba.data(), 0, nullptr), 0)
      << image.message;
  png_image_free(&image);
  return out;
}

Decoded decode_webp(const Bytes& webp) {
  Decoded out;
  std::uint8_t* rgba = WebPDecodeRGBA(webp.data(), webp.size(), &out.width, &out.height);
  EXPECT_NE(rgba, nullptr);
  if (rgba != nullptr) {
    out.rgba.assign(rgba, rgba + static_cast<std::size_t>(out.width) * out.height * 4);
    WebPFree(rgba);
  }
  return out;
}

double mean_abs_difference(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  double sum = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) sum += std::abs(a[i] - b[i]);
  return a.empty() ? 255 : sum / a.size();
}

TEST(Encode, UnpremultipliesCairoPixels) {
  Image image;
  image.width = 4;
  image.height = 1;
  image.stride = 16;
  const std::uint32_t argb[] = {0xff102030, 0x80400000, 0x00000000, 0x40404040};
  image.pixels.resize(16);
  std::memcpy(image.pixels.data(), argb, 16);
  EXPECT_EQ(to_rgba(image), (std::vector<std::uint8_t>{0x10, 0x20, 0x30, 0xff,  // opaque: as is
                                                       0x80, 0, 0, 0x80,        // 64 * 255 / 128
                                                       0, 0, 0, 0,              // transparent
                                                       0xff, 0xff, 0xff, 0x40}));
}

TEST(Encode, PngDecodesToTheSamePixels) {
  for (Background background : {Background::kRadial, Background::kTransparent}) {
    const Image image = render_small(background);
    auto png = encode_png(image);
    ASSERT_TRUE(png) << png.error().message;
    const Decoded decoded = decode_png(*png);
    EXPECT_EQ(decoded.width, 128);
    EXPECT_EQ(decoded.height, 128);
    EXPECT_EQ(decoded.rgba, to_rgba(image)) << to_string(background);
  }
}

TEST(Encode, EveryPngSettingIsLossless) {
  const Image image = render_small(Background::kRadial, 96);
  const auto expected = to_rgba(image);
  for (int filters : {SPNG_FILTER_CHOICE_NONE, SPNG_FILTER_CHOICE_SUB, SPNG_FILTER_CHOICE_ALL}) {
    for (int level : {0, 1, 3, 9}) {
      auto png = encode_png(image, {.level = level, .filters = filters});
      ASSERT_TRUE(png) << png.error().message;
      EXPECT_EQ(decode_png(*png).rgba, expected) << filters << " " << level;
    }
  }
}

TEST(Encode, WebpLosslessDecodesToTheSamePixels) {
  for (Background background : {Background::kRadial, Background::kTransparent}) {
    const Image image = render_small(background);
    auto webp = encode_webp(image);
    ASSERT_TRUE(webp) << webp.error().message;
    Decoded decoded = decode_webp(*webp);
    EXPECT_EQ(decoded.width, 128);
    EXPECT_EQ(decoded.height, 128);
    // Lossless WebP keeps every visible pixel exactly but may store any colour under alpha 0
    // (it picks what compresses best), so fully transparent pixels compare as alpha only.
    for (std::size_t i = 0; i + 3 < decoded.rgba.size(); i += 4) {
      if (decoded.rgba[i + 3] == 0) decoded.rgba[i] = decoded.rgba[i + 1] = decoded.rgba[i + 2] = 0;
    }
    EXPECT_EQ(decoded.rgba, to_rgba(image)) << to_string(background);
  }
}

TEST(Encode, WebpLossyIsClose) {
  const Image image = render_small(Background::kRadial);
  auto webp = encode_webp(image, {.lossy = true, .quality = 90});
  ASSERT_TRUE(webp) << webp.error().message;
  const Decoded decoded = decode_webp(*webp);
  EXPECT_EQ(decoded.width, 128);
  EXPECT_LT(mean_abs_difference(decoded.rgba, to_rgba(image)), 6.0);
  auto lossless = encode_webp(image);
  ASSERT_TRUE(lossless);
  EXPECT_LT(webp->size(), lossless->size());
}

TEST(Encode, AnimatedWebpDecodesFrameByFrame) {
  MandalaSpec spec;
  spec.seed = 5;
  spec.size = 80;
  spec.format = Format::kWebp;
  spec.lossy = true;
  spec.frames = 6;
  auto file = render_file(spec);
  ASSERT_TRUE(file) << file.error().message;

  WebPData data{file->data(), file->size()};
  WebPAnimDecoderOptions options;
  ASSERT_TRUE(WebPAnimDecoderOptionsInit(&options));
  options.color_mode = MODE_RGBA;
  std::unique_ptr<WebPAnimDecoder, decltype(&WebPAnimDecoderDelete)> decoder(
      WebPAnimDecoderNew(&data, &options), &WebPAnimDecoderDelete);
  ASSERT_NE(decoder, nullptr);
  WebPAnimInfo info;
  ASSERT_TRUE(WebPAnimDecoderGetInfo(decoder.get(), &info));
  EXPECT_EQ(info.canvas_width, 80u);
  EXPECT_EQ(info.canvas_height, 80u);
  EXPECT_EQ(info.frame_count, 6u);
  EXPECT_EQ(info.loop_count, 0u);

  int frame = 0, last_timestamp = 0;
  while (WebPAnimDecoderHasMoreFrames(decoder.get())) {
    std::uint8_t* rgba = nullptr;
    ASSERT_TRUE(WebPAnimDecoderGetNext(decoder.get(), &rgba, &last_timestamp));
    const Image expected = render_mandala(spec, frame).value();
    const std::vector<std::uint8_t> got(rgba, rgba + 80 * 80 * 4);
    EXPECT_LT(mean_abs_difference(got, to_rgba(expected)), 8.0) << "frame " << frame;
    ++frame;
  }
  EXPECT_EQ(frame, 6);
  EXPECT_EQ(last_timestamp, 6 * kFrameMs);
}

TEST(Encode, AnimationRefusesMismatchedFrames) {
  auto encoder = AnimationEncoder::create(64, 64, kFrameMs, {});
  ASSERT_TRUE(encoder);
  auto added = encoder->add(render_small(Background::kSolid, 96));
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().message, "webp: every frame must have the same size");
}

TEST(RenderFile, SameSpecGivesIdenticalBytes) {
  MandalaSpec spec;
  spec.seed = 123;
  spec.size = 96;
  for (Format format : {Format::kPng, Format::kWebp}) {
    spec.format = format;
    auto a = render_file(spec), b = render_file(spec);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
  }
  spec.seed = 124;
  auto c = render_file(spec);
  spec.seed = 123;
  ASSERT_TRUE(c);
  EXPECT_NE(*c, *render_file(spec));
}

TEST(RenderFile, PngHasTheRequestedSize) {
  MandalaSpec spec;
  spec.seed = 1;
  spec.size = 200;
  spec.rows = 2;
  spec.cols = 3;
  auto png = render_file(spec);
  ASSERT_TRUE(png);
  const Decoded decoded = decode_png(*png);
  EXPECT_EQ(decoded.width, 200);
  EXPECT_EQ(decoded.height, 200);
  EXPECT_EQ(file_extension(spec), "png");
  EXPECT_EQ(mime_type(spec), "image/png");
}

}  // namespace
}  // namespace mando::render
