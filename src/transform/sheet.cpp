// contact_sheet(): the numbered grid of a /transform batch.
//
//   1. Each tile is decoded with the pipeline's guarded loaders (tiles come back from workers,
//      but a sheet never trusts bytes it did not check) to fit a cell, centred on it.
//   2. The canvas is one memory image; cells are pasted into it and a failed input's cell is
//      painted grey, so cell k always shows input k.
//   3. Each cell gets its number from a 3x5 bitmap font scaled to the cell, drawn here rather
//      than with vips_text, which would bring pango, fontconfig and font files into a process
//      that decodes hostile input.
//   4. The sheet is encoded; while it is over max_bytes, JPEG and WebP quality steps down
//      (85, 70, 55), then the cells shrink (at the last quality) by the square root of how far
//      over the limit the last attempt was, with 10% to spare, until it fits or the cells would
//      be smaller than kMinTile. PNG has no quality to trade, so it goes straight to shrinking.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include "transform/pipeline.hpp"
#include "transform/vips_image.hpp"

namespace mando::transform {
namespace {

using detail::Image;

constexpr std::array<double, 3> kBackground{24, 24, 24};
constexpr std::array<double, 3> kFailedCell{128, 128, 128};
constexpr std::array<int, 3> kQualities{detail::kDefaultQuality, 70, 55};

// Digits 0-9, five rows of three pixels each, most significant bit on the left.
constexpr std::array<std::array<std::uint8_t, 5>, 10> kDigits{{
    {0b111, 0b101, 0b101, 0b101, 0b111},
    {0b010, 0b110, 0b010, 0b010, 0b111},
    {0b111, 0b001, 0b111, 0b100, 0b111},
    {0b111, 0b001, 0b111, 0b001, 0b111},
    {0b101, 0b101, 0b111, 0b001, 0b001},
    {0b111, 0b100, 0b111, 0b001, 0b111},
    {0b111, 0b100, 0b111, 0b101, 0b111},
    {0b111, 0b001, 0b001, 0b001, 0b001},
    {0b111, 0b101, 0b111, 0b101, 0b111},
    {0b111, 0b101, 0b111, 0b001, 0b111},
}};

struct Layout {
  int tile = 0;  // cell side
  int gap = 0;   // space between and around cells
  int columns = 0;
  int rows = 0;
  int width() const { return columns * tile + (columns + 1) * gap; }
  int height() const { return rows * tile + (rows + 1) * gap; }
  int x(int index) const { return gap + (index % columns) * (tile + gap); }
  int y(int index) const { return gap + (index / columns) * (tile + gap); }
};

Layout layout(std::size_t count, int tile) {
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(count))));
  const int rows = static_cast<int>((count + columns - 1) / columns);
  return Layout{tile, std::max(2, tile / 32), columns, rows};
}

// Paints `ink` over a rectangle of the canvas (a memory image, changed in place).
bool fill(VipsImage* canvas, const std::array<double, 3>& ink, int x, int y, int w, int h) {
  return vips_draw_rect(canvas, const_cast<double*>(ink.data()), static_cast<int>(ink.size()), x, y,
                        w, h, "fill", TRUE, nullptr) == 0;
}

// White digits of `number` on a black box, as packed RGB rows, drawn into the canvas.
bool draw_number(VipsImage* canvas, int number, int x, int y, int scale) {
  const std::string digits = std::to_string(number);
  const int n = static_cast<int>(digits.size());
  const int width = scale * (4 * n + 1), height = scale * 7;
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3, 0);
  for (int d = 0; d < n; ++d) {
    const auto& glyph = kDigits[digits[d] - '0'];
    for (int row = 0; row < 5; ++row) {
      for (int col = 0; col < 3; ++col) {
        if (((glyph[row] >> (2 - col)) & 1) == 0) continue;
        const int left = scale * (1 + 4 * d + col), top = scale * (1 + row);
        for (int py = top; py < top + scale; ++py) {
          auto* p = rgb.data() + (static_cast<std::size_t>(py) * width + left) * 3;
          std::fill(p, p + 3 * scale, std::uint8_t{255});
        }
      }
    }
  }
  Image label(
      vips_image_new_from_memory(rgb.data(), rgb.size(), width, height, 3, VIPS_FORMAT_UCHAR));
  return label && vips_draw_image(canvas, label.get(), x, y, nullptr) == 0;
}

// A tile flattened onto the background (cells are opaque) and decoded into memory.
Result<Image> load_cell(const std::string& tile, int side) {
  // Tiles are at most kMaxSize square and a single frame.
  const DecodeLimits limits{std::uint64_t{kMaxSize} * kMaxSize, 1, 64ull << 20};
  auto image = detail::load_fitted(tile, side, Crop::kNone, limits);
  if (!image) return image;
  VipsImage* out = nullptr;
  if (vips_image_hasalpha(image->get())) {
    VipsArrayDouble* bg = vips_array_double_new(kBackground.data(), kBackground.size());
    const int rc = vips_flatten(image->get(), &out, "background", bg, nullptr);
    vips_area_unref(VIPS_AREA(bg));
    if (rc != 0) return tl::unexpected(detail::decode_error());
    image->reset(out);
  }
  if (vips_image_wio_input(image->get()) != 0) return tl::unexpected(detail::decode_error());
  return image;
}

Result<Image> draw_sheet(const std::vector<std::string>& tiles, const Layout& grid) {
  VipsImage* out = nullptr;
  if (vips_black(&out, grid.width(), grid.height(), "bands", 3, nullptr) != 0) {
    return tl::unexpected(detail::decode_error());
  }
  Image canvas(out);
  if (!fill(canvas.get(), kBackground, 0, 0, grid.width(), grid.height())) {
    return tl::unexpected(detail::decode_error());
  }
  const int scale = std::max(2, grid.tile / 64);
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const int index = static_cast<int>(i);
    const int x = grid.x(index), y = grid.y(index);
    bool drawn = false;
    if (!tiles[i].empty()) {
      if (auto cell = load_cell(tiles[i], grid.tile)) {
        VipsImage* c = cell->get();
        drawn = vips_draw_image(canvas.get(), c, x + (grid.tile - c->Xsize) / 2,
                                y + (grid.tile - c->Ysize) / 2, nullptr) == 0;
      }
    }
    if (!drawn) {
      vips_error_clear();
      if (!fill(canvas.get(), kFailedCell, x, y, grid.tile, grid.tile)) {
        return tl::unexpected(detail::decode_error());
      }
    }
    if (!draw_number(canvas.get(), index + 1, x, y, scale)) {
      return tl::unexpected(detail::decode_error());
    }
  }
  return canvas;
}

}  // namespace

Result<std::string> contact_sheet(const std::vector<std::string>& tiles, const SheetSpec& spec) {
  if (auto ok = validate(spec); !ok) return tl::unexpected(ok.error());
  if (tiles.empty()) return fail(ErrorKind::kInvalidArgument, "a contact sheet needs a picture");
  if (tiles.size() > static_cast<std::size_t>(kMaxSheetTiles)) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("a contact sheet holds at most {} pictures", kMaxSheetTiles));
  }
  const bool has_quality = spec.format != Format::kPng;
  int tile = spec.tile;
  std::size_t last_size = 0;
  while (tile >= kMinTile) {
    auto canvas = draw_sheet(tiles, layout(tiles.size(), tile));
    if (!canvas) return tl::unexpected(canvas.error());
    const bool first_size = tile == spec.tile;
    for (std::size_t q = first_size || !has_quality ? 0 : kQualities.size() - 1;
         q < (has_quality ? kQualities.size() : 1); ++q) {
      auto bytes = detail::encode(canvas->get(), spec.format, kQualities[q]);
      if (!bytes) return tl::unexpected(bytes.error());
      if (bytes->size() <= spec.max_bytes) return bytes;
      last_size = bytes->size();
    }
    const double shrink = std::sqrt(static_cast<double>(spec.max_bytes) / last_size) * 0.9;
    tile = std::min(static_cast<int>(tile * shrink), tile - 1);
  }
  return fail(ErrorKind::kResourceExhausted,
              fmt::format("the contact sheet does not fit in {} bytes", spec.max_bytes));
}

}  // namespace mando::transform
