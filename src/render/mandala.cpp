#include "render/mandala.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <numbers>

#include <fmt/format.h>

#include "render/c_handle.hpp"
#include "render/palette.hpp"
#include "render/random.hpp"
#include <cairo.h>

namespace mando::render {
namespace {

constexpr double kTau = 2.0 * std::numbers::pi;

using SurfacePtr = CHandle<cairo_surface_t, cairo_surface_destroy>;
using ContextPtr = CHandle<cairo_t, cairo_destroy>;

struct Polar {
  double rho;  // fraction of the layer radius
  double phi;  // radians inside the wedge
};

struct Layer {
  double radius = 1;  // fraction of the cell radius
  int order = 1;
  Style style = Style::kFill;
  std::vector<Polar> segment;  // the seed segment, mirrored already when symmetric
  Colour face, edge;
};

struct Cell {
  const Palette* palette = nullptr;
  Colour background_inner, background_outer;
  std::vector<Layer> layers;
};

// Where palettes are dark enough to be a background, and which stretch the faces use.
double background_t(const Palette& p) { return p.cyclic ? 0.5 : 0.0; }

double face_t(const Palette& p, double u) {
  if (p.cyclic) return 0.62 + 0.76 * u;  // wraps through the light end, away from 0.5
  const double lo = p.dark_start ? 0.35 : 0.2;
  return lo + (1.0 - lo) * u;
}

// A stretch of the palette for the layers: a start and a step, reflected at the ends so that
// neighbouring layers stay neighbours in the palette.
double layer_u(double start, double step, int i) {
  double u = std::fmod(start + step * i, 2.0);
  if (u < 0) u += 2.0;
  return u <= 1.0 ? u : 2.0 - u;
}

Style pick_style(Random& rng) {
  // Filled curves are RandomMandala's default and the prettiest; lines are for contrast.
  constexpr Style kWeighted[] = {Style::kBezierFill, Style::kBezierFill, Style::kBezierFill,
                                 Style::kFill,       Style::kFill,       Style::kBezier,
                                 Style::kBezier,     Style::kLine};
  return kWeighted[rng.below(std::size(kWeighted))];
}

bool closed(Style s) { return s == Style::kFill || s == Style::kBezierFill; }
bool curved(Style s) { return s == Style::kBezier || s == Style::kBezierFill; }

// `n` sorted uniform values in [lo, hi).
std::vector<double> sorted_uniform(Random& rng, int n, double lo, double hi) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& x : v) x = rng.uniform(lo, hi);
  std::sort(v.begin(), v.end());
  return v;
}

// The seed segment in the wedge [0, wedge]. RandomMandala scatters points in the wedge; ordering
// them gives shapes rather than scribbles:
// - closed and mirrored: a petal on the wedge's bisector, from an inner point out to the tip
//   through points ordered by radius, and back along their reflection;
// - closed: a blade sweeping across the wedge, points ordered by angle, closed through an inner
//   point;
// - open: a chain across the wedge, ordered by angle, ending where the next copy starts, so the
//   copies join into one ring (mirrored: the first half, then its reflection).
std::vector<Polar> seed_segment(Random& rng, int points, double wedge, bool mirror, Style style,
                                bool innermost) {
  std::vector<Polar> segment;
  // The innermost layer starts near the centre, so the mandala has no hole in the middle.
  const double inner = innermost ? rng.uniform(0.0, 0.12) : rng.uniform(0.05, 0.45);
  if (closed(style) && mirror) {
    const double mid = wedge / 2;
    // Petals may reach a little into their neighbours' wedges: the overlaps blend.
    const double reach = std::min(mid * 1.3, 1.2);
    segment.push_back({inner, mid});
    const auto rho = sorted_uniform(rng, points, inner, 1.0);
    for (double r : rho) segment.push_back({r, mid - rng.uniform(0.1, 1.0) * reach});
    segment.push_back({1.0, mid});
    for (int i = points; i >= 1; --i) segment.push_back({segment[i].rho, wedge - segment[i].phi});
    return segment;
  }
  if (closed(style)) {
    const auto phi = sorted_uniform(rng, points, 0, wedge * 1.15);
    segment.push_back({inner, rng.uniform(0, wedge)});
    for (double a : phi) segment.push_back({rng.uniform(inner, 1.0), a});
    segment[1 + rng.below(static_cast<std::uint32_t>(points))].rho = 1.0;  // reach the radius
    return segment;
  }
  const double span = mirror ? wedge / 2 : wedge;
  const auto phi = sorted_uniform(rng, points, 0, span);
  const double ends = rng.uniform(inner, 1.0);
  segment.push_back({ends, 0});
  for (double a : phi) segment.push_back({rng.uniform(inner, 1.0), a});
  segment[1 + rng.below(static_cast<std::uint32_t>(points))].rho = 1.0;
  if (mirror) {
    for (int i = points; i >= 0; --i) segment.push_back({segment[i].rho, wedge - segment[i].phi});
  } else {
    segment.push_back({ends, wedge});
  }
  return segment;
}

Cell plan_cell(const MandalaSpec& spec, std::uint64_t seed) {
  Random rng(seed);
  Cell cell;
  cell.palette = spec.palette == "random"
                     ? &palettes()[rng.below(static_cast<std::uint32_t>(palettes().size()))]
                     : find_palette(spec.palette);
  const Palette& pal = *cell.palette;
  const Colour base = spec.background_colour ? Colour{spec.background_colour->r / 255.0,
                                                      spec.background_colour->g / 255.0,
                                                      spec.background_colour->b / 255.0}
                                             : pal.at(background_t(pal));
  const Colour black{0, 0, 0};
  cell.background_inner = spec.background_colour ? base : mix(base, black, 0.25);
  cell.background_outer = mix(base, black, 0.82);

  const double start = rng.uniform();
  const double step = rng.uniform(0.22, 0.38) * (rng.coin() ? 1 : -1);
  for (int i = 0; i < spec.layers; ++i) {
    Layer layer;
    layer.radius = spec.radii.empty() ? 1.0 - 0.78 * i / spec.layers : spec.radii[i];
    if (spec.symmetry.empty()) {
      layer.order = kRandomSymmetries[rng.below(kRandomSymmetries.size())];
    } else {
      layer.order = spec.symmetry[spec.symmetry.size() == 1 ? 0 : i];
    }
    layer.style = spec.style == Style::kRandom ? pick_style(rng) : spec.style;
    const bool mirror = spec.mirror == Choice::kRandom ? rng.coin() : spec.mirror == Choice::kYes;
    layer.segment = seed_segment(rng, spec.points, kTau / layer.order, mirror, layer.style,
                                 i + 1 == spec.layers);
    const Colour face = pal.at(face_t(pal, layer_u(start, step, i)));
    layer.face =
        spec.face ? Colour{spec.face->r / 255.0, spec.face->g / 255.0, spec.face->b / 255.0} : face;
    layer.edge = spec.edge
                     ? Colour{spec.edge->r / 255.0, spec.edge->g / 255.0, spec.edge->b / 255.0}
                     : mix(face, Colour{1, 1, 1}, 0.5);
    cell.layers.push_back(std::move(layer));
  }
  return cell;
}

struct Point {
  double x, y;
};

// Adds one copy of the segment to the current path. Catmull-Rom through the points, each span
// drawn as the equivalent cubic Bezier (control points at P1 + (P2 - P0) / 6 and
// P2 - (P3 - P1) / 6): smooth, through every point, and rasterised natively by Cairo.
void add_segment(cairo_t* cr, const std::vector<Point>& p, Style style) {
  const std::size_t n = p.size();
  cairo_new_sub_path(cr);
  cairo_move_to(cr, p[0].x, p[0].y);
  if (!curved(style)) {
    for (std::size_t i = 1; i < n; ++i) cairo_line_to(cr, p[i].x, p[i].y);
  } else {
    const bool loop = closed(style);
    auto at = [&](std::ptrdiff_t i) -> const Point& {
      if (loop) return p[static_cast<std::size_t>((i + static_cast<std::ptrdiff_t>(n)) % n)];
      return p[static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(i, 0, n - 1))];
    };
    const std::size_t spans = loop ? n : n - 1;
    for (std::size_t k = 0; k < spans; ++k) {
      const auto i = static_cast<std::ptrdiff_t>(k);
      const Point &p0 = at(i - 1), &p1 = at(i), &p2 = at(i + 1), &p3 = at(i + 2);
      cairo_curve_to(cr, p1.x + (p2.x - p0.x) / 6, p1.y + (p2.y - p0.y) / 6,
                     p2.x - (p3.x - p1.x) / 6, p2.y - (p3.y - p1.y) / 6, p2.x, p2.y);
    }
  }
  if (closed(style)) cairo_close_path(cr);
}

struct Frame {
  double turn = 0;   // extra rotation, in wedges of the layer's order
  double scale = 1;  // radius factor
};

Frame frame_of(const MandalaSpec& spec, int frame, int layer) {
  if (spec.frames == 0) return {};
  const double t = static_cast<double>(frame) / spec.frames;
  // Alternate directions; a whole wedge per loop makes the loop seamless, because a layer of
  // order n looks the same after 2π/n.
  const double dir = layer % 2 == 0 ? 1.0 : -1.0;
  if (spec.motion == Motion::kTurn) return {dir * t, 1.0};
  const double phase = kTau * t - kTau * layer / std::max(spec.layers, 1) / 2;
  return {dir * t, 0.78 + 0.22 * (0.5 - 0.5 * std::cos(phase))};
}

void set_colour(cairo_t* cr, Colour c, double alpha) {
  cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

void draw_layer(cairo_t* cr, const MandalaSpec& spec, const Layer& layer, Point centre,
                double cell_radius, Frame motion) {
  const double radius = cell_radius * layer.radius * motion.scale;
  const double wedge = kTau / layer.order;
  // Wedge 0 is centred on "up", so mirrored layers are symmetric about the vertical axis.
  const double base = -std::numbers::pi / 2 - wedge / 2 + motion.turn * wedge;
  const double px = cell_radius / 512.0;  // stroke widths are given for a 1024 px cell

  cairo_new_path(cr);
  std::vector<Point> points(layer.segment.size());
  for (int copy = 0; copy < layer.order; ++copy) {
    const double rotation = base + wedge * copy;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const double a = layer.segment[i].phi + rotation;
      const double r = layer.segment[i].rho * radius;
      points[i] = {centre.x + r * std::cos(a), centre.y + r * std::sin(a)};
    }
    add_segment(cr, points, layer.style);
  }

  const bool fill = closed(layer.style);
  // Lines are the whole shape: they keep some width whatever the stroke and the size.
  const double edge_width =
      fill ? spec.stroke * px : std::max(std::max(spec.stroke, 1.0) * 1.6 * px, 1.0);
  const Colour edge = fill ? layer.edge : layer.face;
  if (spec.glow && edge_width > 0) {
    // A soft halo: a few wide, faint strokes under the shape. Cheaper than a blur, and it keeps
    // the rotational symmetry exact.
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (double w : {8.0, 3.5}) {
      set_colour(cr, edge, 0.09);
      cairo_set_line_width(cr, edge_width + w * px);
      cairo_stroke_preserve(cr);
    }
  }
  if (fill) {
    set_colour(cr, layer.face, spec.alpha);
    cairo_fill_preserve(cr);
  }

  if (edge_width > 0) {
    set_colour(cr, edge, std::min(1.0, spec.alpha + 0.25));
    cairo_set_line_width(cr, edge_width);
    cairo_stroke(cr);
  }
  cairo_new_path(cr);
}

std::uint32_t opaque_word(Colour c) {
  auto byte = [](double v) {
    return static_cast<std::uint32_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255));
  };
  return 0xff000000u | (byte(c.r) << 16) | (byte(c.g) << 8) | byte(c.b);
}

// Paints one cell's background straight into the pixels. The radial gradient is computed here
// rather than with a Cairo pattern: pixman's general two-circle gradient took 11 ms of a 45 ms
// render at 1024 px; a distance and a table lookup per pixel take about 2 ms. The colour depends
// only on the distance from the exact centre, so the background is as symmetric as the shapes.
void paint_background(Image& image, const MandalaSpec& spec, const Cell& cell, Point centre, int x0,
                      int y0, int x1, int y1) {
  if (spec.background == Background::kTransparent) return;
  constexpr int kSteps = 1024;
  std::array<std::uint32_t, kSteps + 1> table;
  for (int i = 0; i <= kSteps; ++i) {
    table[i] =
        spec.background == Background::kSolid
            ? opaque_word(spec.background_colour ? cell.background_inner : cell.background_outer)
            : opaque_word(mix(cell.background_inner, cell.background_outer,
                              static_cast<double>(i) / kSteps));
  }
  const double far = std::hypot(centre.x - x0, centre.y - y0);
  const float scale = static_cast<float>(kSteps / far);
  // Two passes a row: the distances (a loop the compiler vectorises), then the lookups.
  std::vector<float> dx2(static_cast<std::size_t>(x1 - x0));
  for (int x = x0; x < x1; ++x) {
    const double dx = x + 0.5 - centre.x;
    dx2[x - x0] = static_cast<float>(dx * dx);
  }
  std::vector<int> index(dx2.size());
  for (int y = y0; y < y1; ++y) {
    const double dy = y + 0.5 - centre.y;
    const auto dy2 = static_cast<float>(dy * dy);
    for (std::size_t i = 0; i < dx2.size(); ++i) {
      index[i] = std::min(static_cast<int>(std::sqrt(dx2[i] + dy2) * scale + 0.5f), kSteps);
    }
    std::uint8_t* row = image.pixels.data() + static_cast<std::size_t>(y) * image.stride + 4 * x0;
    for (std::size_t i = 0; i < index.size(); ++i) std::memcpy(row + 4 * i, &table[index[i]], 4);
  }
}

}  // namespace

std::uint32_t Image::argb(int x, int y) const {
  std::uint32_t v;
  std::memcpy(&v, pixels.data() + static_cast<std::size_t>(y) * stride + 4 * x, 4);
  return v;
}

bool Image::opaque() const {
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      if ((argb(x, y) >> 24) != 0xff) return false;
    }
  }
  return true;
}

Result<Image> render_mandala(const MandalaSpec& spec, int frame) {
  if (auto valid = validate(spec); !valid) return tl::unexpected(valid.error());
  if (frame < 0 || frame >= std::max(spec.frames, 1)) {
    return fail(ErrorKind::kInvalidArgument, fmt::format("frame must be between 0 and {}, got {}",
                                                         std::max(spec.frames, 1) - 1, frame));
  }
  Image image;
  image.width = image.height = spec.size;
  image.stride = cairo_format_stride_for_width(CAIRO_FORMAT_ARGB32, spec.size);
  image.pixels.assign(static_cast<std::size_t>(image.stride) * spec.size, 0);
  SurfacePtr surface(cairo_image_surface_create_for_data(image.pixels.data(), CAIRO_FORMAT_ARGB32,
                                                         image.width, image.height, image.stride));
  ContextPtr cr(cairo_create(surface.get()));
  if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS) {
    return fail(ErrorKind::kResourceExhausted,
                fmt::format("cairo: {}", cairo_status_to_string(cairo_status(cr.get()))));
  }

  const double cell_w = static_cast<double>(spec.size) / spec.cols;
  const double cell_h = static_cast<double>(spec.size) / spec.rows;
  const double cell_radius = std::min(cell_w, cell_h) / 2 * 0.94;
  struct Placed {
    Cell cell;
    Point centre;
  };
  std::vector<Placed> cells;
  for (int row = 0; row < spec.rows; ++row) {
    for (int col = 0; col < spec.cols; ++col) {
      const auto index = static_cast<std::uint64_t>(row * spec.cols + col);
      // Exact centres (size / 2 for one cell): the symmetry is about the image's centre.
      const Point centre{cell_w * (col + 0.5), cell_h * (row + 0.5)};
      cells.push_back({plan_cell(spec, derive_seed(spec.seed, index)), centre});
      paint_background(image, spec, cells.back().cell, centre,
                       static_cast<int>(std::lround(cell_w * col)),
                       static_cast<int>(std::lround(cell_h * row)),
                       static_cast<int>(std::lround(cell_w * (col + 1))),
                       static_cast<int>(std::lround(cell_h * (row + 1))));
    }
  }
  cairo_surface_mark_dirty(surface.get());
  // Backgrounds first, then every cell's layers: a halo may reach past its cell's edge.
  for (const Placed& placed : cells) {
    for (std::size_t i = 0; i < placed.cell.layers.size(); ++i) {
      draw_layer(cr.get(), spec, placed.cell.layers[i], placed.centre, cell_radius,
                 frame_of(spec, frame, static_cast<int>(i)));
    }
  }
  cairo_surface_flush(surface.get());
  if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS) {
    return fail(ErrorKind::kInternal,
                fmt::format("cairo: {}", cairo_status_to_string(cairo_status(cr.get()))));
  }
  return image;
}

}  // namespace mando::render
