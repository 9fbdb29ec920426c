// End-to-end tests of `mando render`: the real binary writes files into a temp dir; the printed
// spec reproduces the picture byte for byte; --help lists the options with their ranges; bad
// values exit 2 with a message naming the option.

#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace mando::testing {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string show(const ProcessResult& r) {
  return fmt::format("exit {}\nstdout:\n{}\nstderr:\n{}", r.exit_code, r.out, r.err);
}

ProcessResult mando(std::vector<std::string> args) {
  args.insert(args.begin(), {MANDO_BINARY, "render"});
  return run(args);
}

// Width and height from a PNG's IHDR (big-endian at bytes 16..23).
std::pair<int, int> png_size(const std::string& png) {
  auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned char>(png[at]) << 24) |
           (static_cast<unsigned char>(png[at + 1]) << 16) |
           (static_cast<unsigned char>(png[at + 2]) << 8) | static_cast<unsigned char>(png[at + 3]);
  };
  return png.size() < 24 ? std::pair{0, 0} : std::pair{be32(16), be32(20)};
}

TEST(RenderCli, WritesThePngAndPrintsASpecThatReproducesIt) {
  TempDir dir;
  const auto first = dir.path() / "out.png";
  auto r = mando({"--seed", "42", "--size", "128", "--symmetry", "12", "--style", "bezier_fill",
                  "--palette", "twilight", "--layers", "3", "-o", first.string()});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(r.out,
            "seed=42 size=128 layers=3 symmetry=12 points=6 style=bezier_fill mirror=random "
            "palette=twilight alpha=0.7 background=radial stroke=1.5 glow=off grid=1x1 "
            "format=png\n");
  const std::string png = read_file(first);
  ASSERT_TRUE(png.starts_with("\x89PNG\r\n\x1a\n")) << "not a PNG";
  EXPECT_EQ(png_size(png), (std::pair{128, 128}));

  const auto second = dir.path() / "again.png";
  std::string line = r.out.substr(0, r.out.size() - 1);
  auto again = mando({"--spec", line, "-o", second.string()});
  ASSERT_EQ(again.exit_code, 0) << show(again);
  EXPECT_EQ(again.out, r.out);
  EXPECT_EQ(read_file(second), png);
}

TEST(RenderCli, ChoosesAndPrintsASeedWhenNoneIsGiven) {
  TempDir dir;
  auto r = mando({"--size", "64", "-o", (dir.path() / "x.png").string()});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  EXPECT_TRUE(r.out.starts_with("seed=")) << r.out;
  EXPECT_NE(r.out.find(" size=64 "), std::string::npos) << r.out;
}

TEST(RenderCli, WritesWebpAnimationsAndGalleries) {
  TempDir dir;
  const auto anim = dir.path() / "a.webp";
  auto r =
      mando({"--seed", "3", "--size", "96", "--animate", "--frames", "4", "-o", anim.string()});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  EXPECT_NE(r.out.find("format=webp lossy=yes quality=80 frames=4 motion=turn"), std::string::npos)
      << r.out;
  const std::string webp = read_file(anim);
  EXPECT_TRUE(webp.starts_with("RIFF") && webp.substr(8, 4) == "WEBP");
  EXPECT_NE(webp.find("ANIM"), std::string::npos);

  const auto gallery = dir.path() / "g.png";
  r = mando({"--seed", "3", "--size", "128", "--gallery", "2x2", "-o", gallery.string()});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  EXPECT_NE(r.out.find(" grid=2x2 "), std::string::npos);
  EXPECT_EQ(png_size(read_file(gallery)), (std::pair{128, 128}));

  const auto lossy = dir.path() / "l.webp";
  r = mando({"--seed", "3", "--size", "64", "--lossy", "--quality", "50", "-o", lossy.string()});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  EXPECT_NE(r.out.find("format=webp lossy=yes quality=50"), std::string::npos) << r.out;
}

TEST(RenderCli, HelpListsEveryOptionWithItsRange) {
  auto r = mando({"--help"});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  for (const char* text :
       {"--seed",    "--size",   "64 - 4096", "--layers",    "--radii",      "--symmetry",
        "1 - 64",    "--points", "--style",   "bezier_fill", "--mirror",     "--palette",
        "twilight",  "--face",   "--edge",    "--alpha",     "--background", "radial",
        "--stroke",  "--glow",   "--gallery", "--format",    "--lossy",      "--quality",
        "--animate", "--frames", "2 - 120",   "--motion",    "--spec",       "--output"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
}

TEST(RenderCli, BadValuesExitTwoNamingTheOption) {
  TempDir dir;
  const std::string out = (dir.path() / "x.png").string();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"--size", "10"}, "--size"},
      {{"--symmetry", "0"}, "--symmetry"},
      {{"--style", "zigzag"}, "--style"},
      {{"--palette", "rainbow"}, "--palette"},
      {{"--gallery", "9x9"}, "grid rows must be between 1 and 8, got 9"},
      {{"--face", "red"}, "must be a colour #rrggbb"},
      {{"--spec", "size=10"}, "size must be between 64 and 4096, got 10"},
      {{"--spec", "seed=1 bogus=2"}, "unknown option 'bogus'"},
      {{"--animate", "--size", "2048"}, "size must be between 64 and 1024 for an animation"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"-o", out});
    auto r = mando(args);
    EXPECT_EQ(r.exit_code, 2) << show(r);
    EXPECT_NE(r.err.find(c.message), std::string::npos) << show(r);
    EXPECT_FALSE(std::filesystem::exists(out));
  }
}

}  // namespace
}  // namespace mando::testing
