#include "imagine/postgres_job_store.hpp"

#include <array>

#include <fmt/format.h>

#include "imagine/job_rows.hpp"

namespace mando::imagine {
namespace {

using namespace job_rows;
using core::pg::Connection;

// Version 1 of the /imagine tables; as in SQLite, `waiting` holds the time last heard from
// while a job needs attention and NULL afterwards, so its partial index holds only those.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE mando_imagine_jobs (
  job_id text PRIMARY KEY,
  model text NOT NULL,
  provider_job_id text NOT NULL,
  request bytea NOT NULL,
  status smallint NOT NULL,
  queue_position integer,
  percent integer,
  outputs text NOT NULL,
  error text NOT NULL,
  delivered smallint NOT NULL,
  created bigint NOT NULL,
  heard bigint NOT NULL,
  submitting bigint NOT NULL,
  waiting bigint
);
CREATE INDEX mando_imagine_jobs_by_provider ON mando_imagine_jobs (model, provider_job_id)
  WHERE provider_job_id <> '';
CREATE INDEX mando_imagine_jobs_waiting ON mando_imagine_jobs (waiting) WHERE waiting IS NOT NULL;
CREATE TABLE mando_imagine_quota_claims (
  job_id text PRIMARY KEY,
  user_id text NOT NULL,
  guild_id text NOT NULL,
  day bigint NOT NULL
);
CREATE INDEX mando_imagine_quota_by_user ON mando_imagine_quota_claims (user_id, day);
CREATE INDEX mando_imagine_quota_by_guild ON mando_imagine_quota_claims (guild_id, day)
  WHERE guild_id <> '';
)sql";

constexpr std::array kMigrations = {
    core::pg::Migration{1, "imagine jobs and daily quota claims", kSchemaV1},
};

Result<std::vector<JobRecord>> read_all(const core::pg::Rows& rows) {
  std::vector<JobRecord> records;
  for (int i = 0; i < rows.size(); ++i) {
    auto record = read_record(rows.row(i));
    if (!record) return tl::unexpected(record.error());
    records.push_back(std::move(*record));
  }
  return records;
}

Result<JobRecord> select_one(Connection& c, std::string_view job_id, bool for_update) {
  static const std::string kSql =
      fmt::format("SELECT {} FROM mando_imagine_jobs WHERE job_id = $1", kColumns);
  static const std::string kLocked = kSql + " FOR UPDATE";
  auto rows = c.exec(for_update ? kLocked : kSql, job_id);
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return tl::unexpected(not_found(job_id));
  return read_record(rows->row(0));
}

}  // namespace

std::span<const core::pg::Migration> PostgresJobStore::migrations() { return kMigrations; }

Result<std::unique_ptr<PostgresJobStore>> PostgresJobStore::open(core::pg::PoolOptions options) {
  std::unique_ptr<PostgresJobStore> store(new PostgresJobStore(std::move(options)));
  auto c = store->pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  if (auto ok = core::pg::check_schema(**c, kComponent, kMigrations); !ok) {
    return tl::unexpected(ok.error());
  }
  return store;
}

template <typename... Args>
Result<void> PostgresJobStore::update_one(std::string_view sql, std::string_view job_id,
                                          const Args&... args) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  auto rows = (*c)->exec(sql, job_id, args...);
  if (!rows) return tl::unexpected(rows.error());
  if (rows->affected() == 0) return tl::unexpected(not_found(job_id));
  return {};
}

Result<JobRecord> PostgresJobStore::create(const JobRecord& record) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  const auto& s = record.state;
  static const std::string kSql = fmt::format(
      "INSERT INTO mando_imagine_jobs ({}, waiting) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
      "$10, $11, $12, $13, $14) ON CONFLICT (job_id) DO NOTHING",
      kColumns);
  auto rows = (*c)->exec(
      kSql, record.job_id, record.model, record.provider_job_id, core::pg::Bytea{record.request},
      static_cast<int>(s.status), optional(s.queue_position), optional(s.percent),
      outputs_json(s.outputs), s.error, record.delivered ? 1 : 0, millis(record.created),
      millis(record.heard), millis(record.submitting), waiting_since(record, record.heard));
  if (!rows) return tl::unexpected(rows.error());
  if (rows->affected() == 1) return record;
  return select_one(**c, record.job_id, false);  // the first record stays
}

Result<JobRecord> PostgresJobStore::get(std::string_view job_id) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  return select_one(**c, job_id, false);
}

Result<JobRecord> PostgresJobStore::find_by_provider_job(std::string_view model,
                                                         std::string_view provider_job_id) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "SELECT {} FROM mando_imagine_jobs WHERE model = $1 AND provider_job_id = $2 AND "
      "provider_job_id <> ''",
      kColumns);
  auto rows = (*c)->exec(kSql, model, provider_job_id);
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) {
    return fail(ErrorKind::kNotFound,
                fmt::format("no imagine job has provider job {} on {}", provider_job_id, model));
  }
  return read_record(rows->row(0));
}

Result<void> PostgresJobStore::set_provider_job(std::string_view job_id,
                                                std::string_view provider_job_id) {
  return update_one("UPDATE mando_imagine_jobs SET provider_job_id = $2 WHERE job_id = $1", job_id,
                    provider_job_id);
}

Result<void> PostgresJobStore::mark_submitting(std::string_view job_id, Clock::time_point at) {
  return update_one("UPDATE mando_imagine_jobs SET submitting = $2 WHERE job_id = $1", job_id,
                    millis(at));
}

Result<Applied> PostgresJobStore::apply(std::string_view job_id, const JobUpdate& update,
                                        Clock::time_point now) {
  return pool_.transaction<Applied>([&](Connection& c) -> Result<Applied> {
    auto record = select_one(c, job_id, true);
    if (!record) return tl::unexpected(record.error());
    Applied applied;
    applied.changed = merge(record->state, update);
    record->heard = now;
    const auto& s = record->state;
    auto ok = c.exec(
        "UPDATE mando_imagine_jobs SET status = $2, queue_position = $3, percent = $4, "
        "outputs = $5, error = $6, heard = $7, waiting = $8 WHERE job_id = $1",
        job_id, static_cast<int>(s.status), optional(s.queue_position), optional(s.percent),
        outputs_json(s.outputs), s.error, millis(now), waiting_since(*record, now));
    if (!ok) return tl::unexpected(ok.error());
    applied.deliver = terminal(s.status) && !record->delivered && terminal(update.status);
    applied.record = std::move(*record);
    return applied;
  });
}

Result<bool> PostgresJobStore::mark_delivered(std::string_view job_id) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  auto rows = (*c)->exec(
      "UPDATE mando_imagine_jobs SET delivered = 1, waiting = NULL WHERE job_id = $1 AND "
      "delivered = 0",
      job_id);
  if (!rows) return tl::unexpected(rows.error());
  if (rows->affected() == 1) return true;
  if (auto exists = select_one(**c, job_id, false); !exists) return tl::unexpected(exists.error());
  return false;
}

Result<std::vector<JobRecord>> PostgresJobStore::waiting(Clock::time_point before, int limit) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  static const std::string kSql = fmt::format(
      "SELECT {} FROM mando_imagine_jobs WHERE waiting IS NOT NULL AND waiting < $1 "
      "ORDER BY waiting LIMIT $2",
      kColumns);
  auto rows = (*c)->exec(kSql, millis(before), limit);
  if (!rows) return tl::unexpected(rows.error());
  return read_all(*rows);
}

Result<std::int64_t> PostgresJobStore::forget_before(Clock::time_point before) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  auto jobs = (*c)->exec("DELETE FROM mando_imagine_jobs WHERE waiting IS NULL AND created < $1",
                         millis(before));
  if (!jobs) return tl::unexpected(jobs.error());
  const std::int64_t day = millis(before) / (24 * 3600 * 1000);
  auto claims = (*c)->exec("DELETE FROM mando_imagine_quota_claims WHERE day < $1", day);
  if (!claims) return tl::unexpected(claims.error());
  return jobs->affected();
}

Result<QuotaVerdict> PostgresJobStore::claim_quota(const QuotaClaim& claim) {
  return pool_.transaction<QuotaVerdict>([&](Connection& c) -> Result<QuotaVerdict> {
    // The user's day first, then the guild's: every claim locks in this order.
    const auto lock = [&](std::string_view scope, std::string_view key) {
      return c.exec("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))",
                    fmt::format("mando-quota:{}:{}", scope, key), claim.day);
    };
    if (auto ok = lock("user", claim.user_id); !ok) return tl::unexpected(ok.error());
    const bool guild_quota = claim.per_guild > 0 && !claim.guild_id.empty();
    if (guild_quota) {
      if (auto ok = lock("guild", claim.guild_id); !ok) return tl::unexpected(ok.error());
    }
    auto known = c.exec("SELECT 1 FROM mando_imagine_quota_claims WHERE job_id = $1", claim.job_id);
    if (!known) return tl::unexpected(known.error());
    if (!known->empty()) return QuotaVerdict::kGranted;
    const auto used = [&](std::string_view column, std::string_view key) -> Result<std::int64_t> {
      auto rows = c.exec(fmt::format("SELECT count(*) FROM mando_imagine_quota_claims WHERE "
                                     "{} = $1 AND day = $2",
                                     column),
                         key, claim.day);
      if (!rows) return tl::unexpected(rows.error());
      return rows->int64(0, 0);
    };
    if (claim.per_user > 0) {
      auto n = used("user_id", claim.user_id);
      if (!n) return tl::unexpected(n.error());
      if (*n >= claim.per_user) return QuotaVerdict::kUserSpent;
    }
    if (guild_quota) {
      auto n = used("guild_id", claim.guild_id);
      if (!n) return tl::unexpected(n.error());
      if (*n >= claim.per_guild) return QuotaVerdict::kGuildSpent;
    }
    auto ok = c.exec(
        "INSERT INTO mando_imagine_quota_claims (job_id, user_id, guild_id, day) VALUES ($1, $2, "
        "$3, $4)",
        claim.job_id, claim.user_id, claim.guild_id, claim.day);
    if (!ok) return tl::unexpected(ok.error());
    return QuotaVerdict::kGranted;
  });
}

Result<void> PostgresJobStore::release_quota(std::string_view job_id) {
  auto c = pool_.acquire();
  if (!c) return tl::unexpected(c.error());
  auto rows = (*c)->exec("DELETE FROM mando_imagine_quota_claims WHERE job_id = $1", job_id);
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

}  // namespace mando::imagine
