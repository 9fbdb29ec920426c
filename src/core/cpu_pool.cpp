#include "core/cpu_pool.hpp"

#include <thread>

namespace mando::core {
namespace {

std::size_t resolve(std::size_t threads) {
  if (threads > 0) return threads;
  auto n = std::thread::hardware_concurrency();
  return n > 0 ? n : 1;
}

}  // namespace

CpuPool::CpuPool(std::size_t threads, MetricsRegistry* metrics)
    : size_(resolve(threads)), pool_(size_), queued_(&own_queued_), busy_(&own_busy_) {
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

void CpuPool::stop() { pool_.join(); }

}  // namespace mando::core
