#include "imagine/sqlite_job_store.hpp"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <unistd.h>

namespace mando::imagine {
namespace {

using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(std::chrono::hours(500'000));

class SqliteJobStoreTest : public ::testing::Test {
 protected:
  SqliteJobStoreTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("mando-imagine-store-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = open();
  }
  ~SqliteJobStoreTest() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<SqliteJobStore> open() {
    auto store = SqliteJobStore::open(dir_ / "nested" / "imagine.sqlite3");
    EXPECT_TRUE(store.has_value()) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  JobRecord job(std::string id) {
    JobRecord r;
    r.job_id = std::move(id);
    r.model = "flux";
    r.request = R"({"prompt":"a fox"})";
    r.created = kT0;
    r.heard = kT0;
    return r;
  }

  static JobUpdate event(Status status, std::vector<std::string> outputs = {}) {
    JobUpdate u;
    u.provider_job_id = "pred-1";
    u.status = status;
    u.outputs = std::move(outputs);
    return u;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteJobStore> store_;
};

TEST_F(SqliteJobStoreTest, CreateIsIdempotentAndKeepsTheFirstRecord) {
  ASSERT_TRUE(store_->create(job("1")).has_value());
  auto second = job("1");
  second.request = "other";
  const auto found = store_->create(second);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->request, R"({"prompt":"a fox"})");
  const auto missing = store_->get("2");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
}

TEST_F(SqliteJobStoreTest, FindsAJobByItsProviderId) {
  ASSERT_TRUE(store_->create(job("1")).has_value());
  EXPECT_FALSE(store_->find_by_provider_job("flux", "").has_value());
  ASSERT_TRUE(store_->set_provider_job("1", "pred-1").has_value());
  const auto found = store_->find_by_provider_job("flux", "pred-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->job_id, "1");
  EXPECT_FALSE(store_->find_by_provider_job("other-model", "pred-1").has_value());
  EXPECT_EQ(store_->set_provider_job("9", "x").error().kind, ErrorKind::kNotFound);
}

TEST_F(SqliteJobStoreTest, ApplyMergesAndSaysWhenToDeliverUntilDelivered) {
  ASSERT_TRUE(store_->create(job("1")).has_value());
  auto started = store_->apply("1", event(Status::kProcessing), kT0 + seconds(1));
  ASSERT_TRUE(started.has_value());
  EXPECT_TRUE(started->changed);
  EXPECT_FALSE(started->deliver);
  const std::vector<std::string> outputs = {"https://p.example/0.png", "https://p.example/1.png"};
  auto done = store_->apply("1", event(Status::kSucceeded, outputs), kT0 + seconds(2));
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->changed);
  EXPECT_TRUE(done->deliver);
  EXPECT_EQ(done->record.state.outputs, outputs);
  // A redelivered completion changes nothing but still asks for delivery: the first one may
  // have been lost in a crash before its delivery task was sent.
  auto again = store_->apply("1", event(Status::kSucceeded, outputs), kT0 + seconds(3));
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->changed);
  EXPECT_TRUE(again->deliver);
  // A progress event that arrives after the end (webhooks out of order) delivers nothing.
  auto overtaken = store_->apply("1", event(Status::kProcessing), kT0 + seconds(3));
  ASSERT_TRUE(overtaken.has_value());
  EXPECT_FALSE(overtaken->deliver);
  EXPECT_EQ(store_->mark_delivered("1"), true);
  EXPECT_EQ(store_->mark_delivered("1"), false);
  auto late = store_->apply("1", event(Status::kProcessing), kT0 + seconds(4));
  ASSERT_TRUE(late.has_value());
  EXPECT_FALSE(late->changed);
  EXPECT_FALSE(late->deliver);
  EXPECT_EQ(late->record.state.status, Status::kSucceeded);
  EXPECT_EQ(store_->apply("9", event(Status::kProcessing), kT0).error().kind, ErrorKind::kNotFound);
}

TEST_F(SqliteJobStoreTest, WaitingListsJobsThatNeedAttentionOldestFirst) {
  for (int i = 1; i <= 4; ++i) {
    auto r = job(std::to_string(i));
    r.heard = kT0 + seconds(10 - i);  // "4" was heard from first
    ASSERT_TRUE(store_->create(r).has_value());
  }
  ASSERT_TRUE(store_->apply("2", event(Status::kFailed), kT0 + seconds(1)).has_value());
  ASSERT_TRUE(store_->mark_delivered("2").value_or(false));
  ASSERT_TRUE(store_->apply("3", event(Status::kSucceeded), kT0 + seconds(1)).has_value());
  // "3" is terminal but not delivered: it still waits (for its delivery).
  auto waiting = store_->waiting(kT0 + seconds(10), 10);
  ASSERT_TRUE(waiting.has_value());
  std::vector<std::string> ids;
  for (const auto& r : *waiting) ids.push_back(r.job_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"3", "4", "1"}));
  EXPECT_EQ(store_->waiting(kT0 + seconds(10), 1)->size(), 1u);
  EXPECT_TRUE(store_->waiting(kT0, 10)->empty());
}

TEST_F(SqliteJobStoreTest, EverythingSurvivesAReopen) {
  auto r = job("1");
  ASSERT_TRUE(store_->create(r).has_value());
  ASSERT_TRUE(store_->set_provider_job("1", "pred-1").has_value());
  auto update = event(Status::kStarting);
  update.queue_position = 3;
  ASSERT_TRUE(store_->apply("1", update, kT0 + seconds(5)).has_value());
  store_ = open();
  const auto back = store_->get("1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->provider_job_id, "pred-1");
  EXPECT_EQ(back->request, r.request);
  EXPECT_EQ(back->state.queue_position, 3);
  EXPECT_EQ(back->heard, kT0 + seconds(5));
  EXPECT_EQ(back->created, kT0);
}

TEST_F(SqliteJobStoreTest, ForgetsOnlyDeliveredJobsCreatedBefore) {
  ASSERT_TRUE(store_->create(job("1")).has_value());
  ASSERT_TRUE(store_->create(job("2")).has_value());
  ASSERT_TRUE(store_->apply("1", event(Status::kCanceled), kT0).has_value());
  ASSERT_TRUE(store_->mark_delivered("1").value_or(false));
  EXPECT_EQ(store_->forget_before(kT0), 0);
  EXPECT_EQ(store_->forget_before(kT0 + seconds(1)), 1);
  EXPECT_FALSE(store_->get("1").has_value());
  EXPECT_TRUE(store_->get("2").has_value());
}

const Clock::time_point kDay101 = Clock::time_point(std::chrono::days(101));

TEST_F(SqliteJobStoreTest, QuotaCountsEachJobOncePerUserAndGuildAndDay) {
  auto& store = store_;
  auto claim = [&](std::string job, std::string user, std::string guild, std::int64_t day) {
    return *store->claim_quota({std::move(job), std::move(user), std::move(guild), day, 2, 3});
  };
  EXPECT_EQ(claim("1", "alice", "g", 100), QuotaVerdict::kGranted);
  EXPECT_EQ(claim("1", "alice", "g", 100), QuotaVerdict::kGranted) << "a retry is not counted";
  EXPECT_EQ(claim("2", "alice", "g", 100), QuotaVerdict::kGranted);
  EXPECT_EQ(claim("3", "alice", "g", 100), QuotaVerdict::kUserSpent);
  EXPECT_EQ(claim("3", "alice", "g", 101), QuotaVerdict::kGranted) << "a new day";
  EXPECT_EQ(claim("4", "bob", "g", 100), QuotaVerdict::kGranted);
  EXPECT_EQ(claim("5", "carol", "g", 100), QuotaVerdict::kGuildSpent);
  EXPECT_EQ(claim("5", "carol", "", 100), QuotaVerdict::kGranted) << "a DM has no guild quota";

  ASSERT_TRUE(store->release_quota("2"));
  EXPECT_EQ(claim("6", "alice", "g2", 100), QuotaVerdict::kGranted) << "released";
  EXPECT_EQ(*store->claim_quota({"7", "alice", "", 100, 0, 0}), QuotaVerdict::kGranted)
      << "0: no quota";

  // Claims of days before the cut-off go with forget_before().
  ASSERT_TRUE(store->forget_before(kDay101));
  EXPECT_EQ(claim("8", "alice", "g", 100), QuotaVerdict::kGranted);
}

}  // namespace
}  // namespace mando::imagine
