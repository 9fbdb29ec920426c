#include "render/spec.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "render/palette.hpp"

namespace mando::render {
namespace {

template <typename E>
using Names = std::initializer_list<std::pair<E, std::string_view>>;

constexpr std::size_t kMaxSpecText = 4096;

const Names<Style> kStyles = {{Style::kLine, "line"},
                              {Style::kFill, "fill"},
                              {Style::kBezier, "bezier"},
                              {Style::kBezierFill, "bezier_fill"},
                              {Style::kRandom, "random"}};
const Names<Choice> kChoices = {
    {Choice::kYes, "yes"}, {Choice::kNo, "no"}, {Choice::kRandom, "random"}};
const Names<Background> kBackgrounds = {{Background::kTransparent, "transparent"},
                                        {Background::kSolid, "solid"},
                                        {Background::kRadial, "radial"}};
const Names<Format> kFormats = {{Format::kPng, "png"}, {Format::kWebp, "webp"}};
const Names<Motion> kMotions = {{Motion::kTurn, "turn"}, {Motion::kBloom, "bloom"}};

tl::unexpected<Error> invalid(std::string message) {
  return fail(ErrorKind::kInvalidArgument, std::move(message));
}

template <typename E>
std::string_view name_of(E value, Names<E> names) {
  for (const auto& [e, name] : names) {
    if (e == value) return name;
  }
  return "?";
}

template <typename E>
Result<E> parse_named(std::string_view key, std::string_view text, Names<E> names) {
  std::vector<std::string_view> all;
  for (const auto& [e, name] : names) {
    if (name == text) return e;
    all.push_back(name);
  }
  return invalid(fmt::format("{} must be one of {}, got '{}'", key, fmt::join(all, ", "), text));
}

template <typename E>
bool known(E value, Names<E> names) {
  return name_of(value, names) != "?";
}

Result<bool> parse_bool(std::string_view key, std::string_view text) {
  if (text == "on" || text == "yes" || text == "true") return true;
  if (text == "off" || text == "no" || text == "false") return false;
  return invalid(fmt::format("{} must be on or off, got '{}'", key, text));
}

// Whole numbers and decimals: the whole text must be the number (no sign tricks, no trailing
// junk), then the range is checked by validate() with the option's name.
template <typename T>
Result<T> parse_number(std::string_view key, std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) {
    return invalid(fmt::format("{} must be a number, got '{}'", key, text));
  }
  return value;
}

template <typename T>
Result<std::vector<T>> parse_list(std::string_view key, std::string_view text) {
  std::vector<T> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    auto item = parse_number<T>(key, text.substr(start, comma - start));
    if (!item) return tl::unexpected(item.error());
    out.push_back(*item);
    if (comma == std::string_view::npos) break;
    if (out.size() > kMaxLayers) {
      return invalid(fmt::format("{} takes at most {} values", key, kMaxLayers));
    }
    start = comma + 1;
  }
  return out;
}

Result<void> check_range(std::string_view key, double value, double lo, double hi) {
  if (value >= lo && value <= hi) return {};
  return invalid(fmt::format("{} must be between {} and {}, got {}", key, lo, hi, value));
}

std::string hex(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

// One handler per key: parse the value into the spec.
using Setter = std::function<Result<void>(MandalaSpec&, std::string_view key, std::string_view)>;

template <typename T, typename E>
Setter named_setter(T MandalaSpec::*field, Names<E> names) {
  return [field, names](MandalaSpec& s, std::string_view key, std::string_view v) -> Result<void> {
    auto e = parse_named(key, v, names);
    if (!e) return tl::unexpected(e.error());
    s.*field = *e;
    return {};
  };
}

template <typename T>
Setter number_setter(T MandalaSpec::*field) {
  return [field](MandalaSpec& s, std::string_view key, std::string_view v) -> Result<void> {
    auto n = parse_number<T>(key, v);
    if (!n) return tl::unexpected(n.error());
    s.*field = *n;
    return {};
  };
}

Setter colour_setter(std::optional<Rgb> MandalaSpec::*field) {
  return [field](MandalaSpec& s, std::string_view key, std::string_view v) -> Result<void> {
    auto c = parse_colour(v);
    if (!c) return invalid(fmt::format("{} {}", key, c.error().message));
    s.*field = *c;
    return {};
  };
}

Setter bool_setter(bool MandalaSpec::*field) {
  return [field](MandalaSpec& s, std::string_view key, std::string_view v) -> Result<void> {
    auto b = parse_bool(key, v);
    if (!b) return tl::unexpected(b.error());
    s.*field = *b;
    return {};
  };
}

Result<void> set_grid(MandalaSpec& s, std::string_view key, std::string_view v) {
  const std::size_t x = v.find('x');
  if (x == std::string_view::npos) {
    return invalid(fmt::format("{} must be ROWSxCOLS, e.g. 3x4, got '{}'", key, v));
  }
  auto rows = parse_number<int>(key, v.substr(0, x));
  auto cols = parse_number<int>(key, v.substr(x + 1));
  if (!rows || !cols) {
    return invalid(fmt::format("{} must be ROWSxCOLS, e.g. 3x4, got '{}'", key, v));
  }
  s.rows = *rows;
  s.cols = *cols;
  return {};
}

const std::vector<std::pair<std::string_view, Setter>>& setters() {
  static const auto* table = new std::vector<std::pair<std::string_view, Setter>>{
      {"seed", number_setter(&MandalaSpec::seed)},
      {"size", number_setter(&MandalaSpec::size)},
      {"layers", number_setter(&MandalaSpec::layers)},
      {"radii",
       [](MandalaSpec& s, std::string_view key, std::string_view v) -> Result<void> {
         auto radii = parse_list<double>(key, v);
         if (!radii) return tl::unexpected(radii.error());
         s.radii = std::move(*radii);
         return {};
       }},
      {"symmetry",
       [](MandalaSpec& s, std::string_view, std::string_view v) -> Result<void> {
         auto symmetry = parse_symmetry(v);
         if (!symmetry) return tl::unexpected(symmetry.error());
         s.symmetry = std::move(*symmetry);
         return {};
       }},
      {"points", number_setter(&MandalaSpec::points)},
      {"style", named_setter(&MandalaSpec::style, kStyles)},
      {"mirror", named_setter(&MandalaSpec::mirror, kChoices)},
      {"palette",
       [](MandalaSpec& s, std::string_view, std::string_view v) -> Result<void> {
         s.palette = std::string(v);
         return {};
       }},
      {"face", colour_setter(&MandalaSpec::face)},
      {"edge", colour_setter(&MandalaSpec::edge)},
      {"alpha", number_setter(&MandalaSpec::alpha)},
      {"background", named_setter(&MandalaSpec::background, kBackgrounds)},
      {"bg", colour_setter(&MandalaSpec::background_colour)},
      {"stroke", number_setter(&MandalaSpec::stroke)},
      {"glow", bool_setter(&MandalaSpec::glow)},
      {"grid", set_grid},
      {"format", named_setter(&MandalaSpec::format, kFormats)},
      {"lossy", bool_setter(&MandalaSpec::lossy)},
      {"quality", number_setter(&MandalaSpec::quality)},
      {"frames", number_setter(&MandalaSpec::frames)},
      {"motion", named_setter(&MandalaSpec::motion, kMotions)},
  };
  return *table;
}

}  // namespace

std::string_view to_string(Style style) { return name_of(style, kStyles); }
std::string_view to_string(Choice choice) { return name_of(choice, kChoices); }
std::string_view to_string(Background background) { return name_of(background, kBackgrounds); }
std::string_view to_string(Format format) { return name_of(format, kFormats); }
std::string_view to_string(Motion motion) { return name_of(motion, kMotions); }

Result<Style> parse_style(std::string_view text) { return parse_named("style", text, kStyles); }

Result<Rgb> parse_colour(std::string_view text) {
  std::string_view digits = text.starts_with('#') ? text.substr(1) : text;
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
  if (digits.size() != 6 || ec != std::errc() || ptr != digits.data() + digits.size()) {
    return invalid(fmt::format("must be a colour #rrggbb, got '{}'", text));
  }
  return Rgb{static_cast<std::uint8_t>(value >> 16), static_cast<std::uint8_t>(value >> 8),
             static_cast<std::uint8_t>(value)};
}

Result<std::vector<int>> parse_symmetry(std::string_view text) {
  if (text == "random") return std::vector<int>{};
  return parse_list<int>("symmetry", text);
}

std::vector<std::string_view> palette_names() {
  std::vector<std::string_view> names;
  for (const Palette& p : palettes()) names.push_back(p.name);
  return names;
}

Result<void> validate(const MandalaSpec& s) {
  std::vector<Result<void>> checks = {
      check_range("size", s.size, kMinSize, kMaxSize),
      check_range("layers", s.layers, 1, kMaxLayers),
      check_range("points", s.points, kMinPoints, kMaxPoints),
      check_range("alpha", s.alpha, kMinAlpha, 1.0),
      check_range("stroke", s.stroke, 0.0, kMaxStroke),
      check_range("grid rows", s.rows, 1, kMaxGrid),
      check_range("grid columns", s.cols, 1, kMaxGrid),
      check_range("quality", s.quality, 1, 100),
  };
  for (auto& check : checks) {
    if (!check) return check;
  }
  if (!s.radii.empty() && static_cast<int>(s.radii.size()) != s.layers) {
    return invalid(fmt::format("radii has {} values but layers is {}", s.radii.size(), s.layers));
  }
  for (double r : s.radii) {
    if (!(r > 0.0 && r <= 1.0)) {
      return invalid(fmt::format("each of radii must be above 0 and at most 1, got {}", r));
    }
  }
  if (s.symmetry.size() > 1 && static_cast<int>(s.symmetry.size()) != s.layers) {
    return invalid(
        fmt::format("symmetry has {} values but layers is {} (give one, or one per layer)",
                    s.symmetry.size(), s.layers));
  }
  for (int order : s.symmetry) {
    if (auto r = check_range("symmetry", order, 1, kMaxSymmetry); !r) return r;
  }
  if (s.palette != "random" && find_palette(s.palette) == nullptr) {
    return invalid(fmt::format("palette must be random or one of {}, got '{}'",
                               fmt::join(palette_names(), ", "), s.palette));
  }
  if (!known(s.style, kStyles) || !known(s.mirror, kChoices) ||
      !known(s.background, kBackgrounds) || !known(s.format, kFormats) ||
      !known(s.motion, kMotions)) {
    return invalid("an option holds a value outside its enumeration");
  }
  const int cell = s.size / std::max(s.rows, s.cols);
  if (cell < 32) {
    return invalid(fmt::format("grid {}x{} needs size at least {} (32 pixels per cell), got {}",
                               s.rows, s.cols, 32 * std::max(s.rows, s.cols), s.size));
  }
  if (s.lossy && s.format != Format::kWebp) return invalid("lossy needs format=webp");
  if (s.frames != 0) {
    if (auto r = check_range("frames", s.frames, kMinFrames, kMaxFrames); !r) {
      return invalid(fmt::format("frames must be 0 (a still image) or between {} and {}, got {}",
                                 kMinFrames, kMaxFrames, s.frames));
    }
    if (s.format != Format::kWebp) {
      return invalid("frames needs format=webp (animations are animated WebP)");
    }
    if (s.size > kMaxAnimatedSize) {
      return invalid(fmt::format("size must be between {} and {} for an animation, got {}",
                                 kMinSize, kMaxAnimatedSize, s.size));
    }
  }
  return {};
}

std::string format_spec(const MandalaSpec& s) {
  std::string out = fmt::format("seed={} size={} ", s.seed, s.size);
  if (s.radii.empty()) {
    out += fmt::format("layers={}", s.layers);
  } else {
    out += fmt::format("radii={}", fmt::join(s.radii, ","));
  }
  if (s.symmetry.empty()) {
    out += " symmetry=random";
  } else {
    out += fmt::format(" symmetry={}", fmt::join(s.symmetry, ","));
  }
  out += fmt::format(" points={} style={} mirror={} palette={}", s.points, to_string(s.style),
                     to_string(s.mirror), s.palette);
  if (s.face) out += " face=" + hex(*s.face);
  if (s.edge) out += " edge=" + hex(*s.edge);
  out += fmt::format(" alpha={} background={}", s.alpha, to_string(s.background));
  if (s.background_colour) out += " bg=" + hex(*s.background_colour);
  out += fmt::format(" stroke={} glow={} grid={}x{} format={}", s.stroke, s.glow ? "on" : "off",
                     s.rows, s.cols, to_string(s.format));
  // Options that do not apply to this output are left out, so the line stays short.
  if (s.format == Format::kWebp)
    out += s.lossy ? fmt::format(" lossy=yes quality={}", s.quality) : " lossy=no";
  if (s.frames != 0) out += fmt::format(" frames={} motion={}", s.frames, to_string(s.motion));
  return out;
}

Result<MandalaSpec> parse_spec(std::string_view text) {
  if (text.size() > kMaxSpecText) {
    return invalid(
        fmt::format("a spec is at most {} characters, got {}", kMaxSpecText, text.size()));
  }
  MandalaSpec spec;
  std::vector<std::string_view> seen;
  bool layers_given = false;
  constexpr std::string_view kSpace = " \t\r\n";
  std::size_t pos = text.find_first_not_of(kSpace);
  while (pos != std::string_view::npos) {
    const std::size_t end = std::min(text.find_first_of(kSpace, pos), text.size());
    const std::string_view token = text.substr(pos, end - pos);
    pos = text.find_first_not_of(kSpace, end);

    const std::size_t eq = token.find('=');
    if (eq == std::string_view::npos) {
      return invalid(fmt::format("expected key=value, got '{}'", token));
    }
    const std::string_view key = token.substr(0, eq);
    const auto& table = setters();
    auto it =
        std::find_if(table.begin(), table.end(), [&](const auto& e) { return e.first == key; });
    if (it == table.end()) {
      std::vector<std::string_view> keys;
      for (const auto& e : table) keys.push_back(e.first);
      return invalid(fmt::format("unknown option '{}' (known: {})", key, fmt::join(keys, ", ")));
    }
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return invalid(fmt::format("option '{}' is given twice", key));
    }
    seen.push_back(it->first);
    if (auto r = it->second(spec, key, token.substr(eq + 1)); !r) return tl::unexpected(r.error());
    layers_given |= key == "layers";
  }
  // radii= implies the layer count; layers= as well is allowed when it agrees.
  if (!spec.radii.empty() && !layers_given) spec.layers = static_cast<int>(spec.radii.size());
  if (auto r = validate(spec); !r) return tl::unexpected(r.error());
  // What format_spec() leaves out goes back to its default, so that text -> spec -> text -> spec
  // gives equal specs.
  if (!spec.lossy) spec.quality = MandalaSpec{}.quality;
  if (spec.frames == 0) spec.motion = MandalaSpec{}.motion;
  return spec;
}

}  // namespace mando::render
