#pragma once
// The embedded JobStore: one SQLite file (WAL), by default {data_dir}/imagine.sqlite3, apart
// from the task queue's so that neither waits on the other's writes.
//
// One connection behind a mutex: every write is one short transaction committed (and, with
// synchronous_full, synced) before the method returns, so a webhook is answered 2xx only once
// its news is on disk. Jobs are few next to tasks (one per /imagine, a handful of events each),
// so the queue's group commit is not needed here.

#include <filesystem>
#include <memory>
#include <mutex>

#include "imagine/job_store.hpp"

namespace mando::core::sqlite {
class Connection;
}  // namespace mando::core::sqlite

namespace mando::imagine {

class SqliteJobStore final : public JobStore {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens (creating when missing, with its directory) the database. kUnavailable when it cannot
  // be opened; kFailedPrecondition when a newer mando wrote it.
  static Result<std::unique_ptr<SqliteJobStore>> open(const std::filesystem::path& path,
                                                      bool synchronous_full = true);
  ~SqliteJobStore() override;

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
  explicit SqliteJobStore(std::unique_ptr<core::sqlite::Connection> db);

  Result<JobRecord> get_locked(std::string_view job_id);

  std::mutex mutex_;
  std::unique_ptr<core::sqlite::Connection> db_;
};

}  // namespace mando::imagine
