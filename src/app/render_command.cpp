// `mando render`: draws a mandala to a file, the same picture /mando makes for the same spec.
//
//   1. The spec starts from --spec (canonical text, as printed by an earlier run) or the
//      defaults; every option given on the command line then overrides its field.
//   2. Without a seed (no --seed, none in --spec) a random one is chosen.
//   3. The canonical spec line goes to stdout, so the picture can be made again with
//      `mando render --spec "<line>"`; what was written goes to stderr.
//   4. Exit status: 0 written; 2 a bad option or spec (CLI11's range checks, or validate());
//      1 rendering or writing failed.

#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/cli.hpp"
#include "render/render.hpp"
#include "render/spec.hpp"

namespace mando::app {
namespace {

using render::MandalaSpec;

constexpr int kRenderFailed = 1;
constexpr int kUsageError = 2;
constexpr int kDefaultFrames = 48;
constexpr int kDefaultAnimatedSize = 512;
constexpr int kDefaultAnimatedQuality = 80;

struct RenderFlags {
  std::string spec_text;
  std::string output;
  std::uint64_t seed = 0;
  int size = 0, layers = 0, points = 0, quality = 0, frames = 0, symmetry = 0;
  std::string radii, style, mirror, palette, face, edge, bg, background, gallery, format, motion;
  double alpha = 0, stroke = 0;
  bool glow = true, lossy = false, lossless = false, animate = false;
};

std::vector<std::string> with_random(std::vector<std::string_view> names) {
  std::vector<std::string> out(names.begin(), names.end());
  out.emplace_back("random");
  return out;
}

const CLI::Validator kColour(
    [](std::string& value) {
      auto c = render::parse_colour(value);
      return c ? std::string() : c.error().message;
    },
    "#RRGGBB", "colour");

const CLI::Validator kGrid(
    [](std::string& value) -> std::string {
      auto parsed = render::parse_spec("grid=" + value);
      return parsed ? std::string() : parsed.error().message;
    },
    "ROWSxCOLS (1..8 each)", "grid");

std::uint64_t random_seed() {
  std::random_device device;
  return (std::uint64_t{device()} << 32) | device();
}

// A spec as its canonical key=value fields, so that command-line options replace fields and one
// parse_spec() call checks the whole result, the way a spec line would be checked.
class Fields {
 public:
  explicit Fields(const std::string& text) {
    std::istringstream in(text);
    std::string token;
    while (in >> token) {
      const auto eq = token.find('=');
      items_.emplace_back(token.substr(0, eq), token.substr(eq + 1));
    }
  }
  void set(const std::string& key, std::string value) {
    for (auto& [k, v] : items_) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    items_.emplace_back(key, std::move(value));
  }
  void erase(const std::string& key) {
    std::erase_if(items_, [&](const auto& item) { return item.first == key; });
  }
  std::string text() const {
    std::string out;
    for (const auto& [k, v] : items_) out += k + "=" + v + " ";
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

MandalaSpec build_spec(const CLI::App& cmd, const RenderFlags& f) {
  auto given = [&](const char* name) { return cmd.count(name) > 0; };
  MandalaSpec base;
  if (given("--spec")) {
    auto parsed = render::parse_spec(f.spec_text);
    if (!parsed) exit_with(kUsageError, "--spec: " + parsed.error().message);
    base = std::move(*parsed);
  }
  Fields fields(render::format_spec(base));
  const bool spec_has_seed =
      given("--spec") && (" " + f.spec_text).find(" seed=") != std::string::npos;
  if (given("--seed")) {
    fields.set("seed", std::to_string(f.seed));
  } else if (!spec_has_seed) {
    fields.set("seed", std::to_string(random_seed()));
  }
  if (given("--layers")) fields.erase("radii");
  if (given("--radii")) fields.erase("layers");
  const std::pair<const char*, std::string> options[] = {
      {"--size", std::to_string(f.size)},
      {"--layers", std::to_string(f.layers)},
      {"--radii", f.radii},
      {"--symmetry", std::to_string(f.symmetry)},
      {"--points", std::to_string(f.points)},
      {"--style", f.style},
      {"--mirror", f.mirror},
      {"--palette", f.palette},
      {"--face", f.face},
      {"--edge", f.edge},
      {"--alpha", fmt::format("{}", f.alpha)},
      {"--background", f.background},
      {"--bg", f.bg},
      {"--stroke", fmt::format("{}", f.stroke)},
      {"--glow", f.glow ? "on" : "off"},
      {"--gallery", f.gallery},
      {"--format", f.format},
      {"--quality", std::to_string(f.quality)},
      {"--frames", std::to_string(f.frames)},
      {"--motion", f.motion},
  };
  for (const auto& [flag, value] : options) {
    // The spec key is the flag's name, except for the one flag named for what it makes.
    const std::string key = std::string_view(flag) == "--gallery" ? "grid" : flag + 2;
    if (given(flag)) fields.set(key, value);
  }
  if (f.animate || given("--frames")) {
    // An animation is an animated WebP, lossy unless asked otherwise, to keep it small.
    if (!given("--frames")) fields.set("frames", std::to_string(kDefaultFrames));
    if (!given("--format")) fields.set("format", "webp");
    if (!given("--quality")) fields.set("quality", std::to_string(kDefaultAnimatedQuality));
    if (!given("--size") && !given("--spec")) {
      fields.set("size", std::to_string(kDefaultAnimatedSize));
    }
    fields.set("lossy", f.lossless ? "no" : "yes");
  }
  // --lossy or --quality alone mean WebP: PNG has no lossy mode.
  if (f.lossy || given("--quality")) {
    fields.set("lossy", "yes");
    if (!given("--format")) fields.set("format", "webp");
  }
  if (f.lossless) fields.set("lossy", "no");
  auto spec = render::parse_spec(fields.text());
  if (!spec) exit_with(kUsageError, spec.error().message);
  return std::move(*spec);
}

}  // namespace

void add_render_command(CLI::App& app) {
  auto flags = std::make_shared<RenderFlags>();
  auto* cmd = app.add_subcommand(
      "render",
      "Draw a mandala to a PNG or WebP file (or an animated WebP) and print its spec, the line "
      "that reproduces it");
  auto& f = *flags;
  cmd->add_option("-o,--output", f.output,
                  "File to write (default: mandala-SEED.png or .webp in the current directory)");
  cmd->add_option(
      "--spec", f.spec_text,
      "Start from a spec line printed by an earlier run; options given too override it");
  cmd->add_option("--seed", f.seed, "Seed, 0 to 2^64-1 (default: random, printed)");
  cmd->add_option("--size", f.size,
                  "Width and height in pixels (default 1024; animations: 512, at most 1024)")
      ->check(CLI::Range(render::kMinSize, render::kMaxSize));
  cmd->add_option("--layers", f.layers, "Number of layers, radii spaced evenly (default 4)")
      ->check(CLI::Range(1, render::kMaxLayers));
  cmd->add_option("--radii", f.radii,
                  "Layer radii as fractions of the cell radius, e.g. 1,0.7,0.4 (each in (0, 1], "
                  "up to 8)");
  cmd->add_option("--symmetry", f.symmetry,
                  fmt::format("Rotational order of every layer (default: each layer picks from "
                              "{})",
                              fmt::join(render::kRandomSymmetries, ", ")))
      ->check(CLI::Range(1, render::kMaxSymmetry));
  cmd->add_option("--points", f.points, "Seed elements per segment (default 6)")
      ->check(CLI::Range(render::kMinPoints, render::kMaxPoints));
  cmd->add_option("--style", f.style, "Connecting function (default random, per layer)")
      ->check(CLI::IsMember({"line", "fill", "bezier", "bezier_fill", "random"}));
  cmd->add_option("--mirror", f.mirror, "Mirror-symmetric seed segment (default random)")
      ->check(CLI::IsMember({"yes", "no", "random"}));
  cmd->add_option("--palette", f.palette, "Colour map or palette (default random)")
      ->check(CLI::IsMember(with_random(render::palette_names())));
  cmd->add_option("--face", f.face, "Face colour of every layer, overriding the palette")
      ->check(kColour);
  cmd->add_option("--edge", f.edge, "Edge colour of every layer, overriding the palette")
      ->check(kColour);
  cmd->add_option("--alpha", f.alpha, "Face opacity (default 0.7)")
      ->check(CLI::Range(render::kMinAlpha, 1.0));
  cmd->add_option("--background", f.background, "Background (default radial)")
      ->check(CLI::IsMember({"transparent", "solid", "radial"}));
  cmd->add_option("--bg", f.bg, "Background colour, overriding the palette")->check(kColour);
  cmd->add_option("--stroke", f.stroke, "Edge width in pixels at 1024 px, 0 = none (default 1.5)")
      ->check(CLI::Range(0.0, render::kMaxStroke));
  cmd->add_flag("--glow,!--no-glow", f.glow,
                "Soft glow behind the edges (default off: it costs time and bytes)");
  cmd->add_option("--gallery", f.gallery,
                  "A grid of ROWSxCOLS mandalas in one image, e.g. 4x4 (at least 32 px per cell)")
      ->check(kGrid);
  cmd->add_option("--format", f.format, "Output format (default png)")
      ->check(CLI::IsMember({"png", "webp"}));
  auto* lossy = cmd->add_flag("--lossy", f.lossy, "Lossy WebP (implies --format webp)");
  auto* lossless =
      cmd->add_flag("--lossless", f.lossless, "Lossless WebP (the default for stills)");
  lossy->excludes(lossless);
  cmd->add_option("--quality", f.quality, "Lossy WebP quality (default 90; 80 animated)")
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--animate", f.animate,
                fmt::format("Animated WebP of the mandala turning ({} frames, {} px, lossy "
                            "unless --lossless)",
                            kDefaultFrames, kDefaultAnimatedSize));
  cmd->add_option("--frames", f.frames, "Animation frames (implies --animate)")
      ->check(CLI::Range(render::kMinFrames, render::kMaxFrames));
  cmd->add_option("--motion", f.motion, "Animation: turn, or bloom (breathe while turning)")
      ->check(CLI::IsMember({"turn", "bloom"}));

  cmd->callback([cmd, flags] {
    const MandalaSpec spec = build_spec(*cmd, *flags);
    const std::string line = render::format_spec(spec);
    fmt::print("{}\n", line);
    std::fflush(stdout);
    auto bytes = render::render_file(spec);
    if (!bytes) exit_with(kRenderFailed, bytes.error().message);
    const std::string path = !flags->output.empty() ? flags->output
                                                    : fmt::format("mandala-{}.{}", spec.seed,
                                                                  render::file_extension(spec));
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes->data()),
              static_cast<std::streamsize>(bytes->size()));
    out.close();
    if (!out) exit_with(kRenderFailed, fmt::format("cannot write {}", path));
    fmt::print(stderr, "wrote {} ({} bytes, {}x{})\n", path, bytes->size(), spec.size, spec.size);
  });
}

}  // namespace mando::app
