#pragma once
// Where /imagine jobs live between the moment a provider accepts one and the moment its result
// is posted: the link from the provider's job id to the interaction, the merged state (job.hpp)
// and whether the result was delivered. A webhook, a poll and a restart all meet here.
//
//   1. The worker creates the record (create(): a retried task finds it and does not submit
//      twice), marks the submit in doubt (mark_submitting()), submits to the provider and
//      stores the provider's id (set_provider_job()).
//   2. Every webhook and every poll answer is merged in with apply(), in one transaction: the
//      answer says whether a user would see a change and whether a result waits to be posted.
//   3. The delivery marks it delivered (mark_delivered(), true once): a result is posted once,
//      however many terminal events arrive.
//   0. Before any of this the ingress counts the job against the daily quotas (claim_quota()).
//   4. waiting() lists the jobs that have heard nothing for a while: polled when a webhook is
//      late, and after a restart, so that nothing in flight is forgotten.
//
// The embedded implementation is SQLite (sqlite_job_store.hpp); the scale-out issue puts the
// same interface on PostgreSQL.
//
// Thread-safety: every method may be called from any thread; methods block on disk I/O, so run
// them off the I/O threads.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "imagine/job.hpp"

namespace mando::imagine {

using Clock = std::chrono::system_clock;

struct JobRecord {
  std::string job_id;           // ours (the interaction id)
  std::string model;            // the [imagine.models.NAME] it runs on
  std::string provider_job_id;  // empty until the provider accepted it
  std::string request;          // the job's task body, opaque here (the bot's JSON)
  JobState state;
  bool delivered = false;
  Clock::time_point created{};
  Clock::time_point heard{};  // the last event or poll that reached this job
  // When a submit was sent without a known answer (it may have reached the provider); the
  // epoch when none is in doubt. See mark_submitting().
  Clock::time_point submitting{};
};

struct Applied {
  JobRecord record;
  bool changed = false;  // merge() said so: edit the user's message
  // A terminal update of a job not yet delivered: post the result (again, if a delivery was
  // lost). A late progress event after the end delivers nothing.
  bool deliver = false;
};

// One job counted against the daily quotas ([imagine] daily_per_user, daily_per_guild).
struct QuotaClaim {
  std::string job_id;
  std::string user_id;
  std::string guild_id;  // empty: not in a guild (no guild quota)
  std::int64_t day = 0;  // days since 1970-01-01, UTC
  int per_user = 0;      // 0: no quota
  int per_guild = 0;     // 0: no quota
};

enum class QuotaVerdict {
  kGranted,     // counted (or counted before: the same job again)
  kUserSpent,   // the user has per_user jobs that day already
  kGuildSpent,  // the guild has per_guild jobs that day already
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Creates the record, or returns the one that exists for record.job_id (unchanged).
  virtual Result<JobRecord> create(const JobRecord& record) = 0;
  // kNotFound when there is no such job.
  virtual Result<JobRecord> get(std::string_view job_id) = 0;
  // kNotFound when no job has that provider id.
  virtual Result<JobRecord> find_by_provider_job(std::string_view model,
                                                 std::string_view provider_job_id) = 0;
  virtual Result<void> set_provider_job(std::string_view job_id,
                                        std::string_view provider_job_id) = 0;
  // Notes that a submit of the job is about to leave (`at`), or that the last one was refused
  // for sure (the epoch). A crash between the provider taking a job and set_provider_job()
  // leaves the mark: the provider's first event for the job then names the prediction, which
  // is adopted instead of submitting again (imagine.hpp).
  virtual Result<void> mark_submitting(std::string_view job_id, Clock::time_point at) = 0;
  // merge()s `update` into the job's state and notes `now` as heard from; kNotFound when there
  // is no such job.
  virtual Result<Applied> apply(std::string_view job_id, const JobUpdate& update,
                                Clock::time_point now) = 0;
  // true the first time, false when it was delivered already.
  virtual Result<bool> mark_delivered(std::string_view job_id) = 0;
  // Jobs not terminal (or terminal and not delivered) not heard from since `before`, oldest
  // first, at most `limit`.
  virtual Result<std::vector<JobRecord>> waiting(Clock::time_point before, int limit) = 0;
  // Deletes delivered jobs created before `before`, and quota claims of earlier days; how many
  // jobs went.
  virtual Result<std::int64_t> forget_before(Clock::time_point before) = 0;

  // Counts claim.job_id against the day's quotas, in one transaction, unless one is spent. The
  // same job id again is granted without counting twice (a retried interaction).
  virtual Result<QuotaVerdict> claim_quota(const QuotaClaim& claim) = 0;
  // Gives a granted claim back (the job could not be enqueued).
  virtual Result<void> release_quota(std::string_view job_id) = 0;
};

}  // namespace mando::imagine
