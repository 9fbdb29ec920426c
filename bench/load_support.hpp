#pragma once
// What the load benchmarks (mando_load, imagine_load) share: `mando` as a child process, the
// readings of /proc, Prometheus text and percentiles.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "net/http_client.hpp"
#include <sys/types.h>

namespace mando::bench {

std::int64_t unix_ms();
std::string loadavg();
// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid);
// VmHWM (peak) and VmRSS (now) of a process, in KiB.
long vm_hwm_kib(pid_t pid);
long vm_rss_kib(pid_t pid);
// "2026-11-22T06:00:00.123000+00:00" (the emulator's form, always UTC) in Unix ms.
std::optional<std::int64_t> parse_iso_ms(std::string_view s);

// A metric's value summed over its label sets, from Prometheus text; -1 when absent.
double metric_sum(const std::string& text, std::string_view name,
                  std::string_view label_filter = {});
// GET {url}/metrics: the text, "" on failure.
boost::asio::awaitable<std::string> get_metrics(net::HttpClient& client, const std::string& url);
boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds d);

// Nearest-rank percentile of sorted values.
template <typename T>
T percentile(const std::vector<T>& sorted, double p) {
  if (sorted.empty()) return T{};
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// One "--name value" flag of a benchmark and what its value sets; `set` throws
// (std::invalid_argument, std::out_of_range) for a value it cannot take.
struct Flag {
  std::string_view name;
  std::function<void(const std::string&)> set;
};

// Applies argv's flags; an unknown flag, a missing or bad value prints "PROGRAM: why" and
// "usage: PROGRAM USAGE" to stderr and exits 2 (as does fail_usage()).
void parse_flags(int argc, char** argv, std::string_view program, std::string_view usage,
                 const std::vector<Flag>& flags);
[[noreturn]] void fail_usage(std::string_view program, std::string_view usage,
                             std::string_view why);

// `binary args...` with this environment plus `env_overrides` ("NAME=VALUE"), stdin from
// /dev/null, stdout read by wait_for_line(), stderr into `stderr_path`.
class Child {
 public:
  Child(const std::string& binary, const std::vector<std::string>& args,
        const std::vector<std::string>& env_overrides, const std::string& stderr_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stdout until a line starts with `prefix`; then keeps draining it on a thread.
  std::optional<std::string> wait_for_line(const std::string& prefix, std::chrono::seconds limit);
  // The exit description once it has exited, else nullopt.
  std::optional<std::string> exited();
  // SIGTERM, then SIGKILL after `grace`; the exit description.
  std::string stop(std::chrono::seconds grace);

 private:
  static std::string describe(int status);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::thread drain_;
  std::optional<std::string> status_;
};

}  // namespace mando::bench
