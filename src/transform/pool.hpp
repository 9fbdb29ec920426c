#pragma once
// Crash isolation for the pipeline: a fixed set of worker processes (`mando transform-worker`)
// that decode untrusted pictures, so that a decoder bug, a memory bomb or an endless loop costs
// one job and one process, never mando.
//
//   1. The pool starts `workers` processes at construction: posix_spawn of `executable args...`
//      with one end of a socketpair as their stdin and stdout, every other descriptor closed, the
//      signal mask and dispositions reset, and RLIMIT_AS set on the new process (prlimit) before
//      it is sent anything. Each then sandboxes itself (worker.hpp) and says it is ready.
//   2. thumbnail() and sheet() frame a request (framing.hpp) and hand it to an idle worker.
//      When all are busy, jobs wait in FIFO order on the pool's strand; no thread blocks.
//   3. Each job has job_timeout (a new worker has startup_timeout before it, to get ready);
//      past it the worker is killed. The worker limits its own CPU
//      time to cpu_seconds per job (SIGXCPU) and its memory is capped by RLIMIT_AS.
//   4. A worker that dies, is killed, or breaks the protocol fails the job it was running (and
//      only that job) with kInternal "could not be read (...)"; it is reaped (pidfd, so no
//      SIGCHLD handler is installed and nothing blocks) and a new one takes its place for the
//      next job. A worker that dies before it is ready fails its job with kUnavailable instead:
//      the picture was never looked at.
//   5. Errors from the pipeline (a refused type, a pixel cap, a truncated file) come back with
//      their kind and message as thumbnail() and contact_sheet() returned them.
//
// Threads: the pool's state lives on a strand of `executor`; callers may co_await from any
// executor and resume on their own. Shutdown: ~WorkerPool kills the workers; jobs still waiting
// or running complete with kUnavailable if the executor runs again. Destroy the pool before its
// io_context, like any Asio I/O object.
//
// Sanitizer builds: AddressSanitizer reserves terabytes of address space for its shadow memory,
// so RLIMIT_AS would stop a worker before main(). Under ASan the pool does not set it and asks
// ASan itself to enforce the same budget (ASAN_OPTIONS max_allocation_size_mb and
// hard_rss_limit_mb, allocator_may_return_null=1 so a refused allocation is an error libvips
// reports rather than an abort).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "transform/spec.hpp"
#include "transform/worker.hpp"  // worker_main(), what the started processes run
#include <sys/types.h>

namespace mando::transform {

// Whether WorkerPool sets RLIMIT_AS on its workers in this build: not under AddressSanitizer.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSpaceLimited = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSpaceLimited = false;
#else
inline constexpr bool kAddressSpaceLimited = true;
#endif
#else
inline constexpr bool kAddressSpaceLimited = true;
#endif

struct PoolOptions {
  // Processes, each decoding one picture at a time with one thread: as many as the cores that
  // transform work may use.
  int workers = 2;
  std::string executable;  // empty: /proc/self/exe, i.e. mando itself
  std::vector<std::string> args = {"transform-worker"};
  // A 50-megapixel progressive JPEG keeps ~300 MB of coefficients while it decodes; a worker's
  // libraries, threads and malloc arenas reserve another few hundred megabytes of address space
  // that is never touched.
  std::uint64_t address_space_bytes = 1ull << 30;
  std::chrono::seconds cpu_seconds{30};
  // From sending a request to its whole answer; the worker is killed past it.
  std::chrono::milliseconds job_timeout{std::chrono::seconds(60)};
  // For a new worker to start and say it is ready (libvips starts in ~50 ms; a loaded machine
  // and the sanitizers take longer); kept apart so a slow start does not count against a job.
  std::chrono::milliseconds startup_timeout{std::chrono::seconds(10)};
};

class WorkerPool {
 public:
  WorkerPool(boost::asio::any_io_executor executor, PoolOptions options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // thumbnail() from pipeline.hpp, in a worker. Besides the pipeline's errors:
  //   kInvalidArgument  input larger than limits.max_input_bytes (checked before sending)
  //   kInternal         "could not be read (the decoder was killed by signal 11)", "(... took
  //                     longer than 60 s)", "(... used more than 30 s of CPU)": the worker died
  //   kUnavailable      no worker could be started, or the pool is shutting down
  boost::asio::awaitable<Result<std::string>> thumbnail(std::string input, TransformSpec spec,
                                                        DecodeLimits limits);
  // contact_sheet() from pipeline.hpp, in a worker, with the same additional errors.
  boost::asio::awaitable<Result<std::string>> sheet(std::vector<std::string> tiles, SheetSpec spec);

  // The process ids of the workers alive now, busy or idle (to read their memory use from /proc,
  // say): a worker that died and was replaced is no longer among them.
  boost::asio::awaitable<std::vector<pid_t>> worker_pids();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mando::transform
