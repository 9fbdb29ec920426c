#include "support/process.hpp"

#include <cstring>
#include <regex>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mando::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                 std::string stdin_data) {
  int out[2], err[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) {
    if (v.empty()) {
      merged.erase(k);
    } else {
      merged[k] = v;
    }
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    // The test's own sockets (loopback servers, client connections) are not the child's.
    close_range(3, ~0U, 0);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  // Small inputs fit the pipe buffer; tests never send more than a few KiB.
  if (!stdin_data.empty() && write(in[1], stdin_data.data(), stdin_data.size()) < 0) {
    throw std::runtime_error("write to child stdin failed");
  }
  close(in[1]);
}

Process::~Process() {
  if (!exit_code_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

// poll() skips negative descriptors, so a closed stream simply drops out.
void Process::pump(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (poll(fds, 2, static_cast<int>(timeout.count())) <= 0) return;
  char buf[4096];
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
    ssize_t n = read(fds[i].fd, buf, sizeof buf);
    if (n > 0) {
      (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
    } else {
      close(fds[i].fd);
      (i == 0 ? out_fd_ : err_fd_) = -1;
    }
  }
}

std::optional<std::string> Process::wait_for_line(const std::string& prefix,
                                                  std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    for (auto nl = out_.find('\n', out_consumed_); nl != std::string::npos;
         nl = out_.find('\n', out_consumed_)) {
      std::string line = out_.substr(out_consumed_, nl - out_consumed_);
      out_consumed_ = nl + 1;
      if (line.starts_with(prefix)) return line;
    }
    if (out_fd_ < 0 || left_until(deadline).count() == 0) return std::nullopt;
    pump(left_until(deadline));
  }
}

void Process::signal(int sig) {
  if (!exit_code_) kill(pid_, sig);
}

ProcessResult Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  // Both pipes close when the process (and anything it started) exits.
  while ((out_fd_ >= 0 || err_fd_ >= 0) && left_until(deadline).count() > 0) {
    pump(left_until(deadline));
  }
  ProcessResult r;
  if (!exit_code_) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, out_fd_ < 0 && err_fd_ < 0 ? 0 : WNOHANG);
    if (done == pid_) exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  r.exit_code = exit_code_.value_or(-1);
  r.out = out_;
  r.err = err_;
  return r;
}

std::optional<std::uint16_t> wait_for_loopback_port(Process& mando, std::string* err) {
  const auto line = mando.wait_for_line("listening on ", std::chrono::seconds(30));
  std::smatch m;
  static const std::regex re(R"(^listening on http://127\.0\.0\.1:(\d+)$)");
  if (line && std::regex_match(*line, m, re)) return static_cast<std::uint16_t>(std::stoi(m[1]));
  if (err != nullptr) *err = line ? *line : mando.wait(std::chrono::seconds(5)).err;
  return std::nullopt;
}

ProcessResult run(std::vector<std::string> argv, std::map<std::string, std::string> env,
                  std::string stdin_data, std::chrono::milliseconds timeout) {
  Process p(std::move(argv), std::move(env), std::move(stdin_data));
  return p.wait(timeout);
}

}  // namespace mando::testing
