#include "transform/probe.hpp"

#include <gtest/gtest.h>

#include "transform/pipeline.hpp"
#include "transform/test_images.hpp"

namespace mando::transform {
namespace {

using testing::Pixels;
using namespace std::string_view_literals;

class TransformProbe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { init_vips(); }
};

std::string error_of(std::string_view bytes, const DecodeLimits& limits = {}) {
  auto header = probe(bytes, limits);
  EXPECT_FALSE(header);
  if (header) return "";
  EXPECT_EQ(header.error().kind, ErrorKind::kInvalidArgument);
  return header.error().message;
}

TEST_F(TransformProbe, ReadsTheSizeOfEachSupportedType) {
  const Pixels pixels = Pixels::solid(123, 45, {10, 20, 30});
  const std::pair<const char*, ImageType> cases[] = {{"jpeg", ImageType::kJpeg},
                                                     {"png", ImageType::kPng},
                                                     {"webp", ImageType::kWebp},
                                                     {"gif", ImageType::kGif}};
  for (const auto& [saver, type] : cases) {
    auto header = probe(testing::encode(pixels, saver), {});
    ASSERT_TRUE(header) << saver << ": " << header.error().message;
    EXPECT_EQ(header->type, type) << saver;
    EXPECT_EQ(header->width, 123u) << saver;
    EXPECT_EQ(header->height, 45u) << saver;
    EXPECT_EQ(header->frames, 1) << saver;
  }
}

TEST_F(TransformProbe, PngBombIsRefusedFromItsHeader) {
  const std::string bomb = testing::png_bomb(100'000, 100'000);
  EXPECT_LT(bomb.size(), 100u);
  EXPECT_EQ(error_of(bomb), "larger than 50 megapixels (100000 × 100000)");
  DecodeLimits small;
  small.max_pixels = 1'500'000;
  EXPECT_EQ(error_of(testing::png_bomb(2000, 1000), small),
            "larger than 1.5 megapixels (2000 × 1000)");
}

TEST_F(TransformProbe, CountsGifFramesAndRefusesTooMany) {
  const std::string gif = testing::animated_gif(10'000, {255, 0, 0}, {0, 0, 255});
  auto header = probe(gif, {});
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header->frames, 10'000);
  EXPECT_EQ(header->width, 16u);
  DecodeLimits limits;
  limits.max_frames = 100;
  EXPECT_EQ(error_of(gif, limits), "the animation has more than 100 frames");
}

TEST_F(TransformProbe, TypesAreNamedByMagicBytes) {
  const std::string tiff = testing::encode(Pixels::solid(8, 8, {1, 2, 3}), "tiff");
  EXPECT_EQ(error_of(tiff), "TIFF images are not supported (JPEG, PNG, WebP or GIF only)");
  EXPECT_EQ(error_of("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            "SVG images are not supported (JPEG, PNG, WebP or GIF only)");
  EXPECT_EQ(error_of("\xef\xbb\xbf  <svg width=\"10\"></svg>"),
            "SVG images are not supported (JPEG, PNG, WebP or GIF only)");
  EXPECT_EQ(error_of("%PDF-1.7\n..."),
            "PDF documents are not supported (JPEG, PNG, WebP or GIF only)");
  EXPECT_EQ(error_of(std::string("\0\0\0\x18"
                                 "ftypheic\0\0\0\0",
                                 16)),
            "HEIF images or videos are not supported (JPEG, PNG, WebP or GIF only)");
  EXPECT_EQ(error_of(std::string("\0\0\0\x1c"
                                 "ftypavif\0\0\0\0",
                                 16)),
            "AVIF images are not supported (JPEG, PNG, WebP or GIF only)");
  EXPECT_EQ(error_of("hello, world"), "not a supported image type (JPEG, PNG, WebP or GIF only)");
  EXPECT_EQ(error_of("<html><body>not an image</body></html>"),
            "not a supported image type (JPEG, PNG, WebP or GIF only)");
  EXPECT_EQ(error_of(""), "the file is empty");
}

TEST_F(TransformProbe, MalformedHeadersCouldNotBeRead) {
  const std::string jpeg = testing::encode(Pixels::solid(64, 64, {9, 9, 9}), "jpeg");
  // The first 20 bytes hold SOI and the start of APP0, not the frame header.
  EXPECT_EQ(error_of(jpeg.substr(0, 20)), "could not be read (no JPEG frame header)");
  EXPECT_EQ(error_of("\xff\xd8\xff\xd9"sv), "could not be read (no JPEG frame header)");
  const std::string ihdr("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
  EXPECT_EQ(error_of(ihdr), "could not be read (truncated PNG header)");
  EXPECT_EQ(error_of(ihdr + std::string("\0\0\0\0\0\0\0\x01\x08\x02\0\0\0", 13)),
            "could not be read (PNG with an invalid size)");
  EXPECT_EQ(error_of("GIF89a\x10\x00\x10\x00\x00\x00\x00\x3b"sv),
            "could not be read (GIF without frames)");
  EXPECT_EQ(error_of("RIFF\x10\0\0\0WEBPVP8 "sv), "could not be read (malformed WebP header)");
}

TEST_F(TransformProbe, InputSizeIsCappedFirst) {
  DecodeLimits limits;
  limits.max_input_bytes = 1 << 20;
  EXPECT_EQ(error_of(std::string(2 << 20, 'x'), limits),
            "the file is 2.0 MiB, larger than 1.0 MiB");
  EXPECT_TRUE(check_input_size(1 << 20, limits));
}

}  // namespace
}  // namespace mando::transform
