#pragma once
// BlobStore: blobs with an expiry time, on any BlobBackend, and the cleanup that deletes them.
//
// How expiry works:
//   1. put() stamps every blob with its expiry time, as the metadata field `expiry-time` (RFC 3339
//      UTC, second precision: "2026-11-24T06:00:00Z"; on S3 the header
//      `x-amz-meta-expiry-time`), and first writes an empty marker object
//      `_expiry/{YYYYMMDDTHHMM}/{key}` ('/' in the key written '~', see marker_key()) into the
//      minute bucket of that time (the expiry index).
//      Marker first: a crash between the two leaves a marker without a blob, which cleanup drops,
//      never a blob that cleanup cannot find.
//   2. get() and head() answer kNotFound for an expired blob at once, cleanup or not.
//   3. cleanup() lists the buckets of `_expiry/` in order and stops at the current minute, whose
//      bucket is still filling. For each marker of an elapsed bucket it reads the blob's metadata:
//      expired blobs are deleted, then their markers; a marker whose blob is gone, or was put
//      again with a later expiry (its new marker sits in a later bucket), is deleted alone. So a
//      run costs requests in proportion to the blobs that expired, not to the blobs stored; a
//      run cut short leaves markers behind, and the next run finishes their work.
//   4. cleanup() with `sweep` also reads the metadata of every object outside the index, for
//      buckets that other tools write to, or blobs written before the index existed.
// remove() deletes a blob and leaves its marker to cleanup (finding the marker would cost a
// read of the metadata first).
//
// Thread-safety: every method may be called concurrently; completion happens on the caller's
// executor. The store keeps no state between calls besides its options.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"
#include "storage/blob_backend.hpp"
#include "storage/time_format.hpp"

namespace mando::storage {

// The metadata field that carries the expiry time.
inline constexpr std::string_view kExpiryField = "expiry-time";

struct BlobStoreOptions {
  std::chrono::seconds default_ttl = std::chrono::hours(24);
  // Tests pass a fake clock; the default reads the system clock.
  std::function<TimePoint()> now;
};

struct PutOptions {
  std::string content_type = "application/octet-stream";
  std::optional<TimePoint> expires_at;  // default: now + default_ttl
  Metadata metadata;                    // `expiry-time` is the store's own field
};

// What put() answers: where the blob lives and until when.
struct BlobRef {
  std::string key;
  std::string url;
  TimePoint expires_at{};
  std::string etag;
  std::uint64_t size = 0;
};

struct CleanupOptions {
  bool dry_run = false;  // count what would go, delete nothing
  bool sweep = false;    // also examine every object outside the index (step 4)
  int concurrency = 16;  // metadata reads in flight at once
};

struct CleanupReport {
  std::uint64_t buckets = 0;        // elapsed index buckets visited
  std::uint64_t markers = 0;        // markers read from them
  std::uint64_t examined = 0;       // blobs whose metadata was read
  std::uint64_t expired = 0;        // blobs found expired
  std::uint64_t expired_bytes = 0;  // their sizes (what a dry run would free)
  std::uint64_t deleted = 0;        // blobs deleted (0 in a dry run)
  std::uint64_t bytes_freed = 0;    // their sizes
  std::uint64_t markers_deleted = 0;
  std::uint64_t failures = 0;       // blobs or markers that could not be read or deleted
  std::vector<std::string> errors;  // the first few failures, for the log
};

class BlobStore {
 public:
  BlobStore(BlobBackend& backend, BlobStoreOptions options);

  // kInvalidArgument for a bad key (key.hpp), bad metadata or an expiry in the past.
  boost::asio::awaitable<Result<BlobRef>> put(std::string key, std::string bytes,
                                              PutOptions options);
  // kNotFound when the blob is missing or expired.
  boost::asio::awaitable<Result<Object>> get(std::string key);
  boost::asio::awaitable<Result<ObjectInfo>> head(std::string key);
  boost::asio::awaitable<Result<void>> remove(std::string key);
  // Any number of keys, in batches of 1000.
  boost::asio::awaitable<Result<DeleteOutcome>> remove_many(std::vector<std::string> keys);

  boost::asio::awaitable<Result<CleanupReport>> cleanup(CleanupOptions options);

  // The URL of `key` (public or signed, as the backend is configured), valid until `expires`.
  Result<std::string> url(const std::string& key, TimePoint expires) const;

  // The expiry stamped on an object, if it carries a well-formed one.
  static std::optional<TimePoint> expiry_of(const ObjectInfo& info);

  TimePoint now() const;

 private:
  struct Sweep;

  BlobBackend& backend_;
  BlobStoreOptions options_;
};

// The index marker of a blob that expires at `expires`: "_expiry/20261124T0600/{key}" with each
// '/' of the key written '~' (outside the key alphabet, so the mapping is one to one). Flat,
// so a bucket is one level to list on any backend; s3rver, the loopback S3 of the tests, also
// misses the common prefixes of keys nested deeper than the next delimiter.
inline constexpr char kMarkerSlash = '~';
std::string marker_key(const std::string& key, TimePoint expires);

}  // namespace mando::storage
