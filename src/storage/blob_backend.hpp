#pragma once
// BlobBackend: the raw object operations a place that keeps bytes offers (local disk, an
// S3-compatible service). It knows nothing of expiry: BlobStore (blob_store.hpp) builds expiry,
// its index and cleanup on top of these calls, once, for every backend.
//
// Keys reaching a backend were validated by BlobStore (key.hpp): relative, '/'-separated,
// characters [A-Za-z0-9._-] and '/', no empty, "." or ".." segment, at most 512 bytes. A backend
// may rely on that and must not reinterpret them (no percent-decoding, no case folding).
//
// Errors: kNotFound for a missing object; kUnavailable for transport failures and 5xx answers
// after the backend's own retries; kUnauthenticated / kPermissionDenied for refused
// credentials; kInternal for answers the backend cannot understand.
//
// Thread-safety: every method may be called concurrently from any thread; each completes on the
// caller's executor.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"

namespace mando::storage {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::seconds>;

// User metadata: lower-case names of [a-z0-9-] (they travel as x-amz-meta-NAME headers), values
// of printable ASCII without line breaks.
using Metadata = std::map<std::string, std::string>;

// What a backend knows about a stored object without its bytes.
struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string content_type;
  std::string etag;           // quoted, as HTTP sends it: "\"9b2cf535f27731c974343645a3985328\""
  TimePoint last_modified{};  // second precision, as HTTP dates carry it
  Metadata metadata;
};

struct Object {
  ObjectInfo info;
  std::string bytes;
};

// One page of a listing, in lexicographic (byte) order of keys.
struct Listing {
  std::vector<ObjectInfo> objects;    // key and size always; the rest only if cheap
  std::vector<std::string> prefixes;  // with a delimiter: the "directories" below `prefix`
  std::string next_token;             // empty on the last page
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;  // "" or "/"
  std::string token;      // next_token of the previous page
  int max_keys = 1000;    // 1..1000
};

// The outcome of deleting several keys: which failed and why. Deleting a missing key succeeds
// (S3's rule), so a delete repeated after a crash is harmless.
struct DeleteOutcome {
  std::vector<std::string> deleted;
  std::vector<std::pair<std::string, Error>> failed;
};

class BlobBackend {
 public:
  virtual ~BlobBackend() = default;

  // Stores `bytes` under `key`, replacing any object there. Atomic: a reader sees the old
  // object or the new one, never a part; durable once it returns.
  virtual boost::asio::awaitable<Result<ObjectInfo>> put(std::string key, std::string bytes,
                                                         std::string content_type,
                                                         Metadata metadata) = 0;
  virtual boost::asio::awaitable<Result<Object>> get(std::string key) = 0;
  virtual boost::asio::awaitable<Result<ObjectInfo>> head(std::string key) = 0;
  // At most 1000 keys per call.
  virtual boost::asio::awaitable<Result<DeleteOutcome>> remove(std::vector<std::string> keys) = 0;
  virtual boost::asio::awaitable<Result<Listing>> list(ListOptions options) = 0;

  // A URL at which a plain HTTP GET fetches the object until `expires` (later requests may be
  // refused): a public URL, or a signed one when the backend is configured so.
  virtual Result<std::string> url(const std::string& key, TimePoint expires) const = 0;
};

}  // namespace mando::storage
