#pragma once
// The thin layer over SQLite 3 that mando's embedded stores share (the task store, the
// /imagine job store): opening a connection with mando's pragmas, cached prepared statements
// with typed binds, result codes turned into Errors once, and versioned schemas.
//
// A Connection is used by one thread at a time (SQLITE_OPEN_NOMUTEX); stores decide how
// threads share connections (see queue/sqlite_task_store.hpp's group commit).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "core/error.hpp"
#include <sqlite3.h>

namespace mando::core::sqlite {

// The one place SQLite result codes become Errors: I/O, busy and full as kUnavailable, unique
// and primary-key violations as kAlreadyExists, too big as kResourceExhausted.
Error error(sqlite3* db, int rc, std::string_view what);

// Bytes bound as a BLOB rather than TEXT.
struct Blob {
  std::string_view bytes;
};

// One use of a cached prepared statement: binds parameters in order, steps, reads columns, and
// resets the statement when it goes away so the connection holds no snapshot or lock. A failed
// prepare or bind is reported by the next step().
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt, int rc) : db_(db), stmt_(stmt), rc_(rc) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  template <typename... Args>
  Statement& bind(const Args&... args) {
    (bind_one(args), ...);
    return *this;
  }

  // true: a row is ready to read; false: the statement is done.
  Result<bool> step();
  // Steps to the end, for statements whose rows do not matter.
  Result<void> run();

  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::optional<std::int64_t> optional_int64(int col) const {
    if (is_null(col)) return std::nullopt;
    return int64(col);
  }
  // TEXT or BLOB, without conversion; empty for NULL.
  std::string text(int col) const;

 private:
  template <typename T>
  void bind_one(const T& value) {
    const int index = next_++;
    int rc = SQLITE_OK;
    if constexpr (std::is_same_v<T, std::nullopt_t>) {
      rc = sqlite3_bind_null(stmt_, index);
    } else if constexpr (std::is_same_v<T, std::optional<std::int64_t>>) {
      rc = value ? sqlite3_bind_int64(stmt_, index, *value) : sqlite3_bind_null(stmt_, index);
    } else if constexpr (std::is_same_v<T, Blob>) {
      // A non-null pointer, even for zero bytes, so an empty body is a BLOB and not NULL.
      rc = sqlite3_bind_blob64(stmt_, index, value.bytes.empty() ? "" : value.bytes.data(),
                               value.bytes.size(), SQLITE_TRANSIENT);
    } else if constexpr (std::is_floating_point_v<T>) {
      rc = sqlite3_bind_double(stmt_, index, value);
    } else if constexpr (std::is_integral_v<T>) {
      rc = sqlite3_bind_int64(stmt_, index, value);
    } else {
      std::string_view text(value);
      rc = sqlite3_bind_text64(stmt_, index, text.empty() ? "" : text.data(), text.size(),
                               SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    if (rc != SQLITE_OK && rc_ == SQLITE_OK) rc_ = rc;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int rc_;
  int next_ = 1;
};

struct OpenOptions {
  std::filesystem::path path;
  bool writer = true;  // read-write and created when missing; false: read-only
  // Every commit synced before it returns (FULL), or only at checkpoints (NORMAL: survives a
  // process crash, not a power cut). Writers only.
  bool synchronous_full = true;
  // How long a connection waits for a lock another connection holds before kUnavailable.
  std::chrono::milliseconds busy_timeout{std::chrono::seconds(5)};
  int cache_kib = 8 * 1024;  // page cache of this connection
};

// A SQLite connection and its prepared statements. Writers run in WAL mode, so readers on other
// connections see the last commit without waiting.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const OpenOptions& options);

  // The cached prepared statement for `sql`, ready to bind.
  Statement prepare(std::string_view sql);
  Result<void> exec(std::string_view sql) { return prepare(sql).run(); }
  // Runs several statements at once (schema, pragmas); not cached.
  Result<void> exec_script(const char* sql);

  std::int64_t changes() const { return sqlite3_changes64(db_.get()); }
  bool in_transaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  // Transparent lookup by string_view.
  struct Hash : std::hash<std::string_view> {
    using is_transparent = void;
  };

  explicit Connection(sqlite3* db) : db_(db) {}

  std::unique_ptr<sqlite3, Closer> db_;  // declared first: the statements die before it
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, Finalizer>, Hash, std::equal_to<>>
      cache_;
};

// Brings the database to schema `version` (PRAGMA user_version) in one immediate transaction:
// nothing to do at `version`, `schema` run on a new (version 0) database, and kFailedPrecondition
// naming `what` for a database newer than this build understands.
Result<void> migrate(Connection& c, std::string_view what, int version, const char* schema);

}  // namespace mando::core::sqlite
