#include "bench/load_support.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mando::bench {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

void fail_usage(std::string_view program, std::string_view usage, std::string_view why) {
  fmt::print(stderr, "{}: {}\nusage: {} {}\n", program, why, program, usage);
  std::exit(2);
}

void parse_flags(int argc, char** argv, std::string_view program, std::string_view usage,
                 const std::vector<Flag>& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    const auto flag =
        std::find_if(flags.begin(), flags.end(), [&](const Flag& f) { return f.name == name; });
    if (flag == flags.end()) fail_usage(program, usage, "unknown flag " + name);
    if (i + 1 >= argc) fail_usage(program, usage, "missing value for " + name);
    const std::string value = argv[++i];
    try {
      flag->set(value);
    } catch (const std::exception&) {
      fail_usage(program, usage, "bad value for " + name + ": " + value);
    }
  }
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state; 14 utime, 15 stime
    if (i == 14 || i == 15) ticks += std::stod(field);
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long vm_hwm_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmHWM:") {
      in >> value;
      return value;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

// "2026-11-22T06:00:00.123000+00:00" (the emulator's form, always UTC) in Unix ms.
std::optional<std::int64_t> parse_iso_ms(std::string_view s) {
  std::tm tm{};
  int micros = 0;
  const std::string text(s);
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &micros) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + micros / 1000;
}

long vm_rss_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

// A metric's value summed over its label sets, from Prometheus text.
double metric_sum(const std::string& text, std::string_view name, std::string_view label_filter) {
  double total = 0;
  bool found = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(name)) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    if (!label_filter.empty() && line.find(label_filter) == std::string::npos) continue;
    const auto space = line.rfind(' ');
    total += std::stod(line.substr(space + 1));
    found = true;
  }
  return found ? total : -1;
}

asio::awaitable<std::string> get_metrics(net::HttpClient& client, const std::string& url) {
  net::ClientRequest request;
  request.url = url + "/metrics";
  request.timeout = 5s;
  auto response = co_await client.send(std::move(request));
  if (!response || response->status != 200) co_return std::string();
  co_return std::move(response->body);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

Child::Child(const std::string& binary, const std::vector<std::string>& args,
             const std::vector<std::string>& env_overrides, const std::string& stderr_path) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    if (const auto eq = kv.find('='); eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  for (const auto& kv : env_overrides) {
    const auto eq = kv.find('=');
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> all{binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  // The emulator's sockets are not mando's.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw std::runtime_error(fmt::format("cannot start {}: {}", binary, std::strerror(rc)));
  }
  out_fd_ = out[0];
}

Child::~Child() {
  if (drain_.joinable()) drain_.join();
  if (out_fd_ >= 0) close(out_fd_);
}

std::optional<std::string> Child::wait_for_line(const std::string& prefix,
                                                std::chrono::seconds limit) {
  std::string buffer;
  const auto deadline = Steady::now() + limit;
  while (Steady::now() < deadline) {
    pollfd fd{out_fd_, POLLIN, 0};
    if (poll(&fd, 1, 100) <= 0) continue;
    char chunk[4096];
    const ssize_t n = read(out_fd_, chunk, sizeof chunk);
    if (n <= 0) return std::nullopt;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto nl = buffer.find('\n'); nl != std::string::npos; nl = buffer.find('\n', start)) {
      std::string line = buffer.substr(start, nl - start);
      start = nl + 1;
      if (line.starts_with(prefix)) {
        drain_ = std::thread([fd = out_fd_] {
          char sink[4096];
          while (read(fd, sink, sizeof sink) > 0) {
          }
        });
        return line;
      }
    }
    buffer.erase(0, start);
  }
  return std::nullopt;
}

std::optional<std::string> Child::exited() {
  if (status_) return status_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  status_ = describe(status);
  return status_;
}

std::string Child::stop(std::chrono::seconds grace) {
  if (auto done = exited()) return "exited during the run: " + *done;
  kill(pid_, SIGTERM);
  const auto deadline = Steady::now() + grace;
  while (Steady::now() < deadline) {
    if (auto done = exited()) return *done;
    std::this_thread::sleep_for(20ms);
  }
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  status_ = describe(status);
  return "did not stop within the grace time, killed: " + *status_;
}

std::string Child::describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return "stopped";
}

}  // namespace mando::bench
