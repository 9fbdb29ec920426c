#include "app/imagine_service.hpp"

#include <filesystem>

#include <fmt/format.h>

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
  const std::filesystem::path path =
      config.imagine.database.empty() ? std::filesystem::path(config.data_dir) / "imagine.sqlite3"
                                      : std::filesystem::path(config.imagine.database);
  auto store = imagine::SqliteJobStore::open(path);
  if (!store) {
    return fail(store.error().kind,
                fmt::format("[imagine] database {}: {}", path.string(), store.error().message));
  }
  self->store_ = std::move(*store);
  return self;
}

}  // namespace mando::app
