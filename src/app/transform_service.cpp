#include "app/transform_service.hpp"

#include <algorithm>
#include <thread>

namespace mando::app {

namespace {

transform::PoolOptions pool_options(const core::TransformConfig& config) {
  transform::PoolOptions options;
  options.workers = config.workers > 0
                        ? config.workers
                        : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  options.address_space_bytes = config.worker_memory_bytes;
  options.cpu_seconds = std::chrono::duration_cast<std::chrono::seconds>(config.worker_cpu_time);
  return options;
}

}  // namespace

Result<std::unique_ptr<TransformService>> TransformService::open(
    const core::Config& config, boost::asio::any_io_executor executor) {
  auto policy = net::UrlPolicy::create({config.fetch.allow_http, config.fetch.allow});
  if (!policy) {
    return fail(ErrorKind::kInvalidArgument, "[fetch]: " + policy.error().message);
  }
  return std::unique_ptr<TransformService>(
      new TransformService(config, std::move(executor), std::move(*policy)));
}

TransformService::TransformService(const core::Config& config,
                                   boost::asio::any_io_executor executor, net::UrlPolicy policy)
    : http_(executor),
      fetcher_(http_, std::move(policy), resolver_),
      decoders_(executor, pool_options(config.transform)) {}

}  // namespace mando::app
