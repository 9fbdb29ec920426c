#include "transform/worker.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <new>
#include <optional>
#include <set>

#include "core/c_handle.hpp"
#include "core/log.hpp"
#include "transform/framing.hpp"
#include "transform/pipeline.hpp"
#include <fcntl.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

namespace mando::transform {
namespace {

// Reads exactly n bytes. 1: done; 0: end of file before the first byte; -1: error or end of file
// part way.
int read_exact(int fd, char* data, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::read(fd, data + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return done == 0 && got == 0 ? 0 : -1;
    done += static_cast<std::size_t>(got);
  }
  return 1;
}

// Writes every byte of the buffers, in order.
bool write_all(int fd, iovec* parts, int count) {
  while (count > 0) {
    const ssize_t put = ::writev(fd, parts, count);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    auto left = static_cast<std::size_t>(put);
    while (count > 0 && left >= parts->iov_len) {
      left -= parts->iov_len;
      ++parts;
      --count;
    }
    if (count > 0) {
      parts->iov_base = static_cast<char*>(parts->iov_base) + left;
      parts->iov_len -= left;
    }
  }
  return true;
}

bool write_frame(int fd, wire::Type type, std::string_view body) {
  auto header = wire::encode_header(type, static_cast<std::uint32_t>(body.size()));
  iovec parts[2] = {{header.data(), header.size()}, {const_cast<char*>(body.data()), body.size()}};
  return write_all(fd, parts, 2);
}

bool write_answer(int fd, const Result<std::string>& answer) {
  if (answer) return write_frame(fd, wire::Type::kImage, *answer);
  const std::string frame = wire::encode_error(answer.error());
  iovec part{const_cast<char*>(frame.data()), frame.size()};
  return write_all(fd, &part, 1);
}

// Closes every descriptor except `keep`, a range at a time.
void close_other_fds(std::set<int> keep) {
  unsigned first = 0;
  for (const int fd : keep) {
    if (fd < 0) continue;
    if (static_cast<unsigned>(fd) > first) ::close_range(first, fd - 1, 0);
    first = fd + 1;
  }
  ::close_range(first, ~0u, 0);
}

using SeccompFilter = core::CHandle<void, seccomp_release>;

bool deny_network_and_exec() {
  SeccompFilter filter(seccomp_init(SCMP_ACT_ALLOW));
  if (!filter) return false;
  for (const int call : {SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind),
                         SCMP_SYS(listen), SCMP_SYS(accept), SCMP_SYS(accept4),
                         SCMP_SYS(io_uring_setup), SCMP_SYS(execve), SCMP_SYS(execveat)}) {
    if (seccomp_rule_add(filter.get(), SCMP_ACT_ERRNO(EACCES), call, 0) != 0) return false;
  }
  // seccomp_load sets no_new_privs first (SCMP_FLTATR_CTL_NNP is on by default).
  return seccomp_load(filter.get()) == 0;
}

// When the protocol runs on stdin and stdout (as the pool starts workers), a library that prints
// to stdout would corrupt the frames: the protocol moves to descriptors of its own, stdout
// becomes stderr and stdin /dev/null.
bool move_off_stdio(int& fd, int stdio, int replacement) {
  if (fd != stdio) return true;
  fd = ::fcntl(stdio, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  return fd >= 0 && ::dup2(replacement, stdio) == stdio;
}

bool sandbox(int& in_fd, int& out_fd) {
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const bool moved = null >= 0 && move_off_stdio(in_fd, STDIN_FILENO, null) &&
                     move_off_stdio(out_fd, STDOUT_FILENO, STDERR_FILENO);
  if (null >= 0) ::close(null);
  if (!moved) return false;
  close_other_fds({STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, in_fd, out_fd});
  // After the descriptors are closed, not before: libvips and glib may open some of their own.
  init_vips();
  // A write to a pool that went away is an error to return, not a signal that kills.
  std::signal(SIGPIPE, SIG_IGN);
  const rlimit no_core{0, 0};
  return ::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && ::setrlimit(RLIMIT_CORE, &no_core) == 0 &&
         deny_network_and_exec();
}

// RLIMIT_CPU counts the whole life of the process, so each job moves the soft limit to what it
// has used so far plus its own allowance; the hard limit stays where it is.
void limit_cpu_for_job(std::uint32_t seconds) {
  if (seconds == 0) return;
  rusage usage{};
  rlimit limit{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0 || ::getrlimit(RLIMIT_CPU, &limit) != 0) return;
  const rlim_t used = static_cast<rlim_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1);
  limit.rlim_cur = std::min<rlim_t>(used + seconds, limit.rlim_max);
  ::setrlimit(RLIMIT_CPU, &limit);
}

template <typename F>
Result<std::string> guarded(F&& job) {
  try {
    return job();
  } catch (const std::bad_alloc&) {
    return fail(ErrorKind::kResourceExhausted, "could not be read (out of memory)");
  } catch (const std::exception& e) {
    return fail(ErrorKind::kInternal, std::string("transform worker: ") + e.what());
  }
}

// The job's answer, or nullopt when the request is malformed: a bug on the pool's side, not a bad
// picture, and the end of this worker.
std::optional<Result<std::string>> run(wire::Type type, std::string_view body,
                                       const WorkerHandlers& handlers) {
  if (type == wire::Type::kThumbnail) {
    auto request = wire::parse_thumbnail(body);
    if (!request) return std::nullopt;
    limit_cpu_for_job(request->cpu_seconds);
    return guarded(
        [&] { return handlers.thumbnail(request->input, request->spec, request->limits); });
  }
  auto request = wire::parse_sheet(body);
  if (!request) return std::nullopt;
  limit_cpu_for_job(request->cpu_seconds);
  return guarded([&] { return handlers.sheet(request->tiles, request->spec); });
}

}  // namespace

int serve(int in_fd, int out_fd, const WorkerHandlers& handlers) {
  auto log = core::logger("transform");
  if (!sandbox(in_fd, out_fd)) {
    log->error("transform worker: sandbox setup failed: {}", std::strerror(errno));
    return kExitSandbox;
  }
  if (!write_frame(out_fd, wire::Type::kReady, {})) return kExitProtocol;
  for (;;) {
    wire::HeaderBytes bytes;
    const int got = read_exact(in_fd, bytes.data(), bytes.size());
    if (got == 0) return 0;
    auto header = wire::parse_request_header(bytes);
    if (got < 0 || !header) {
      log->error("transform worker: {}", got < 0 ? "short header" : header.error().message);
      return kExitProtocol;
    }
    std::string body(header->length, '\0');
    if (read_exact(in_fd, body.data(), body.size()) != 1) return kExitProtocol;
    const auto answer = run(header->type, body, handlers);
    if (!answer) {
      log->error("transform worker: malformed request");
      return kExitProtocol;
    }
    if (!write_answer(out_fd, *answer)) return kExitProtocol;
  }
}

int worker_main(int in_fd, int out_fd) {
  const WorkerHandlers handlers{thumbnail, contact_sheet};
  return serve(in_fd, out_fd, handlers);
}

}  // namespace mando::transform
