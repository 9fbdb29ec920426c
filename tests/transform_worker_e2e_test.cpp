// `mando transform-worker`, the production worker, behind a WorkerPool: the same binary mando
// re-executes (issue 12). The unit tests in src/transform use a test worker with misbehaving
// inputs; this one checks that the real command serves the pipeline and nothing else.

#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"
#include "transform/pool.hpp"

namespace mando::transform {
namespace {

TEST(TransformWorkerCommand, ServesThePipelineAndNoTestHooks) {
  boost::asio::io_context ioc;
  PoolOptions options;
  options.workers = 1;
  options.executable = MANDO_BINARY;  // args stay {"transform-worker"}, as in mando itself
  WorkerPool pool(ioc.get_executor(), options);
  auto run = [&](std::string input) {
    return mando::testing::run_awaitable(ioc, pool.thumbnail(std::move(input), {64}, {}));
  };
  // A 1 x 1 white GIF: the smallest picture a test can write inline.
  const std::string gif(
      "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01"
      "\x00\x00\x02\x02\x44\x01\x00;",
      35);
  auto thumbnail = run(gif);
  ASSERT_TRUE(thumbnail) << thumbnail.error().to_string();
  EXPECT_TRUE(thumbnail->starts_with("\xff\xd8\xff"));  // JPEG, the default format
  auto svg = run("<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
  ASSERT_FALSE(svg);
  EXPECT_EQ(svg.error().message, "SVG images are not supported (JPEG, PNG, WebP or GIF only)");
  // The test worker's hooks do not exist here: these are just bytes that are not a picture.
  auto hook = run("test:crash");
  ASSERT_FALSE(hook);
  EXPECT_EQ(hook.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(run(gif));  // and the same worker still serves
}

}  // namespace
}  // namespace mando::transform
