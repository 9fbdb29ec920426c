// S3Backend without a network: requests are built and signed as S3 expects, answers are parsed,
// errors mapped and retries decided, through a fake transport and a fixed clock.
// tests/s3_backend_test.cpp runs the same backend against a real S3-compatible server.

#include "storage/s3_backend.hpp"

#include <deque>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "storage/time_format.hpp"

namespace mando::storage {
namespace {

namespace asio = boost::asio;
using namespace std::chrono;
using namespace std::chrono_literals;

// 2013-05-24T00:00:00Z, the time of the S3 documentation's examples.
const TimePoint kDocsTime{seconds(1369353600)};

template <typename T>
T run(asio::awaitable<T> task) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr error, T value) {
    if (error) std::rethrow_exception(error);
    out = std::move(value);
  });
  io.run();
  return std::move(*out);
}

class FakeTransport final : public S3Transport {
 public:
  std::vector<net::ClientRequest> sent;
  std::deque<Result<net::ClientResponse>> answers;

  void answer(int status, std::string body = {}, net::Headers headers = {}) {
    answers.push_back(net::ClientResponse{status, std::move(headers), std::move(body)});
  }

  asio::awaitable<Result<net::ClientResponse>> send(net::ClientRequest request) override {
    sent.push_back(std::move(request));
    if (answers.empty()) co_return fail(ErrorKind::kInternal, "the test scripted no answer");
    auto next = std::move(answers.front());
    answers.pop_front();
    co_return next;
  }
};

S3Options aws_options() {
  S3Options options;
  options.endpoint = "https://s3.us-east-1.amazonaws.com";
  options.bucket = "mando-images";
  options.access_key_id = "AKIDTEST";
  options.secret_access_key = "secret-that-must-not-leak";
  options.min_backoff = 1ms;
  return options;
}

struct Fixture {
  FakeTransport* transport;
  S3Backend backend;

  explicit Fixture(S3Options options = aws_options())
      : Fixture(std::make_unique<FakeTransport>(), std::move(options)) {}

 private:
  Fixture(std::unique_ptr<FakeTransport> fake, S3Options options)
      : transport(fake.get()),
        backend(std::move(options), std::move(fake), [] { return kDocsTime; }) {}
};

std::string header(const net::ClientRequest& request, std::string_view name) {
  return std::string(request.headers.get(name).value_or("<missing>"));
}

std::string error_xml(std::string_view code, std::string_view message) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
         "</Code><Message>" + std::string(message) + "</Message><RequestId>R1</RequestId></Error>";
}

// ---- options --------------------------------------------------------------------------------

TEST(S3OptionsTest, CredentialsComeFromTheEnvironment) {
  S3Options base = aws_options();
  base.access_key_id.clear();
  base.secret_access_key.clear();
  auto options = s3_options_from_environment(base, {{"AWS_ACCESS_KEY_ID", "AKID"},
                                                    {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                                    {"AWS_SESSION_TOKEN", "TOKEN"}});
  ASSERT_TRUE(options) << options.error().to_string();
  EXPECT_EQ(options->access_key_id, "AKID");
  EXPECT_EQ(options->secret_access_key, "SECRET");
  EXPECT_EQ(options->session_token, "TOKEN");
}

TEST(S3OptionsTest, ErrorsNameTheField) {
  const auto error_of = [](S3Options options) {
    auto result = s3_options_from_environment(std::move(options), {});
    return result ? std::string("ok") : result.error().message;
  };
  S3Options options = aws_options();
  options.endpoint = "ftp://example.com";
  EXPECT_NE(error_of(options).find("[storage] endpoint"), std::string::npos);
  options.endpoint = "https://example.com/some/path";
  EXPECT_NE(error_of(options).find("[storage] endpoint"), std::string::npos);
  options = aws_options();
  options.region.clear();
  EXPECT_NE(error_of(options).find("[storage] region"), std::string::npos);
  for (std::string bad : {"ab", "Upper", "under_score", "-dash", "dot..dot"}) {
    options = aws_options();
    options.bucket = bad;
    EXPECT_NE(error_of(options).find("[storage] bucket"), std::string::npos) << bad;
  }
  options = aws_options();
  options.endpoint = "http://127.0.0.1:9000";
  EXPECT_NE(error_of(options).find("[storage] path_style"), std::string::npos);
  options.path_style = true;
  EXPECT_EQ(error_of(options), "ok");
  options.secret_access_key.clear();
  EXPECT_NE(error_of(options).find("[storage] credentials"), std::string::npos);
}

TEST(S3OptionsTest, EndpointDropsTheDefaultPort) {
  auto endpoint = s3::parse_endpoint("https://S3.example.com:443/");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "s3.example.com");
  EXPECT_FALSE(endpoint->ip_literal);
  endpoint = s3::parse_endpoint("http://127.0.0.1:9000");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "127.0.0.1:9000");
  EXPECT_TRUE(endpoint->ip_literal);
}

// ---- request building -----------------------------------------------------------------------

TEST(S3BackendTest, PutIsVirtualHostedSignedAndCarriesMetadata) {
  Fixture f;
  net::Headers headers;
  headers.set("ETag", "\"abc\"");
  f.transport->answer(200, "", headers);
  auto info = run(f.backend.put("blobs/a.png", "PNGDATA", "image/png",
                                {{"expiry-time", "2013-05-25T00:00:00Z"}}));
  ASSERT_TRUE(info) << info.error().to_string();
  EXPECT_EQ(info->etag, "\"abc\"");
  EXPECT_EQ(info->size, 7u);
  EXPECT_EQ(info->metadata.at("expiry-time"), "2013-05-25T00:00:00Z");

  ASSERT_EQ(f.transport->sent.size(), 1u);
  const auto& request = f.transport->sent[0];
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.url, "https://mando-images.s3.us-east-1.amazonaws.com/blobs/a.png");
  EXPECT_EQ(request.body, "PNGDATA");
  EXPECT_EQ(header(request, "Host"), "mando-images.s3.us-east-1.amazonaws.com");
  EXPECT_EQ(header(request, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(header(request, "x-amz-content-sha256"), sigv4::sha256_hex("PNGDATA"));
  EXPECT_EQ(header(request, "x-amz-meta-expiry-time"), "2013-05-25T00:00:00Z");
  EXPECT_EQ(header(request, "Content-Type"), "image/png");
  const std::string authorization = header(request, "Authorization");
  EXPECT_EQ(authorization.rfind(
                "AWS4-HMAC-SHA256 Credential=AKIDTEST/20130524/us-east-1/s3/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;"
                "x-amz-meta-expiry-time, Signature=",
                0),
            0u)
      << authorization;
  EXPECT_EQ(authorization.find("secret-that-must-not-leak"), std::string::npos);
}

TEST(S3BackendTest, PathStyleAndSessionToken) {
  S3Options options = aws_options();
  options.endpoint = "http://127.0.0.1:9000";
  options.path_style = true;
  options.session_token = "SESSION";
  auto request = s3::build_request(options, {"GET", "a/b-c_d.e", {}, {}, {}}, kDocsTime);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->url, "http://127.0.0.1:9000/mando-images/a/b-c_d.e");
  EXPECT_EQ(header(*request, "Host"), "127.0.0.1:9000");
  EXPECT_EQ(header(*request, "x-amz-security-token"), "SESSION");
  EXPECT_NE(header(*request, "Authorization").find("x-amz-security-token"), std::string::npos);
  EXPECT_EQ(header(*request, "x-amz-content-sha256"), sigv4::kEmptyPayloadHash);
}

TEST(S3BackendTest, KeysAreUriEncodedButSlashesKept) {
  auto request = s3::build_request(aws_options(), {"GET", "a b/c$d", {}, {}, {}}, kDocsTime);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->url, "https://mando-images.s3.us-east-1.amazonaws.com/a%20b/c%24d");
}

// The S3 documentation's presigned example (sigv4-query-string-auth.html; see sigv4_test.cpp),
// reached through the backend's own addressing: the whole URL is the published one.
TEST(S3BackendTest, PresignedUrlIsTheDocumentedOne) {
  S3Options options;
  options.endpoint = "https://s3.amazonaws.com";
  options.bucket = "examplebucket";
  options.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  options.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  auto url = s3::presigned_url(options, "test.txt", kDocsTime, 86400);
  ASSERT_TRUE(url);
  EXPECT_EQ(*url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(S3BackendTest, UrlClampsTheExpiryToSevenDaysAndOneSecond) {
  Fixture f;
  auto far = f.backend.url("k", kDocsTime + hours(24 * 30));
  ASSERT_TRUE(far);
  EXPECT_NE(far->find("X-Amz-Expires=604800&"), std::string::npos) << *far;
  auto past = f.backend.url("k", kDocsTime - hours(1));
  ASSERT_TRUE(past);
  EXPECT_NE(past->find("X-Amz-Expires=1&"), std::string::npos) << *past;
  EXPECT_EQ(far->find("secret-that-must-not-leak"), std::string::npos);
}

TEST(S3BackendTest, UrlUsesThePublicTemplateWhenSet) {
  S3Options options = aws_options();
  options.public_url_template = "https://cdn.example.com/{key}?v=1";
  Fixture f(options);
  EXPECT_EQ(f.backend.url("a/b c.png", kDocsTime).value(),
            "https://cdn.example.com/a/b%20c.png?v=1");
}

// ---- answers --------------------------------------------------------------------------------

TEST(S3BackendTest, HeadReadsSizeTypeEtagDateAndMetadata) {
  Fixture f;
  net::Headers headers;
  headers.set("Content-Length", "1234");
  headers.set("Content-Type", "image/webp");
  headers.set("ETag", "\"9b2cf535f27731c974343645a3985328\"");
  headers.set("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT");
  headers.set("X-Amz-Meta-Expiry-Time", "2015-10-22T07:28:00Z");
  headers.set("x-amz-meta-owner", "bot");
  f.transport->answer(200, "", headers);
  auto info = run(f.backend.head("a.webp"));
  ASSERT_TRUE(info) << info.error().to_string();
  EXPECT_EQ(f.transport->sent[0].method, "HEAD");
  EXPECT_EQ(info->key, "a.webp");
  EXPECT_EQ(info->size, 1234u);
  EXPECT_EQ(info->content_type, "image/webp");
  EXPECT_EQ(info->etag, "\"9b2cf535f27731c974343645a3985328\"");
  EXPECT_EQ(info->last_modified.time_since_epoch(), seconds(1445412480));
  EXPECT_EQ(info->metadata, (Metadata{{"expiry-time", "2015-10-22T07:28:00Z"}, {"owner", "bot"}}));
}

TEST(S3BackendTest, GetReturnsTheBytes) {
  Fixture f;
  net::Headers headers;
  headers.set("Content-Length", "5");
  f.transport->answer(200, "hello", headers);
  auto object = run(f.backend.get("k"));
  ASSERT_TRUE(object) << object.error().to_string();
  EXPECT_EQ(object->bytes, "hello");
  EXPECT_EQ(object->info.size, 5u);
}

TEST(S3BackendTest, ErrorsMapToKindsAndNameCodeAndMessage) {
  struct Case {
    int status;
    std::string code;
    ErrorKind kind;
  };
  for (const Case& c :
       {Case{404, "NoSuchKey", ErrorKind::kNotFound}, Case{404, "", ErrorKind::kNotFound},
        Case{404, "NoSuchBucket", ErrorKind::kFailedPrecondition},
        Case{403, "AccessDenied", ErrorKind::kPermissionDenied},
        Case{403, "SignatureDoesNotMatch", ErrorKind::kUnauthenticated},
        Case{403, "InvalidAccessKeyId", ErrorKind::kUnauthenticated},
        Case{400, "InvalidArgument", ErrorKind::kInvalidArgument}}) {
    Fixture f;
    f.transport->answer(c.status, c.code.empty() ? "" : error_xml(c.code, "Because."));
    auto result = run(f.backend.get("a/b"));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, c.kind) << c.code << ": " << result.error().to_string();
    const std::string& message = result.error().message;
    EXPECT_NE(message.find("GET key 'a/b'"), std::string::npos) << message;
    EXPECT_NE(message.find(fmt::format("HTTP {}", c.status)), std::string::npos) << message;
    if (!c.code.empty()) {
      EXPECT_NE(message.find(c.code + ": Because."), std::string::npos) << message;
    }
    EXPECT_EQ(message.find("secret-that-must-not-leak"), std::string::npos);
    EXPECT_EQ(message.find("Signature="), std::string::npos);
  }
}

// ---- retries --------------------------------------------------------------------------------

TEST(S3BackendTest, RetryDecisions) {
  const auto response = [](int status, std::string body = {}) {
    return Result<net::ClientResponse>(net::ClientResponse{status, {}, std::move(body)});
  };
  EXPECT_TRUE(s3::retryable(response(500)));
  EXPECT_TRUE(s3::retryable(response(503, error_xml("SlowDown", "Reduce your rate."))));
  EXPECT_TRUE(s3::retryable(response(429)));
  EXPECT_TRUE(s3::retryable(response(400, error_xml("RequestTimeout", "Idle."))));
  EXPECT_TRUE(s3::retryable(fail(ErrorKind::kUnavailable, "connection refused")));
  EXPECT_TRUE(s3::retryable(fail(ErrorKind::kDeadlineExceeded, "timeout")));
  EXPECT_FALSE(s3::retryable(response(200)));
  EXPECT_FALSE(s3::retryable(response(404, error_xml("NoSuchKey", "Gone."))));
  EXPECT_FALSE(s3::retryable(response(403, error_xml("AccessDenied", "No."))));
  EXPECT_FALSE(s3::retryable(fail(ErrorKind::kResourceExhausted, "too large")));
  EXPECT_FALSE(s3::retryable(fail(ErrorKind::kInvalidArgument, "bad url")));
}

TEST(S3BackendTest, BackoffDoublesUpToTwentySeconds) {
  EXPECT_EQ(s3::backoff_ceiling(1, 100ms), 100ms);
  EXPECT_EQ(s3::backoff_ceiling(2, 100ms), 200ms);
  EXPECT_EQ(s3::backoff_ceiling(4, 100ms), 800ms);
  EXPECT_EQ(s3::backoff_ceiling(30, 100ms), 20s);
}

TEST(S3BackendTest, SlowDownIsRetriedThenSucceeds) {
  Fixture f;
  f.transport->answer(503, error_xml("SlowDown", "Please reduce your request rate."));
  f.transport->answers.push_back(fail(ErrorKind::kUnavailable, "connection reset"));
  net::Headers headers;
  headers.set("Content-Length", "2");
  f.transport->answer(200, "ok", headers);
  auto object = run(f.backend.get("k"));
  ASSERT_TRUE(object) << object.error().to_string();
  EXPECT_EQ(f.transport->sent.size(), 3u);
}

TEST(S3BackendTest, RetriesStopAfterMaxAttempts) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.transport->answer(500, error_xml("InternalError", "Oops."));
  auto result = run(f.backend.get("k"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(result.error().message.find("InternalError: Oops."), std::string::npos);
  EXPECT_EQ(f.transport->sent.size(), 4u);
}

TEST(S3BackendTest, ClientErrorsAreNotRetried) {
  Fixture f;
  f.transport->answer(404, error_xml("NoSuchKey", "The specified key does not exist."));
  auto result = run(f.backend.head("k"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(f.transport->sent.size(), 1u);
}

// ---- DeleteObjects --------------------------------------------------------------------------

TEST(S3BackendTest, ContentMd5IsBase64OfTheDigest) {
  // MD5("") = d41d8cd98f00b204e9800998ecf8427e (RFC 1321, A.5), base64 of those 16 bytes.
  EXPECT_EQ(s3::content_md5(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
}

TEST(S3BackendTest, RemoveSendsBatchesOfAThousandWithContentMd5) {
  Fixture f;
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; ++i) keys.push_back(fmt::format("k/{:04}", i));
  for (int i = 0; i < 3; ++i) {
    f.transport->answer(200, "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>");
  }
  auto outcome = run(f.backend.remove(keys));
  ASSERT_TRUE(outcome) << outcome.error().to_string();
  EXPECT_EQ(outcome->deleted, keys);
  EXPECT_TRUE(outcome->failed.empty());
  ASSERT_EQ(f.transport->sent.size(), 3u);
  const auto& first = f.transport->sent[0];
  EXPECT_EQ(first.method, "POST");
  EXPECT_EQ(first.url, "https://mando-images.s3.us-east-1.amazonaws.com/?delete=");
  EXPECT_EQ(header(first, "Content-MD5"), s3::content_md5(first.body));
  EXPECT_NE(first.body.find("<Quiet>true</Quiet><Object><Key>k/0000</Key></Object>"),
            std::string::npos);
  EXPECT_NE(first.body.find("<Key>k/0999</Key>"), std::string::npos);
  EXPECT_EQ(first.body.find("<Key>k/1000</Key>"), std::string::npos);
  EXPECT_NE(f.transport->sent[2].body.find("<Key>k/2499</Key>"), std::string::npos);
}

TEST(S3BackendTest, DeleteResultSeparatesFailuresAndCountsMissingAsDeleted) {
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Deleted><Key>a</Key></Deleted>
  <Error><Key>b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
  <Error><Key>c</Key><Code>NoSuchKey</Code><Message>gone</Message></Error>
</DeleteResult>)";
  auto outcome = s3::parse_delete_result(xml, {"a", "b", "c"});
  ASSERT_TRUE(outcome) << outcome.error().to_string();
  EXPECT_EQ(outcome->deleted, (std::vector<std::string>{"a", "c"}));
  ASSERT_EQ(outcome->failed.size(), 1u);
  EXPECT_EQ(outcome->failed[0].first, "b");
  EXPECT_EQ(outcome->failed[0].second.kind, ErrorKind::kPermissionDenied);
  EXPECT_NE(outcome->failed[0].second.message.find("AccessDenied: Access Denied"),
            std::string::npos);
}

// ---- ListObjectsV2 --------------------------------------------------------------------------

TEST(S3BackendTest, ListSendsListTypeTwoAndParsesThePage) {
  Fixture f;
  f.transport->answer(200, R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>mando-images</Name><Prefix>img/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
  <Contents><Key>img/a.png</Key><LastModified>2015-10-21T07:28:00.000Z</LastModified>
    <ETag>&quot;e1&quot;</ETag><Size>10</Size><StorageClass>STANDARD</StorageClass></Contents>
  <CommonPrefixes><Prefix>img/sub/</Prefix></CommonPrefixes>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)");
  auto listing = run(f.backend.list({"img/", "/", "tok/en+", 2}));
  ASSERT_TRUE(listing) << listing.error().to_string();
  ASSERT_EQ(listing->objects.size(), 1u);
  EXPECT_EQ(listing->objects[0].key, "img/a.png");
  EXPECT_EQ(listing->objects[0].size, 10u);
  EXPECT_EQ(listing->objects[0].etag, "\"e1\"");
  EXPECT_EQ(listing->objects[0].last_modified.time_since_epoch(), seconds(1445412480));
  EXPECT_EQ(listing->prefixes, (std::vector<std::string>{"img/sub/"}));
  EXPECT_EQ(listing->next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  EXPECT_EQ(f.transport->sent[0].url,
            "https://mando-images.s3.us-east-1.amazonaws.com/"
            "?continuation-token=tok%2Fen%2B&delimiter=%2F&list-type=2&max-keys=2&prefix=img%2F");
}

TEST(S3BackendTest, ListRefusesMaxKeysOutOfRangeAndUnreadableAnswers) {
  Fixture f;
  auto refused = run(f.backend.list({"", "", "", 0}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(f.transport->sent.empty());
  f.transport->answer(200, "<ListBucketResult><Contents>");
  auto broken = run(f.backend.list({}));
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().kind, ErrorKind::kInternal);
}

TEST(S3BackendTest, PutRefusesMetadataThatCouldInjectHeaders) {
  Fixture f;
  auto result = run(f.backend.put("k", "x", "text/plain", {{"bad", "a\r\nX-Evil: 1"}}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_TRUE(f.transport->sent.empty());
}

TEST(S3BackendTest, DatesParse) {
  EXPECT_EQ(parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT")->time_since_epoch(),
            seconds(1445412480));
  EXPECT_EQ(s3::parse_iso8601("2015-10-21T07:28:00Z")->time_since_epoch(), seconds(1445412480));
  EXPECT_FALSE(parse_http_date("yesterday"));
  EXPECT_FALSE(s3::parse_iso8601("2015-10-21"));
}

}  // namespace
}  // namespace mando::storage
