#pragma once
// The thin layer over libpq that mando's PostgreSQL stores share (the task store first): typed
// parameters and results in PostgreSQL's binary format (no number or bytea ever goes through
// text), statements prepared once per connection, SQLSTATEs turned into Errors once, a bounded
// connection pool that replaces broken connections, transactions, and versioned forward-only
// migrations.
//
// A Connection is used by one thread at a time; the Pool hands each to one caller at a time.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"

struct pg_conn;
struct pg_result;

namespace mando::core::pg {

// Bytes sent as bytea rather than text.
struct Bytea {
  std::string_view bytes;
};

// One parameter in binary format with its type's OID.
struct Param {
  unsigned type = 0;
  std::string value;
  bool null = false;
};

Param param(std::int64_t v);
Param param(int v);
Param param(double v);
Param param(bool v);
Param param(std::string_view v);
Param param(Bytea v);
inline Param param(const std::string& v) { return param(std::string_view(v)); }
inline Param param(const char* v) { return param(std::string_view(v)); }
Param param(const std::optional<std::int64_t>& v);
template <typename T>
requires std::is_integral_v<T> &&
    (!std::is_same_v<T, bool>)&&(!std::is_same_v<T, int>)&&(!std::is_same_v<T, std::int64_t>)Param
    param(T v) {
  return param(static_cast<std::int64_t>(v));
}

// The rows a statement answered, read by row and column. Integer columns of any width read
// as int64; text and bytea columns read as bytes.
class Rows {
 public:
  explicit Rows(pg_result* result);
  Rows(Rows&&) noexcept = default;
  Rows& operator=(Rows&&) noexcept = default;

  int size() const;
  bool empty() const { return size() == 0; }
  // Rows an UPDATE, DELETE or INSERT touched.
  std::int64_t affected() const;

  bool is_null(int row, int col) const;
  std::int64_t int64(int row, int col) const;
  std::optional<std::int64_t> optional_int64(int row, int col) const;
  double real(int row, int col) const;
  bool boolean(int row, int col) const;
  std::string text(int row, int col) const;  // empty for NULL

  // One row, read by column alone (what queue/store_rows.hpp's readers take).
  class Row {
   public:
    Row(const Rows& rows, int row) : rows_(rows), row_(row) {}
    bool is_null(int col) const { return rows_.is_null(row_, col); }
    std::int64_t int64(int col) const { return rows_.int64(row_, col); }
    double real(int col) const { return rows_.real(row_, col); }
    std::string text(int col) const { return rows_.text(row_, col); }

   private:
    const Rows& rows_;
    int row_;
  };
  Row row(int i) const { return Row(*this, i); }

 private:
  struct Clear {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

struct ConnectOptions {
  // A libpq connection string or URI ("host=db dbname=mando user=mando",
  // "postgresql://mando@db/mando"); keywords it leaves out come from libpq's environment
  // (PGHOST, PGPASSFILE, ...).
  std::string url{};
  // Overrides the password of `url` when set (from [database] password or its _file).
  std::string password{};
  std::chrono::seconds connect_timeout{5};
  std::string application_name = "mando";
};

// Where one Error message names the server's words: "postgres: <what>: <message> (SQLSTATE
// <code>)". Connection failures, shutdowns, too many connections and serialisation conflicts
// are kUnavailable (retrying may help); unique violations kAlreadyExists; foreign-key
// violations kNotFound; everything else kInternal.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` ($1, $2, ... for the parameters) as a statement prepared on first use.
  template <typename... Args>
  Result<Rows> exec(std::string_view sql, const Args&... args) {
    const Param params[] = {param(args)..., Param{}};
    return exec_params(sql, std::span<const Param>(params, sizeof...(Args)));
  }
  Result<Rows> exec_params(std::string_view sql, std::span<const Param> params);
  // Runs one or more statements without parameters, unprepared (schema, BEGIN, LISTEN).
  Result<void> exec_script(std::string_view sql);

  // False once the server went away: the pool then drops this connection.
  bool ok() const;
  // Reads, without blocking, what an idle connection received: a server that restarted or
  // shut down has closed it (or said goodbye), so a stale connection is found before a
  // statement is sent on it. False when it is dead.
  bool alive();
  // The socket, to wait for notifications on; and the notifications that arrived (LISTEN),
  // as (channel, payload) pairs, after reading what the socket holds.
  int socket() const;
  Result<std::vector<std::pair<std::string, std::string>>> notifications();

 private:
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  Error error(pg_result* result, std::string_view what) const;

  pg_conn* conn_;
  struct Hash : std::hash<std::string_view> {
    using is_transparent = void;
  };
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> prepared_;
};

struct PoolOptions {
  ConnectOptions connect;
  int size = 16;  // connections at most
  // How long acquire() waits for a free connection before kUnavailable.
  std::chrono::milliseconds acquire_timeout{std::chrono::seconds(10)};
};

// A bounded set of connections, opened on demand and reused; a connection whose server went
// away is closed when handed back, and the next acquire opens a fresh one.
class Pool {
 public:
  explicit Pool(PoolOptions options) : options_(std::move(options)) {}
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) noexcept = delete;
    ~Lease();
    Connection& operator*() const { return *c_; }
    Connection* operator->() const { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };
  Result<Lease> acquire();

  // Runs fn(connection) inside BEGIN ... COMMIT; rolls back when fn answers an error. A commit
  // that fails answers kUnavailable (the outcome is unknown when the connection dropped).
  template <typename T>
  Result<T> transaction(const std::function<Result<T>(Connection&)>& fn) {
    auto c = acquire();
    if (!c) return tl::unexpected(c.error());
    if (auto ok = (*c)->exec_script("BEGIN"); !ok) return tl::unexpected(ok.error());
    Result<T> answer = fn(**c);
    if (!answer) {
      (void)(*c)->exec_script("ROLLBACK");
      return answer;
    }
    if (auto ok = (*c)->exec_script("COMMIT"); !ok) return tl::unexpected(ok.error());
    return answer;
  }

  struct Stats {
    int size = 0;             // the most connections it opens
    int open = 0;             // connections open now
    int in_use = 0;           // handed out now
    std::int64_t opened = 0;  // connections opened since start
    std::int64_t connect_failures = 0;
  };
  Stats stats() const;
  const PoolOptions& options() const { return options_; }

 private:
  void give_back(std::unique_ptr<Connection> c);

  const PoolOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  int in_use_ = 0;
  std::int64_t opened_ = 0;
  std::int64_t connect_failures_ = 0;
};

// One step of a component's schema (the queue's tables, the /imagine job records, ...).
// Steps are applied in version order inside one transaction (PostgreSQL's DDL is
// transactional: all or nothing) and never edited once released: a change is a new step.
// Each component numbers its own steps in mando_schema, so the library that owns the tables
// owns their migrations.
struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// The last version of `component` recorded in mando_schema (0 when none is).
Result<int> schema_version(Connection& c, std::string_view component);
// Applies the migrations of `component` above the recorded version in one transaction, holding
// an advisory lock so that two processes migrating at once apply each step once. Answers the
// versions applied. kFailedPrecondition when the database is newer than the last migration.
Result<std::vector<int>> migrate(Connection& c, std::string_view component,
                                 std::span<const Migration> migrations);
// Whether the recorded version is exactly the last of `migrations`: kFailedPrecondition naming
// the fix (`mando db migrate`, or a newer mando) otherwise.
Result<void> check_schema(Connection& c, std::string_view component,
                          std::span<const Migration> migrations);

}  // namespace mando::core::pg
