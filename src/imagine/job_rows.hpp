#pragma once
// What the SQL job stores (SQLite, PostgreSQL) share: the columns of a job record, their
// encoding (times in milliseconds since the epoch, outputs as a JSON array) and the reading of
// a row. A Row is anything with int64(col), text(col) and is_null(col): a SQLite statement on a
// row, or one row of a PostgreSQL result.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "imagine/job_store.hpp"

namespace mando::imagine::job_rows {

inline constexpr std::string_view kColumns =
    "job_id, model, provider_job_id, request, status, queue_position, percent, outputs, error, "
    "delivered, created, heard, submitting";

inline std::int64_t millis(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline Clock::time_point time_point(std::int64_t ms) {
  return Clock::time_point(std::chrono::milliseconds(ms));
}
inline std::optional<std::int64_t> optional(const std::optional<int>& value) {
  if (!value) return std::nullopt;
  return *value;
}

std::string outputs_json(const std::vector<std::string>& outputs);
Result<std::vector<std::string>> parse_outputs(std::string_view text);

// Not terminal, or terminal and not delivered: the poller looks at it (the `waiting` column).
inline bool needs_attention(const JobRecord& record) {
  return !terminal(record.state.status) || !record.delivered;
}
// The `waiting` column of `record` as last heard from at `heard`.
inline std::optional<std::int64_t> waiting_since(const JobRecord& record, Clock::time_point heard) {
  if (!needs_attention(record)) return std::nullopt;
  return millis(heard);
}

Error not_found(std::string_view job_id);

// A row of kColumns.
template <typename Row>
Result<JobRecord> read_record(const Row& r) {
  JobRecord record;
  record.job_id = r.text(0);
  record.model = r.text(1);
  record.provider_job_id = r.text(2);
  record.request = r.text(3);
  const auto status = r.int64(4);
  if (status < 0 || status > static_cast<std::int64_t>(Status::kAborted)) {
    return fail(ErrorKind::kInternal, "imagine store: corrupt status column");
  }
  record.state.status = static_cast<Status>(status);
  if (!r.is_null(5)) record.state.queue_position = static_cast<int>(r.int64(5));
  if (!r.is_null(6)) record.state.percent = static_cast<int>(r.int64(6));
  auto outputs = parse_outputs(r.text(7));
  if (!outputs) return tl::unexpected(outputs.error());
  record.state.outputs = std::move(*outputs);
  record.state.error = r.text(8);
  record.delivered = r.int64(9) != 0;
  record.created = time_point(r.int64(10));
  record.heard = time_point(r.int64(11));
  record.submitting = time_point(r.int64(12));
  return record;
}

}  // namespace mando::imagine::job_rows
