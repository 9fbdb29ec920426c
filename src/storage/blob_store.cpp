#include "storage/blob_store.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "core/fan_out.hpp"
#include "storage/key.hpp"

namespace mando::storage {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxBatch = 1000;  // keys per BlobBackend::remove() call
constexpr std::size_t kMaxReportedErrors = 10;

bool metadata_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}
bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

Result<void> validate_put(const PutOptions& options) {
  auto invalid = [](std::string message) {
    return fail(ErrorKind::kInvalidArgument, std::move(message));
  };
  if (options.content_type.empty() || !printable(options.content_type)) {
    return invalid("blob content type must be non-empty printable ASCII");
  }
  for (const auto& [name, value] : options.metadata) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), metadata_name_char)) {
      return invalid(fmt::format("blob metadata name '{}' must be [a-z0-9-]", name.substr(0, 64)));
    }
    if (name == kExpiryField) {
      return invalid(
          fmt::format("blob metadata name '{}' is the store's own: use expires_at", kExpiryField));
    }
    if (!printable(value)) {
      return invalid(fmt::format("blob metadata '{}' must be printable ASCII", name));
    }
  }
  return {};
}

// "20261124T0600": the minute bucket of `t`. Fixed width, so byte order is time order.
std::string bucket_name(TimePoint t) { return fmt::format("{:%Y%m%dT%H%M}", utc(t)); }

void record_failure(CleanupReport& report, std::string what) {
  ++report.failures;
  if (report.errors.size() < kMaxReportedErrors) report.errors.push_back(std::move(what));
}

asio::awaitable<void> head_into(BlobBackend& backend, std::string key, Result<ObjectInfo>* out) {
  *out = co_await backend.head(std::move(key));
}

// Reads the metadata of every key, `concurrency` at a time; the answers in the order of `keys`.
asio::awaitable<std::vector<Result<ObjectInfo>>> head_all(BlobBackend& backend,
                                                          std::vector<std::string> keys,
                                                          int concurrency) {
  // Every slot starts as an error: a head that throws (its coroutine ends without writing) must
  // read as a failure to retry next time, never as a blob without an expiry.
  std::vector<Result<ObjectInfo>> out(
      keys.size(), fail(ErrorKind::kInternal, "the metadata read ended without an answer"));
  auto head = [&](std::size_t i) { return head_into(backend, keys[i], &out[i]); };
  co_await core::fan_out(keys.size(), concurrency, head);
  co_return out;
}

// Deletes `keys` in batches; every key that failed is recorded. Answers the keys deleted.
asio::awaitable<std::vector<std::string>> delete_recording(BlobBackend& backend,
                                                           std::vector<std::string> keys,
                                                           CleanupReport* report) {
  std::vector<std::string> deleted;
  for (std::size_t begin = 0; begin < keys.size(); begin += kMaxBatch) {
    const auto end =
        keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), begin + kMaxBatch));
    std::vector<std::string> batch(keys.begin() + static_cast<std::ptrdiff_t>(begin), end);
    auto outcome = co_await backend.remove(batch);
    if (!outcome) {
      for (const auto& key : batch)
        record_failure(*report, fmt::format("{}: {}", key, outcome.error().message));
      continue;
    }
    for (auto& [key, error] : outcome->failed) {
      record_failure(*report, fmt::format("{}: {}", key, error.message));
    }
    deleted.insert(deleted.end(), outcome->deleted.begin(), outcome->deleted.end());
  }
  co_return deleted;
}

}  // namespace

std::string marker_key(const std::string& key, TimePoint expires) {
  std::string flat = key;
  std::replace(flat.begin(), flat.end(), '/', kMarkerSlash);
  return fmt::format("{}{}/{}", kExpiryPrefix, bucket_name(expires), flat);
}

BlobStore::BlobStore(BlobBackend& backend, BlobStoreOptions options)
    : backend_(backend), options_(std::move(options)) {}

TimePoint BlobStore::now() const {
  if (options_.now) return options_.now();
  return std::chrono::time_point_cast<std::chrono::seconds>(Clock::now());
}

std::optional<TimePoint> BlobStore::expiry_of(const ObjectInfo& info) {
  auto it = info.metadata.find(std::string(kExpiryField));
  if (it == info.metadata.end()) return std::nullopt;
  return parse_time(it->second);
}

asio::awaitable<Result<BlobRef>> BlobStore::put(std::string key, std::string bytes,
                                                PutOptions options) {
  if (auto ok = validate_key(key); !ok) co_return tl::unexpected(ok.error());
  if (auto ok = validate_put(options); !ok) co_return tl::unexpected(ok.error());
  const TimePoint at = now();
  const TimePoint expires = options.expires_at.value_or(at + options_.default_ttl);
  if (expires <= at) {
    co_return fail(
        ErrorKind::kInvalidArgument,
        fmt::format("blob {}: expiry {} is not in the future", key, format_time(expires)));
  }
  // Step 1: the marker first.
  auto marker = co_await backend_.put(marker_key(key, expires), std::string(),
                                      "application/octet-stream", Metadata{});
  if (!marker) co_return tl::unexpected(marker.error());
  options.metadata[std::string(kExpiryField)] = format_time(expires);
  auto stored = co_await backend_.put(key, std::move(bytes), std::move(options.content_type),
                                      std::move(options.metadata));
  if (!stored) co_return tl::unexpected(stored.error());
  auto link = backend_.url(key, expires);
  if (!link) co_return tl::unexpected(link.error());
  co_return BlobRef{key, std::move(*link), expires, stored->etag, stored->size};
}

asio::awaitable<Result<Object>> BlobStore::get(std::string key) {
  if (auto ok = validate_key(key); !ok) co_return tl::unexpected(ok.error());
  auto object = co_await backend_.get(key);
  if (!object) co_return object;
  if (auto expires = expiry_of(object->info); expires && *expires <= now()) {
    co_return fail(ErrorKind::kNotFound, fmt::format("blob {} expired", key));
  }
  co_return object;
}

asio::awaitable<Result<ObjectInfo>> BlobStore::head(std::string key) {
  if (auto ok = validate_key(key); !ok) co_return tl::unexpected(ok.error());
  auto info = co_await backend_.head(key);
  if (!info) co_return info;
  if (auto expires = expiry_of(*info); expires && *expires <= now()) {
    co_return fail(ErrorKind::kNotFound, fmt::format("blob {} expired", key));
  }
  co_return info;
}

asio::awaitable<Result<void>> BlobStore::remove(std::string key) {
  if (auto ok = validate_key(key); !ok) co_return tl::unexpected(ok.error());
  std::vector<std::string> keys{std::move(key)};  // named: g++ 12 and braces in co_await
  auto outcome = co_await backend_.remove(std::move(keys));
  if (!outcome) co_return tl::unexpected(outcome.error());
  if (!outcome->failed.empty()) co_return tl::unexpected(outcome->failed.front().second);
  co_return Result<void>{};
}

asio::awaitable<Result<DeleteOutcome>> BlobStore::remove_many(std::vector<std::string> keys) {
  for (const auto& key : keys) {
    if (auto ok = validate_key(key); !ok) co_return tl::unexpected(ok.error());
  }
  DeleteOutcome all;
  for (std::size_t begin = 0; begin < keys.size(); begin += kMaxBatch) {
    std::vector<std::string> batch(
        keys.begin() + static_cast<std::ptrdiff_t>(begin),
        keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), begin + kMaxBatch)));
    auto outcome = co_await backend_.remove(std::move(batch));
    if (!outcome) co_return tl::unexpected(outcome.error());
    all.deleted.insert(all.deleted.end(), outcome->deleted.begin(), outcome->deleted.end());
    all.failed.insert(all.failed.end(), outcome->failed.begin(), outcome->failed.end());
  }
  co_return all;
}

Result<std::string> BlobStore::url(const std::string& key, TimePoint expires) const {
  if (auto ok = validate_key(key); !ok) return tl::unexpected(ok.error());
  return backend_.url(key, expires);
}

// One page of candidates (blob key, its marker if it came from the index): what step 3 and
// step 4 do with them.
struct BlobStore::Sweep {
  BlobStore& store;
  const CleanupOptions& options;
  TimePoint now;
  CleanupReport& report;

  asio::awaitable<void> examine(std::vector<std::string> blobs, std::vector<std::string> markers) {
    auto infos = co_await head_all(store.backend_, blobs, options.concurrency);
    report.examined += blobs.size();
    std::vector<std::string> expired;
    std::vector<std::string> expired_markers;  // markers to drop once their blob is gone
    std::vector<std::string> stale_markers;    // markers to drop whatever happens
    std::map<std::string, std::uint64_t> sizes;
    for (std::size_t i = 0; i < blobs.size(); ++i) {
      const bool indexed = !markers.empty();
      if (!infos[i]) {
        if (infos[i].error().kind == ErrorKind::kNotFound) {
          if (indexed) stale_markers.push_back(markers[i]);  // deleted, or its put never finished
        } else {
          record_failure(report, fmt::format("{}: {}", blobs[i], infos[i].error().message));
        }
        continue;
      }
      const auto expires = expiry_of(*infos[i]);
      if (!expires || *expires > now) {
        // Put again with a later expiry, or not ours: only the marker goes.
        if (indexed) stale_markers.push_back(markers[i]);
        continue;
      }
      ++report.expired;
      report.expired_bytes += infos[i]->size;
      sizes[blobs[i]] = infos[i]->size;
      expired.push_back(blobs[i]);
      expired_markers.push_back(indexed ? markers[i] : marker_key(blobs[i], *expires));
    }
    if (options.dry_run) co_return;

    auto deleted = co_await delete_recording(store.backend_, expired, &report);
    report.deleted += deleted.size();
    for (const auto& key : deleted) report.bytes_freed += sizes[key];
    // A marker goes only after its blob: a failed blob delete keeps its marker for the next run.
    std::sort(deleted.begin(), deleted.end());
    for (std::size_t i = 0; i < expired.size(); ++i) {
      if (std::binary_search(deleted.begin(), deleted.end(), expired[i])) {
        stale_markers.push_back(expired_markers[i]);
      }
    }
    auto markers_gone = co_await delete_recording(store.backend_, stale_markers, &report);
    report.markers_deleted += markers_gone.size();
  }
};

asio::awaitable<Result<CleanupReport>> BlobStore::cleanup(CleanupOptions options) {
  CleanupReport report;
  const TimePoint at = now();
  // Buckets before the current minute hold only expiries before `at`: they are complete.
  const std::string current = bucket_name(at);
  Sweep sweep{*this, options, at, report};

  ListOptions buckets;
  buckets.prefix = std::string(kExpiryPrefix);
  buckets.delimiter = "/";
  bool done = false;
  while (!done) {
    auto page = co_await backend_.list(buckets);
    if (!page) co_return tl::unexpected(page.error());
    for (const auto& prefix : page->prefixes) {
      const std::string_view name = std::string_view(prefix).substr(
          kExpiryPrefix.size(), prefix.size() - kExpiryPrefix.size() - 1);
      if (name >= current) {
        done = true;
        break;
      }
      ++report.buckets;
      ListOptions markers;
      markers.prefix = prefix;
      for (;;) {
        auto listed = co_await backend_.list(markers);
        if (!listed) {
          record_failure(report, fmt::format("{}: {}", prefix, listed.error().message));
          break;
        }
        std::vector<std::string> blobs;
        std::vector<std::string> keys;
        for (const auto& object : listed->objects) {
          ++report.markers;
          std::string blob = object.key.substr(prefix.size());
          std::replace(blob.begin(), blob.end(), kMarkerSlash, '/');
          blobs.push_back(std::move(blob));
          keys.push_back(object.key);
        }
        co_await sweep.examine(std::move(blobs), std::move(keys));
        if (listed->next_token.empty()) break;
        markers.token = listed->next_token;
      }
    }
    if (page->next_token.empty()) break;
    buckets.token = page->next_token;
  }

  if (options.sweep) {
    ListOptions all;
    for (;;) {
      auto listed = co_await backend_.list(all);
      if (!listed) co_return tl::unexpected(listed.error());
      std::vector<std::string> blobs;
      for (const auto& object : listed->objects) {
        if (!object.key.starts_with(kExpiryPrefix)) blobs.push_back(object.key);
      }
      co_await sweep.examine(std::move(blobs), {});
      if (listed->next_token.empty()) break;
      all.token = listed->next_token;
    }
  }
  co_return report;
}

}  // namespace mando::storage
