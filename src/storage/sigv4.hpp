#pragma once
// AWS Signature Version 4 (SigV4), the request signing of S3 and of every S3-compatible store
// mando talks to (GCS interoperability, R2, MinIO).
//
// Why our own and not libcurl's CURLOPT_AWS_SIGV4: curl signs only requests it sends itself, so
// it cannot produce the presigned GET URLs that BlobBackend::url() hands to Discord; mando's
// net::HttpClient deliberately exposes no curl options; and curl 7.88 (Debian 12) signs with the
// wall clock, which leaves no way to check it against the published vectors. The algorithm is
// small and fully specified, so one implementation serves headers and presigned URLs alike.
//
// The walk (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
//   1. canonical request: METHOD \n canonical URI \n canonical query \n canonical headers \n
//      signed header names \n payload hash. The URI is the path as sent (already encoded);
//      query names and values are URI-encoded and sorted by name, then value; header names are
//      lower-cased and sorted, values trimmed with inner runs of spaces collapsed.
//   2. string to sign: "AWS4-HMAC-SHA256" \n YYYYMMDDTHHMMSSZ \n scope \n hex(SHA-256(step 1)),
//      scope = YYYYMMDD/region/service/aws4_request.
//   3. signing key: HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
//   4. signature: hex(HMAC(signing key, step 2)); it goes in the Authorization header, or, for a
//      presigned URL, in X-Amz-Signature after the other X-Amz-* parameters were signed.
//
// The signing time is always a parameter, so tests reproduce the published vectors exactly.
// Pure functions; thread-safe.

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mando::storage::sigv4 {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;
using Params = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// hex(SHA-256("")): the payload hash of every request without a body.
inline constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary (STS) credentials
};

struct Scope {
  std::string region;
  std::string service;  // "s3"
};

// A request as it will be sent, before signing.
struct Request {
  std::string method;
  std::string path = "/";  // canonical URI: encoded exactly as it goes on the wire
  Params query;            // decoded names and values, any order
  Params headers;          // every header to sign (host included), names in any case
  std::string payload_hash;
};

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-date"
  std::string signature;       // lower-case hex
  std::string authorization;   // the Authorization header's value
};

// RFC 3986 unreserved characters stay, every other byte becomes %XX (upper-case hex); '/' stays
// when `keep_slash` (paths), is encoded otherwise (query names and values).
std::string uri_encode(std::string_view text, bool keep_slash);
// "20150830T123600Z" and "20150830".
std::string amz_date(TimePoint when);
std::string date_stamp(TimePoint when);
std::string sha256_hex(std::string_view data);
// "a=1&b=2": encoded, sorted by name then value, "name=" for an empty value.
std::string canonical_query(const Params& query);

// Signs `request` at `when`. The caller puts the x-amz-date header (amz_date(when)) and, for S3,
// x-amz-content-sha256 into request.headers itself: they are sent as well as signed.
Signature sign(const Credentials& credentials, const Scope& scope, const Request& request,
               TimePoint when);

struct Presigned {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::string query;  // the whole encoded query string, X-Amz-Signature last
};

// Query-string signing for a GET that anyone holding the URL may send until when + expires
// (seconds, the caller clamps it). Signs only the host header and UNSIGNED-PAYLOAD, as S3's
// presigned URLs do; `request.query` holds any parameters besides the X-Amz-* ones, and a
// session token travels as X-Amz-Security-Token inside the signed query.
Presigned presign(const Credentials& credentials, const Scope& scope, const Request& request,
                  TimePoint when, long expires_seconds);

}  // namespace mando::storage::sigv4
