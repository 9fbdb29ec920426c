// The queue on PostgreSQL end to end (issue 14): the real `mando` against a throwaway cluster
// this test starts (support/postgres_cluster.hpp) and the Discord emulator. `mando db migrate`
// prepares the schema, `mando serve` refuses a database it was not migrated for, and /mando
// goes through tasks stored in PostgreSQL, in one process and split over processes that share
// the database with no [queue] url between them.

#include <map>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/postgres.hpp"
#include "support/bot_e2e_fixture.hpp"
#include "support/postgres_cluster.hpp"
#include "support/process.hpp"

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

}  // namespace
}  // namespace mando::testing
