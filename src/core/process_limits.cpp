#include "core/process_limits.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/metrics.hpp"
#include <sys/resource.h>

namespace mando::core {
namespace {

tl::unexpected<Error> os_error(std::string_view call) {
  return fail(ErrorKind::kInternal,
              fmt::format("{}(RLIMIT_NOFILE): {}", call, std::strerror(errno)));
}

// The kernel's ceiling for RLIMIT_NOFILE, which an unlimited hard limit cannot exceed either.
rlim_t nr_open() {
  std::ifstream in("/proc/sys/fs/nr_open");
  rlim_t value = 0;
  return in >> value ? value : 1024 * 1024;
}

}  // namespace

Result<FdLimit> raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return os_error("getrlimit");
  const rlim_t target = limit.rlim_max == RLIM_INFINITY ? nr_open() : limit.rlim_max;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < target) {
    rlimit raised = limit;
    raised.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) return os_error("setrlimit");
    limit = raised;
  }
  return FdLimit{static_cast<std::uint64_t>(limit.rlim_cur),
                 static_cast<std::uint64_t>(limit.rlim_max)};
}

std::size_t default_max_connections(std::uint64_t fd_limit) {
  const std::uint64_t reserve =
      fd_limit < 512 ? fd_limit / 2 : std::max<std::uint64_t>(256, fd_limit / 4);
  return static_cast<std::size_t>(std::max<std::uint64_t>(1, fd_limit - reserve));
}

std::int64_t process_open_fds() {
  std::error_code ec;
  std::int64_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  // The iterator's own descriptor is one of the entries.
  return ec ? -1 : n - 1;
}

void add_process_fd_metrics(MetricsRegistry& metrics) {
  metrics.callback_gauge("process_open_fds", "Number of open file descriptors",
                         [] { return static_cast<double>(process_open_fds()); });
  metrics.callback_gauge("process_max_fds", "Maximum number of open file descriptors", [] {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1.0;
    return static_cast<double>(limit.rlim_cur);
  });
}

}  // namespace mando::core
