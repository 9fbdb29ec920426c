#pragma once
// CountingBackend: a BlobBackend decorator that forwards every call to a real backend and counts
// the calls by kind, for tests and benchmarks that check what an operation costs in requests
// (blob_store_test.cpp, bench/storage_bench.cpp). It can also fail the deletes of chosen keys,
// the case a crash in the middle of a cleanup leaves behind, and make the heads of chosen keys
// throw, as a backend with a bug would.
//
// Thread-safety: the counters are atomic, so calls may run concurrently; `failing` and
// `throwing_heads` must not be changed while calls are in flight.

#include <atomic>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "storage/blob_backend.hpp"

namespace mando::storage {

class CountingBackend : public BlobBackend {
 public:
  explicit CountingBackend(BlobBackend& inner) : inner_(inner) {}

  boost::asio::awaitable<Result<ObjectInfo>> put(std::string key, std::string bytes,
                                                 std::string content_type,
                                                 Metadata metadata) override {
    ++puts;
    co_return co_await inner_.put(std::move(key), std::move(bytes), std::move(content_type),
                                  std::move(metadata));
  }
  boost::asio::awaitable<Result<Object>> get(std::string key) override {
    ++gets;
    co_return co_await inner_.get(std::move(key));
  }
  boost::asio::awaitable<Result<ObjectInfo>> head(std::string key) override {
    ++heads;
    if (throwing_heads.contains(key)) throw std::runtime_error("injected head exception");
    co_return co_await inner_.head(std::move(key));
  }
  // One call whatever the number of keys (S3Backend sends one DeleteObjects per 1000 keys and
  // BlobStore never passes more); `removed_keys` counts the keys.
  boost::asio::awaitable<Result<DeleteOutcome>> remove(std::vector<std::string> keys) override {
    ++removes;
    removed_keys += keys.size();
    std::vector<std::string> allowed;
    DeleteOutcome refused;
    for (auto& key : keys) {
      if (failing.contains(key)) {
        refused.failed.emplace_back(key, Error{ErrorKind::kUnavailable, "injected failure"});
      } else {
        allowed.push_back(std::move(key));
      }
    }
    auto outcome = co_await inner_.remove(std::move(allowed));
    if (outcome)
      outcome->failed.insert(outcome->failed.end(), refused.failed.begin(), refused.failed.end());
    co_return outcome;
  }
  boost::asio::awaitable<Result<Listing>> list(ListOptions options) override {
    ++lists;
    co_return co_await inner_.list(std::move(options));
  }
  Result<std::string> url(const std::string& key, TimePoint expires) const override {
    return inner_.url(key, expires);
  }

  void reset_counts() {
    puts = 0;
    gets = 0;
    heads = 0;
    removes = 0;
    removed_keys = 0;
    lists = 0;
  }

  std::atomic<std::uint64_t> puts{0}, gets{0}, heads{0}, removes{0}, removed_keys{0}, lists{0};
  std::set<std::string> failing;         // keys whose deletes fail with kUnavailable
  std::set<std::string> throwing_heads;  // keys whose heads throw std::runtime_error

 private:
  BlobBackend& inner_;
};

}  // namespace mando::storage
