// What only the PostgreSQL store has: migrations and the schema check, the database's clock,
// several processes (pools) sharing one database, and a server that goes away and comes back.
// What every store promises is in task_store_conformance_test.cpp.

#include "queue/postgres_task_store.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/postgres_cluster.hpp"
#include "support/task_store_cases.hpp"

namespace mando::queue {
namespace {

using namespace std::chrono_literals;
using namespace testing::store_cases;

std::unique_ptr<core::pg::Connection> connect(const std::string& url) {
  auto c = core::pg::Connection::open({.url = url});
  EXPECT_TRUE(c) << c.error().message;
  return c ? std::move(*c) : nullptr;
}

Result<std::vector<int>> migrate(const std::string& url) {
  auto c = connect(url);
  if (!c) return fail(ErrorKind::kUnavailable, "no connection");
  return core::pg::migrate(*c, PostgresTaskStore::kComponent, PostgresTaskStore::migrations());
}

PostgresOptions options_for(const std::string& url) {
  PostgresOptions options;
  options.pool.connect.url = url;
  return options;
}

TEST(PostgresTaskStoreOpen, OpenAsksForMigrateThenMigrateIsIdempotentAndNewerIsRefused) {
  testing::PostgresCluster cluster;
  auto unmigrated = PostgresTaskStore::open(options_for(cluster.url()));
  ASSERT_FALSE(unmigrated);
  EXPECT_EQ(unmigrated.error().kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(unmigrated.error().message.find("mando db migrate"), std::string::npos)
      << unmigrated.error().message;

  auto first = migrate(cluster.url());
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, (std::vector<int>{1, 2}));
  auto again = migrate(cluster.url());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->empty()) << "nothing left to apply";
  ASSERT_TRUE(PostgresTaskStore::open(options_for(cluster.url())));

  // What a newer mando would leave behind.
  auto c = connect(cluster.url());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->exec_script(
      "INSERT INTO mando_schema (component, version, description) VALUES ('queue', 99, 'x')"));
  auto newer = PostgresTaskStore::open(options_for(cluster.url()));
  ASSERT_FALSE(newer);
  EXPECT_EQ(newer.error().kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(newer.error().message.find("newer"), std::string::npos) << newer.error().message;
  auto refused = migrate(cluster.url());
  ASSERT_FALSE(refused) << "migrations never go backwards";
  EXPECT_EQ(refused.error().kind, ErrorKind::kFailedPrecondition);
}

TEST(PostgresTaskStoreOpen, MigratorsRacingApplyEachStepOnce) {
  testing::PostgresCluster cluster;
  constexpr int kMigrators = 6;
  std::atomic<int> applied{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&] {
      auto steps = migrate(cluster.url());
      if (!steps) {
        ++failed;
        return;
      }
      applied += static_cast<int>(steps->size());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(applied.load(), 2) << "each step applied by exactly one of them";
}

class PostgresTaskStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto migrated = migrate(cluster_.url());
    ASSERT_TRUE(migrated) << migrated.error().message;
    store_ = open();
    ASSERT_TRUE(store_);
    ASSERT_TRUE(store_->create_queue(make_queue(queue_name())));
  }

  // Another process's store on the same database: a pool of its own.
  std::unique_ptr<PostgresTaskStore> open(PostgresOptions options = {}) {
    options.pool.connect.url = cluster_.url();
    auto store = PostgresTaskStore::open(options);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  testing::PostgresCluster cluster_;
  std::unique_ptr<PostgresTaskStore> store_;
};

TEST_F(PostgresTaskStoreTest, NowIsTheDatabaseClockWhateverThisMachineSays) {
  // A node whose clock runs an hour ahead still reads the database's time.
  PostgresOptions skewed;
  skewed.local_clock = [] { return queue::now() + 1h; };
  auto store = open(skewed);
  ASSERT_TRUE(store);
  const auto offset = store->clock_offset();
  EXPECT_LT(std::chrono::abs(offset + 1h), 1s) << "offset " << offset.count() << " us";
  EXPECT_LT(std::chrono::abs(store->now() - queue::now()), 1s);
}

TEST_F(PostgresTaskStoreTest, TwoNodesLeasingAtOnceNeverTakeTheSameTask) {
  constexpr int kTasks = 2000;
  {
    std::vector<std::thread> creators;
    for (int t = 0; t < 8; ++t) {
      creators.emplace_back([&, t] {
        for (int i = t; i < kTasks; i += 8) {
          EXPECT_TRUE(store_->create_task(make_task(fmt::format("t{:04}", i)), kWindow, kT0));
        }
      });
    }
    for (auto& t : creators) t.join();
  }
  auto other = open();
  ASSERT_TRUE(other);
  std::mutex mutex;
  std::multiset<std::string> leased;
  std::vector<std::thread> leasers;
  for (TaskStore* node :
       {static_cast<TaskStore*>(store_.get()), static_cast<TaskStore*>(other.get())}) {
    for (int t = 0; t < 4; ++t) {
      leasers.emplace_back([&, node] {
        // Bounded: every round leases at least one task until none is left.
        for (int round = 0; round < kTasks; ++round) {
          auto batch = node->lease_due(queue_name(), kT0, 25, kMargin);
          ASSERT_TRUE(batch) << batch.error().message;
          if (batch->empty()) return;
          std::lock_guard lock(mutex);
          for (const auto& task : *batch) leased.insert(task.name.task);
        }
      });
    }
  }
  for (auto& t : leasers) t.join();
  EXPECT_EQ(leased.size(), static_cast<std::size_t>(kTasks));
  EXPECT_EQ(std::set<std::string>(leased.begin(), leased.end()).size(),
            static_cast<std::size_t>(kTasks))
      << "a task leased twice";
}

TEST_F(PostgresTaskStoreTest, CreatesOfOneNameOnTwoNodesLetExactlyOneWin) {
  auto other = open();
  ASSERT_TRUE(other);
  constexpr int kNames = 200;
  std::atomic<int> created{0}, refused{0}, errors{0};
  std::vector<std::thread> threads;
  for (TaskStore* node :
       {static_cast<TaskStore*>(store_.get()), static_cast<TaskStore*>(other.get())}) {
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, node] {
        for (int i = 0; i < kNames; ++i) {
          auto r = node->create_task(make_task(fmt::format("n{}", i)), kWindow, kT0);
          if (r) {
            ++created;
          } else if (r.error().kind == ErrorKind::kAlreadyExists) {
            ++refused;
          } else {
            ++errors;
          }
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(created.load(), kNames);
  EXPECT_EQ(refused.load(), 5 * kNames);
}

TEST_F(PostgresTaskStoreTest, AServerRestartIsUnavailableMeanwhileAndInvisibleAfter) {
  ASSERT_TRUE(store_->create_task(make_task("before"), kWindow, kT0));
  cluster_.stop();
  auto down = store_->get_task(task_name("before"));
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, ErrorKind::kUnavailable) << down.error().message;
  cluster_.start();
  // The pool's idle connections died with the old server; the next call opens a fresh one.
  auto back = store_->get_task(task_name("before"));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(store_->create_task(make_task("after"), kWindow, kT0));
}

TEST_F(PostgresTaskStoreTest, OneLeaderPerQueueAndADeposedOneLeasesNothing) {
  auto other = open();
  ASSERT_TRUE(other);
  ASSERT_TRUE(store_->create_task(make_task("due"), kWindow, kT0));
  auto a = store_->claim_leadership(queue_name(), "node-a", 1h);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(*a);
  EXPECT_EQ((*a)->epoch, 1);
  auto b = other->claim_leadership(queue_name(), "node-b", 1h);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(*b) << "node-a's term lasts";
  EXPECT_TRUE(other->lease_due(queue_name(), kT0, 10, kMargin)->empty())
      << "a node that does not lead leases nothing";
  auto renewed = store_->claim_leadership(queue_name(), "node-a", 1h);
  ASSERT_TRUE(renewed && *renewed);
  EXPECT_EQ((*renewed)->epoch, 1) << "a renewal keeps the epoch";

  // node-a's term runs out (a ttl of zero ends it now): node-b takes over with a new epoch,
  // and node-a, which has not noticed, leases nothing.
  ASSERT_TRUE(store_->claim_leadership(queue_name(), "node-a", 0us));
  auto taken = other->claim_leadership(queue_name(), "node-b", 1h);
  ASSERT_TRUE(taken && *taken) << (taken ? "refused" : taken.error().message);
  EXPECT_EQ((*taken)->epoch, 2);
  EXPECT_TRUE(store_->lease_due(queue_name(), kT0, 10, kMargin)->empty()) << "fenced";
  auto leased = other->lease_due(queue_name(), kT0, 10, kMargin);
  ASSERT_TRUE(leased) << leased.error().message;
  EXPECT_EQ(leased->size(), 1u);

  // A clean shutdown hands the queue over at once.
  other->resign_leadership("node-b");
  auto back = store_->claim_leadership(queue_name(), "node-a", 1h);
  ASSERT_TRUE(back && *back);
  EXPECT_EQ((*back)->epoch, 3);
}

TEST_F(PostgresTaskStoreTest, WatchersHearOfTasksAndQueuesOtherProcessesChange) {
  auto other = open();
  ASSERT_TRUE(other);
  std::mutex mutex;
  std::condition_variable heard_cv;
  std::vector<TaskStore::Change> heard;
  other->watch([&](const TaskStore::Change& change) {
    std::lock_guard lock(mutex);
    heard.push_back(change);
    heard_cv.notify_all();
  });
  auto wait_for = [&](TaskStore::Change::Kind kind, const std::string& queue) {
    std::unique_lock lock(mutex);
    return heard_cv.wait_for(lock, 30s, [&] {
      return std::any_of(heard.begin(), heard.end(),
                         [&](const auto& c) { return c.kind == kind && c.queue == queue; });
    });
  };
  // watch() returns once subscribed: what happens from here on is heard.
  ASSERT_TRUE(store_->create_task(make_task("t"), kWindow, kT0));
  EXPECT_TRUE(wait_for(TaskStore::Change::Kind::kTask, queue_name().full()));
  auto paused = make_queue(queue_name());
  paused.state = QueueState::kPaused;
  ASSERT_TRUE(store_->update_queue(paused));
  EXPECT_TRUE(wait_for(TaskStore::Change::Kind::kQueue, queue_name().full()));
}

TEST(PostgresTaskStoreOpen, AnUnreachableServerIsUnavailableWithLibpqsWords) {
  PostgresOptions options;
  options.pool.connect.url = "host=/nonexistent-dir dbname=mando user=mando";
  auto store = PostgresTaskStore::open(options);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(store.error().message.find("cannot connect"), std::string::npos)
      << store.error().message;
}

}  // namespace
}  // namespace mando::queue
