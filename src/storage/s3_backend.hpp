#pragma once
// S3Backend: BlobBackend over the S3 REST API, for AWS S3 and the services that speak it (Google
// Cloud Storage's interoperability API, Cloudflare R2, MinIO). docs/STORAGE_S3.md says how to
// configure each.
//
// One call, step by step:
//   1. the request is built from the options: virtual-hosted (https://BUCKET.HOST/KEY) or
//      path-style (https://HOST/BUCKET/KEY) addressing, the key URI-encoded per SigV4;
//   2. it is signed with SigV4 (sigv4.hpp) at the injected clock's time, the body's real
//      SHA-256 in x-amz-content-sha256;
//   3. it is sent through the transport (net::HttpClient in production);
//   4. transport failures, 5xx, 429 and the error codes SlowDown, InternalError and
//      RequestTimeout are retried up to max_attempts in all, after a sleep drawn uniformly from
//      [0, min(20 s, min_backoff * 2^(attempt-1))] ("full jitter"); each retry is signed anew;
//   5. any other answer outside 2xx becomes an Error whose message names the operation, the
//      key, the HTTP status and S3's Code and Message, never a credential or a signature.
//
// Thread-safety: all methods may run concurrently; the backend holds no mutable state besides
// its transport, which must be safe to share (net::HttpClient is).

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "net/http_client.hpp"
#include "storage/blob_backend.hpp"
#include "storage/sigv4.hpp"

namespace mando::storage {

struct S3Options {
  // "https://s3.us-east-1.amazonaws.com" or "http://127.0.0.1:9000": scheme, host, optional
  // port, no path.
  std::string endpoint;
  std::string region = "us-east-1";
  std::string bucket;
  // Path-style addressing (HOST/BUCKET/KEY) instead of virtual-hosted (BUCKET.HOST/KEY); needed
  // for IP-address endpoints, most MinIO setups and bucket names with dots over TLS.
  bool path_style = false;
  // From AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
  std::string access_key_id, secret_access_key, session_token;
  // Optional, e.g. "https://cdn.example.com/{key}": url() returns it, {key} replaced by the
  // URI-encoded key, instead of a presigned URL.
  std::string public_url_template;
  int max_attempts = 4;  // tries per request in all, the first included
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};  // per attempt
  std::size_t max_object_bytes = 64 * 1024 * 1024;              // a larger GET fails
};

// `base` with the credentials of `env` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the
// optional AWS_SESSION_TOKEN; values already in `base` are kept when a variable is missing),
// validated: endpoint http:// or https:// with a host and no path, region non-empty, bucket a
// valid S3 bucket name (3-63 of [a-z0-9.-], starting and ending with a letter or digit),
// path_style for IP-address endpoints, both credential halves present, max_attempts >= 1.
// Errors are kInvalidArgument naming the field ("[storage] bucket: ...").
Result<S3Options> s3_options_from_environment(S3Options base,
                                              const std::map<std::string, std::string>& env);

// Where S3Backend's requests go: the seam tests replace with a fake.
class S3Transport {
 public:
  virtual ~S3Transport() = default;
  virtual boost::asio::awaitable<Result<net::ClientResponse>> send(net::ClientRequest request) = 0;
};

class S3Backend final : public BlobBackend {
 public:
  using Now = std::function<TimePoint()>;

  // `options` as s3_options_from_environment() returns them (invalid options make every call
  // fail with kInvalidArgument). `client` must outlive the backend. `now` is the signing clock
  // (default: the system clock).
  S3Backend(S3Options options, net::HttpClient& client, Now now = {});
  S3Backend(S3Options options, std::unique_ptr<S3Transport> transport, Now now = {});
  ~S3Backend() override;

  boost::asio::awaitable<Result<ObjectInfo>> put(std::string key, std::string bytes,
                                                 std::string content_type,
                                                 Metadata metadata) override;
  boost::asio::awaitable<Result<Object>> get(std::string key) override;
  boost::asio::awaitable<Result<ObjectInfo>> head(std::string key) override;
  // Any number of keys: sent as DeleteObjects requests of up to 1000 keys each. A key S3 reports
  // as failed lands in `failed`; a missing key counts as deleted. A batch that fails as a whole
  // fails the call (keys of earlier batches are gone by then; repeating the call is harmless).
  boost::asio::awaitable<Result<DeleteOutcome>> remove(std::vector<std::string> keys) override;
  boost::asio::awaitable<Result<Listing>> list(ListOptions options) override;
  // The public URL template when set; otherwise a presigned GET valid until `expires`, clamped
  // to [1 s, 7 days] from now because SigV4 refuses X-Amz-Expires above 604800.
  Result<std::string> url(const std::string& key, TimePoint expires) const override;

  const S3Options& options() const { return options_; }

 private:
  struct Call;
  boost::asio::awaitable<Result<net::ClientResponse>> perform(Call call);
  // GET or HEAD of `key`: the answer's ObjectInfo and (for GET) body.
  boost::asio::awaitable<Result<Object>> fetch(std::string method, std::string key);

  S3Options options_;
  std::unique_ptr<S3Transport> transport_;
  Now now_;
};

// The wire format, exposed for s3_backend_test.cpp; not for other callers.
namespace s3 {

inline constexpr long kMaxPresignSeconds = 604800;  // 7 days: SigV4's limit for X-Amz-Expires
inline constexpr std::size_t kMaxDeleteBatch = 1000;

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // with ":port" when not the scheme's default
  bool ip_literal = false;
};
Result<Endpoint> parse_endpoint(std::string_view endpoint);

// One S3 operation before addressing and signing.
struct Operation {
  std::string method = "GET";
  std::string key;        // empty: the bucket itself
  sigv4::Params query;    // decoded
  sigv4::Params headers;  // besides host, x-amz-date, x-amz-content-sha256, x-amz-security-token
  std::string body;
};

// The signed request for `op` at `when`: URL, Host, x-amz-* and Authorization headers.
Result<net::ClientRequest> build_request(const S3Options& options, const Operation& op,
                                         TimePoint when);
// The URL a presigned GET of `key` at `when` for `expires_seconds` (clamped) fetches.
Result<std::string> presigned_url(const S3Options& options, std::string_view key, TimePoint when,
                                  long expires_seconds);

// Whether an attempt's outcome is worth another try (step 4 above).
bool retryable(const Result<net::ClientResponse>& outcome);
// The upper bound of the sleep before attempt `attempt` + 1 (attempt >= 1).
std::chrono::milliseconds backoff_ceiling(int attempt, std::chrono::milliseconds min_backoff);

struct ErrorBody {
  std::string code;
  std::string message;
  std::string request_id;
};
// S3's <Error><Code/><Message/><RequestId/></Error>; empty fields when absent or unreadable.
ErrorBody parse_error_body(std::string_view xml);
// The Error for a non-2xx answer to `what` ("GET key 'a/b'").
Error error_from_response(std::string_view what, const net::ClientResponse& response);

// <Delete><Quiet>true</Quiet><Object><Key>..</Key></Object>...</Delete>
std::string delete_request_body(const std::vector<std::string>& keys);
// base64(MD5(body)): the Content-MD5 S3 requires on DeleteObjects.
std::string content_md5(std::string_view body);
Result<DeleteOutcome> parse_delete_result(std::string_view xml,
                                          const std::vector<std::string>& keys);
Result<Listing> parse_list_result(std::string_view xml);

// "2015-10-21T07:28:00.000Z", the time format of S3's XML (HTTP dates: time_format.hpp).
Result<TimePoint> parse_iso8601(std::string_view text);
// Size, type, ETag, Last-Modified and x-amz-meta-* of a GET or HEAD answer.
Result<ObjectInfo> info_from_headers(std::string key, const net::Headers& headers);

}  // namespace s3
}  // namespace mando::storage
