#include "core/process_limits.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/metrics.hpp"
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace mando::core {
namespace {

TEST(ProcessLimitsTest, RaisesTheSoftLimitToTheHardOne) {
  auto limit = raise_fd_limit();
  ASSERT_TRUE(limit) << limit.error().message;
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(limit->soft, now.rlim_cur);
  EXPECT_EQ(limit->hard, now.rlim_max);
  if (now.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(now.rlim_cur, now.rlim_max);
  }
  EXPECT_TRUE(raise_fd_limit());  // again: nothing to raise, no error
}

TEST(ProcessLimitsTest, DefaultMaxConnectionsLeavesRoomForTheRestOfTheProcess) {
  EXPECT_EQ(default_max_connections(1024), 768u);
  EXPECT_EQ(default_max_connections(100000), 75000u);
  EXPECT_EQ(default_max_connections(600), 344u);  // at least 256 kept
  EXPECT_EQ(default_max_connections(256), 128u);  // half of a small limit
  EXPECT_EQ(default_max_connections(1), 1u);
}

TEST(ProcessLimitsTest, CountsOpenDescriptorsAndExportsThem) {
  const auto before = process_open_fds();
  ASSERT_GT(before, 2);  // stdin, stdout, stderr at least
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(process_open_fds(), before + 1);
  ::close(fd);
  EXPECT_EQ(process_open_fds(), before);

  MetricsRegistry metrics;
  add_process_fd_metrics(metrics);
  const auto text = metrics.render();
  EXPECT_NE(text.find("# TYPE process_open_fds gauge\nprocess_open_fds "), std::string::npos)
      << text;
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_NE(text.find(fmt::format("process_max_fds {}\n", now.rlim_cur)), std::string::npos)
      << text;
}

}  // namespace
}  // namespace mando::core
