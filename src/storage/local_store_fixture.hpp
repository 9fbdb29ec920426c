#pragma once
// Test fixture of the storage tests: a BlobStore over a LocalBackend in a fresh directory, with
// a fake clock, two I/O threads and a pool for the file I/O.

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "core/cpu_pool.hpp"
#include "storage/blob_store.hpp"
#include "storage/local_backend.hpp"
#include "support/temp_dir.hpp"

namespace mando::storage {

class LocalStoreFixture : public ::testing::Test {
 protected:
  // 2026-11-23T06:00:30Z: thirty seconds into a minute bucket.
  static constexpr std::int64_t kStart = 1795413630;

  LocalStoreFixture() { open(); }
  ~LocalStoreFixture() override {
    work_.reset();
    for (auto& thread : threads_) thread.join();
  }

  // (Re)opens the backend and store over the same directory.
  void open(std::optional<UrlSigner> signer = std::nullopt) {
    store_.reset();
    LocalBackendOptions options;
    options.root = dir_.path() / "blobs";
    options.public_base_url = "http://127.0.0.1:8080/";
    options.signer = std::move(signer);
    backend_ = LocalBackend::open(std::move(options), pool_).value();
    BlobStoreOptions store_options;
    store_options.default_ttl = std::chrono::hours(24);
    store_options.now = [this] { return TimePoint(std::chrono::seconds(clock_.load())); };
    store_ = std::make_unique<BlobStore>(*backend_, std::move(store_options));
  }

  TimePoint now() const { return TimePoint(std::chrono::seconds(clock_.load())); }
  void advance(std::chrono::seconds by) { clock_ += by.count(); }

  template <typename T>
  T run(boost::asio::awaitable<T> call) {
    return boost::asio::co_spawn(ioc_, std::move(call), boost::asio::use_future).get();
  }

  Result<BlobRef> put(const std::string& key, std::string bytes, std::chrono::seconds ttl) {
    PutOptions options;
    options.content_type = "image/png";
    options.expires_at = now() + ttl;
    return run(store_->put(key, std::move(bytes), std::move(options)));
  }

  testing::TempDir dir_;
  std::atomic<std::int64_t> clock_{kStart};
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::vector<std::thread> threads_ = [this] {
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { ioc_.run(); });
    return threads;
  }();
  core::CpuPool pool_{2};
  std::unique_ptr<LocalBackend> backend_;
  std::unique_ptr<BlobStore> store_;
};

}  // namespace mando::storage
