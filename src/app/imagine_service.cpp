#include "app/imagine_service.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "app/queue_service.hpp"
#include "imagine/postgres_job_store.hpp"
#include "imagine/sqlite_job_store.hpp"

namespace mando::app {

Result<std::unique_ptr<ImagineService>> ImagineService::open(
    const core::Config& config, boost::asio::any_io_executor executor) {
  auto policy = net::UrlPolicy::create({config.fetch.allow_http, config.fetch.allow});
  if (!policy) return fail(ErrorKind::kInvalidArgument, "[fetch]: " + policy.error().message);
  std::unique_ptr<ImagineService> self(new ImagineService(std::move(executor), std::move(*policy)));
  auto providers = imagine::Providers::create(self->http_, self->fetcher_, config.imagine.models);
  if (!providers) return tl::unexpected(providers.error());
  self->providers_ = std::move(*providers);
  auto store = open_job_store(config);
  if (!store) return tl::unexpected(store.error());
  self->store_ = std::move(*store);
  return self;
}

Result<std::unique_ptr<imagine::JobStore>> ImagineService::open_job_store(
    const core::Config& config) {
  if (config.queue.backend == "postgres") {
    // Shared by every process, with the queue, so that quotas and webhooks meet one record.
    auto pool = postgres_options(config);
    if (!pool) return tl::unexpected(pool.error());
    pool->size = std::min(pool->size, 8);  // jobs are few next to tasks
    auto store = imagine::PostgresJobStore::open(std::move(*pool));
    if (!store) {
      return fail(store.error().kind, "[imagine] job store: " + store.error().message);
    }
    return std::unique_ptr<imagine::JobStore>(std::move(*store));
  }
  const std::filesystem::path path =
      config.imagine.database.empty() ? std::filesystem::path(config.data_dir) / "imagine.sqlite3"
                                      : std::filesystem::path(config.imagine.database);
  auto store = imagine::SqliteJobStore::open(path);
  if (!store) {
    return fail(store.error().kind,
                fmt::format("[imagine] database {}: {}", path.string(), store.error().message));
  }
  return std::unique_ptr<imagine::JobStore>(std::move(*store));
}

}  // namespace mando::app
