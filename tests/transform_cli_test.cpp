// End-to-end tests of `mando transform`: the real binary, its real decoder processes, and a
// loopback web server with pictures made here, let through the fetch policy by MANDO_FETCH_ALLOW
// exactly as an operator would. The results are decoded independently of mando's own checks.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "support/loopback_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "transform/pipeline.hpp"
#include "transform/test_images.hpp"

namespace mando::testing {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using transform::testing::decode;
using transform::testing::Pixels;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string show(const ProcessResult& r) {
  return fmt::format("exit {}\nstdout:\n{}\nstderr:\n{}", r.exit_code, r.out, r.err);
}

net::Router pictures() {
  transform::init_vips();
  auto answers =
      std::make_shared<const std::map<std::string, std::string>>(std::map<std::string, std::string>{
          {"/wide.jpg", transform::testing::encode(Pixels::solid(300, 200, {200, 40, 40}), "jpeg")},
          {"/tall.png", transform::testing::encode(Pixels::noise(120, 260, 7), "png")},
          {"/note.txt", "not a picture"},
      });
  net::Router router;
  router.add("GET", "/*", [answers](net::Request request) -> asio::awaitable<net::Response> {
    const auto it = answers->find(std::string(request.path()));
    co_return it == answers->end() ? net::Response::text(404, "no such picture")
                                   : net::Response::text(200, it->second);
  });
  return router;
}

class TransformCli : public ::testing::Test {
 protected:
  std::string url(std::string_view path) const { return server_.url() + std::string(path); }

  // `mando transform ARGS...` allowed to fetch from the server, over plain http.
  ProcessResult mando(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {MANDO_BINARY, "transform"});
    env.emplace("MANDO_FETCH_ALLOW", server_.url().substr(std::string("http://").size()));
    env.emplace("MANDO_FETCH_ALLOW_HTTP", "true");
    return run(args, env);
  }

  TempDir dir_;
  LoopbackServer server_{pictures()};
};

TEST_F(TransformCli, WritesEverySquareAndTheSheetAndNamesTheFailures) {
  const auto out = dir_.path() / "out";
  auto r = mando({"--size", "96", "--out", out.string(), url("/wide.jpg"), url("/note.txt"),
                  url("/tall.png"), url("/gone.jpg")});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(r.out, "");  // without --stats nothing goes to stdout
  EXPECT_NE(r.err.find("image 2: not a supported image type"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("image 4: the server answered HTTP 404\n"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("image 1:"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("image 3:"), std::string::npos) << r.err;
  for (const char* name : {"1.jpg", "3.jpg"}) {
    const auto square = decode(read_file(out / name));
    ASSERT_TRUE(square.ok) << name;
    EXPECT_EQ(square.loader, "VipsForeignLoadJpegBuffer");
    EXPECT_EQ(square.width, 96);
    EXPECT_EQ(square.height, 96);
  }
  EXPECT_FALSE(std::filesystem::exists(out / "2.jpg"));
  EXPECT_FALSE(std::filesystem::exists(out / "4.jpg"));
  // Four cells of 256 px (the failed ones grey), two columns of them with gaps.
  const auto sheet = decode(read_file(out / "sheet.jpg"));
  ASSERT_TRUE(sheet.ok);
  EXPECT_GT(sheet.width, 2 * 256);
  EXPECT_EQ(sheet.width, sheet.height);
}

TEST_F(TransformCli, StatsAreOneJsonLineAndFormatSetsTheFiles) {
  auto r = mando({"--stats", "--format", "png", "--crop", "none", "--size", "64", "--out",
                  dir_.path().string(), url("/wide.jpg"), url("/tall.png")});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  ASSERT_TRUE(r.out.ends_with("}\n")) << r.out;
  ASSERT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
  const json::object stats = json::parse(r.out).as_object();
  EXPECT_EQ(stats.at("inputs").as_int64(), 2);
  EXPECT_EQ(stats.at("ok").as_int64(), 2);
  EXPECT_GT(stats.at("wall_seconds").to_number<double>(), 0);
  // This process and two decoder processes at least, each several megabytes.
  EXPECT_GT(stats.at("peak_rss_bytes").to_number<double>(), 3 * (4 << 20));
  // crop none fits inside the square: the wide picture is 64 x 43, the tall one 30 x 64.
  const auto wide = decode(read_file(dir_.path() / "1.png"));
  EXPECT_EQ(wide.loader, "VipsForeignLoadPngBuffer");
  EXPECT_EQ(wide.width, 64);
  EXPECT_LT(wide.height, 64);
  const auto tall = decode(read_file(dir_.path() / "2.png"));
  EXPECT_LT(tall.width, 64);
  EXPECT_EQ(tall.height, 64);
  EXPECT_TRUE(decode(read_file(dir_.path() / "sheet.png")).ok);
}

TEST_F(TransformCli, ExitsOneWhenNoImageWorks) {
  auto r = mando({"--out", dir_.path().string(), url("/note.txt"), url("/gone.jpg")});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_NE(r.err.find("image 1: not a supported image type"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("image 2: the server answered HTTP 404"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "sheet.jpg"));
}

TEST_F(TransformCli, TheBotsFetchPolicyApplies) {
  // Without the operator's allowance the loopback server is out of bounds, as in the bot.
  auto r = mando({"--out", dir_.path().string(), url("/wide.jpg")},
                 {{"MANDO_FETCH_ALLOW", ""}, {"MANDO_FETCH_ALLOW_HTTP", ""}});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_NE(r.err.find("image 1: only https URLs are allowed"), std::string::npos) << r.err;
  // The allowance is for the server's host and port only, not for the rest of loopback.
  r = mando({"--out", dir_.path().string(), "https://127.0.0.1/x.jpg"});
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_NE(r.err.find("image 1: address not allowed"), std::string::npos) << r.err;
}

TEST_F(TransformCli, UsageErrorsExitTwo) {
  const std::string out = dir_.path().string();
  const std::vector<std::string> cases[] = {
      {"--size", "32", url("/wide.jpg")},          {"--size", "4096", url("/wide.jpg")},
      {"--crop", "middle", url("/wide.jpg")},      {"--format", "gif", url("/wide.jpg")},
      {"--sheet-bytes", "1000", url("/wide.jpg")}, {},  // no URL
  };
  for (auto args : cases) {
    args.insert(args.begin(), {"--out", out});
    auto r = mando(args);
    EXPECT_EQ(r.exit_code, 2) << fmt::format("{}\n", fmt::join(args, " ")) << show(r);
  }
  auto r = mando({"--out", out, url("/wide.jpg"), url("/wide.jpg"), url("/wide.jpg")},
                 {{"MANDO_TRANSFORM_MAX_INPUTS", "2"}});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_NE(r.err.find("at most 2 URLs ([transform] max_inputs), got 3"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace mando::testing
