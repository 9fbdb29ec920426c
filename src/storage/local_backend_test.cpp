#include "storage/local_backend.hpp"

#include <fstream>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "storage/local_store_fixture.hpp"

namespace mando::storage {
namespace {

namespace fs = std::filesystem;
using LocalBackendTest = LocalStoreFixture;

TEST_F(LocalBackendTest, PutThenGetAndHeadReturnBytesAndMetadata) {
  auto stored = run(backend_->put("a/b.png", "PNGDATA", "image/png", {{"seed", "42"}}));
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->size, 7u);
  EXPECT_EQ(stored->etag.size(), 34u);  // 32 hex digits, quoted
  auto object = run(backend_->get("a/b.png"));
  ASSERT_TRUE(object) << object.error().message;
  EXPECT_EQ(object->bytes, "PNGDATA");
  EXPECT_EQ(object->info.content_type, "image/png");
  EXPECT_EQ(object->info.metadata.at("seed"), "42");
  EXPECT_EQ(object->info.etag, stored->etag);
  auto info = run(backend_->head("a/b.png"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 7u);
  EXPECT_EQ(info->etag, stored->etag);
  EXPECT_EQ(run(backend_->get("a/missing.png")).error().kind, ErrorKind::kNotFound);
}

// head() reads the metadata line in growing steps: one longer than the first step still reads.
TEST_F(LocalBackendTest, LongMetadataReadsBackWithoutTheBytes) {
  const std::string note(10'000, 'n');
  ASSERT_TRUE(run(backend_->put("long", std::string(200'000, 'b'), "image/png", {{"note", note}})));
  auto info = run(backend_->head("long"));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->metadata.at("note"), note);
  EXPECT_EQ(info->size, 200'000u);
  auto listed = run(backend_->list({}));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->objects.size(), 1u);
  EXPECT_EQ(listed->objects[0].size, 200'000u);
}

TEST_F(LocalBackendTest, AWriteInterruptedBeforeTheRenameIsNeverServedAndIsSweptLater) {
  // What a crash in step 1 leaves: a whole or partial file under tmp/, nothing under objects/.
  const fs::path tmp = backend_->root() / "tmp" / "0123456789abcdef";
  std::ofstream(tmp) << "mando-blob 1\n{\"content_type\":\"image/png\"";
  auto got = run(backend_->get("0123456789abcdef"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(run(backend_->list({}))->objects.empty());
  // Young temporaries may belong to a put in progress elsewhere: kept. Old ones go at open().
  open();
  EXPECT_TRUE(fs::exists(tmp));
  fs::last_write_time(tmp, fs::file_time_type::clock::now() - std::chrono::hours(2));
  open();
  EXPECT_FALSE(fs::exists(tmp));
}

TEST_F(LocalBackendTest, APutReplacesTheWholeBlobAndLeavesNoTemporaryFile) {
  ASSERT_TRUE(run(backend_->put("k", std::string(100'000, 'a'), "text/plain", {})));
  ASSERT_TRUE(run(backend_->put("k", "b", "text/plain", {})));
  EXPECT_EQ(run(backend_->get("k"))->bytes, "b");
  EXPECT_TRUE(fs::is_empty(backend_->root() / "tmp"));
}

TEST_F(LocalBackendTest, ACorruptFileIsAnInternalErrorNotABlob) {
  std::ofstream(backend_->root() / "objects" / "bad") << "not a blob";
  auto got = run(backend_->get("bad"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kInternal);
  EXPECT_NE(got.error().message.find("corrupt"), std::string::npos);
}

TEST_F(LocalBackendTest, ListingPagesInByteOrderWithPrefixesAndDelimiter) {
  for (std::string key : {"a-c", "a/b", "a/c/d", "b", "_expiry/20261123T0600/a-c"}) {
    ASSERT_TRUE(run(backend_->put(key, key, "text/plain", {})));
  }
  // '-' sorts before '/': "a-c" before "a/b", as S3 orders keys.
  std::vector<std::string> keys;
  ListOptions options;
  options.max_keys = 2;
  for (;;) {
    auto page = run(backend_->list(options));
    ASSERT_TRUE(page);
    for (const auto& object : page->objects) keys.push_back(object.key);
    if (page->next_token.empty()) break;
    options.token = page->next_token;
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{"_expiry/20261123T0600/a-c", "a-c", "a/b", "a/c/d", "b"}));
  ListOptions top;
  top.delimiter = "/";
  auto page = run(backend_->list(top));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->prefixes, (std::vector<std::string>{"_expiry/", "a/"}));
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "a-c");
  EXPECT_EQ(page->objects[0].size, 3u);
  ListOptions under;
  under.prefix = "a/";
  under.delimiter = "/";
  page = run(backend_->list(under));
  EXPECT_EQ(page->prefixes, (std::vector<std::string>{"a/c/"}));
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "a/b");
}

TEST_F(LocalBackendTest, DeletingRemovesEmptyDirectoriesAndMissingKeysSucceed) {
  ASSERT_TRUE(run(backend_->put("x/y/z", "1", "text/plain", {})));
  ASSERT_TRUE(run(backend_->put("x/w", "2", "text/plain", {})));
  auto outcome = run(backend_->remove({"x/y/z", "never/was"}));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->deleted.size(), 2u);
  EXPECT_FALSE(fs::exists(backend_->root() / "objects" / "x" / "y"));
  EXPECT_TRUE(fs::exists(backend_->root() / "objects" / "x" / "w"));
  ASSERT_TRUE(run(backend_->remove({"x/w"})));
  EXPECT_FALSE(fs::exists(backend_->root() / "objects" / "x"));
  EXPECT_TRUE(fs::exists(backend_->root() / "objects"));
}

// Writers replace blobs while readers read them: every read sees one whole version, its bytes
// matching its own size and ETag.
TEST_F(LocalBackendTest, ConcurrentPutsAndGetsSeeWholeVersions) {
  constexpr int kRounds = 40;
  auto writer = [](LocalBackend* backend, int id) -> boost::asio::awaitable<bool> {
    for (int i = 0; i < kRounds; ++i) {
      const std::string bytes(1000 + 100 * ((id + i) % 7), static_cast<char>('a' + id));
      if (!co_await backend->put("shared", bytes, "text/plain", {})) co_return false;
      if (!co_await backend->put("own" + std::to_string(id), bytes, "text/plain", {})) {
        co_return false;
      }
    }
    co_return true;
  };
  auto reader = [](LocalBackend* backend) -> boost::asio::awaitable<int> {
    int whole = 0;
    for (int i = 0; i < kRounds; ++i) {
      auto object = co_await backend->get("shared");
      if (!object) continue;  // not written yet
      const auto& b = object->bytes;
      if (b.size() == object->info.size && b.find_first_not_of(b.front()) == std::string::npos) {
        ++whole;
      } else {
        co_return -1;
      }
    }
    co_return whole;
  };
  std::vector<std::future<bool>> writers;
  std::vector<std::future<int>> readers;
  for (int id = 0; id < 4; ++id) {
    writers.push_back(
        boost::asio::co_spawn(ioc_, writer(backend_.get(), id), boost::asio::use_future));
    readers.push_back(boost::asio::co_spawn(ioc_, reader(backend_.get()), boost::asio::use_future));
  }
  for (auto& w : writers) EXPECT_TRUE(w.get());
  for (auto& r : readers) EXPECT_GE(r.get(), 0) << "a read saw a torn blob";
  for (int id = 0; id < 4; ++id) {
    auto own = run(backend_->get("own" + std::to_string(id)));
    ASSERT_TRUE(own);
    EXPECT_EQ(own->bytes.front(), static_cast<char>('a' + id));
  }
}

TEST_F(LocalBackendTest, UrlsArePublicOrSigned) {
  EXPECT_EQ(backend_->url("a/b.png", now()).value(), "http://127.0.0.1:8080/blobs/a/b.png");
  open(UrlSigner::from_key(std::string(32, 's')).value());
  const std::string url = backend_->url("a/b.png", now() + std::chrono::hours(1)).value();
  EXPECT_TRUE(url.starts_with("http://127.0.0.1:8080/blobs/a/b.png?expires=1795417230&signature="))
      << url;
}

}  // namespace
}  // namespace mando::storage
