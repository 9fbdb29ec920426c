#include "render/spec.hpp"

#include <gtest/gtest.h>

namespace mando::render {
namespace {

std::string error_of(std::string_view text) {
  auto spec = parse_spec(text);
  EXPECT_FALSE(spec) << text;
  return spec ? "" : spec.error().message;
}

TEST(MandalaSpec, DefaultsAreValid) { EXPECT_TRUE(validate(MandalaSpec{})); }

TEST(MandalaSpec, EmptyTextGivesDefaults) {
  auto spec = parse_spec("  \n");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(*spec, MandalaSpec{});
}

TEST(MandalaSpec, CanonicalTextRoundTrips) {
  std::vector<MandalaSpec> specs(6);
  specs[1].seed = 18446744073709551615ULL;
  specs[1].size = 4096;
  specs[1].symmetry = {12};
  specs[1].style = Style::kBezierFill;
  specs[1].palette = "twilight";
  specs[2].layers = 3;
  specs[2].radii = {1, 0.625, 0.3};
  specs[2].symmetry = {5, 8, 16};
  specs[2].mirror = Choice::kYes;
  specs[2].face = Rgb{0xff, 0x88, 0x00};
  specs[2].edge = Rgb{0, 0, 0};
  specs[2].background = Background::kSolid;
  specs[2].background_colour = Rgb{1, 2, 3};
  specs[2].alpha = 0.123456789;
  specs[2].stroke = 0;
  specs[2].glow = true;
  specs[3].format = Format::kWebp;
  specs[3].lossy = true;
  specs[3].quality = 42;
  specs[3].rows = 4;
  specs[3].cols = 8;
  specs[4].format = Format::kWebp;
  specs[4].frames = 48;
  specs[4].size = 512;
  specs[4].motion = Motion::kBloom;
  specs[5].style = Style::kLine;
  specs[5].mirror = Choice::kNo;
  specs[5].background = Background::kTransparent;
  specs[5].points = 24;
  for (const MandalaSpec& spec : specs) {
    ASSERT_TRUE(validate(spec));
    const std::string text = format_spec(spec);
    auto parsed = parse_spec(text);
    ASSERT_TRUE(parsed) << text << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, spec) << text;
    EXPECT_EQ(format_spec(*parsed), text);
  }
}

TEST(MandalaSpec, CanonicalTextReadsWell) {
  MandalaSpec spec;
  spec.seed = 42;
  spec.symmetry = {12};
  spec.style = Style::kBezierFill;
  spec.palette = "twilight";
  EXPECT_EQ(format_spec(spec),
            "seed=42 size=1024 layers=4 symmetry=12 points=6 style=bezier_fill mirror=random "
            "palette=twilight alpha=0.7 background=radial stroke=1.5 glow=off grid=1x1 format=png");
}

TEST(MandalaSpec, AnyOrderAndWhiteSpace) {
  auto spec = parse_spec("\tpalette=magma  seed=7\nsymmetry=6,8 layers=2 grid=2x3");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->seed, 7u);
  EXPECT_EQ(spec->palette, "magma");
  EXPECT_EQ(spec->symmetry, (std::vector<int>{6, 8}));
  EXPECT_EQ(spec->rows, 2);
  EXPECT_EQ(spec->cols, 3);
}

TEST(MandalaSpec, RadiiSetTheLayerCount) {
  auto spec = parse_spec("radii=1,0.5");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->layers, 2);
  EXPECT_EQ(error_of("radii=1,0.5 layers=3"), "radii has 2 values but layers is 3");
}

TEST(MandalaSpec, ErrorsNameTheOptionAndRange) {
  EXPECT_EQ(error_of("size=10"), "size must be between 64 and 4096, got 10");
  EXPECT_EQ(error_of("layers=9"), "layers must be between 1 and 8, got 9");
  EXPECT_EQ(error_of("symmetry=0"), "symmetry must be between 1 and 64, got 0");
  EXPECT_EQ(error_of("points=1"), "points must be between 2 and 24, got 1");
  EXPECT_EQ(error_of("alpha=1.5"), "alpha must be between 0.05 and 1, got 1.5");
  EXPECT_EQ(error_of("alpha=nan"), "alpha must be between 0.05 and 1, got nan");
  EXPECT_EQ(error_of("stroke=9"), "stroke must be between 0 and 8, got 9");
  EXPECT_EQ(error_of("grid=9x1"), "grid rows must be between 1 and 8, got 9");
  EXPECT_EQ(error_of("format=webp lossy=yes quality=0"),
            "quality must be between 1 and 100, got 0");
  EXPECT_EQ(error_of("size=abc"), "size must be a number, got 'abc'");
  EXPECT_EQ(error_of("seed=-1"), "seed must be a number, got '-1'");
  EXPECT_EQ(error_of("style=zigzag"),
            "style must be one of line, fill, bezier, bezier_fill, random, got 'zigzag'");
  EXPECT_EQ(error_of("glow=maybe"), "glow must be on or off, got 'maybe'");
  EXPECT_EQ(error_of("face=#12345"), "face must be a colour #rrggbb, got '#12345'");
  EXPECT_EQ(error_of("symmetry=3,4 layers=3"),
            "symmetry has 2 values but layers is 3 (give one, or one per layer)");
  EXPECT_EQ(error_of("frames=1 format=webp"),
            "frames must be 0 (a still image) or between 2 and 120, got 1");
  EXPECT_EQ(error_of("frames=10"), "frames needs format=webp (animations are animated WebP)");
  EXPECT_EQ(error_of("frames=10 format=webp size=2048"),
            "size must be between 64 and 1024 for an animation, got 2048");
  EXPECT_EQ(error_of("lossy=yes"), "lossy needs format=webp");
  EXPECT_EQ(error_of("size=200 grid=8x8"),
            "grid 8x8 needs size at least 256 (32 pixels per cell), got 200");
  EXPECT_NE(error_of("palette=rainbow").find("palette must be random or one of viridis, plasma"),
            std::string::npos);
}

TEST(MandalaSpec, MalformedTextIsRefused) {
  EXPECT_EQ(error_of("seed"), "expected key=value, got 'seed'");
  EXPECT_EQ(error_of("size=100 size=200"), "option 'size' is given twice");
  EXPECT_NE(error_of("colour=red").find("unknown option 'colour' (known: seed, size,"),
            std::string::npos);
  EXPECT_EQ(error_of("grid=3"), "grid must be ROWSxCOLS, e.g. 3x4, got '3'");
  EXPECT_EQ(error_of("radii=1,,0.5"), "radii must be a number, got ''");
  EXPECT_EQ(error_of(std::string(5000, ' ')), "a spec is at most 4096 characters, got 5000");
}

TEST(MandalaSpec, IrrelevantOptionsGoBackToDefaults) {
  auto spec = parse_spec("format=webp quality=30 motion=bloom");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->quality, MandalaSpec{}.quality);  // lossless WebP has no quality
  EXPECT_EQ(spec->motion, MandalaSpec{}.motion);    // a still has no motion
}

TEST(MandalaSpec, EveryPaletteNameIsAccepted) {
  for (std::string_view name : palette_names()) {
    EXPECT_TRUE(parse_spec("palette=" + std::string(name))) << name;
  }
  EXPECT_GE(palette_names().size(), 10u);
}

}  // namespace
}  // namespace mando::render
