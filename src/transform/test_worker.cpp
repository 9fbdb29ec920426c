// transform_worker_for_tests: the real worker loop (serve(), sandbox included) with a thumbnail
// handler that, for a few inputs no picture starts with, misbehaves the way a broken decoder
// would or reports what the sandbox allows. The production worker (`mando transform-worker`)
// has none of this: its handlers are the pipeline's.
//
//   "test:crash"          abort() mid-job
//   "test:spin"           burn CPU forever (job_timeout or RLIMIT_CPU must end it)
//   "test:pid"            answer the worker's pid
//   "test:socket"         try socket(AF_INET) and socket(AF_UNIX); answer what happened
//   "test:sandbox"        answer RLIMIT_AS, RLIMIT_CORE, the parent-death signal, the seccomp
//                         mode and the open descriptors with their targets
//   "test:uncapped:" + b  thumbnail(b) with no pixel cap: what a decoder without probe() does
// Anything else goes to thumbnail() as it is.

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include "transform/pipeline.hpp"
#include "transform/worker.hpp"
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace mando;
using namespace mando::transform;

std::string try_socket(int domain) {
  const int fd = ::socket(domain, SOCK_STREAM, 0);
  if (fd < 0) return std::strerror(errno);
  ::close(fd);
  return "opened";
}

std::string seccomp_mode() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("Seccomp:")) return line.substr(line.find_first_not_of(" \t", 8));
  }
  return "?";
}

std::string sandbox_report() {
  rlimit as{}, core{};
  ::getrlimit(RLIMIT_AS, &as);
  ::getrlimit(RLIMIT_CORE, &core);
  int deathsig = 0;
  ::prctl(PR_GET_PDEATHSIG, &deathsig);
  std::string out = fmt::format(
      "as={}\ncore={}\npdeathsig={}\nseccomp={}\n",
      as.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(as.rlim_cur),
      core.rlim_cur, deathsig, seccomp_mode());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::error_code link_ec;
    const auto target = std::filesystem::read_symlink(entry.path(), link_ec);
    out += fmt::format("fd {} {}\n", entry.path().filename().string(), target.string());
  }
  return out;
}

Result<std::string> test_thumbnail(std::string_view input, const TransformSpec& spec,
                                   const DecodeLimits& limits) {
  if (input == "test:crash") std::abort();
  if (input == "test:spin") {
    volatile std::uint64_t spins = 0;  // volatile: a loop without side effects may be removed
    for (;;) spins = spins + 1;
  }
  if (input == "test:pid") return std::to_string(::getpid());
  if (input == "test:socket") {
    return fmt::format("inet={}\nunix={}\n", try_socket(AF_INET), try_socket(AF_UNIX));
  }
  if (input == "test:sandbox") return sandbox_report();
  constexpr std::string_view kUncapped = "test:uncapped:";
  if (input.starts_with(kUncapped)) {
    DecodeLimits uncapped = limits;
    uncapped.max_pixels = std::numeric_limits<std::uint64_t>::max();
    return thumbnail(input.substr(kUncapped.size()), spec, uncapped);
  }
  return thumbnail(input, spec, limits);
}

}  // namespace

int main() {
  const WorkerHandlers handlers{test_thumbnail, contact_sheet};
  return serve(STDIN_FILENO, STDOUT_FILENO, handlers);
}
