#include "transform/spec.hpp"

#include <gtest/gtest.h>

namespace mando::transform {
namespace {

TEST(TransformSpec, CropNamesRoundTrip) {
  for (Crop crop : {Crop::kAttention, Crop::kEntropy, Crop::kCentre, Crop::kNone}) {
    auto parsed = parse_crop(to_string(crop));
    ASSERT_TRUE(parsed) << to_string(crop);
    EXPECT_EQ(*parsed, crop);
  }
  auto bad = parse_crop("center");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "unknown crop \"center\" (attention, entropy, centre or none)");
}

TEST(TransformSpec, FormatNamesMimeTypesAndExtensions) {
  EXPECT_EQ(parse_format("jpeg").value(), Format::kJpeg);
  EXPECT_EQ(parse_format("png").value(), Format::kPng);
  EXPECT_EQ(parse_format("webp").value(), Format::kWebp);
  EXPECT_FALSE(parse_format("jpg"));
  EXPECT_EQ(to_string(Format::kWebp), "webp");
  EXPECT_EQ(mime_type(Format::kJpeg), "image/jpeg");
  EXPECT_EQ(mime_type(Format::kPng), "image/png");
  EXPECT_EQ(mime_type(Format::kWebp), "image/webp");
  EXPECT_EQ(file_extension(Format::kJpeg), "jpg");
  EXPECT_EQ(file_extension(Format::kWebp), "webp");
}

TEST(TransformSpec, SizeIsChecked) {
  EXPECT_TRUE(validate(TransformSpec{}));
  EXPECT_TRUE(validate(TransformSpec{kMinSize}));
  EXPECT_TRUE(validate(TransformSpec{kMaxSize}));
  auto small = validate(TransformSpec{kMinSize - 1});
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().message, "size 63 is out of range (64..2048)");
  EXPECT_FALSE(validate(TransformSpec{kMaxSize + 1}));
}

TEST(TransformSpec, LimitsAndSheetSpecAreChecked) {
  EXPECT_TRUE(validate(DecodeLimits{}));
  DecodeLimits limits;
  limits.max_frames = 0;
  EXPECT_FALSE(validate(limits));
  EXPECT_TRUE(validate(SheetSpec{}));
  EXPECT_FALSE(validate(SheetSpec{kMinTile - 1}));
  SheetSpec tiny;
  tiny.max_bytes = 1000;
  EXPECT_FALSE(validate(tiny));
}

}  // namespace
}  // namespace mando::transform
