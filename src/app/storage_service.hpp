#pragma once
// The blob store of `mando serve` and `mando cleanup`, built from [storage]:
//   - backend = "local": a LocalBackend under [storage] directory ({data_dir}/blobs), served at
//     /blobs/ by this process, URLs signed when [storage] url_signing_key is set;
//   - backend = "s3": an S3Backend on [storage] endpoint, region, bucket, path_style, with the
//     AWS_* credentials of the environment and its own outbound client;
//   - expiry: [storage] default_ttl; cleanup every [storage] cleanup_interval inside serve.
//
// Order of life (serve): open() before the router is built, install_routes() into it,
// start(self_url) once the server listens (the default public address of /blobs/). Stop the
// io_context before destroying the service.

#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "core/config.hpp"
#include "core/cpu_pool.hpp"
#include "core/metrics.hpp"
#include "net/http_client.hpp"
#include "net/router.hpp"
#include "storage/blob_store.hpp"
#include "storage/local_backend.hpp"

namespace mando::app {

class StorageService {
 public:
  // kInvalidArgument naming the [storage] key that is missing or wrong for the backend.
  static Result<std::unique_ptr<StorageService>> open(const core::Config& config,
                                                      const core::Environment& env,
                                                      boost::asio::any_io_executor executor);
  ~StorageService();

  storage::BlobStore& store() { return *store_; }

  // GET /blobs/* for the local backend; nothing for S3 (its URLs point at the bucket).
  void install_routes(net::Router& router);
  // Sets the public address of /blobs/ to `self_url` unless [storage] public_base_url does, and
  // starts the periodic cleanup when [storage] cleanup_interval is not 0.
  void start(const std::string& self_url, core::MetricsRegistry& metrics);

  // One cleanup run, logged and counted in the metrics given to start() (if any).
  boost::asio::awaitable<Result<storage::CleanupReport>> cleanup(storage::CleanupOptions options);

 private:
  StorageService(const core::Config& config, boost::asio::any_io_executor executor);

  core::StorageConfig config_;
  boost::asio::any_io_executor executor_;
  core::CpuPool file_pool_;                  // the local backend's file I/O
  std::unique_ptr<net::HttpClient> client_;  // the S3 backend's requests
  std::unique_ptr<storage::BlobBackend> backend_;
  storage::LocalBackend* local_ = nullptr;  // backend_, when it is local
  std::unique_ptr<storage::BlobStore> store_;
  struct Counters;
  std::unique_ptr<Counters> counters_;
};

}  // namespace mando::app
