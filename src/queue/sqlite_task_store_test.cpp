// What only the SQLite store has: the exclusive claim of a dispatcher, its schema version in
// the file, and paths it cannot use. What every store promises is in
// task_store_conformance_test.cpp.

#include "queue/sqlite_task_store.hpp"

#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"
#include <sqlite3.h>

namespace mando::queue {
namespace {

using testing::TempDir;

SqliteOptions options_at(std::filesystem::path path) {
  SqliteOptions options;
  options.path = std::move(path);
  return options;
}

TEST(SqliteTaskStoreOpenTest, AnExclusiveStoreRefusesASecondOwnerButNotAMaintenanceOpen) {
  TempDir dir;
  auto options = options_at(dir.path() / "queue.sqlite3");
  options.exclusive = true;
  auto first = SqliteTaskStore::open(options);
  ASSERT_TRUE(first) << first.error().message;
  auto second = SqliteTaskStore::open(options);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(second.error().message.find("another mando dispatches from this store"),
            std::string::npos)
      << second.error().message;
  options.exclusive = false;  // `mando queues reset-dedup` while a dispatcher runs
  auto maintenance = SqliteTaskStore::open(options);
  ASSERT_TRUE(maintenance) << maintenance.error().message;
  EXPECT_TRUE((*maintenance)->reset_deduplication());
  first->reset();
  options.exclusive = true;
  EXPECT_TRUE(SqliteTaskStore::open(options)) << "the lock goes with its owner";
}

TEST(SqliteTaskStoreOpenTest, RefusesANewerSchema) {
  TempDir dir;
  const auto options = options_at(dir.path() / "queue.sqlite3");
  ASSERT_TRUE(SqliteTaskStore::open(options));
  // What a future mando would leave behind: a higher user_version.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto refused = SqliteTaskStore::open(options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("99"), std::string::npos) << refused.error().message;
}

TEST(SqliteTaskStoreOpenTest, ReportsAnUnusablePath) {
  TempDir dir;
  const auto file = dir.path() / "file";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    std::fclose(f);
  }
  auto store = SqliteTaskStore::open(options_at(file / "sub" / "queue.sqlite3"));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace mando::queue
