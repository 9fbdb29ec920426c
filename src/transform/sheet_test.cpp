#include <cmath>

#include <gtest/gtest.h>

#include "transform/pipeline.hpp"
#include "transform/test_images.hpp"

namespace mando::transform {
namespace {

using testing::decode;
using testing::Decoded;
using testing::distance;
using testing::Pixels;
using testing::Rgb;
using testing::SheetGrid;

constexpr Rgb kGrey{128, 128, 128};
const std::vector<Rgb> kColours{{230, 20, 20},  {20, 200, 20},  {20, 20, 230}, {230, 230, 20},
                                {20, 220, 220}, {200, 20, 200}, {240, 140, 20}};

class Sheet : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { init_vips(); }

  static std::string tile(Rgb colour, Format format = Format::kJpeg, int size = 128) {
    const std::string input = testing::encode(Pixels::solid(300, 240, colour), "png");
    return thumbnail(input, {size, Crop::kAttention, format}, {}).value();
  }
};

TEST_F(Sheet, EachCellShowsItsInputAndAFailedOneIsGrey) {
  std::vector<std::string> tiles;
  for (const Rgb& c : kColours) tiles.push_back(tile(c));
  tiles[3] = "";               // failed download
  tiles[5] = "not a picture";  // never trusted, so treated as failed too
  auto sheet = contact_sheet(tiles, {64, Format::kPng});
  ASSERT_TRUE(sheet) << sheet.error().to_string();
  const Decoded out = decode(*sheet);
  ASSERT_TRUE(out.ok);
  const SheetGrid grid(out.width, tiles.size(), 64);
  EXPECT_EQ(grid.columns, 3);
  EXPECT_GT(grid.gap, 0);
  EXPECT_EQ(out.height, 3 * 64 + 4 * grid.gap);  // 7 pictures: 3 rows
  for (int k = 0; k < static_cast<int>(tiles.size()); ++k) {
    const Rgb expected = tiles[k].starts_with("\xff\xd8") ? kColours[k] : kGrey;
    EXPECT_LT(distance(out.at(grid.x(k) + 32, grid.y(k) + 32), expected), 10) << "cell " << k + 1;
  }
}

TEST_F(Sheet, CellsAreNumberedInTheirCorner) {
  const std::vector<std::string> tiles{tile(kColours[0]), tile(kColours[1])};
  auto sheet = contact_sheet(tiles, {128, Format::kPng});
  ASSERT_TRUE(sheet);
  const Decoded out = decode(*sheet);
  const SheetGrid grid(out.width, tiles.size(), 128);
  // The label is the 3x5 font at 2 px per font pixel (128 / 64) on a black box, one font pixel
  // of padding: "1" has its top row's middle pixel set, "2" its top row's first.
  const int s = 2;
  auto font_pixel = [&](int k, int col, int row) {
    return out.at(grid.x(k) + s * (1 + col) + s / 2, grid.y(k) + s * (1 + row) + s / 2);
  };
  EXPECT_LT(distance(font_pixel(0, 1, 0), {255, 255, 255}), 2);
  EXPECT_LT(distance(font_pixel(0, 0, 0), {0, 0, 0}), 2);
  EXPECT_LT(distance(font_pixel(1, 0, 0), {255, 255, 255}), 2);
  EXPECT_LT(distance(font_pixel(1, 0, 1), {0, 0, 0}), 2);
}

TEST_F(Sheet, SheetFitsUnderMaxBytes) {
  // Twenty noisy tiles compress badly; 300 KiB forces lower quality and then smaller cells.
  std::vector<std::string> tiles;
  for (int i = 0; i < 20; ++i) {
    const std::string input = testing::encode(Pixels::noise(256, 256, 100 + i), "png");
    tiles.push_back(thumbnail(input, {256, Crop::kCentre, Format::kJpeg}, {}).value());
  }
  SheetSpec spec{256, Format::kJpeg, 300 << 10};
  auto roomy = contact_sheet(tiles, SheetSpec{256, Format::kJpeg, 10 << 20});
  auto tight = contact_sheet(tiles, spec);
  ASSERT_TRUE(roomy && tight) << (roomy ? tight.error().message : roomy.error().message);
  EXPECT_GT(roomy->size(), spec.max_bytes);
  EXPECT_LE(tight->size(), spec.max_bytes);
  const Decoded small = decode(*tight);
  ASSERT_TRUE(small.ok);
  EXPECT_LT(small.width, decode(*roomy).width);
  // PNG shrinks its cells straight away.
  spec.format = Format::kPng;
  spec.max_bytes = 1 << 20;
  auto png = contact_sheet(tiles, spec);
  ASSERT_TRUE(png) << png.error().message;
  EXPECT_LE(png->size(), spec.max_bytes);
}

TEST_F(Sheet, RefusesNoTilesAndTooMany) {
  EXPECT_EQ(contact_sheet({}, {}).error().message, "a contact sheet needs a picture");
  EXPECT_FALSE(contact_sheet(std::vector<std::string>(kMaxSheetTiles + 1), {}));
  // All failed is still a sheet: every cell grey and numbered.
  auto grey = contact_sheet(std::vector<std::string>(4), {64, Format::kJpeg});
  ASSERT_TRUE(grey);
  EXPECT_EQ(decode(*grey).width, 2 * 64 + 3 * 2);
}

}  // namespace
}  // namespace mando::transform
