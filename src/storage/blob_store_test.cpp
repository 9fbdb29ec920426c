#include "storage/blob_store.hpp"

#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "storage/counting_backend.hpp"
#include "storage/local_store_fixture.hpp"

namespace mando::storage {
namespace {

using namespace std::chrono_literals;

class BlobStoreTest : public LocalStoreFixture {
 protected:
  BlobStoreTest() {
    BlobStoreOptions options;
    options.now = [this] { return now(); };
    counted_ = std::make_unique<BlobStore>(counting_, std::move(options));
  }

  std::set<std::string> stored_keys() {
    std::set<std::string> keys;
    ListOptions options;
    auto page = run(backend_->list(options));
    for (const auto& object : page->objects) keys.insert(object.key);
    return keys;
  }

  CountingBackend counting_{*backend_};
  std::unique_ptr<BlobStore> counted_;
};

TEST_F(BlobStoreTest, PutStampsTheExpiryAndIndexesIt) {
  auto ref = put("m/1.png", "png", 90min);
  ASSERT_TRUE(ref) << ref.error().message;
  EXPECT_EQ(ref->key, "m/1.png");
  EXPECT_EQ(ref->url, "http://127.0.0.1:8080/blobs/m/1.png");
  EXPECT_EQ(format_time(ref->expires_at), "2026-11-23T07:30:30Z");
  auto info = run(store_->head("m/1.png"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->metadata.at("expiry-time"), "2026-11-23T07:30:30Z");
  EXPECT_EQ(stored_keys(), (std::set<std::string>{"_expiry/20261123T0730/m~1.png", "m/1.png"}));
  // Without expires_at, the default TTL.
  auto later = run(store_->put("m/2.png", "png", PutOptions{}));
  ASSERT_TRUE(later);
  EXPECT_EQ(format_time(later->expires_at), "2026-11-24T06:00:30Z");
}

TEST_F(BlobStoreTest, BadKeysMetadataAndPastExpiriesAreRefused) {
  for (std::string key : {"../etc/passwd", "/abs", "_expiry/x", "a b"}) {
    auto r = put(key, "x", 1h);
    ASSERT_FALSE(r) << key;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument);
  }
  PutOptions reserved;
  reserved.metadata["expiry-time"] = "2099-01-01T00:00:00Z";
  EXPECT_FALSE(run(store_->put("k", "x", reserved)));
  PutOptions upper;
  upper.metadata["Seed"] = "1";
  EXPECT_FALSE(run(store_->put("k", "x", upper)));
  auto past = put("k", "x", -1s);
  ASSERT_FALSE(past);
  EXPECT_NE(past.error().message.find("not in the future"), std::string::npos);
  EXPECT_TRUE(stored_keys().empty()) << "a refused put wrote something";
}

TEST_F(BlobStoreTest, AnExpiredBlobIsGoneBeforeCleanupRuns) {
  ASSERT_TRUE(put("k", "x", 10s));
  EXPECT_TRUE(run(store_->get("k")));
  advance(10s);
  auto got = run(store_->get("k"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kNotFound);
  EXPECT_FALSE(run(store_->head("k")));
  EXPECT_TRUE(stored_keys().contains("k"));  // still on disk until cleanup
}

TEST_F(BlobStoreTest, CleanupDeletesExactlyTheExpiredBlobsAndTheirMarkers) {
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(put(fmt::format("img/{:02}.png", i), std::string(100, 'x'),
                    std::chrono::minutes(i % 3 == 0 ? 5 : 120)));
  }
  advance(10min);
  auto report = run(counted_->cleanup({}));
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->expired, 10u);
  EXPECT_EQ(report->deleted, 10u);
  EXPECT_EQ(report->bytes_freed, 1000u);
  EXPECT_EQ(report->markers_deleted, 10u);
  EXPECT_EQ(report->failures, 0u);
  // Its cost follows the expired blobs: one metadata read each, none for the 20 others.
  EXPECT_EQ(counting_.heads.load(), 10u);
  std::set<std::string> expected;
  for (int i = 0; i < 30; ++i) {
    if (i % 3 == 0) continue;
    const std::string key = fmt::format("img/{:02}.png", i);
    expected.insert(key);
    expected.insert(marker_key(key, now() - 10min + 120min));
  }
  EXPECT_EQ(stored_keys(), expected);
}

TEST_F(BlobStoreTest, ADryRunCountsAndDeletesNothing) {
  ASSERT_TRUE(put("a", "1234", 1min));
  advance(2min);
  CleanupOptions options;
  options.dry_run = true;
  auto report = run(store_->cleanup(options));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->expired, 1u);
  EXPECT_EQ(report->expired_bytes, 4u);
  EXPECT_EQ(report->deleted, 0u);
  EXPECT_EQ(report->bytes_freed, 0u);
  EXPECT_EQ(stored_keys().size(), 2u);
}

TEST_F(BlobStoreTest, TheCurrentMinuteWaitsForTheNextRun) {
  ASSERT_TRUE(put("a", "1", 5s));  // expires 06:00:35, in the bucket of the current minute
  advance(10s);
  auto report = run(store_->cleanup({}));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->buckets, 0u);
  advance(1min);
  report = run(store_->cleanup({}));
  EXPECT_EQ(report->deleted, 1u);
  EXPECT_TRUE(stored_keys().empty());
}

TEST_F(BlobStoreTest, ABlobPutAgainWithALaterExpiryOutlivesItsOldMarker) {
  ASSERT_TRUE(put("k", "old", 2min));
  ASSERT_TRUE(put("k", "new", 2h));
  advance(5min);
  auto report = run(store_->cleanup({}));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->deleted, 0u);
  EXPECT_EQ(report->markers_deleted, 1u);
  EXPECT_EQ(run(store_->get("k"))->bytes, "new");
  EXPECT_EQ(stored_keys(), (std::set<std::string>{"_expiry/20261123T0800/k", "k"}));
}

TEST_F(BlobStoreTest, ACleanupCutShortIsFinishedByTheNextRun) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(put(fmt::format("k{}", i), "x", 1min));
  ASSERT_TRUE(put("orphan", "x", 1min));
  // A put whose blob never arrived (crash after step 1) leaves only the marker.
  ASSERT_TRUE(run(backend_->remove({"orphan"})));
  counting_.failing = {"k1", "k3"};
  advance(3min);
  auto first = run(counted_->cleanup({}));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->deleted, 3u);
  EXPECT_EQ(first->failures, 2u);
  EXPECT_EQ(first->errors.size(), 2u);
  // The failed blobs keep their markers, so the next run finds them again.
  EXPECT_EQ(stored_keys(), (std::set<std::string>{"_expiry/20261123T0601/k1",
                                                  "_expiry/20261123T0601/k3", "k1", "k3"}));
  counting_.failing.clear();
  auto second = run(counted_->cleanup({}));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->deleted, 2u);
  EXPECT_EQ(second->failures, 0u);
  EXPECT_TRUE(stored_keys().empty());
}

TEST_F(BlobStoreTest, AHeadThatThrowsKeepsTheBlobAndItsMarkerForTheNextRun) {
  ASSERT_TRUE(put("live", "x", 1min));
  counting_.throwing_heads = {"live"};
  advance(3min);
  auto first = run(counted_->cleanup({}));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->deleted, 0u);
  EXPECT_EQ(first->failures, 1u);
  EXPECT_EQ(stored_keys(), (std::set<std::string>{"_expiry/20261123T0601/live", "live"}))
      << "the marker must survive, or the blob would outlive its expiry forever";
  counting_.throwing_heads.clear();
  auto second = run(counted_->cleanup({}));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->deleted, 1u);
  EXPECT_TRUE(stored_keys().empty());
}

TEST_F(BlobStoreTest, SweepFindsExpiredBlobsOutsideTheIndex) {
  // Written by another tool: the expiry metadata, no marker.
  ASSERT_TRUE(run(
      backend_->put("foreign/old", "x", "text/plain", {{"expiry-time", "2026-11-23T05:00:00Z"}})));
  ASSERT_TRUE(run(
      backend_->put("foreign/new", "x", "text/plain", {{"expiry-time", "2026-11-24T05:00:00Z"}})));
  ASSERT_TRUE(run(backend_->put("foreign/none", "x", "text/plain", {})));
  auto plain = run(store_->cleanup({}));
  EXPECT_EQ(plain->deleted, 0u);
  CleanupOptions sweep;
  sweep.sweep = true;
  auto report = run(store_->cleanup(sweep));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->examined, 3u);
  EXPECT_EQ(report->deleted, 1u);
  EXPECT_EQ(stored_keys(), (std::set<std::string>{"foreign/new", "foreign/none"}));
}

}  // namespace
}  // namespace mando::storage
