#include "core/postgres.hpp"

#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "core/log.hpp"
#include <endian.h>
#include <libpq-fe.h>
#include <poll.h>

namespace mando::core::pg {
namespace {

// Type OIDs (pg_type.dat): stable across PostgreSQL versions.
constexpr unsigned kBool = 16;
constexpr unsigned kBytea = 17;
constexpr unsigned kInt8 = 20;
constexpr unsigned kInt2 = 21;
constexpr unsigned kInt4 = 23;
constexpr unsigned kText = 25;
constexpr unsigned kFloat8 = 701;

constexpr int kBinary = 1;

std::string big_endian(std::uint64_t v) {
  const std::uint64_t be = htobe64(v);
  return std::string(reinterpret_cast<const char*>(&be), sizeof be);
}

// SQLSTATE classes and codes (Appendix A of the PostgreSQL manual) that say "try again".
bool transient(std::string_view state) {
  return state.starts_with("08") ||   // connection exception
         state.starts_with("53") ||   // insufficient resources (too many connections, disk full)
         state.starts_with("57P") ||  // admin shutdown, crash shutdown, cannot connect now
         state == "40001" ||          // serialization failure
         state == "40P01";            // deadlock detected
}

}  // namespace

Param param(std::int64_t v) { return {kInt8, big_endian(static_cast<std::uint64_t>(v))}; }
Param param(int v) { return param(static_cast<std::int64_t>(v)); }
Param param(double v) { return {kFloat8, big_endian(std::bit_cast<std::uint64_t>(v))}; }
Param param(bool v) { return {kBool, std::string(1, v ? '\1' : '\0')}; }
Param param(std::string_view v) { return {kText, std::string(v)}; }
Param param(Bytea v) { return {kBytea, std::string(v.bytes)}; }
Param param(const std::optional<std::int64_t>& v) {
  if (!v) return {kInt8, {}, true};
  return param(*v);
}

// Rows.

void Rows::Clear::operator()(pg_result* r) const { PQclear(r); }

Rows::Rows(pg_result* result) : result_(result) {}

int Rows::size() const { return PQntuples(result_.get()); }

std::int64_t Rows::affected() const {
  const char* n = PQcmdTuples(result_.get());
  return *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

bool Rows::is_null(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }

std::int64_t Rows::int64(int row, int col) const {
  const char* v = PQgetvalue(result_.get(), row, col);
  switch (PQgetlength(result_.get(), row, col)) {
    case 2: {
      std::uint16_t be;
      std::memcpy(&be, v, 2);
      return static_cast<std::int16_t>(be16toh(be));
    }
    case 4: {
      std::uint32_t be;
      std::memcpy(&be, v, 4);
      return static_cast<std::int32_t>(be32toh(be));
    }
    case 8: {
      std::uint64_t be;
      std::memcpy(&be, v, 8);
      return static_cast<std::int64_t>(be64toh(be));
    }
    default:
      return 0;  // NULL
  }
}

std::optional<std::int64_t> Rows::optional_int64(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return int64(row, col);
}

double Rows::real(int row, int col) const {
  if (PQgetlength(result_.get(), row, col) != 8) return 0;
  std::uint64_t be;
  std::memcpy(&be, PQgetvalue(result_.get(), row, col), 8);
  return std::bit_cast<double>(be64toh(be));
}

bool Rows::boolean(int row, int col) const {
  return PQgetlength(result_.get(), row, col) == 1 && *PQgetvalue(result_.get(), row, col) != 0;
}

std::string Rows::text(int row, int col) const {
  return std::string(PQgetvalue(result_.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row, col)));
}

// Connection.

Result<std::unique_ptr<Connection>> Connection::open(const ConnectOptions& options) {
  // Keywords are applied in order and the last one wins: the defaults come before `url` (which
  // may override them), the configured password after it. Keepalives find a server that
  // vanished without closing (a cut link) in seconds rather than the kernel's two hours.
  const std::string timeout = std::to_string(options.connect_timeout.count());
  std::vector<const char*> keys = {
      "connect_timeout",     "application_name", "keepalives",       "keepalives_idle",
      "keepalives_interval", "keepalives_count", "tcp_user_timeout", "dbname"};
  std::vector<const char*> values = {
      timeout.c_str(),    options.application_name.c_str(), "1", "5", "2", "3", "10000",
      options.url.c_str()};
  if (!options.password.empty()) {
    keys.push_back("password");
    values.push_back(options.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  pg_conn* conn = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn == nullptr) return fail(ErrorKind::kUnavailable, "postgres: out of memory");
  auto connection = std::unique_ptr<Connection>(new Connection(conn));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    return fail(ErrorKind::kUnavailable, fmt::format("postgres: cannot connect: {}", message));
  }
  // The server's notices ("terminating connection due to administrator command", "relation
  // already exists, skipping") go to the log rather than to stderr.
  PQsetNoticeProcessor(
      conn,
      [](void*, const char* message) {
        std::string text(message);
        while (!text.empty() && text.back() == '\n') text.pop_back();
        core::logger("postgres")->debug("server notice: {}", text);
      },
      nullptr);
  // Times and text as mando means them, whatever the server's defaults.
  if (auto ok = connection->exec_script("SET TIME ZONE 'UTC'; SET client_encoding = 'UTF8'"); !ok) {
    return tl::unexpected(ok.error());
  }
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::ok() const { return PQstatus(conn_) == CONNECTION_OK; }

bool Connection::alive() {
  if (!ok()) return false;
  // An idle connection has nothing to read unless the server said goodbye (an error before
  // closing) or closed it: a hang-up is final; other bytes go to libpq, which then knows.
  pollfd fd{PQsocket(conn_), POLLIN | POLLRDHUP, 0};
  if (::poll(&fd, 1, 0) < 0) return false;
  if ((fd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0) return false;
  if ((fd.revents & POLLIN) != 0 && PQconsumeInput(conn_) == 0) return false;
  return ok();
}

int Connection::socket() const { return PQsocket(conn_); }

Error Connection::error(pg_result* result, std::string_view what) const {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view code = state != nullptr ? state : "";
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
  if (message.empty()) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  ErrorKind kind = ErrorKind::kInternal;
  if (code.empty() ? !ok() : transient(code)) {
    kind = ErrorKind::kUnavailable;
  } else if (code == "23505") {
    kind = ErrorKind::kAlreadyExists;
  } else if (code == "23503") {
    kind = ErrorKind::kNotFound;
  }
  if (what.size() > 120) what = what.substr(0, 120);
  return Error{kind, code.empty()
                         ? fmt::format("postgres: {}: {}", what, message)
                         : fmt::format("postgres: {}: {} (SQLSTATE {})", what, message, code)};
}

Result<Rows> Connection::exec_params(std::string_view sql, std::span<const Param> params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::vector<unsigned> types;
    types.reserve(params.size());
    for (const auto& p : params) types.push_back(p.type);
    std::string name = fmt::format("s{}", prepared_.size());
    pg_result* prepared = PQprepare(conn_, name.c_str(), std::string(sql).c_str(),
                                    static_cast<int>(params.size()), types.data());
    if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
      Error e = error(prepared, sql);
      PQclear(prepared);
      return tl::unexpected(std::move(e));
    }
    PQclear(prepared);
    it = prepared_.emplace(std::string(sql), std::move(name)).first;
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params.size(), kBinary);
  values.reserve(params.size());
  lengths.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p.null ? nullptr : p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
  }
  pg_result* result = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                                     values.data(), lengths.data(), formats.data(), kBinary);
  const auto status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error e = error(result, sql);
    PQclear(result);
    return tl::unexpected(std::move(e));
  }
  return Rows(result);
}

Result<void> Connection::exec_script(std::string_view sql) {
  pg_result* result = PQexec(conn_, std::string(sql).c_str());
  const auto status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error e = error(result, sql);
    PQclear(result);
    return tl::unexpected(std::move(e));
  }
  PQclear(result);
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> Connection::notifications() {
  if (PQconsumeInput(conn_) == 0) return tl::unexpected(error(nullptr, "read notifications"));
  std::vector<std::pair<std::string, std::string>> out;
  while (PGnotify* n = PQnotifies(conn_)) {
    out.emplace_back(n->relname, n->extra);
    PQfreemem(n);
  }
  return out;
}

// Pool.

Pool::~Pool() = default;

Pool::Lease::~Lease() {
  if (c_) pool_->give_back(std::move(c_));
}

Result<Pool::Lease> Pool::acquire() {
  std::unique_lock lock(mutex_);
  if (!freed_.wait_for(lock, options_.acquire_timeout,
                       [&] { return !idle_.empty() || open_ < options_.size; })) {
    return fail(ErrorKind::kUnavailable,
                fmt::format("postgres: all {} connections of the pool stayed busy for {} ms "
                            "(raise [database] pool_size)",
                            options_.size, options_.acquire_timeout.count()));
  }
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (c->alive()) {
      ++in_use_;
      return Lease(this, std::move(c));
    }
    --open_;  // the server restarted or dropped it while it was idle: open a fresh one
  }
  // Opening takes a round trip or more: the slot is taken first, the lock let go meanwhile.
  ++open_;
  ++in_use_;
  lock.unlock();
  auto opened = Connection::open(options_.connect);
  lock.lock();
  if (!opened) {
    --open_;
    --in_use_;
    ++connect_failures_;
    freed_.notify_one();
    return tl::unexpected(opened.error());
  }
  ++opened_;
  return Lease(this, std::move(*opened));
}

void Pool::give_back(std::unique_ptr<Connection> c) {
  const bool keep = c->ok();
  if (!keep) c.reset();  // closed outside the lock would be nicer; it is rare and quick
  {
    std::lock_guard lock(mutex_);
    --in_use_;
    if (keep) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
  }
  freed_.notify_one();
}

Pool::Stats Pool::stats() const {
  std::lock_guard lock(mutex_);
  return Stats{options_.size, open_, in_use_, opened_, connect_failures_};
}

// Migrations.

namespace {

constexpr std::string_view kSchemaTable = R"sql(
CREATE TABLE IF NOT EXISTS mando_schema (
  component text NOT NULL,
  version integer NOT NULL,
  description text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (component, version)
))sql";

// The advisory lock key migrations hold: any constant of mando's own ("mando" in ASCII).
constexpr std::int64_t kMigrationLock = 0x6d616e646f;

tl::unexpected<Error> newer_schema(std::string_view component, int found, int latest) {
  return fail(ErrorKind::kFailedPrecondition,
              fmt::format("postgres: the {} schema of the database has version {}, newer than the "
                          "{} this mando knows: run a newer mando",
                          component, found, latest));
}

}  // namespace

Result<int> schema_version(Connection& c, std::string_view component) {
  // Two statements: one naming a table that does not exist would not even prepare.
  auto exists = c.exec("SELECT to_regclass('mando_schema') IS NOT NULL");
  if (!exists) return tl::unexpected(exists.error());
  if (!exists->boolean(0, 0)) return 0;
  auto rows = c.exec(
      "SELECT COALESCE(max(version), 0)::bigint FROM mando_schema WHERE component = $1", component);
  if (!rows) return tl::unexpected(rows.error());
  return static_cast<int>(rows->int64(0, 0));
}

Result<std::vector<int>> migrate(Connection& c, std::string_view component,
                                 std::span<const Migration> migrations) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  std::vector<int> applied;
  if (auto ok = c.exec_script("BEGIN"); !ok) return tl::unexpected(ok.error());
  auto body = [&]() -> Result<void> {
    // Held until COMMIT: a second migrator waits here, then finds the work done.
    if (auto ok = c.exec("SELECT pg_advisory_xact_lock($1)", kMigrationLock); !ok) {
      return tl::unexpected(ok.error());
    }
    if (auto ok = c.exec_script(kSchemaTable); !ok) return ok;
    auto found = schema_version(c, component);
    if (!found) return tl::unexpected(found.error());
    if (*found > latest) {
      return newer_schema(component, *found, latest);
    }
    for (const auto& m : migrations) {
      if (m.version <= *found) continue;
      if (auto ok = c.exec_script(m.sql); !ok) {
        return fail(ok.error().kind, fmt::format("migration {} {} ({}): {}", component, m.version,
                                                 m.description, ok.error().message));
      }
      auto noted =
          c.exec("INSERT INTO mando_schema (component, version, description) VALUES ($1, $2, $3)",
                 component, m.version, m.description);
      if (!noted) return tl::unexpected(noted.error());
      applied.push_back(m.version);
    }
    return {};
  };
  auto ok = body();
  if (!ok) {
    (void)c.exec_script("ROLLBACK");
    return tl::unexpected(ok.error());
  }
  if (auto end = c.exec_script("COMMIT"); !end) return tl::unexpected(end.error());
  return applied;
}

Result<void> check_schema(Connection& c, std::string_view component,
                          std::span<const Migration> migrations) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  auto found = schema_version(c, component);
  if (!found) return tl::unexpected(found.error());
  if (*found > latest) {
    return newer_schema(component, *found, latest);
  }
  if (*found < latest) {
    return fail(ErrorKind::kFailedPrecondition,
                fmt::format("postgres: the {} schema of the database has version {}, this mando "
                            "needs {}: run `mando db migrate` first",
                            component, *found, latest));
  }
  return {};
}

}  // namespace mando::core::pg
