#include "core/cpu_pool.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <thread>

#include <fmt/format.h>

#include "core/log.hpp"
#include <sys/resource.h>
#include <unistd.h>

namespace mando::core {
namespace {

std::size_t resolve(std::size_t threads) {
  if (threads > 0) return threads;
  auto n = std::thread::hardware_concurrency();
  return n > 0 ? n : 1;
}

}  // namespace

namespace detail {
Error current_exception_error() {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    logger("core")->error("CPU pool: a job ran out of memory");
    return Error{ErrorKind::kResourceExhausted, "out of memory"};
  } catch (const std::exception& e) {
    logger("core")->error("CPU pool: a job threw: {}", e.what());
    return Error{ErrorKind::kInternal, fmt::format("unexpected exception: {}", e.what())};
  } catch (...) {
    logger("core")->error("CPU pool: a job threw something that is not a std::exception");
    return Error{ErrorKind::kInternal, "unexpected exception"};
  }
}
}  // namespace detail

CpuPool::CpuPool(std::size_t threads, MetricsRegistry* metrics, int nice)
    : size_(resolve(threads)), pool_(size_), queued_(&own_queued_), busy_(&own_busy_), nice_(nice) {
  if (metrics != nullptr) {
    queued_ = &metrics->gauge("mando_cpu_pool_queued_jobs", "Jobs waiting for a CPU pool thread")
                   .labels({});
    busy_ =
        &metrics->gauge("mando_cpu_pool_busy_threads", "CPU pool threads running a job").labels({});
    metrics->gauge("mando_cpu_pool_threads", "Threads in the CPU pool")
        .labels({})
        .set(static_cast<std::int64_t>(size_));
  }
}

CpuPool::~CpuPool() { stop(); }

void CpuPool::lower_priority() const {
  // Linux keeps a nice value per thread: setpriority() on a thread id changes that thread only.
  thread_local bool lowered = false;
  if (lowered || nice_ == 0) return;
  lowered = true;
  // Relative to the process, as nice(1) is: a mando started under `nice 5` renders at 15.
  const int target = std::min(19, getpriority(PRIO_PROCESS, 0) + nice_);
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), target) != 0) {
    logger("core")->warn("CPU pool: cannot lower the thread priority to nice {}: {}", nice_,
                         std::strerror(errno));
  }
}

void CpuPool::stop() { pool_.join(); }

}  // namespace mando::core
