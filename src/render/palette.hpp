#pragma once
// Colour maps and hand-picked palettes. Each is a list of control colours spaced evenly over
// [0, 1] and interpolated linearly in sRGB; the tables are constant data, so lookups are
// thread-safe.

#include <span>
#include <string_view>

namespace mando::render {

struct Colour {
  double r = 0, g = 0, b = 0;  // 0..1, sRGB
};

struct Palette {
  std::string_view name;
  std::span<const unsigned> stops;  // 0xRRGGBB, evenly spaced over [0, 1]
  bool cyclic = false;              // the last stop leads back to the first (twilight)
  bool dark_start = false;          // t near 0 is almost black: faces avoid it

  // The colour at t; t is clamped to [0, 1] (wrapped for cyclic maps).
  Colour at(double t) const;
};

// Every palette, colour maps first; nullptr for an unknown name.
std::span<const Palette> palettes();
const Palette* find_palette(std::string_view name);

Colour mix(Colour a, Colour b, double t);
Colour rgb(unsigned hex);

}  // namespace mando::render
