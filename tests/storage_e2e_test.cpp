// The blob store in the real binary: `mando serve` answers /blobs/ over HTTP (whole, HEAD, range,
// 304, expired), and `mando cleanup` deletes exactly the expired blobs, with --dry-run and exit
// codes. The blobs are written beforehand with the library, as the bot's workers do.

#include <fstream>
#include <regex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "core/cpu_pool.hpp"
#include "storage/blob_store.hpp"
#include "storage/local_backend.hpp"
#include "support/process.hpp"
#include "support/raw_http.hpp"
#include "support/run_awaitable.hpp"
#include "support/temp_dir.hpp"

namespace mando::testing {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Writes blobs into {data_dir}/blobs as a worker of the same installation would.
class Writer {
 public:
  explicit Writer(const fs::path& data_dir) {
    storage::LocalBackendOptions options;
    options.root = data_dir / "blobs";
    backend_ = storage::LocalBackend::open(std::move(options), pool_).value();
    storage::BlobStoreOptions store_options;
    store_ = std::make_unique<storage::BlobStore>(*backend_, std::move(store_options));
  }

  // A blob that expires `ttl` from now (negative: already expired, written around the store).
  void put(const std::string& key, std::string bytes, std::chrono::seconds ttl) {
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(storage::Clock::now());
    if (ttl > 0s) {
      storage::PutOptions options;
      options.content_type = "image/png";
      options.expires_at = now + ttl;
      ASSERT_TRUE(run(store_->put(key, std::move(bytes), std::move(options))));
      return;
    }
    // What the store wrote an hour ago for a blob that has expired since.
    const auto expires = now + ttl;
    ASSERT_TRUE(
        run(backend_->put(storage::marker_key(key, expires), "", "application/octet-stream", {})));
    ASSERT_TRUE(run(backend_->put(key, std::move(bytes), "image/png",
                                  {{"expiry-time", storage::format_time(expires)}})));
  }

  bool exists(const std::string& key) { return run(backend_->head(key)).has_value(); }

 private:
  template <typename T>
  T run(asio::awaitable<T> call) {
    return run_awaitable(ioc_, std::move(call));
  }

  asio::io_context ioc_;
  core::CpuPool pool_{1};
  std::unique_ptr<storage::LocalBackend> backend_;
  std::unique_ptr<storage::BlobStore> store_;
};

std::map<std::string, std::string> quiet_env() {
  return {
      {"MANDO_LOG_LEVEL", "warn"}, {"MANDO_STORAGE_BACKEND", ""}, {"MANDO_STORAGE_DIRECTORY", ""}};
}

TEST(StorageE2eTest, ServeAnswersBlobsOverHttp) {
  TempDir dir;
  Writer writer(dir.path());
  writer.put("m/a.png", "0123456789", 1h);
  writer.put("m/old.png", "x", -2min);

  Process mando(
      {MANDO_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path().string()},
      quiet_env());
  auto line = mando.wait_for_line("listening on ", 30s);
  ASSERT_TRUE(line) << mando.wait(5s).err;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_match(*line, m, std::regex(R"(^listening on http://127\.0\.0\.1:(\d+)$)")));
  const auto port = static_cast<std::uint16_t>(std::stoi(m[1].str()));

  RawConnection c(port);
  c.send(raw_request("GET", "/blobs/m/a.png"));
  auto whole = c.read_response();
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, "0123456789");
  EXPECT_EQ(whole->headers.get("Content-Type"), "image/png");
  EXPECT_EQ(whole->headers.get("Content-Length"), "10");
  EXPECT_EQ(whole->headers.get("Accept-Ranges"), "bytes");
  const std::string etag(whole->headers.get("ETag").value_or(""));
  ASSERT_FALSE(etag.empty());
  const auto cache = whole->headers.get("Cache-Control").value_or("");
  EXPECT_TRUE(std::regex_match(std::string(cache), std::regex(R"(public, max-age=3[56]\d\d)")))
      << cache;

  c.send(raw_request("HEAD", "/blobs/m/a.png"));
  auto head = c.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers.get("Content-Length"), "10");

  c.send(raw_request("GET", "/blobs/m/a.png", "", "Range: bytes=2-4\r\n"));
  auto part = c.read_response();
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, "234");
  EXPECT_EQ(part->headers.get("Content-Range"), "bytes 2-4/10");

  c.send(raw_request("GET", "/blobs/m/a.png", "", "If-None-Match: " + etag + "\r\n"));
  auto cached = c.read_response();
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, 304);
  EXPECT_TRUE(cached->body.empty());

  c.send(raw_request("GET", "/blobs/m/a.png", "", "Range: bytes=50-\r\n"));
  auto past = c.read_response();
  ASSERT_TRUE(past);
  EXPECT_EQ(past->status, 416);
  EXPECT_EQ(past->headers.get("Content-Range"), "bytes */10");

  for (std::string target :
       {"/blobs/m/old.png", "/blobs/m/none.png", "/blobs/..%2Fqueue.sqlite3", "/blobs/_expiry/x"}) {
    c.send(raw_request("GET", target));
    auto gone = c.read_response();
    ASSERT_TRUE(gone) << target;
    EXPECT_EQ(gone->status, 404) << target;
  }
  mando.signal(SIGTERM);
  EXPECT_EQ(mando.wait(30s).exit_code, 0);
}

TEST(StorageE2eTest, CleanupDeletesTheExpiredBlobsOnceWithDryRunAndExitCodes) {
  TempDir dir;
  {
    Writer writer(dir.path());
    writer.put("keep.png", "k", 1h);
    writer.put("old1.png", "12345", -2min);
    writer.put("old2.png", "123", -3h);
  }
  const std::vector<std::string> base = {MANDO_BINARY, "cleanup", "--data-dir",
                                         dir.path().string()};
  auto args = [&](std::vector<std::string> extra) {
    auto all = base;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  auto dry = run(args({"--dry-run"}), quiet_env());
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would delete 2 expired blobs (8 bytes)"), std::string::npos) << dry.out;
  {
    Writer writer(dir.path());
    EXPECT_TRUE(writer.exists("old1.png"));
  }
  auto real = run(base, quiet_env());
  EXPECT_EQ(real.exit_code, 0) << real.err;
  EXPECT_NE(real.out.find("deleted 2 expired blobs (8 bytes)"), std::string::npos) << real.out;
  Writer writer(dir.path());
  EXPECT_TRUE(writer.exists("keep.png"));
  EXPECT_FALSE(writer.exists("old1.png"));
  EXPECT_FALSE(writer.exists("old2.png"));
  auto again = run(base, quiet_env());
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("deleted 0 expired blobs"), std::string::npos) << again.out;

  auto bad = run(base, {{"MANDO_STORAGE_BACKEND", "s3"}, {"MANDO_STORAGE_ENDPOINT", ""}});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("[storage] endpoint"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace mando::testing
