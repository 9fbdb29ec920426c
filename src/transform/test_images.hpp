#pragma once
// Test fixtures for src/transform, made in the test itself: ordinary pictures encoded by libvips,
// and hostile ones (a PNG bomb, a ten-thousand-frame GIF, EXIF with GPS) assembled byte by byte,
// so every property a test relies on is visible here rather than hidden in a binary file.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mando::transform::testing {

using Rgb = std::array<std::uint8_t, 3>;

// Packed 8-bit RGB pixels.
struct Pixels {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;

  static Pixels solid(int width, int height, Rgb colour);
  // Left half `left`, right half `right`.
  static Pixels halves(int width, int height, Rgb left, Rgb right);
  // Deterministic noise: costly to compress, so encoded files are large.
  static Pixels noise(int width, int height, std::uint32_t seed);
};

// Encoded with libvips: "jpeg", "png", "webp", "gif", "tiff" (a saver's nickname prefix).
std::string encode(const Pixels& pixels, std::string_view saver);

// `jpeg` with an APP1 Exif segment inserted after SOI: Orientation (IFD0) and, when `gps`, a GPS
// IFD with a latitude (51 deg 30' N) and longitude.
std::string with_exif(std::string_view jpeg, int orientation, bool gps);

// A PNG whose IHDR declares width x height (8-bit RGB), then one tiny IDAT and IEND: a few
// dozen bytes that a decoder without a pixel cap would allocate gigabytes for. Adam7 interlacing
// makes libvips load the whole image into memory at once.
std::string png_bomb(std::uint32_t width, std::uint32_t height, bool interlaced = false);

// A GIF89a of `frames` frames, 16 x 16: frame 0 is `first`, every later frame `later`.
std::string animated_gif(int frames, Rgb first, Rgb later);

// A decoded picture for checks: libvips' own loader (test processes leave it unrestricted only
// for the formats the pipeline writes).
struct Decoded {
  bool ok = false;
  int width = 0;
  int height = 0;
  int bands = 0;
  std::string loader;               // "jpegload_buffer", ...
  std::vector<std::string> fields;  // metadata field names ("exif-data", "icc-profile-data", ...)
  std::vector<double> at(int x, int y) const;
  bool has_field(std::string_view prefix) const;

  std::string bytes;
};
Decoded decode(const std::string& bytes);

// Where cell k of a contact sheet of n tiles is: ceil(sqrt(n)) columns of `tile` pixels with
// equal gaps between and around them, so the gap follows from the sheet's width.
struct SheetGrid {
  int columns = 0;
  int tile = 0;
  int gap = 0;
  SheetGrid(int sheet_width, std::size_t n, int tile_side);
  int x(int k) const { return gap + (k % columns) * (tile + gap); }
  int y(int k) const { return gap + (k / columns) * (tile + gap); }
};

// The largest difference between two colours, channel by channel.
double distance(const std::vector<double>& pixel, Rgb colour);

}  // namespace mando::transform::testing
