#include "render/palette.hpp"

#include <algorithm>
#include <cmath>

namespace mando::render {
namespace {

// The matplotlib colour maps (viridis, plasma, magma, inferno: van der Walt and Smith; twilight:
// Bastian Lauber; turbo: Google), sampled at 11 or 9 even points. Linear interpolation between
// them stays within a few 1/255 of the originals, which is invisible in a mandala.
constexpr unsigned kViridis[] = {0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c,
                                 0x22a884, 0x44bf70, 0x7ad151, 0xbddf26, 0xfde725};
constexpr unsigned kPlasma[] = {0x0d0887, 0x41049d, 0x6a00a8, 0x8f0da4, 0xb12a90, 0xcc4778,
                                0xe16462, 0xf2844b, 0xfca636, 0xfcce25, 0xf0f921};
constexpr unsigned kMagma[] = {0x000004, 0x140e36, 0x3b0f70, 0x641a80, 0x8c2981, 0xb73779,
                               0xde4968, 0xf7705c, 0xfe9f6d, 0xfecf92, 0xfcfdbf};
constexpr unsigned kInferno[] = {0x000004, 0x160b39, 0x420a68, 0x6a176e, 0x932667, 0xbc3754,
                                 0xdd513a, 0xf37819, 0xfca50a, 0xf6d746, 0xfcffa4};
constexpr unsigned kTwilight[] = {0xe2d9e2, 0x9ebbc9, 0x6785be, 0x5e43a5, 0x2f1436,
                                  0x6d1e4f, 0xae4a47, 0xcf9a84, 0xe2d9e2};
constexpr unsigned kTurbo[] = {0x30123b, 0x4662d7, 0x36aaf9, 0x1ae4b6, 0x72fe5e,
                               0xc7ef34, 0xfbb938, 0xf56918, 0xc92903, 0x7a0403};
// Hand-picked palettes: neighbours harmonise, so any stretch of a palette makes a set of layers.
constexpr unsigned kLotus[] = {0x2b1b3f, 0x6b3a75, 0xc0587e, 0xf4a29a, 0xffe3c8};
constexpr unsigned kOcean[] = {0x071a2f, 0x0f4c75, 0x1b8a9a, 0x6cd4c5, 0xe8f6ef};
constexpr unsigned kEmber[] = {0x1a0a0a, 0x6a1b1b, 0xc2410c, 0xf59e0b, 0xfde68a};
constexpr unsigned kJade[] = {0x0b1f1a, 0x14532d, 0x2f855a, 0x9ae6b4, 0xf0fff4};
constexpr unsigned kAurora[] = {0x0b1026, 0x3b1e6d, 0x2a9d8f, 0x8ae9c1, 0xf6f7d7};
constexpr unsigned kSakura[] = {0x3a2440, 0x8e4a73, 0xe38fb0, 0xf9d3df, 0xfff7f3};

constexpr Palette kPalettes[] = {
    {"viridis", kViridis, false, false},  {"plasma", kPlasma, false, false},
    {"magma", kMagma, false, true},       {"inferno", kInferno, false, true},
    {"twilight", kTwilight, true, false}, {"turbo", kTurbo, false, false},
    {"lotus", kLotus, false, true},       {"ocean", kOcean, false, true},
    {"ember", kEmber, false, true},       {"jade", kJade, false, true},
    {"aurora", kAurora, false, true},     {"sakura", kSakura, false, true},
};

}  // namespace

Colour rgb(unsigned hex) {
  return {((hex >> 16) & 0xff) / 255.0, ((hex >> 8) & 0xff) / 255.0, (hex & 0xff) / 255.0};
}

Colour mix(Colour a, Colour b, double t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

Colour Palette::at(double t) const {
  t = cyclic ? t - std::floor(t) : std::clamp(t, 0.0, 1.0);
  const double x = t * static_cast<double>(stops.size() - 1);
  const auto i = std::min(static_cast<std::size_t>(x), stops.size() - 2);
  return mix(rgb(stops[i]), rgb(stops[i + 1]), x - static_cast<double>(i));
}

std::span<const Palette> palettes() { return kPalettes; }

const Palette* find_palette(std::string_view name) {
  for (const Palette& p : kPalettes) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace mando::render
