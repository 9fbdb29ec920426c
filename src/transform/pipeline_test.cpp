#include "transform/pipeline.hpp"

#include <chrono>

#include <gtest/gtest.h>

#include "transform/test_images.hpp"
#include "transform/vips_image.hpp"

namespace mando::transform {
namespace {

using testing::decode;
using testing::distance;
using testing::Pixels;
using testing::Rgb;

constexpr Rgb kRed{220, 30, 30};
constexpr Rgb kBlue{30, 30, 220};

class Pipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { init_vips(); }

  static std::string ok(std::string_view input, TransformSpec spec, DecodeLimits limits = {}) {
    auto out = thumbnail(input, spec, limits);
    EXPECT_TRUE(out) << out.error().to_string();
    return out ? *out : std::string();
  }
  static Error error(std::string_view input, TransformSpec spec = {}, DecodeLimits limits = {}) {
    auto out = thumbnail(input, spec, limits);
    EXPECT_FALSE(out);
    return out ? Error{} : out.error();
  }
};

TEST_F(Pipeline, EveryCropFillsTheSquareAndNoneFitsInside) {
  const std::string input = testing::encode(Pixels::halves(800, 400, kRed, kBlue), "jpeg");
  for (Crop crop : {Crop::kAttention, Crop::kEntropy, Crop::kCentre}) {
    const auto out = decode(ok(input, {256, crop, Format::kPng}));
    EXPECT_EQ(out.width, 256) << to_string(crop);
    EXPECT_EQ(out.height, 256) << to_string(crop);
  }
  const auto fitted = decode(ok(input, {256, Crop::kNone, Format::kPng}));
  EXPECT_EQ(fitted.width, 256);
  EXPECT_EQ(fitted.height, 128);
  // Small pictures grow to the size asked for, so a sheet's cells match.
  const auto grown = decode(ok(testing::encode(Pixels::solid(40, 40, kRed), "png"), {128}));
  EXPECT_EQ(grown.width, 128);
}

TEST_F(Pipeline, InputTypeComesFromTheBytesAndOutputFromTheSpec) {
  const Pixels pixels = Pixels::solid(300, 200, kRed);
  const std::pair<Format, const char*> outputs[] = {
      {Format::kJpeg, "\xff\xd8\xff"}, {Format::kPng, "\x89PNG"}, {Format::kWebp, "RIFF"}};
  for (const char* saver : {"jpeg", "png", "webp", "gif"}) {
    const std::string input = testing::encode(pixels, saver);
    for (const auto& [format, magic] : outputs) {
      const std::string out = ok(input, {128, Crop::kCentre, format});
      EXPECT_TRUE(out.starts_with(magic)) << saver << " -> " << to_string(format);
      const auto decoded = decode(out);
      EXPECT_EQ(decoded.width, 128);
      EXPECT_LT(distance(decoded.at(64, 64), kRed), 12) << saver << " -> " << to_string(format);
    }
  }
}

TEST_F(Pipeline, ExifOrientationSixIsApplied) {
  // Stored landscape, red on the left; orientation 6 means "rotate 90 degrees clockwise to
  // view", so it shows as a portrait with red at the top.
  const std::string stored = testing::encode(Pixels::halves(200, 100, kRed, kBlue), "jpeg");
  const std::string input = testing::with_exif(stored, 6, false);
  const auto out = decode(ok(input, {200, Crop::kNone, Format::kPng}));
  EXPECT_EQ(out.width, 100);
  EXPECT_EQ(out.height, 200);
  EXPECT_LT(distance(out.at(50, 20), kRed), 12);
  EXPECT_LT(distance(out.at(50, 180), kBlue), 12);
}

TEST_F(Pipeline, MetadataIsStrippedGpsIncluded) {
  const std::string stored = testing::encode(Pixels::solid(300, 300, kBlue), "jpeg");
  const std::string input = testing::with_exif(stored, 1, true);
  // The fixture really carries GPS: libvips (libexif) reads it back.
  ASSERT_TRUE(decode(input).has_field("exif-ifd3-GPSLatitude"));
  for (Format format : {Format::kJpeg, Format::kPng, Format::kWebp}) {
    const std::string out = ok(input, {128, Crop::kAttention, format});
    const auto decoded = decode(out);
    ASSERT_TRUE(decoded.ok);
    for (const char* field : {"exif", "xmp-data", "iptc-data", "icc-profile-data"}) {
      EXPECT_FALSE(decoded.has_field(field)) << to_string(format) << " has " << field;
    }
    EXPECT_EQ(out.find("Exif"), std::string::npos) << to_string(format);
  }
}

TEST_F(Pipeline, EmbeddedProfilesAreConvertedToSrgb) {
  // Red in Display P3, with the P3 profile embedded: the stored numbers are not sRGB's.
  const std::string srgb = testing::encode(Pixels::solid(200, 200, kRed), "png");
  VipsImage* loaded = nullptr;
  ASSERT_EQ(vips_pngload_buffer(const_cast<char*>(srgb.data()), srgb.size(), &loaded, nullptr), 0);
  detail::Image image(loaded);
  VipsImage* p3 = nullptr;
  ASSERT_EQ(vips_icc_transform(image.get(), &p3, "p3", "input_profile", "srgb", nullptr), 0)
      << vips_error_buffer();
  detail::Image p3_image(p3);
  void* buffer = nullptr;
  std::size_t length = 0;
  ASSERT_EQ(vips_pngsave_buffer(p3_image.get(), &buffer, &length, nullptr), 0);
  const std::string input(static_cast<const char*>(buffer), length);
  g_free(buffer);
  ASSERT_TRUE(decode(input).has_field("icc-profile-data"));
  ASSERT_GT(distance(decode(input).at(10, 10), kRed), 12);  // the file's own numbers differ

  const auto out = decode(ok(input, {128, Crop::kCentre, Format::kPng}));
  EXPECT_LT(distance(out.at(64, 64), kRed), 4);
  EXPECT_FALSE(out.has_field("icc-profile-data"));
}

TEST_F(Pipeline, PngBombIsRefusedByThePixelCap) {
  const auto e = error(testing::png_bomb(100'000, 100'000));
  EXPECT_EQ(e.kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(e.message, "larger than 50 megapixels (100000 × 100000)");
}

TEST_F(Pipeline, TruncatedJpegCouldNotBeRead) {
  const std::string whole = testing::encode(Pixels::noise(512, 512, 7), "jpeg");
  const auto e = error(std::string_view(whole).substr(0, whole.size() * 6 / 10));
  EXPECT_EQ(e.kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(e.message.starts_with("could not be read (")) << e.message;
}

TEST_F(Pipeline, SvgAndTiffAreRefused) {
  const auto svg = error("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>");
  EXPECT_EQ(svg.message, "SVG images are not supported (JPEG, PNG, WebP or GIF only)");
  const auto tiff = error(testing::encode(Pixels::solid(32, 32, kRed), "tiff"));
  EXPECT_EQ(tiff.message, "TIFF images are not supported (JPEG, PNG, WebP or GIF only)");
}

TEST_F(Pipeline, TenThousandFrameGifGivesItsFirstFrame) {
  const std::string gif = testing::animated_gif(10'000, kRed, kBlue);
  const auto start = std::chrono::steady_clock::now();
  const auto out = decode(ok(gif, {128, Crop::kCentre, Format::kPng}));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(distance(out.at(64, 64), kRed), 4);
  // Only the block headers of the other frames are read: no decoding of 10,000 frames (a bound
  // with room for a loaded machine and the sanitizers, not a benchmark).
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  DecodeLimits limits;
  limits.max_frames = 9'999;
  EXPECT_EQ(error(gif, {}, limits).message, "the animation has more than 9999 frames");
}

TEST_F(Pipeline, AlphaBecomesWhiteInJpegAndStaysInPng) {
  // A PNG with alpha, fully transparent: libvips makes it from an RGBA memory image.
  std::vector<std::uint8_t> rgba(64 * 64 * 4, 0);
  detail::Image image(
      vips_image_new_from_memory(rgba.data(), rgba.size(), 64, 64, 4, VIPS_FORMAT_UCHAR));
  void* buffer = nullptr;
  std::size_t length = 0;
  ASSERT_EQ(vips_pngsave_buffer(image.get(), &buffer, &length, nullptr), 0);
  const std::string input(static_cast<const char*>(buffer), length);
  g_free(buffer);
  const auto jpeg = decode(ok(input, {64, Crop::kCentre, Format::kJpeg}));
  EXPECT_EQ(jpeg.bands, 3);
  EXPECT_LT(distance(jpeg.at(32, 32), {255, 255, 255}), 4);
  const auto png = decode(ok(input, {64, Crop::kCentre, Format::kPng}));
  EXPECT_EQ(png.bands, 4);
}

TEST_F(Pipeline, BadSpecsAreRefused) {
  const std::string input = testing::encode(Pixels::solid(64, 64, kRed), "png");
  EXPECT_EQ(error(input, {10}).message, "size 10 is out of range (64..2048)");
}

}  // namespace
}  // namespace mando::transform
