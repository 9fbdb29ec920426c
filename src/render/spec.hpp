#pragma once
// MandalaSpec: everything that determines a picture. A 64-bit seed plus these options fully
// determine the output bytes (see docs/RENDERER.md), so a spec is also the way to reproduce an
// image: format_spec() gives its canonical text ("seed=42 size=1024 layers=4 symmetry=12 ...")
// and parse_spec() reads it back, to an equal spec.
//
// A spec is plain data. validate() checks every range; parse_spec() returns only valid specs,
// and the renderer assumes one. Error messages name the option and the allowed range, because
// they reach people (CLI, and later Discord) as they are.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace mando::render {

// The connecting function of RandomMandala: how a seed segment's points are joined.
enum class Style {
  kLine,        // open polyline
  kFill,        // closed filled polygon
  kBezier,      // open smooth chain of cubic Bezier segments through the points
  kBezierFill,  // closed filled smooth shape through the points
  kRandom,      // each layer picks one of the four above
};

enum class Choice { kNo, kYes, kRandom };  // for mirror-symmetric seeds
enum class Background { kTransparent, kSolid, kRadial };
enum class Format { kPng, kWebp };
enum class Motion { kTurn, kBloom };  // what an animation does

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// The ranges, shared by validation, the CLI's --help and the tests.
inline constexpr int kMinSize = 64;
inline constexpr int kMaxSize = 4096;
inline constexpr int kMaxAnimatedSize = 1024;  // bounds an animation's time and bytes
inline constexpr int kMaxLayers = 8;
inline constexpr int kMaxSymmetry = 64;
inline constexpr int kMinPoints = 2;
inline constexpr int kMaxPoints = 24;
inline constexpr int kMaxGrid = 8;
inline constexpr int kMinFrames = 2;
inline constexpr int kMaxFrames = 120;
inline constexpr double kMinAlpha = 0.05;
inline constexpr double kMaxStroke = 8.0;
// The orders a layer picks from when no symmetry is given.
inline constexpr std::array<int, 8> kRandomSymmetries = {3, 4, 5, 6, 7, 8, 12, 16};

struct MandalaSpec {
  std::uint64_t seed = 0;
  int size = 1024;  // width and height in pixels
  // Layers, drawn first to last. Either a count (radii chosen evenly, largest first) or explicit
  // radii as fractions of a cell's radius, in (0, 1].
  int layers = 4;
  std::vector<double> radii;  // empty, or exactly `layers` entries
  // Rotational order: empty = every layer picks from kRandomSymmetries; one value = every
  // layer; otherwise one value per layer.
  std::vector<int> symmetry;
  int points = 6;  // seed elements per segment
  Style style = Style::kRandom;
  Choice mirror = Choice::kRandom;  // mirror-symmetric seed segment
  std::string palette = "random";   // a colour map or palette name, or "random"
  std::optional<Rgb> face;          // overrides the palette's face colours
  std::optional<Rgb> edge;          // overrides the palette's edge colours
  double alpha = 0.7;               // face opacity
  Background background = Background::kRadial;
  std::optional<Rgb> background_colour;  // overrides the palette's background
  double stroke = 1.5;                   // edge width in pixels at 1024 px per cell; 0 = none
  bool glow = false;                     // soft light behind the edges (costs time and bytes)
  int rows = 1, cols = 1;                // a grid of mandalas, each from its own derived seed
  Format format = Format::kPng;
  bool lossy = false;  // WebP only
  int quality = 90;    // lossy WebP quality, 1..100
  int frames = 0;      // 0 = a still image; otherwise an animated WebP of this many frames
  Motion motion = Motion::kTurn;

  bool operator==(const MandalaSpec&) const = default;
};

// The colour maps and palettes palette= accepts (without "random").
std::vector<std::string_view> palette_names();

// Checks every option; the error (kInvalidArgument) names the first bad option and its range.
Result<void> validate(const MandalaSpec& spec);

// The canonical text: every option as key=value, space-separated, in a fixed order.
std::string format_spec(const MandalaSpec& spec);

// Reads key=value pairs separated by white space, in any order; options not given keep their
// defaults. Unknown keys, repeated keys and bad values are errors naming the key. The result is
// validated.
Result<MandalaSpec> parse_spec(std::string_view text);

// Helpers the CLI shares with the parser, so both accept the same words.
std::string_view to_string(Style style);
std::string_view to_string(Choice choice);
std::string_view to_string(Background background);
std::string_view to_string(Format format);
std::string_view to_string(Motion motion);
Result<Style> parse_style(std::string_view text);
Result<Rgb> parse_colour(std::string_view text);                 // "#rrggbb" or "rrggbb"
Result<std::vector<int>> parse_symmetry(std::string_view text);  // "random", "12", "6,8,12"

}  // namespace mando::render
