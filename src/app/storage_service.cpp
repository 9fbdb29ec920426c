#include "app/storage_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "storage/blob_routes.hpp"
#include "storage/s3_backend.hpp"

namespace mando::app {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kFileThreads = 4;

}  // namespace

struct StorageService::Counters {
  explicit Counters(core::MetricsRegistry& m)
      : runs(m.counter("mando_storage_cleanup_runs_total", "Blob cleanup runs", {}).labels({})),
        deleted(m.counter("mando_storage_cleanup_deleted_total", "Expired blobs deleted", {})
                    .labels({})),
        bytes(m.counter("mando_storage_cleanup_freed_bytes_total",
                        "Bytes of the expired blobs deleted", {})
                  .labels({})),
        failures(m.counter("mando_storage_cleanup_failures_total",
                           "Blobs or markers cleanup could not read or delete", {})
                     .labels({})) {}
  core::Counter& runs;
  core::Counter& deleted;
  core::Counter& bytes;
  core::Counter& failures;
};

StorageService::StorageService(const core::Config& config, asio::any_io_executor executor)
    : config_(config.storage), executor_(std::move(executor)), file_pool_(kFileThreads) {}

StorageService::~StorageService() = default;

Result<std::unique_ptr<StorageService>> StorageService::open(const core::Config& config,
                                                             const core::Environment& env,
                                                             asio::any_io_executor executor) {
  std::unique_ptr<StorageService> service(new StorageService(config, executor));
  const core::StorageConfig& c = config.storage;
  auto log = core::logger("storage");
  if (c.backend == "s3") {
    storage::S3Options base;
    base.endpoint = c.endpoint;
    base.region = c.region;
    base.bucket = c.bucket;
    base.path_style = c.path_style;
    base.public_url_template = c.public_url_template;
    if (c.endpoint.empty())
      return fail(ErrorKind::kInvalidArgument, "[storage] endpoint: required for backend = \"s3\"");
    if (c.bucket.empty())
      return fail(ErrorKind::kInvalidArgument, "[storage] bucket: required for backend = \"s3\"");
    auto options = storage::s3_options_from_environment(std::move(base), env);
    if (!options) return tl::unexpected(options.error());
    service->client_ = std::make_unique<net::HttpClient>(executor);
    service->backend_ =
        std::make_unique<storage::S3Backend>(std::move(*options), *service->client_);
    log->info("blobs in S3 bucket {} at {}", c.bucket, c.endpoint);
  } else {
    storage::LocalBackendOptions options;
    options.root = c.directory.empty() ? std::filesystem::path(config.data_dir) / "blobs"
                                       : std::filesystem::path(c.directory);
    options.public_base_url = c.public_base_url;
    if (!c.url_signing_key.empty()) {
      auto signer = storage::UrlSigner::from_key(c.url_signing_key);
      if (!signer) return tl::unexpected(signer.error());
      options.signer = std::move(*signer);
    }
    const std::string root = options.root.string();
    auto local = storage::LocalBackend::open(std::move(options), service->file_pool_);
    if (!local) return tl::unexpected(local.error());
    service->local_ = local->get();
    service->backend_ = std::move(*local);
    log->info("blobs under {}{}", root, c.url_signing_key.empty() ? "" : " (signed URLs)");
  }
  storage::BlobStoreOptions store_options;
  store_options.default_ttl = std::chrono::duration_cast<std::chrono::seconds>(c.default_ttl);
  service->store_ =
      std::make_unique<storage::BlobStore>(*service->backend_, std::move(store_options));
  return service;
}

void StorageService::install_routes(net::Router& router) {
  if (local_ == nullptr) return;
  storage::add_blob_routes(router, *store_, local_->signer() ? &*local_->signer() : nullptr);
}

namespace {

asio::awaitable<void> cleanup_loop(StorageService* service, std::chrono::milliseconds interval) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    // The outcome is logged and counted by cleanup() itself.
    (void)co_await service->cleanup(storage::CleanupOptions{});
  }
}

}  // namespace

void StorageService::start(const std::string& self_url, core::MetricsRegistry& metrics) {
  if (local_ != nullptr && config_.public_base_url.empty()) local_->set_public_base_url(self_url);
  counters_ = std::make_unique<Counters>(metrics);
  if (config_.cleanup_interval.count() > 0) {
    asio::co_spawn(executor_, cleanup_loop(this, config_.cleanup_interval), asio::detached);
  }
}

asio::awaitable<Result<storage::CleanupReport>> StorageService::cleanup(
    storage::CleanupOptions options) {
  auto log = core::logger("storage");
  const bool dry_run = options.dry_run;
  auto report = co_await store_->cleanup(std::move(options));
  if (!report) {
    log->error("event=cleanup_failed error=\"{}\"", report.error().message);
    if (counters_) counters_->failures.inc();
    co_return report;
  }
  log->info(
      "event=cleanup dry_run={} buckets={} markers={} examined={} expired={} deleted={} "
      "bytes_freed={} markers_deleted={} failures={}",
      dry_run, report->buckets, report->markers, report->examined, report->expired, report->deleted,
      report->bytes_freed, report->markers_deleted, report->failures);
  for (const auto& error : report->errors) log->warn("event=cleanup_failure error=\"{}\"", error);
  if (counters_) {
    counters_->runs.inc();
    counters_->deleted.inc(report->deleted);
    counters_->bytes.inc(report->bytes_freed);
    counters_->failures.inc(report->failures);
  }
  co_return report;
}

}  // namespace mando::app
