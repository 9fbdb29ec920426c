#pragma once
// The JobStore that several mando processes share, on PostgreSQL ([queue] backend =
// "postgres": the /imagine job records and daily quotas live in [database] beside the
// queue's tables, component "imagine" of `mando db migrate`).
//
// Every method is one statement or one short transaction on a pooled connection:
//   - create() is an INSERT ... ON CONFLICT DO NOTHING, so two workers creating one job
//     agree on the first record;
//   - apply() reads the row FOR UPDATE, merges in C++ (job.hpp) and writes it back: two
//     webhooks of one job arriving at two ingress processes merge one after the other;
//   - mark_delivered() is a compare-and-set on `delivered`: a result is posted once, whichever
//     process delivers it;
//   - claim_quota() holds transaction-scoped advisory locks on the user's and then the guild's
//     day (always in that order, so two claims never wait on each other in a cycle) while it
//     counts and inserts: quotas hold across every ingress process.
//
// Thread-safety: every method may be called from any thread at once; methods block on the
// network.

#include <memory>
#include <span>

#include "core/postgres.hpp"
#include "imagine/job_store.hpp"

namespace mando::imagine {

class PostgresJobStore final : public JobStore {
 public:
  static constexpr std::string_view kComponent = "imagine";
  static std::span<const core::pg::Migration> migrations();

  // Connects and checks the schema (kFailedPrecondition: run `mando db migrate`).
  static Result<std::unique_ptr<PostgresJobStore>> open(core::pg::PoolOptions options);

  Result<JobRecord> create(const JobRecord& record) override;
  Result<JobRecord> get(std::string_view job_id) override;
  Result<JobRecord> find_by_provider_job(std::string_view model,
                                         std::string_view provider_job_id) override;
  Result<void> set_provider_job(std::string_view job_id, std::string_view provider_job_id) override;
  Result<void> mark_submitting(std::string_view job_id, Clock::time_point at) override;
  Result<Applied> apply(std::string_view job_id, const JobUpdate& update,
                        Clock::time_point now) override;
  Result<bool> mark_delivered(std::string_view job_id) override;
  Result<std::vector<JobRecord>> waiting(Clock::time_point before, int limit) override;
  Result<std::int64_t> forget_before(Clock::time_point before) override;
  Result<QuotaVerdict> claim_quota(const QuotaClaim& claim) override;
  Result<void> release_quota(std::string_view job_id) override;

 private:
  explicit PostgresJobStore(core::pg::PoolOptions options) : pool_(std::move(options)) {}
  // One UPDATE of a job by id; kNotFound when no row matched.
  template <typename... Args>
  Result<void> update_one(std::string_view sql, std::string_view job_id, const Args&... args);

  core::pg::Pool pool_;
};

}  // namespace mando::imagine
