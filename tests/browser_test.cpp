// The `mando dev` page in a real browser (issue 11 item 12): the real binary runs `mando dev` on
// ephemeral ports, and tests/npm/emulator_page.mjs drives Debian's headless chromium through
// playwright-core against the emulator's page: ten /mando typed in a row each show their decoded
// image, a reload with fifty messages shows them all, Re-roll adds a message with its image, a
// mandala attached through the file picker is transformed by /transform and again by the
// Transform images message command, and the page never holds more than one update-stream
// request open.
//
// Needs node, tests/npm/node_modules and /usr/bin/chromium: scripts/install-deps.sh --test
// installs all three. Without chromium the test is skipped and says why.

#include <filesystem>
#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include <signal.h>
#include <unistd.h>

namespace mando::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kChromium = "/usr/bin/chromium";
constexpr std::string_view kInstallHint = "run scripts/install-deps.sh --test";

TEST(BrowserTest, DevPageShowsEveryImageWithOneUpdateStream) {
  if (::access(std::string(kChromium).c_str(), X_OK) != 0) {
    GTEST_SKIP() << kChromium << " is missing: " << kInstallHint;
  }
  const fs::path npm_dir = MANDO_NPM_DIR;
  ASSERT_TRUE(fs::exists(npm_dir / "node_modules" / "playwright-core"))
      << "tests/npm/node_modules lacks playwright-core: " << kInstallHint;

  TempDir dir;
  Process mando({MANDO_BINARY, "dev", "--listen", "127.0.0.1:0", "--emulator-listen", "127.0.0.1:0",
                 "--data-dir", (dir.path() / "data").string()},
                {{"MANDO_LOG_LEVEL", "warn"},
                 // Sixty jobs of the one default user: above the fairness limits by design.
                 {"MANDO_BOT_MAX_QUEUED_PER_USER", "100"}});
  // Printed once the commands are registered with the emulator: the page is ready.
  const auto open = mando.wait_for_line("open ", 60s);
  ASSERT_TRUE(open) << "mando dev did not start: " << mando.wait(5s).err;
  const std::string rest = open->substr(5);
  const std::string url = rest.substr(0, rest.find("/ "));
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << *open;

  const ProcessResult page =
      run({"/usr/bin/env", "node", (npm_dir / "emulator_page.mjs").string(), url}, {}, {}, 600s);
  ASSERT_EQ(page.exit_code, 0) << page.err << page.out;
  const std::string last = page.out.substr(page.out.rfind('{'));
  const json::object result = json::parse(last).as_object();
  EXPECT_EQ(result.at("typed").as_int64(), 10);
  EXPECT_EQ(result.at("reloaded").as_int64(), 50);
  EXPECT_EQ(result.at("rerolled").as_int64(), 1);
  EXPECT_EQ(result.at("transformed").as_int64(), 2);
  EXPECT_EQ(result.at("imagined").as_int64(), 1);
  EXPECT_EQ(result.at("max_events_open").as_int64(), 1);

  mando.signal(SIGTERM);
  const ProcessResult stopped = mando.wait(60s);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

}  // namespace
}  // namespace mando::testing
