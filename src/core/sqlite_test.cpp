#include "core/sqlite.hpp"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <unistd.h>

namespace mando::core::sqlite {
namespace {

constexpr const char* kSchema = "CREATE TABLE notes (name TEXT PRIMARY KEY, body BLOB NOT NULL);";

class SqliteTest : public ::testing::Test {
 protected:
  SqliteTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("mando-sqlite-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~SqliteTest() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Connection> open(bool writer = true) {
    auto c = Connection::open({.path = dir_ / "test.sqlite3", .writer = writer});
    EXPECT_TRUE(c.has_value()) << c.error().message;
    return c ? std::move(*c) : nullptr;
  }

  std::filesystem::path dir_;
};

TEST_F(SqliteTest, MigrateCreatesTheSchemaOnceAndRefusesANewerDatabase) {
  auto c = open();
  ASSERT_TRUE(migrate(*c, "note store", 1, kSchema).has_value());
  ASSERT_TRUE(migrate(*c, "note store", 1, kSchema).has_value());  // already there: nothing runs
  const auto older = migrate(*c, "note store", 0, kSchema);
  ASSERT_FALSE(older.has_value());
  EXPECT_EQ(older.error().kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(older.error().message.find("the note store has schema version 1"), std::string::npos)
      << older.error().message;
  EXPECT_FALSE(c->in_transaction());  // the failed migration rolled back
}

TEST_F(SqliteTest, BindsAndReadsTextBlobsAndNulls) {
  auto c = open();
  ASSERT_TRUE(migrate(*c, "note store", 1, kSchema).has_value());
  const std::string bytes("a\0b", 3);
  ASSERT_TRUE(c->prepare("INSERT INTO notes VALUES (?, ?)").bind("one", Blob{bytes}).run());
  ASSERT_TRUE(c->prepare("INSERT INTO notes VALUES (?, ?)").bind("empty", Blob{""}).run());
  EXPECT_EQ(c->changes(), 1);
  auto st = c->prepare("SELECT body, length(body), NULL FROM notes WHERE name = ?");
  auto row = st.bind(std::string("one")).step();
  ASSERT_TRUE(row.has_value() && *row);
  EXPECT_EQ(st.text(0), bytes);
  EXPECT_EQ(st.int64(1), 3);
  EXPECT_TRUE(st.is_null(2));
  EXPECT_EQ(st.optional_int64(2), std::nullopt);
  auto empty = c->prepare("SELECT typeof(body) FROM notes WHERE name = 'empty'");
  ASSERT_TRUE(empty.step().value_or(false));
  EXPECT_EQ(empty.text(0), "blob");  // an empty BLOB, not NULL
}

TEST_F(SqliteTest, ResultCodesBecomeErrorKinds) {
  auto c = open();
  ASSERT_TRUE(migrate(*c, "note store", 1, kSchema).has_value());
  ASSERT_TRUE(c->prepare("INSERT INTO notes VALUES ('x', x'00')").run());
  const auto twice = c->prepare("INSERT INTO notes VALUES ('x', x'00')").run();
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().kind, ErrorKind::kAlreadyExists);
  const auto bad = c->prepare("SELECT FROM nowhere").run();
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ErrorKind::kInternal);

  auto reader = open(false);
  const auto read_only = reader->prepare("DELETE FROM notes").run();
  ASSERT_FALSE(read_only.has_value());
  EXPECT_EQ(read_only.error().kind, ErrorKind::kUnavailable);
  const auto missing = Connection::open({.path = dir_ / "absent" / "x.sqlite3"});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace mando::core::sqlite
