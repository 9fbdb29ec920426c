// The queue on PostgreSQL end to end (issue 14): the real `mando` against a throwaway cluster
// this test starts (support/postgres_cluster.hpp) and the Discord emulator. `mando db migrate`
// prepares the schema, `mando serve` refuses a database it was not migrated for, and /mando
// goes through tasks stored in PostgreSQL, in one process and split over processes that share
// the database with no [queue] url between them.

#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/postgres.hpp"
#include "support/bot_e2e_fixture.hpp"
#include "support/postgres_cluster.hpp"
#include "support/process.hpp"
#include <signal.h>

namespace mando::testing {
namespace {

using namespace std::chrono_literals;

class PostgresE2eTest : public BotE2eFixture {
 protected:
  PostgresE2eTest()
      : BotE2eFixture(R"(
[cpu]
threads = 2
[queue]
backend = "postgres"
[queues.create-image]
min_backoff = "100ms"
[queues.reply-discord]
min_backoff = "100ms"
)") {}

  std::map<std::string, std::string> env() const {
    return {{"MANDO_DATABASE_URL", cluster_.url()},
            {"MANDO_DATA_DIR", (dir_.path() / "data").string()}};
  }

  ProcessResult db(const std::string& action) {
    return run({MANDO_BINARY, "db", action, "--config", (dir_.path() / "mando.toml").string()},
               env());
  }

  // How many tasks of `queue` completed (their tombstones) in the database.
  std::int64_t completed(const std::string& queue) {
    auto c = core::pg::Connection::open({.url = cluster_.url()});
    EXPECT_TRUE(c) << c.error().message;
    if (!c) return -1;
    auto rows = (*c)->exec(
        "SELECT count(*) FROM mando_tasks t JOIN mando_queues q ON q.id = t.queue_id "
        "WHERE t.state = 3 AND q.name LIKE '%/queues/' || $1",
        queue);
    EXPECT_TRUE(rows) << rows.error().message;
    return rows ? rows->int64(0, 0) : -1;
  }

  PostgresCluster cluster_;
};

TEST_F(PostgresE2eTest, MigrateThenServeRendersMandalasThroughTasksInPostgres) {
  auto status = db("status");
  EXPECT_EQ(status.exit_code, 1);
  EXPECT_NE(status.out.find("queue: version 0 of 2 (run `mando db migrate`)"), std::string::npos)
      << status.out << status.err;
  EXPECT_NE(status.out.find("imagine: version 0 of 1"), std::string::npos) << status.out;

  // Not migrated: serve says what to run, and does not start.
  auto refused = run({MANDO_BINARY, "serve", "--config", (dir_.path() / "mando.toml").string(),
                      "--listen", "127.0.0.1:0"},
                     env(), {}, 60s);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("mando db migrate"), std::string::npos) << refused.err;

  auto migrated = db("migrate");
  ASSERT_EQ(migrated.exit_code, 0) << migrated.err;
  EXPECT_NE(migrated.out.find("queue: applied 1, 2"), std::string::npos) << migrated.out;
  auto again = db("migrate");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to apply"), std::string::npos) << again.out;
  EXPECT_EQ(db("status").exit_code, 0);

  start_bot(env());
  for (int i = 0; i < 3; ++i) {
    auto sent = command(fmt::format("/mando size:64 seed:{}", i + 1));
    ASSERT_TRUE(sent.message_id);
    auto message = finished(*sent.message_id);
    EXPECT_FALSE(attachment(message).empty()) << "the mandala";
  }
  EXPECT_EQ(completed("create-image"), 3);
  EXPECT_GE(completed("reply-discord"), 3);
}

TEST_F(PostgresE2eTest, AnIngressProcessNeedsNoQueueUrlWhenTheStoreIsShared) {
  ASSERT_EQ(db("migrate").exit_code, 0);
  auto backend = env();
  start_mando({"serve", "--role", "worker,dispatcher"}, backend);
  // The ingress writes its tasks into the database; the dispatcher elsewhere finds them.
  urls_ = start_mando({"serve", "--role", "ingress"}, backend);
  ASSERT_FALSE(urls_.url.empty());
  emulator().set_bot_url(urls_.url + "/interactions");
  auto sent = command("/mando size:64");
  ASSERT_TRUE(sent.message_id);
  auto message = finished(*sent.message_id);
  EXPECT_FALSE(attachment(message).empty());
  EXPECT_EQ(completed("create-image"), 1);
}

// Two dispatchers (each also a worker) and an ingress share the database. The leader of
// create-image is killed with renders in flight: the other takes the queue over within 5 s
// (measured in the database's own clock, from the kill to the new epoch), hands the dead
// leader's leases back, and every interaction sent before and after ends in its mandala.
TEST_F(PostgresE2eTest, KillingTheLeaderHandsItsQueueToTheOtherDispatcherWithin5s) {
  ASSERT_EQ(db("migrate").exit_code, 0);
  const auto backend = env();
  ASSERT_FALSE(start_mando({"serve", "--role", "worker,dispatcher"}, backend).url.empty());
  ASSERT_FALSE(start_mando({"serve", "--role", "worker,dispatcher"}, backend).url.empty());
  urls_ = start_mando({"serve", "--role", "ingress"}, backend);
  ASSERT_FALSE(urls_.url.empty());
  emulator().set_bot_url(urls_.url + "/interactions");
  auto first = command("/mando size:64");
  ASSERT_TRUE(first.message_id);
  finished(*first.message_id);

  auto c = core::pg::Connection::open({.url = cluster_.url()});
  ASSERT_TRUE(c) << c.error().message;
  auto leader = [&] {
    auto rows = (*c)->exec(
        "SELECT l.node, l.epoch, l.taken, (extract(epoch FROM clock_timestamp()) * 1000000)"
        "::bigint FROM mando_leaders l JOIN mando_queues q ON q.id = l.queue_id "
        "WHERE q.name LIKE '%/queues/create-image'");
    EXPECT_TRUE(rows && rows->size() == 1);
    struct Leader {
      std::string node;
      std::int64_t epoch = 0, taken = 0, now = 0;
    };
    if (!rows || rows->size() != 1) return Leader{};
    return Leader{rows->text(0, 0), rows->int64(0, 1), rows->int64(0, 2), rows->int64(0, 3)};
  };
  const auto before = leader();
  Process* dead = nullptr;
  Process* survivor = nullptr;
  for (int i = 0; i < 2; ++i) {
    const bool leads =
        before.node.find(fmt::format(":{}:", processes_[i]->pid())) != std::string::npos;
    (leads ? dead : survivor) = processes_[i].get();
  }
  ASSERT_TRUE(dead && survivor) << "leader node " << before.node;

  std::vector<emulator::SentInteraction> sent;
  for (int i = 0; i < 4; ++i) sent.push_back(command(fmt::format("/mando size:1024 seed:{}", i)));
  dead->signal(SIGKILL);
  const std::int64_t killed_at = leader().now;
  for (int i = 0; i < 4; ++i) sent.push_back(command(fmt::format("/mando size:64 seed:{}", i)));
  for (const auto& s : sent) {
    ASSERT_TRUE(s.message_id);
    EXPECT_FALSE(attachment(finished(*s.message_id)).empty());
  }
  const auto after = leader();
  EXPECT_NE(after.node.find(fmt::format(":{}:", survivor->pid())), std::string::npos) << after.node;
  EXPECT_EQ(after.epoch, before.epoch + 1);
  const double failover_s = static_cast<double>(after.taken - killed_at) / 1e6;
  std::printf("[ measured ] leader of create-image replaced %.3f s after kill -9\n", failover_s);
  EXPECT_LT(failover_s, 5.0);
  EXPECT_EQ(completed("create-image"), 9) << "each interaction rendered to the end once";
}

}  // namespace
}  // namespace mando::testing
