#include "imagine/sqlite_job_store.hpp"

#include <system_error>

#include <fmt/format.h>

#include "core/sqlite.hpp"
#include "imagine/job_rows.hpp"

namespace mando::imagine {

using core::sqlite::Connection;
using core::sqlite::Statement;

namespace {

using namespace job_rows;

// `waiting` holds the time last heard from while a job still needs attention (not terminal, or
// terminal and not delivered), NULL afterwards: the partial index then holds only those jobs.
constexpr const char* kSchema = R"sql(
CREATE TABLE jobs (
  job_id TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  provider_job_id TEXT NOT NULL,
  request BLOB NOT NULL,
  status INTEGER NOT NULL,
  queue_position INTEGER,
  percent INTEGER,
  outputs TEXT NOT NULL,
  error TEXT NOT NULL,
  delivered INTEGER NOT NULL,
  created INTEGER NOT NULL,
  heard INTEGER NOT NULL,
  submitting INTEGER NOT NULL,
  waiting INTEGER
) WITHOUT ROWID;
CREATE INDEX jobs_by_provider ON jobs (model, provider_job_id) WHERE provider_job_id != '';
CREATE INDEX jobs_waiting ON jobs (waiting) WHERE waiting IS NOT NULL;
CREATE TABLE quota_claims (
  job_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  guild_id TEXT NOT NULL,
  day INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX quota_by_user ON quota_claims (user_id, day);
CREATE INDEX quota_by_guild ON quota_claims (guild_id, day) WHERE guild_id != '';
)sql";

Result<std::vector<JobRecord>> read_all(Statement& st) {
  std::vector<JobRecord> records;
  for (;;) {
    auto row = st.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return records;
    auto record = read_record(st);
    if (!record) return tl::unexpected(record.error());
    records.push_back(std::move(*record));
  }
}

// Runs `body` in one immediate transaction, committed when it succeeds.
template <typename F>
auto in_transaction(Connection& db, F&& body) -> decltype(body()) {
  if (auto ok = db.exec("BEGIN IMMEDIATE"); !ok) return tl::unexpected(ok.error());
  auto result = body();
  if (!result) {
    (void)db.exec("ROLLBACK");
    return result;
  }
  if (auto ok = db.exec("COMMIT"); !ok) {
    (void)db.exec("ROLLBACK");
    return tl::unexpected(ok.error());
  }
  return result;
}

}  // namespace

Result<std::unique_ptr<SqliteJobStore>> SqliteJobStore::open(const std::filesystem::path& path,
                                                             bool synchronous_full) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  auto db = Connection::open({.path = path, .writer = true, .synchronous_full = synchronous_full});
  if (!db) return tl::unexpected(db.error());
  if (auto ok = core::sqlite::migrate(**db, "imagine job store", kSchemaVersion, kSchema); !ok) {
    return tl::unexpected(ok.error());
  }
  return std::unique_ptr<SqliteJobStore>(new SqliteJobStore(std::move(*db)));
}

SqliteJobStore::SqliteJobStore(std::unique_ptr<Connection> db) : db_(std::move(db)) {}
SqliteJobStore::~SqliteJobStore() = default;

Result<JobRecord> SqliteJobStore::get_locked(std::string_view job_id) {
  auto st = db_->prepare(fmt::format("SELECT {} FROM jobs WHERE job_id = ?", kColumns));
  auto row = st.bind(job_id).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) return tl::unexpected(not_found(job_id));
  return read_record(st);
}

Result<JobRecord> SqliteJobStore::create(const JobRecord& record) {
  std::lock_guard lock(mutex_);
  return in_transaction(*db_, [&]() -> Result<JobRecord> {
    if (auto existing = get_locked(record.job_id);
        existing || existing.error().kind != ErrorKind::kNotFound) {
      return existing;
    }
    const auto& s = record.state;
    auto st = db_->prepare(fmt::format(
        "INSERT INTO jobs ({}, waiting) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        kColumns));
    st.bind(record.job_id, record.model, record.provider_job_id, core::sqlite::Blob{record.request},
            static_cast<std::int64_t>(s.status), optional(s.queue_position), optional(s.percent),
            outputs_json(s.outputs), s.error, std::int64_t{record.delivered},
            millis(record.created), millis(record.heard), millis(record.submitting));
    st.bind(waiting_since(record, record.heard));
    if (auto ok = st.run(); !ok) return tl::unexpected(ok.error());
    return record;
  });
}

Result<JobRecord> SqliteJobStore::get(std::string_view job_id) {
  std::lock_guard lock(mutex_);
  return get_locked(job_id);
}

Result<JobRecord> SqliteJobStore::find_by_provider_job(std::string_view model,
                                                       std::string_view provider_job_id) {
  std::lock_guard lock(mutex_);
  auto st = db_->prepare(fmt::format(
      "SELECT {} FROM jobs WHERE model = ? AND provider_job_id = ? AND provider_job_id != ''",
      kColumns));
  auto row = st.bind(model, provider_job_id).step();
  if (!row) return tl::unexpected(row.error());
  if (!*row) {
    return fail(ErrorKind::kNotFound,
                fmt::format("no imagine job has provider job {} on {}", provider_job_id, model));
  }
  return read_record(st);
}

Result<void> SqliteJobStore::set_provider_job(std::string_view job_id,
                                              std::string_view provider_job_id) {
  std::lock_guard lock(mutex_);
  auto st = db_->prepare("UPDATE jobs SET provider_job_id = ? WHERE job_id = ?");
  if (auto ok = st.bind(provider_job_id, job_id).run(); !ok) return ok;
  if (db_->changes() == 0) return tl::unexpected(not_found(job_id));
  return {};
}

Result<void> SqliteJobStore::mark_submitting(std::string_view job_id, Clock::time_point at) {
  std::lock_guard lock(mutex_);
  auto st = db_->prepare("UPDATE jobs SET submitting = ? WHERE job_id = ?");
  if (auto ok = st.bind(millis(at), job_id).run(); !ok) return ok;
  if (db_->changes() == 0) return tl::unexpected(not_found(job_id));
  return {};
}

Result<Applied> SqliteJobStore::apply(std::string_view job_id, const JobUpdate& update,
                                      Clock::time_point now) {
  std::lock_guard lock(mutex_);
  return in_transaction(*db_, [&]() -> Result<Applied> {
    auto record = get_locked(job_id);
    if (!record) return tl::unexpected(record.error());
    Applied applied;
    applied.changed = merge(record->state, update);
    record->heard = now;
    const auto& s = record->state;
    auto st = db_->prepare(
        "UPDATE jobs SET status = ?, queue_position = ?, percent = ?, outputs = ?, error = ?, "
        "heard = ?, waiting = ? WHERE job_id = ?");
    st.bind(static_cast<std::int64_t>(s.status), optional(s.queue_position), optional(s.percent),
            outputs_json(s.outputs), s.error, millis(now), waiting_since(*record, now), job_id);
    if (auto ok = st.run(); !ok) return tl::unexpected(ok.error());
    applied.deliver = terminal(s.status) && !record->delivered && terminal(update.status);
    applied.record = std::move(*record);
    return applied;
  });
}

Result<bool> SqliteJobStore::mark_delivered(std::string_view job_id) {
  std::lock_guard lock(mutex_);
  auto st = db_->prepare(
      "UPDATE jobs SET delivered = 1, waiting = NULL WHERE job_id = ? AND delivered = 0");
  if (auto ok = st.bind(job_id).run(); !ok) return tl::unexpected(ok.error());
  if (db_->changes() == 1) return true;
  if (auto exists = get_locked(job_id); !exists) return tl::unexpected(exists.error());
  return false;
}

Result<std::vector<JobRecord>> SqliteJobStore::waiting(Clock::time_point before, int limit) {
  std::lock_guard lock(mutex_);
  auto st = db_->prepare(fmt::format(
      "SELECT {} FROM jobs WHERE waiting IS NOT NULL AND waiting < ? ORDER BY waiting LIMIT ?",
      kColumns));
  st.bind(millis(before), std::int64_t{limit});
  return read_all(st);
}

Result<std::int64_t> SqliteJobStore::forget_before(Clock::time_point before) {
  std::lock_guard lock(mutex_);
  auto st = db_->prepare("DELETE FROM jobs WHERE waiting IS NULL AND created < ?");
  if (auto ok = st.bind(millis(before)).run(); !ok) return tl::unexpected(ok.error());
  const std::int64_t forgotten = db_->changes();
  const std::int64_t day = millis(before) / (24 * 3600 * 1000);
  auto claims = db_->prepare("DELETE FROM quota_claims WHERE day < ?");
  if (auto ok = claims.bind(day).run(); !ok) return tl::unexpected(ok.error());
  return forgotten;
}

Result<QuotaVerdict> SqliteJobStore::claim_quota(const QuotaClaim& claim) {
  std::lock_guard lock(mutex_);
  return in_transaction(*db_, [&]() -> Result<QuotaVerdict> {
    auto known = db_->prepare("SELECT 1 FROM quota_claims WHERE job_id = ?");
    auto seen = known.bind(claim.job_id).step();
    if (!seen) return tl::unexpected(seen.error());
    if (*seen) return QuotaVerdict::kGranted;
    const auto used = [&](std::string_view column, std::string_view key) -> Result<std::int64_t> {
      auto st = db_->prepare(
          fmt::format("SELECT count(*) FROM quota_claims WHERE {} = ? AND day = ?", column));
      auto row = st.bind(key, claim.day).step();
      if (!row) return tl::unexpected(row.error());
      return st.int64(0);
    };
    if (claim.per_user > 0) {
      auto n = used("user_id", claim.user_id);
      if (!n) return tl::unexpected(n.error());
      if (*n >= claim.per_user) return QuotaVerdict::kUserSpent;
    }
    if (claim.per_guild > 0 && !claim.guild_id.empty()) {
      auto n = used("guild_id", claim.guild_id);
      if (!n) return tl::unexpected(n.error());
      if (*n >= claim.per_guild) return QuotaVerdict::kGuildSpent;
    }
    auto st = db_->prepare(
        "INSERT INTO quota_claims (job_id, user_id, guild_id, day) VALUES (?, ?, ?, ?)");
    st.bind(claim.job_id, claim.user_id, claim.guild_id, claim.day);
    if (auto ok = st.run(); !ok) return tl::unexpected(ok.error());
    return QuotaVerdict::kGranted;
  });
}

Result<void> SqliteJobStore::release_quota(std::string_view job_id) {
  std::lock_guard lock(mutex_);
  return db_->prepare("DELETE FROM quota_claims WHERE job_id = ?").bind(job_id).run();
}

}  // namespace mando::imagine
