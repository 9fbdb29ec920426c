#pragma once
// The loop a transform worker process runs (`mando transform-worker`, started by WorkerPool).
//
//   1. Sandbox, before any request is read:
//      - every descriptor but in_fd, out_fd and stderr is closed (mando's listening sockets,
//        database and blob files must not be reachable from a decoder);
//      - PR_SET_PDEATHSIG: the kernel kills the worker when mando dies (a worker waiting for a
//        request also sees end of file; this catches one busy decoding);
//      - no core dumps (RLIMIT_CORE 0): a crashing decoder writes nothing to disk;
//      - a seccomp filter (libseccomp), which needs no privilege once no_new_privs is set: socket,
//        socketpair, connect, bind, listen, accept, accept4 and io_uring_setup (io_uring can open
//        and connect sockets on its own) fail with EACCES, and execve and execveat too, so an
//        exploited decoder can neither reach the network nor run a program. unshare(CLONE_NEWNET)
//        was the alternative; it needs CAP_SYS_ADMIN or unprivileged user namespaces, which many
//        containers and distributions disable, and leaves exec open.
//      libvips starts (init_vips()) once the descriptors are closed, so that its own survive.
//      The address-space limit is applied from outside by the pool (prlimit on the new process),
//      so it holds even for a worker that never gets this far.
//   2. Send kReady (framing.hpp).
//   3. For each request: set the CPU limit for this job (RLIMIT_CPU's soft limit = CPU used so far
//      + the request's cpu_seconds; the kernel sends SIGXCPU past it), run the handler, write the
//      answer. An exception from a handler is answered as an Error, never let out.
//   4. End of file on in_fd: return 0.
//
// Exit statuses: 0 at end of file; kExitProtocol (3) for a malformed request or a failed write;
// kExitSandbox (4) when the sandbox cannot be set up (the worker then serves nothing).

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "transform/spec.hpp"

namespace mando::transform {

inline constexpr int kExitProtocol = 3;
inline constexpr int kExitSandbox = 4;

// What a worker runs jobs with. worker_main() serves the pipeline (pipeline.hpp); the tests
// serve variants (a decoder that crashes on a chosen input) through serve(), so the protocol
// itself has no test-only requests.
struct WorkerHandlers {
  std::function<Result<std::string>(std::string_view input, const TransformSpec&,
                                    const DecodeLimits&)>
      thumbnail;
  std::function<Result<std::string>(const std::vector<std::string>& tiles, const SheetSpec&)> sheet;
};

// Steps 1-4 above with `handlers`. Returns the exit status.
int serve(int in_fd, int out_fd, const WorkerHandlers& handlers);

// serve() with thumbnail() and contact_sheet().
int worker_main(int in_fd, int out_fd);

}  // namespace mando::transform
