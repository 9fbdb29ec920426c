// S3Backend against a real S3-compatible server on loopback: s3rver (tests/npm/s3rver_start.mjs)
// in a temporary directory, started and stopped by each test. Every object S3Backend writes is
// read back by an independent client, the AWS SDK for JavaScript (tests/npm/s3_client.mjs), and
// an object the SDK writes is read by S3Backend.
//
// What s3rver 3.7.1 checks, and so what these tests can prove (lib/middleware/authentication.js):
// it parses SigV4 Authorization headers and presigned queries and refuses unknown access keys
// (InvalidAccessKeyId), expired presigned URLs (AccessDenied "Request has expired") and
// X-Amz-Expires above 604800, but it never recomputes a V4 signature ("Signature version 4
// calculation is unimplemented"): a wrong signature is accepted. Signature correctness rests on
// AWS's published vectors in src/storage/sigv4_test.cpp. It does not check Content-MD5 either.
//
// Needs node and tests/npm/node_modules: scripts/install-deps.sh --test installs both.

#include "storage/s3_backend.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "net/http_client.hpp"
#include "storage/blob_store.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include <signal.h>

namespace mando::testing {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using storage::S3Backend;
using storage::S3Options;

constexpr std::string_view kBucket = "mando-test";
constexpr auto kBound = 60s;
const fs::path kNpmDir = MANDO_NPM_DIR;

storage::TimePoint now() {
  return std::chrono::time_point_cast<std::chrono::seconds>(storage::Clock::now());
}

// s3rver on 127.0.0.1 with one bucket, killed (SIGTERM, then SIGKILL by Process) at the end.
class S3rver {
 public:
  S3rver()
      : process_({"/usr/bin/env", "node", "--openssl-legacy-provider",
                  (kNpmDir / "s3rver_start.mjs").string(), "--directory",
                  (dir_.path() / "s3").string(), "--bucket", std::string(kBucket)}) {
    auto line = process_.wait_for_line("listening on ", 30s);
    std::smatch match;
    if (line &&
        std::regex_match(*line, match, std::regex(R"(^listening on http://127\.0\.0\.1:(\d+)$)"))) {
      port_ = match[1].str();
    }
  }
  ~S3rver() { stop(); }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    process_.signal(SIGTERM);
    process_.wait(10s);
  }
  bool started() const { return !port_.empty(); }
  std::string diagnostics() { return process_.wait(1s).err; }
  std::string path_style_endpoint() const { return "http://127.0.0.1:" + port_; }
  // curl resolves every *.localhost name to loopback, and s3rver reads BUCKET.s3.localhost as
  // a virtual-hosted request (serviceEndpoint "localhost").
  std::string virtual_host_endpoint() const { return "http://s3.localhost:" + port_; }

 private:
  TempDir dir_;
  Process process_;
  std::string port_;
  bool stopped_ = false;
};

class S3LoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::is_directory(kNpmDir / "node_modules" / "s3rver"))
        << "tests/npm lacks s3rver: run scripts/install-deps.sh --test";
    ASSERT_TRUE(server_.started()) << "s3rver did not start: " << server_.diagnostics();
    backend_ = make_backend(options());
  }

  void TearDown() override {
    backend_.reset();
    client_.reset();
    io_.restart();
    io_.run_for(kBound);
  }

  S3Options options() const {
    S3Options options;
    options.endpoint = server_.path_style_endpoint();
    options.bucket = std::string(kBucket);
    options.path_style = true;
    options.min_backoff = 1ms;
    auto valid = storage::s3_options_from_environment(
        options, {{"AWS_ACCESS_KEY_ID", "S3RVER"}, {"AWS_SECRET_ACCESS_KEY", "S3RVER"}});
    EXPECT_TRUE(valid) << valid.error().to_string();
    return valid ? *valid : options;
  }

  std::unique_ptr<S3Backend> make_backend(S3Options options, S3Backend::Now now = {}) {
    return std::make_unique<S3Backend>(std::move(options), *client_, std::move(now));
  }

  // Runs every task on the test's io_context until all are done or kBound passes.
  template <typename T>
  std::vector<T> run_all(std::vector<asio::awaitable<T>> tasks) {
    std::vector<std::optional<T>> results(tasks.size());
    std::size_t done = 0;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      asio::co_spawn(io_, std::move(tasks[i]), [&results, &done, i](std::exception_ptr e, T v) {
        if (e) std::rethrow_exception(e);
        results[i] = std::move(v);
        ++done;
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + kBound;
    io_.restart();
    while (done < results.size() && std::chrono::steady_clock::now() < deadline) {
      if (io_.stopped()) io_.restart();
      io_.run_one_until(deadline);
    }
    std::vector<T> out;
    for (auto& result : results) {
      out.push_back(result ? std::move(*result)
                           : T(fail(ErrorKind::kDeadlineExceeded, "test: not done in time")));
    }
    return out;
  }

  template <typename T>
  T finish(asio::awaitable<T> task) {
    std::vector<asio::awaitable<T>> tasks;
    tasks.push_back(std::move(task));
    return std::move(run_all(std::move(tasks)).front());
  }

  // Puts each key with the body "body of KEY" and `metadata`, eight at a time.
  void put_all(const std::vector<std::string>& keys, const storage::Metadata& metadata = {}) {
    std::vector<asio::awaitable<Result<storage::ObjectInfo>>> tasks;
    for (std::size_t start = 0; start < keys.size(); start += 8) {
      tasks.clear();
      for (std::size_t i = start; i < std::min(keys.size(), start + 8); ++i) {
        tasks.push_back(backend_->put(keys[i], "body of " + keys[i], "text/plain", metadata));
      }
      for (const auto& result : run_all(std::move(tasks))) {
        ASSERT_TRUE(result) << result.error().to_string();
      }
    }
  }

  // The AWS SDK's view of `command` (tests/npm/s3_client.mjs), as its JSON line.
  json::object sdk(std::vector<std::string> command) {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "node",
                                  (kNpmDir / "s3_client.mjs").string(),
                                  "--endpoint",
                                  server_.path_style_endpoint(),
                                  "--bucket",
                                  std::string(kBucket)};
    argv.insert(argv.end(), command.begin(), command.end());
    auto result = mando::testing::run(std::move(argv), {}, {}, 120s);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    json::error_code ec;
    auto value = json::parse(result.out, ec);
    EXPECT_FALSE(ec) << result.out;
    return !ec && value.is_object() ? value.as_object() : json::object{};
  }

  json::object sdk_read(const std::vector<std::string>& keys) {
    std::vector<std::string> command{"read"};
    command.insert(command.end(), keys.begin(), keys.end());
    auto answer = sdk(std::move(command));
    auto* objects = answer.if_contains("objects");
    return objects != nullptr ? objects->as_object() : json::object{};
  }

  // Checks that the SDK reads every key of `keys` as put_all() wrote it.
  void expect_sdk_reads_puts(const std::vector<std::string>& keys) {
    const auto objects = sdk_read(keys);
    for (const auto& key : keys) {
      SCOPED_TRACE(key);
      ASSERT_TRUE(objects.contains(key));
      const auto& object = objects.at(key).as_object();
      EXPECT_EQ(object.at("text").as_string(), "body of " + key);
      EXPECT_EQ(object.at("contentType").as_string(), "text/plain");
    }
  }

  std::vector<std::string> list_all(storage::ListOptions options) {
    std::vector<std::string> keys;
    for (int page = 0; page < 1000; ++page) {
      auto listing = finish(backend_->list(options));
      EXPECT_TRUE(listing) << listing.error().to_string();
      if (!listing) break;
      for (const auto& object : listing->objects) keys.push_back(object.key);
      pages_.push_back(listing->objects.size());
      if (listing->next_token.empty()) break;
      options.token = listing->next_token;
    }
    return keys;
  }

  S3rver server_;
  asio::io_context io_;
  std::unique_ptr<net::HttpClient> client_ = std::make_unique<net::HttpClient>(io_.get_executor());
  std::unique_ptr<S3Backend> backend_;
  std::vector<std::size_t> pages_;
};

TEST_F(S3LoopbackTest, PutGetHeadRemoveRoundTripAndTheSdkReadsWhatWasWritten) {
  std::string bytes;
  for (int i = 0; i < 256 * 40; ++i) bytes += static_cast<char>(i % 256);  // every byte value
  const storage::Metadata metadata{{"expiry-time", "2030-01-02T03:04:05Z"}, {"owner", "mando"}};
  auto put = finish(backend_->put("img/2030/a.png", bytes, "image/png", metadata));
  ASSERT_TRUE(put) << put.error().to_string();
  EXPECT_EQ(put->etag.front(), '"');

  auto got = finish(backend_->get("img/2030/a.png"));
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(got->bytes, bytes);
  EXPECT_EQ(got->info.content_type, "image/png");
  EXPECT_EQ(got->info.metadata, metadata);
  EXPECT_EQ(got->info.etag, put->etag);

  auto head = finish(backend_->head("img/2030/a.png"));
  ASSERT_TRUE(head) << head.error().to_string();
  EXPECT_EQ(head->size, bytes.size());
  EXPECT_EQ(head->etag, put->etag);
  EXPECT_EQ(head->metadata.at("expiry-time"), "2030-01-02T03:04:05Z");
  const auto age = storage::Clock::now() - head->last_modified;
  EXPECT_LT(std::chrono::abs(age), 5min);

  const auto objects = sdk_read({"img/2030/a.png"});
  ASSERT_TRUE(objects.contains("img/2030/a.png"));
  const auto& seen = objects.at("img/2030/a.png").as_object();
  EXPECT_EQ(seen.at("sha256").as_string(), storage::sigv4::sha256_hex(bytes));
  EXPECT_EQ(seen.at("contentType").as_string(), "image/png");
  EXPECT_EQ(seen.at("contentLength").as_int64(), static_cast<std::int64_t>(bytes.size()));
  EXPECT_EQ(seen.at("etag").as_string(), put->etag);
  EXPECT_EQ(seen.at("metadata"), json::parse(R"({"expiry-time":"2030-01-02T03:04:05Z",
                                                 "owner":"mando"})"));

  auto removed = finish(backend_->remove({"img/2030/a.png", "img/never-there"}));
  ASSERT_TRUE(removed) << removed.error().to_string();
  EXPECT_EQ(removed->deleted.size(), 2u);  // a missing key counts as deleted
  EXPECT_TRUE(removed->failed.empty());
  auto gone = finish(backend_->get("img/2030/a.png"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound) << gone.error().to_string();
  auto gone_head = finish(backend_->head("img/2030/a.png"));
  ASSERT_FALSE(gone_head);
  EXPECT_EQ(gone_head.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(sdk_read({"img/2030/a.png"}).at("img/2030/a.png").at("error"), "NotFound");
}

// BlobStore's expiry on S3: exactly the expired blobs go, and a cleanup that died between
// deleting blobs and deleting their markers is finished by the next run.
TEST_F(S3LoopbackTest, CleanupDeletesExactlyTheExpiredBlobsAndTheNextRunFinishesACutOne) {
  std::int64_t clock = 1795413630;  // 2026-11-23T06:00:30Z
  storage::BlobStoreOptions options;
  options.now = [&clock] { return storage::TimePoint(std::chrono::seconds(clock)); };
  storage::BlobStore store(*backend_, std::move(options));
  std::vector<std::string> live;
  std::vector<std::string> expiring;
  for (int i = 0; i < 12; ++i) {
    const std::string key = fmt::format("img/{:02}.png", i);
    storage::PutOptions put;
    put.content_type = "image/png";
    put.expires_at = storage::TimePoint(std::chrono::seconds(clock)) + (i % 3 == 0 ? 2min : 2h);
    auto ref = finish(store.put(key, "png " + key, std::move(put)));
    ASSERT_TRUE(ref) << ref.error().to_string();
    (i % 3 == 0 ? expiring : live).push_back(key);
  }
  clock += 600;
  // What a run killed after its blob deletes leaves: two of the four blobs gone, every marker
  // still there.
  auto cut = finish(backend_->remove({expiring[0], expiring[1]}));
  ASSERT_TRUE(cut && cut->failed.empty());

  auto report = finish(store.cleanup({}));
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->expired, 2u);
  EXPECT_EQ(report->deleted, 2u);
  EXPECT_EQ(report->markers_deleted, 4u);
  EXPECT_EQ(report->failures, 0u) << (report->errors.empty() ? "" : report->errors.front());

  std::vector<std::string> expected;
  for (const auto& key : live) expected.push_back("_expiry/20261123T0800/img~" + key.substr(4));
  expected.insert(expected.end(), live.begin(), live.end());
  EXPECT_EQ(list_all({}), expected);
  // An independent client sees the survivors with their expiry.
  const auto objects = sdk_read(live);
  for (const auto& key : live) {
    ASSERT_TRUE(objects.contains(key)) << key;
    const auto& metadata = objects.at(key).as_object().at("metadata").as_object();
    EXPECT_EQ(metadata.at("expiry-time").as_string(), "2026-11-23T08:00:30Z") << key;
  }
}

TEST_F(S3LoopbackTest, AnObjectTheSdkWroteIsReadByTheBackend) {
  sdk({"write", "sdk/hello.txt", "written by the AWS SDK", "expiry-time=2031-01-01T00:00:00Z"});
  auto got = finish(backend_->get("sdk/hello.txt"));
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(got->bytes, "written by the AWS SDK");
  EXPECT_EQ(got->info.content_type, "text/plain");
  EXPECT_EQ(got->info.metadata, (storage::Metadata{{"expiry-time", "2031-01-01T00:00:00Z"}}));
}

TEST_F(S3LoopbackTest, ListPagesWithSmallMaxKeysAndGroupsByDelimiter) {
  std::vector<std::string> keys;
  for (int i = 0; i < 7; ++i) keys.push_back(fmt::format("list/file-{}", i));
  keys.push_back("list/sub/a");
  keys.push_back("list/sub/b");
  keys.push_back("other/x");
  put_all(keys);
  expect_sdk_reads_puts(keys);

  auto listed = list_all({"list/", "", "", 2});
  std::vector<std::string> expected(keys.begin(), keys.end() - 1);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(listed, expected);
  EXPECT_EQ(pages_, (std::vector<std::size_t>{2, 2, 2, 2, 1}));

  auto grouped = finish(backend_->list({"list/", "/", "", 1000}));
  ASSERT_TRUE(grouped) << grouped.error().to_string();
  EXPECT_EQ(grouped->objects.size(), 7u);
  EXPECT_EQ(grouped->prefixes, (std::vector<std::string>{"list/sub/"}));
  EXPECT_TRUE(grouped->next_token.empty());
  ASSERT_FALSE(grouped->objects.empty());
  EXPECT_EQ(grouped->objects[0].size, std::string("body of list/file-0").size());
}

TEST_F(S3LoopbackTest, RemoveOfMoreThanAThousandKeysGoesInTwoBatches) {
  std::vector<std::string> keys;
  for (int i = 0; i < 1100; ++i) keys.push_back(fmt::format("bulk/{:04}", i));
  put_all(keys, {{"expiry-time", "2000-01-01T00:00:00Z"}});
  expect_sdk_reads_puts(keys);
  ASSERT_EQ(list_all({"bulk/", "", "", 1000}).size(), 1100u);

  auto removed = finish(backend_->remove(keys));
  ASSERT_TRUE(removed) << removed.error().to_string();
  EXPECT_EQ(removed->deleted, keys);
  EXPECT_TRUE(removed->failed.empty());
  EXPECT_TRUE(list_all({"bulk/", "", "", 1000}).empty());
}

TEST_F(S3LoopbackTest, PresignedUrlIsFetchedByAPlainHttpClient) {
  auto put = finish(backend_->put("share/p.txt", "presigned bytes", "text/plain", {}));
  ASSERT_TRUE(put) << put.error().to_string();
  auto url = backend_->url("share/p.txt", now() + std::chrono::hours(1));
  ASSERT_TRUE(url) << url.error().to_string();
  EXPECT_NE(url->find("X-Amz-Signature="), std::string::npos);

  const auto fetch = [&](std::string target) {
    net::ClientRequest request;
    request.url = std::move(target);
    return finish(client_->send(std::move(request)));
  };
  auto fetched = fetch(*url);
  ASSERT_TRUE(fetched) << fetched.error().to_string();
  EXPECT_EQ(fetched->status, 200) << fetched->body;
  EXPECT_EQ(fetched->body, "presigned bytes");

  // s3rver does not recompute V4 signatures: a tampered one is served all the same. Real S3
  // refuses it (SignatureDoesNotMatch); here we can only record what the server does.
  std::string tampered = *url;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  auto tampered_fetch = fetch(tampered);
  ASSERT_TRUE(tampered_fetch);
  EXPECT_EQ(tampered_fetch->status, 200) << "s3rver now checks signatures: make this expect 403";

  // What s3rver does check: the expiry (signed two hours ago for one hour) and the access key.
  const auto two_hours_ago = now() - std::chrono::hours(2);
  auto past = make_backend(options(), [two_hours_ago] { return two_hours_ago; });
  auto expired = fetch(*past->url("share/p.txt", two_hours_ago + std::chrono::hours(1)));
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->status, 403);
  EXPECT_NE(expired->body.find("Request has expired"), std::string::npos) << expired->body;

  S3Options stranger = options();
  stranger.access_key_id = "NOT-A-KEY";
  auto refused = fetch(*make_backend(stranger)->url("share/p.txt", two_hours_ago + 3 * 3600s));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_NE(refused->body.find("InvalidAccessKeyId"), std::string::npos) << refused->body;
}

TEST_F(S3LoopbackTest, VirtualHostedAddressingReachesTheSameBucket) {
  S3Options options = this->options();
  options.endpoint = server_.virtual_host_endpoint();
  options.path_style = false;
  ASSERT_TRUE(storage::s3_options_from_environment(options, {}));
  auto vhost = make_backend(options);
  auto put = finish(vhost->put("vhost/v.txt", "body of vhost/v.txt", "text/plain",
                               {{"expiry-time", "2030-01-01T00:00:00Z"}}));
  ASSERT_TRUE(put) << put.error().to_string();
  expect_sdk_reads_puts({"vhost/v.txt"});  // path-style reader, same bucket
  auto listing = finish(vhost->list({"vhost/", "", "", 10}));
  ASSERT_TRUE(listing) << listing.error().to_string();
  ASSERT_EQ(listing->objects.size(), 1u);
  EXPECT_EQ(listing->objects[0].key, "vhost/v.txt");
  auto url = vhost->url("vhost/v.txt", now() + 600s);
  ASSERT_TRUE(url);
  EXPECT_EQ(url->rfind(fmt::format("http://{}.s3.localhost:", kBucket), 0), 0u) << *url;
}

TEST_F(S3LoopbackTest, UnknownAccessKeyIsUnauthenticatedAndTheSecretStaysOut) {
  S3Options options = this->options();
  options.access_key_id = "NOT-A-KEY";
  options.secret_access_key = "very-secret-value";
  auto stranger = make_backend(options);
  auto put = finish(stranger->put("k", "x", "text/plain", {}));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().kind, ErrorKind::kUnauthenticated) << put.error().to_string();
  EXPECT_NE(put.error().message.find("InvalidAccessKeyId"), std::string::npos);
  EXPECT_EQ(put.error().message.find("very-secret-value"), std::string::npos);
}

TEST_F(S3LoopbackTest, AServerThatIsGoneIsUnavailableAfterTheRetries) {
  server_.stop();
  auto got = finish(backend_->get("anything"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kUnavailable) << got.error().to_string();
  EXPECT_NE(got.error().message.find("GET key 'anything'"), std::string::npos);
}

}  // namespace
}  // namespace mando::testing
