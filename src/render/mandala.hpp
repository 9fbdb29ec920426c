#pragma once
// The mandala generator (after antononcube's RandomMandala): a pure function from a MandalaSpec
// to pixels.
//
// 1. Each grid cell draws from its own generator, seeded by derive_seed(spec.seed, cell).
// 2. Each layer gets a radius, a rotational order n, a connecting function (style), a mirror
//    flag and colours, all drawn from that generator (or taken from the spec).
// 3. Its seed segment is `points` random points inside a wedge of angle 2π/n about the cell
//    centre (half the wedge when mirrored, then reflected about the wedge's bisector).
// 4. The points are joined by the style (polyline, polygon, or Catmull-Rom chain drawn as native
//    cubic Bezier segments) and the segment is drawn n times, rotated by 2π/n about the centre.
// 5. Layers are drawn largest first, so smaller ones sit on top.
//
// Thread-safety: render_mandala() creates its own Cairo surface and context and touches no
// global mutable state, so any number of threads may call it at once. The same spec and frame
// always give the same bytes.

#include <cstdint>
#include <vector>

#include "core/error.hpp"
#include "render/spec.hpp"

namespace mando::render {

// Cairo's CAIRO_FORMAT_ARGB32: one native-endian 32-bit word per pixel, alpha in the top byte,
// colours premultiplied by alpha. Encoders convert (see encode.hpp).
struct Image {
  int width = 0;
  int height = 0;
  int stride = 0;  // bytes per row, >= 4 * width
  std::vector<std::uint8_t> pixels;

  std::uint32_t argb(int x, int y) const;
  bool opaque() const;  // every alpha is 255
};

// Renders frame `frame` (0 <= frame < max(1, spec.frames)) of a valid spec; an invalid spec or a
// Cairo failure (out of memory) is an error.
Result<Image> render_mandala(const MandalaSpec& spec, int frame = 0);

}  // namespace mando::render
