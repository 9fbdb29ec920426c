#include "core/sqlite.hpp"

#include <fmt/format.h>

namespace mando::core::sqlite {

Error error(sqlite3* db, int rc, std::string_view what) {
  ErrorKind kind = ErrorKind::kInternal;
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      kind = ErrorKind::kUnavailable;
      break;
    case SQLITE_CONSTRAINT:
      kind = (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                 ? ErrorKind::kAlreadyExists
                 : ErrorKind::kInternal;
      break;
    case SQLITE_TOOBIG:
      kind = ErrorKind::kResourceExhausted;
      break;
    default:
      break;
  }
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{kind, fmt::format("sqlite: {}: {}", what, message)};
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Result<bool> Statement::step() {
  if (rc_ != SQLITE_OK) return tl::unexpected(error(db_, rc_, "prepare or bind"));
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(error(db_, rc, sqlite3_sql(stmt_)));
}

Result<void> Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return {};
  }
}

std::string Statement::text(int col) const {
  // sqlite3_column_blob also reads TEXT without conversion; NULL for an empty value.
  const void* data = sqlite3_column_blob(stmt_, col);
  const int size = sqlite3_column_bytes(stmt_, col);
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

Result<std::unique_ptr<Connection>> Connection::open(const OpenOptions& options) {
  sqlite3* raw = nullptr;
  const int flags =
      (options.writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
      SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(options.path.c_str(), &raw, flags, nullptr);
  auto connection = std::unique_ptr<Connection>(new Connection(raw));
  if (rc != SQLITE_OK) {
    return tl::unexpected(error(raw, rc, fmt::format("open {}", options.path.string())));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  // Statement journals and sorts stay in memory: on disk, each was a temporary file created
  // and deleted inside a transaction.
  std::string pragmas =
      fmt::format("PRAGMA cache_size = -{}; PRAGMA temp_store = MEMORY;", options.cache_kib);
  if (options.writer) {
    pragmas += fmt::format(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA journal_size_limit = {};",
        options.synchronous_full ? "FULL" : "NORMAL", 64 << 20);
  }
  if (auto ok = connection->exec_script(pragmas.c_str()); !ok) return tl::unexpected(ok.error());
  return connection;
}

Statement Connection::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) return Statement(db_.get(), nullptr, rc);
    it = cache_.emplace(std::string(sql), std::unique_ptr<sqlite3_stmt, Finalizer>(raw)).first;
  }
  return Statement(db_.get(), it->second.get(), SQLITE_OK);
}

Result<void> Connection::exec_script(const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message);
  std::unique_ptr<char, decltype(&sqlite3_free)> owned(message, &sqlite3_free);
  if (rc != SQLITE_OK) return tl::unexpected(error(db_.get(), rc, "exec"));
  return {};
}

Result<void> migrate(Connection& c, std::string_view what, int version, const char* schema) {
  if (auto ok = c.exec("BEGIN IMMEDIATE"); !ok) return ok;
  auto body = [&]() -> Result<void> {
    auto current = c.prepare("PRAGMA user_version");
    auto row = current.step();
    if (!row) return tl::unexpected(row.error());
    const auto found = *row ? current.int64(0) : 0;
    if (found > version) {
      return fail(ErrorKind::kFailedPrecondition,
                  fmt::format("sqlite: the {} has schema version {}, newer than the {} this "
                              "mando understands: run a newer mando",
                              what, found, version));
    }
    if (found == version) return {};
    if (auto ok = c.exec_script(schema); !ok) return ok;
    return c.exec_script(fmt::format("PRAGMA user_version = {}", version).c_str());
  };
  auto ok = body();
  auto end = c.exec(ok ? "COMMIT" : "ROLLBACK");
  if (!ok) return ok;
  return end;
}

}  // namespace mando::core::sqlite
