#include "render/mandala.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numbers>
#include <thread>

#include <gtest/gtest.h>

namespace mando::render {
namespace {

MandalaSpec small(std::uint64_t seed) {
  MandalaSpec spec;
  spec.seed = seed;
  spec.size = 160;
  return spec;
}

Image render_ok(const MandalaSpec& spec, int frame = 0) {
  auto image = render_mandala(spec, frame);
  EXPECT_TRUE(image) << image.error().message;
  return image ? std::move(*image) : Image{};
}

// Channel c (0 = blue .. 3 = alpha, as the bytes lie on little-endian) of pixel (x, y).
double channel(const Image& im, int x, int y, int c) {
  return static_cast<double>((im.argb(x, y) >> (8 * c)) & 0xff);
}

// Bilinear sample at a continuous position, in pixel-centre coordinates.
double sample(const Image& im, double x, double y, int c) {
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
  const double fx = x - x0, fy = y - y0;
  auto at = [&](int xi, int yi) {
    xi = std::clamp(xi, 0, im.width - 1);
    yi = std::clamp(yi, 0, im.height - 1);
    return channel(im, xi, yi, c);
  };
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) +
         (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

// Whether channel c of pixel (x, y) matches the picture at (sx, sy), a pixel-centre position:
// within `tolerance` of the bilinear sample, or of the range of the four pixels it is drawn
// from. A rotated antialiased edge or hairline may resample to anything between its
// neighbours, so the range is the fair comparison; a shape that is not there is still far off.
bool matches(const Image& im, int x, int y, double sx, double sy, int c, double tolerance) {
  const double v = channel(im, x, y, c);
  if (std::abs(v - sample(im, sx - 0.5, sy - 0.5, c)) <= tolerance) return true;
  const int x0 = static_cast<int>(std::floor(sx - 0.5)),
            y0 = static_cast<int>(std::floor(sy - 0.5));
  double lo = 255, hi = 0;
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const double n = channel(im, std::clamp(x0 + dx, 0, im.width - 1),
                               std::clamp(y0 + dy, 0, im.height - 1), c);
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
  }
  return v >= lo - tolerance && v <= hi + tolerance;
}

// The share of inked pixels (alpha > 0 in the picture or its transform) that match the
// transformed picture in every channel. `source(x, y)` maps a pixel centre to where the
// transform takes its colour from.
// The picture under a [1 2 1] x [1 2 1] kernel. A one-pixel hairline lands on a pixel centre in
// one copy and between two pixels in another; smoothing first makes such copies comparable
// without hiding a missing or misplaced shape.
Image smooth(const Image& im) {
  Image out = im;
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) {
      std::uint32_t word = 0;
      for (int c = 0; c < 4; ++c) {
        double sum = 0;
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            const double w = (dx == 0 ? 2 : 1) * (dy == 0 ? 2 : 1);
            sum += w * channel(im, std::clamp(x + dx, 0, im.width - 1),
                               std::clamp(y + dy, 0, im.height - 1), c);
          }
        }
        word |= static_cast<std::uint32_t>(std::lround(sum / 16)) << (8 * c);
      }
      std::memcpy(out.pixels.data() + static_cast<std::size_t>(y) * out.stride + 4 * x, &word, 4);
    }
  }
  return out;
}

template <typename Map>
double match_ratio(const Image& original, Map source, double tolerance = 16) {
  const Image im = smooth(original);
  int inked = 0, matching = 0;
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) {
      const auto [sx, sy] = source(x + 0.5, y + 0.5);
      if (channel(im, x, y, 3) == 0 && sample(im, sx - 0.5, sy - 0.5, 3) < 1) continue;
      ++inked;
      bool same = true;
      for (int c = 0; c < 4; ++c) same = same && matches(im, x, y, sx, sy, c, tolerance);
      matching += same;
    }
  }
  EXPECT_GT(inked, im.width * im.height / 50) << "almost nothing drawn";
  return inked == 0 ? 0 : static_cast<double>(matching) / inked;
}

double coverage(const Image& im) {
  int inked = 0;
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) inked += (im.argb(x, y) >> 24) > 16;
  }
  return static_cast<double>(inked) / (im.width * im.height);
}

// The map of a turn by 2π/order about (centre, centre), for match_ratio().
auto turn(double centre, int order) {
  const double angle = 2 * std::numbers::pi / order;
  return [=](double x, double y) {
    const double dx = x - centre, dy = y - centre;
    return std::pair{centre + dx * std::cos(angle) - dy * std::sin(angle),
                     centre + dx * std::sin(angle) + dy * std::cos(angle)};
  };
}

TEST(Mandala, SameSpecGivesIdenticalPixels) {
  const MandalaSpec spec = small(42);
  EXPECT_EQ(render_ok(spec).pixels, render_ok(spec).pixels);
}

TEST(Mandala, ConcurrentRendersAreIdentical) {
  MandalaSpec spec = small(7);
  spec.rows = spec.cols = 2;
  const Image reference = render_ok(spec);
  std::vector<Image> images(4);
  {
    std::vector<std::jthread> threads;
    for (auto& image : images) {
      threads.emplace_back([&spec, &image] { image = render_mandala(spec).value(); });
    }
  }
  for (const Image& image : images) EXPECT_EQ(image.pixels, reference.pixels);
}

TEST(Mandala, DifferentSeedsGiveDifferentPictures) {
  EXPECT_NE(render_ok(small(1)).pixels, render_ok(small(2)).pixels);
  MandalaSpec a = small(1), b = small(1);
  b.palette = "viridis";
  a.palette = "magma";
  EXPECT_NE(render_ok(a).pixels, render_ok(b).pixels);
}

TEST(Mandala, HasTheRequestedSizeAndLayout) {
  MandalaSpec spec = small(3);
  spec.size = 97;  // odd sizes too
  const Image image = render_ok(spec);
  EXPECT_EQ(image.width, 97);
  EXPECT_EQ(image.height, 97);
  EXPECT_GE(image.stride, 4 * 97);
  EXPECT_EQ(image.pixels.size(), static_cast<std::size_t>(image.stride) * 97);
  EXPECT_TRUE(image.opaque());  // radial background
}

struct SymmetryCase {
  int order;
  Style style;
  Choice mirror;
};

TEST(Mandala, RotationalSymmetryIsExactAboutTheCentre) {
  const SymmetryCase cases[] = {
      {3, Style::kBezierFill, Choice::kNo}, {5, Style::kFill, Choice::kYes},
      {8, Style::kBezier, Choice::kRandom}, {12, Style::kLine, Choice::kNo},
      {6, Style::kRandom, Choice::kRandom}, {16, Style::kBezierFill, Choice::kYes},
  };
  for (const auto& c : cases) {
    for (std::uint64_t seed : {11u, 12u}) {
      MandalaSpec spec = small(seed);
      spec.size = 128;
      spec.symmetry = {c.order};
      spec.style = c.style;
      spec.mirror = c.mirror;
      spec.background = Background::kTransparent;  // ink = alpha, the background cannot help
      EXPECT_GE(match_ratio(render_ok(spec), turn(spec.size / 2.0, c.order)), 0.98)
          << "order " << c.order << " style " << to_string(c.style) << " seed " << seed;
    }
  }
}

TEST(Mandala, RotationalSymmetryHoldsWithGlowAndGradient) {
  MandalaSpec spec = small(5);
  spec.size = 128;
  spec.symmetry = {7};
  spec.glow = true;
  spec.background = Background::kRadial;
  EXPECT_GE(match_ratio(render_ok(spec), turn(64, 7)), 0.98);
}

TEST(Mandala, TheSymmetryCheckCanFail) {
  // A picture of order 7 is not symmetric under a quarter turn, nor under a turn by 2π/7 about
  // a point two pixels off the centre.
  MandalaSpec spec = small(5);
  spec.size = 128;
  spec.symmetry = {7};
  spec.background = Background::kTransparent;
  const Image im = render_ok(spec);
  auto quarter = [](double x, double y) { return std::pair{y, 128 - x}; };
  EXPECT_LT(match_ratio(im, quarter), 0.9);
  EXPECT_LT(match_ratio(im, turn(66, 7)), 0.9);
}

TEST(Mandala, MirroredSeedsGiveMirrorSymmetry) {
  for (Style style : {Style::kFill, Style::kBezierFill, Style::kLine, Style::kBezier}) {
    MandalaSpec spec = small(21);
    spec.mirror = Choice::kYes;
    spec.style = style;
    spec.background = Background::kTransparent;
    const Image im = render_ok(spec);
    auto flip = [&](double x, double y) { return std::pair{spec.size - x, y}; };
    EXPECT_GE(match_ratio(im, flip), 0.98) << to_string(style);
  }
}

TEST(Mandala, UnmirroredSeedsAreNotMirrorSymmetric) {
  MandalaSpec spec = small(21);
  spec.mirror = Choice::kNo;
  spec.style = Style::kBezierFill;
  spec.background = Background::kTransparent;
  const Image im = render_ok(spec);
  auto flip = [&](double x, double y) { return std::pair{spec.size - x, y}; };
  EXPECT_LT(match_ratio(im, flip), 0.9);
}

TEST(Mandala, InkCoverageIsSensible) {
  for (std::uint64_t seed = 100; seed < 112; ++seed) {
    MandalaSpec spec = small(seed);
    spec.size = 96;
    spec.background = Background::kTransparent;
    const double ink = coverage(render_ok(spec));
    EXPECT_GT(ink, 0.05) << "seed " << seed;
    EXPECT_LT(ink, 0.85) << "seed " << seed;
  }
}

TEST(Mandala, GridCellsDifferFromEachOther) {
  MandalaSpec spec = small(9);
  spec.size = 128;
  spec.rows = 1;
  spec.cols = 2;
  spec.background = Background::kTransparent;
  const Image im = render_ok(spec);
  int differ = 0;
  for (int y = 0; y < 128; ++y) {
    for (int x = 0; x < 64; ++x) differ += im.argb(x, y) != im.argb(x + 64, y);
  }
  EXPECT_GT(differ, 128 * 64 / 10);
}

TEST(Mandala, AnimationFramesMoveAndLoop) {
  MandalaSpec spec = small(4);
  spec.size = 96;
  spec.format = Format::kWebp;
  spec.frames = 8;
  for (Motion motion : {Motion::kTurn, Motion::kBloom}) {
    spec.motion = motion;
    EXPECT_NE(render_ok(spec, 0).pixels, render_ok(spec, 1).pixels);
  }
  auto past_end = render_mandala(spec, 8);
  ASSERT_FALSE(past_end);
  EXPECT_EQ(past_end.error().message, "frame must be between 0 and 7, got 8");
}

TEST(Mandala, InvalidSpecIsAnError) {
  MandalaSpec spec;
  spec.size = 10;
  auto image = render_mandala(spec);
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(image.error().message, "size must be between 64 and 4096, got 10");
}

}  // namespace
}  // namespace mando::render
