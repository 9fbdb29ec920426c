#pragma once
// LocalBackend: blobs as files under one directory (the embedded default, `{data_dir}/blobs`),
// served by mando's own HTTP server at /blobs/{key} (blob_routes.hpp).
//
// Layout:
//   objects/{key}   one file per blob: the line "mando-blob 1", one line of JSON metadata
//                   (content type, size, ETag, last modified, user metadata), then the bytes.
//                   Metadata travels in the blob's own file, ahead of the bytes, so one rename
//                   publishes both: a metadata file beside it could pair one put's metadata
//                   with another put's bytes.
//   tmp/            files being written.
//
// How a put becomes visible (atomic and durable):
//   1. The whole file is written under tmp/ with a random name, then fsync()ed.
//   2. rename() moves it to objects/{key}, replacing any earlier version in one step, and the
//      directory is fsync()ed so the rename survives a power cut.
//   A crash before step 2 leaves a file under tmp/ that nothing serves; open() deletes such files
//   once they are an hour old (younger ones may belong to another process writing right now).
//
// Deleting a blob also removes the directories it leaves empty, so the expiry index's minute
// buckets do not pile up. ETags are a BLAKE2b-128 digest of the bytes.
//
// File I/O runs on the pool given to open(), never on the caller's thread.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/cpu_pool.hpp"
#include "storage/blob_backend.hpp"
#include "storage/url_signer.hpp"

namespace mando::storage {

struct LocalBackendOptions {
  std::filesystem::path root;  // created if missing
  // Where /blobs/ is reachable from outside, e.g. "https://bot.example.com"; URLs are
  // {public_base_url}/blobs/{key}.
  std::string public_base_url;
  std::optional<UrlSigner> signer;  // signed URLs when set
};

class LocalBackend : public BlobBackend {
 public:
  // Creates the directories and removes stale temporary files. `pool` runs the file I/O and must
  // outlive the backend.
  static Result<std::unique_ptr<LocalBackend>> open(LocalBackendOptions options,
                                                    core::CpuPool& pool);

  boost::asio::awaitable<Result<ObjectInfo>> put(std::string key, std::string bytes,
                                                 std::string content_type,
                                                 Metadata metadata) override;
  boost::asio::awaitable<Result<Object>> get(std::string key) override;
  boost::asio::awaitable<Result<ObjectInfo>> head(std::string key) override;
  boost::asio::awaitable<Result<DeleteOutcome>> remove(std::vector<std::string> keys) override;
  boost::asio::awaitable<Result<Listing>> list(ListOptions options) override;
  Result<std::string> url(const std::string& key, TimePoint expires) const override;

  // For a server that learns its address only once it listens: call before any put() or url()
  // (not thread-safe).
  void set_public_base_url(std::string url);

  const std::optional<UrlSigner>& signer() const { return options_.signer; }
  const std::filesystem::path& root() const { return options_.root; }

 private:
  LocalBackend(LocalBackendOptions options, core::CpuPool& pool)
      : options_(std::move(options)), pool_(pool) {}

  LocalBackendOptions options_;
  core::CpuPool& pool_;
};

}  // namespace mando::storage
