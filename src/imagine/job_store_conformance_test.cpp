// The JobStore conformance suite: every case runs over each store (SQLite in a temp dir,
// PostgreSQL in a throwaway cluster of its own), so both keep the promises of job_store.hpp.
// What only the shared store has (several processes at once) follows at the end.

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "imagine/postgres_job_store.hpp"
#include "imagine/sqlite_job_store.hpp"
#include "support/postgres_cluster.hpp"
#include "support/temp_dir.hpp"

namespace mando::imagine {
namespace {

using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(std::chrono::hours(500'000));

struct SqliteJobs {
  testing::TempDir dir;
  std::unique_ptr<JobStore> open() {
    auto store = SqliteJobStore::open(dir.path() / "nested" / "imagine.sqlite3");
    EXPECT_TRUE(store.has_value()) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
};

core::pg::PoolOptions pool_for(const std::string& url) {
  core::pg::PoolOptions options;
  options.connect.url = url;
  return options;
}

struct PostgresJobs {
  PostgresJobs() {
    auto c = core::pg::Connection::open({.url = cluster.url()});
    EXPECT_TRUE(c) << c.error().message;
    if (!c) return;
    auto migrated =
        core::pg::migrate(**c, PostgresJobStore::kComponent, PostgresJobStore::migrations());
    EXPECT_TRUE(migrated) << migrated.error().message;
  }
  std::unique_ptr<JobStore> open() {
    auto store = PostgresJobStore::open(pool_for(cluster.url()));
    EXPECT_TRUE(store.has_value()) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  testing::PostgresCluster cluster;
};

template <typename Backend>
class JobStoreConformance : public ::testing::Test {
 protected:
  JobStoreConformance() { store_ = backend_.open(); }

  void reopen() {
    store_.reset();
    store_ = backend_.open();
    ASSERT_TRUE(store_);
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

  Backend backend_;
  std::unique_ptr<JobStore> store_;
};

struct BackendNames {
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, SqliteJobs> ? "Sqlite" : "Postgres";
  }
};
using Backends = ::testing::Types<SqliteJobs, PostgresJobs>;
TYPED_TEST_SUITE(JobStoreConformance, Backends, BackendNames);

TYPED_TEST(JobStoreConformance, CreateIsIdempotentAndKeepsTheFirstRecord) {
  ASSERT_TRUE(this->store_->create(this->job("1")).has_value());
  auto second = this->job("1");
  second.request = "other";
  const auto found = this->store_->create(second);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->request, R"({"prompt":"a fox"})");
  const auto missing = this->store_->get("2");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
}

TYPED_TEST(JobStoreConformance, FindsAJobByItsProviderId) {
  ASSERT_TRUE(this->store_->create(this->job("1")).has_value());
  EXPECT_FALSE(this->store_->find_by_provider_job("flux", "").has_value());
  ASSERT_TRUE(this->store_->set_provider_job("1", "pred-1").has_value());
  const auto found = this->store_->find_by_provider_job("flux", "pred-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->job_id, "1");
  EXPECT_FALSE(this->store_->find_by_provider_job("other-model", "pred-1").has_value());
  EXPECT_EQ(this->store_->set_provider_job("9", "x").error().kind, ErrorKind::kNotFound);
}

TYPED_TEST(JobStoreConformance, ApplyMergesAndSaysWhenToDeliverUntilDelivered) {
  ASSERT_TRUE(this->store_->create(this->job("1")).has_value());
  auto started = this->store_->apply("1", this->event(Status::kProcessing), kT0 + seconds(1));
  ASSERT_TRUE(started.has_value());
  EXPECT_TRUE(started->changed);
  EXPECT_FALSE(started->deliver);
  const std::vector<std::string> outputs = {"https://p.example/0.png", "https://p.example/1.png"};
  auto done = this->store_->apply("1", this->event(Status::kSucceeded, outputs), kT0 + seconds(2));
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->changed);
  EXPECT_TRUE(done->deliver);
  EXPECT_EQ(done->record.state.outputs, outputs);
  // A redelivered completion changes nothing but still asks for delivery: the first one may
  // have been lost in a crash before its delivery task was sent.
  auto again = this->store_->apply("1", this->event(Status::kSucceeded, outputs), kT0 + seconds(3));
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->changed);
  EXPECT_TRUE(again->deliver);
  // A progress event that arrives after the end (webhooks out of order) delivers nothing.
  auto overtaken = this->store_->apply("1", this->event(Status::kProcessing), kT0 + seconds(3));
  ASSERT_TRUE(overtaken.has_value());
  EXPECT_FALSE(overtaken->deliver);
  EXPECT_EQ(this->store_->mark_delivered("1"), true);
  EXPECT_EQ(this->store_->mark_delivered("1"), false);
  auto late = this->store_->apply("1", this->event(Status::kProcessing), kT0 + seconds(4));
  ASSERT_TRUE(late.has_value());
  EXPECT_FALSE(late->changed);
  EXPECT_FALSE(late->deliver);
  EXPECT_EQ(late->record.state.status, Status::kSucceeded);
  EXPECT_EQ(this->store_->apply("9", this->event(Status::kProcessing), kT0).error().kind,
            ErrorKind::kNotFound);
}

TYPED_TEST(JobStoreConformance, WaitingListsJobsThatNeedAttentionOldestFirst) {
  for (int i = 1; i <= 4; ++i) {
    auto r = this->job(std::to_string(i));
    r.heard = kT0 + seconds(10 - i);  // "4" was heard from first
    ASSERT_TRUE(this->store_->create(r).has_value());
  }
  ASSERT_TRUE(this->store_->apply("2", this->event(Status::kFailed), kT0 + seconds(1)).has_value());
  ASSERT_TRUE(this->store_->mark_delivered("2").value_or(false));
  ASSERT_TRUE(
      this->store_->apply("3", this->event(Status::kSucceeded), kT0 + seconds(1)).has_value());
  // "3" is terminal but not delivered: it still waits (for its delivery).
  auto waiting = this->store_->waiting(kT0 + seconds(10), 10);
  ASSERT_TRUE(waiting.has_value());
  std::vector<std::string> ids;
  for (const auto& r : *waiting) ids.push_back(r.job_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"3", "4", "1"}));
  EXPECT_EQ(this->store_->waiting(kT0 + seconds(10), 1)->size(), 1u);
  EXPECT_TRUE(this->store_->waiting(kT0, 10)->empty());
}

TYPED_TEST(JobStoreConformance, EverythingSurvivesAReopen) {
  auto r = this->job("1");
  ASSERT_TRUE(this->store_->create(r).has_value());
  ASSERT_TRUE(this->store_->set_provider_job("1", "pred-1").has_value());
  auto update = this->event(Status::kStarting);
  update.queue_position = 3;
  ASSERT_TRUE(this->store_->apply("1", update, kT0 + seconds(5)).has_value());
  this->reopen();
  const auto back = this->store_->get("1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->provider_job_id, "pred-1");
  EXPECT_EQ(back->request, r.request);
  EXPECT_EQ(back->state.queue_position, 3);
  EXPECT_EQ(back->heard, kT0 + seconds(5));
  EXPECT_EQ(back->created, kT0);
}

TYPED_TEST(JobStoreConformance, ForgetsOnlyDeliveredJobsCreatedBefore) {
  ASSERT_TRUE(this->store_->create(this->job("1")).has_value());
  ASSERT_TRUE(this->store_->create(this->job("2")).has_value());
  ASSERT_TRUE(this->store_->apply("1", this->event(Status::kCanceled), kT0).has_value());
  ASSERT_TRUE(this->store_->mark_delivered("1").value_or(false));
  EXPECT_EQ(this->store_->forget_before(kT0), 0);
  EXPECT_EQ(this->store_->forget_before(kT0 + seconds(1)), 1);
  EXPECT_FALSE(this->store_->get("1").has_value());
  EXPECT_TRUE(this->store_->get("2").has_value());
}

const Clock::time_point kDay101 = Clock::time_point(std::chrono::days(101));

TYPED_TEST(JobStoreConformance, QuotaCountsEachJobOncePerUserAndGuildAndDay) {
  auto& store = this->store_;
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

// Ingress processes on several machines claim for one user at once: the quota holds.
TEST(PostgresJobStoreTest, QuotaClaimsRacingOnTwoProcessesGrantExactlyTheQuota) {
  PostgresJobs backend;
  auto first = backend.open();
  auto second = backend.open();
  ASSERT_TRUE(first && second);
  constexpr int kPerUser = 5;
  std::atomic<int> granted{0}, spent{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      JobStore& store = t % 2 == 0 ? *first : *second;
      for (int i = 0; i < 5; ++i) {
        auto verdict =
            store.claim_quota({std::to_string(t * 100 + i), "alice", "g", 100, kPerUser, 0});
        if (!verdict) {
          ++errors;
        } else if (*verdict == QuotaVerdict::kGranted) {
          ++granted;
        } else {
          ++spent;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(granted.load(), kPerUser);
  EXPECT_EQ(spent.load(), 40 - kPerUser);
}

TEST(PostgresJobStoreTest, OpenAsksForMigrate) {
  testing::PostgresCluster cluster;
  auto store = PostgresJobStore::open(pool_for(cluster.url()));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(store.error().message.find("mando db migrate"), std::string::npos)
      << store.error().message;
}

}  // namespace
}  // namespace mando::imagine
