#pragma once
// Runs the real `mando` binary for end-to-end tests: fork/exec with a chosen environment,
// stdout and stderr captured, every wait bounded.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace mando::testing {

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
};

class Process {
 public:
  // Starts `argv` with the current environment plus `env` (a value of "" removes a variable).
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
          std::string stdin_data = {});
  ~Process();  // kills the process if it still runs
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Reads stdout until a line starting with `prefix` arrives; returns the line, or nullopt when
  // the process exits or the timeout passes first.
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout);
  void signal(int sig);
  // Waits for exit, reading the rest of stdout and stderr.
  ProcessResult wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  void pump(std::chrono::milliseconds timeout);  // one poll() round over stdout/stderr
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::size_t out_consumed_ = 0;
  std::optional<int> exit_code_;
};

// Waits up to 30 s for `mando serve`'s "listening on http://127.0.0.1:PORT" line and returns
// the port; nullopt when mando exits first, prints something else or is too slow (its stderr
// then goes to *err).
std::optional<std::uint16_t> wait_for_loopback_port(Process& mando, std::string* err);

// Runs a command to completion (bounded) and returns what it printed.
ProcessResult run(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                  std::string stdin_data = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace mando::testing
