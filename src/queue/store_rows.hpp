#pragma once
// What the SQL task stores (SQLite, PostgreSQL) share: the columns a queue and a task are kept
// in, the mapping of a row to a Queue or a Task, the header encoding, page tokens and the
// errors they answer. Both schemas keep the same column names and meanings: times are
// microseconds since the Unix epoch, durations microseconds.
//
// A Row is anything with int64(col), real(col), text(col) and is_null(col): a SQLite
// statement positioned on a row, or one row of a PostgreSQL result (pg_row below).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "queue/model.hpp"

namespace mando::queue::rows {

inline constexpr std::string_view kQueueColumns =
    "name, max_dispatches_per_second, max_burst_size, max_concurrent_dispatches, max_attempts, "
    "max_retry_duration, min_backoff, max_backoff, max_doublings, state, worker_base_url, "
    "purge_time";
inline constexpr std::string_view kTaskColumns =
    "task, kind, url, method, headers, body, schedule_time, create_time, dispatch_deadline, "
    "dispatch_count, response_count, fa_schedule, fa_dispatch, fa_response, fa_status, fa_error, "
    "la_schedule, la_dispatch, la_response, la_status, la_error, state";

inline std::int64_t micros(TimePoint t) { return t.time_since_epoch().count(); }
inline std::int64_t micros(Micros d) { return d.count(); }
inline TimePoint time_point(std::int64_t us) { return TimePoint(Micros(us)); }
inline std::optional<std::int64_t> micros(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return micros(*t);
}

// Headers are stored as "<name length>:<name><value length>:<value>" repeated: binary-safe and
// trivial to parse, where JSON would reject bytes that are not UTF-8.
std::string encode_headers(const std::vector<std::pair<std::string, std::string>>& headers);
Result<std::vector<std::pair<std::string, std::string>>> decode_headers(std::string_view in);

// A client's page size within [1, 1000], 100 when unset.
int page_size_or_default(int page_size);
// Page tokens are base64url("<kind><last name>"): opaque to clients, checked on the way back.
std::string encode_page_token(char kind, std::string_view last);
// The last name of the previous page ("" for the first page).
Result<std::string> decode_page_token(char kind, const std::string& token);

Error not_found(std::string_view what, const std::string& name);
// A report whose lease is no longer the one numbered `dispatch_count`.
Error stale_lease(const TaskName& name, int dispatch_count, std::int64_t current, TaskState state);
Error duplicate_task(const TaskName& name, bool tombstone);

template <typename Row>
std::optional<TimePoint> optional_time(const Row& r, int col) {
  if (r.is_null(col)) return std::nullopt;
  return time_point(r.int64(col));
}

// A row of kQueueColumns.
template <typename Row>
Result<Queue> read_queue(const Row& r) {
  auto name = QueueName::parse(r.text(0));
  if (!name) return fail(ErrorKind::kInternal, "store: corrupt queue name: " + r.text(0));
  Queue q;
  q.name = std::move(*name);
  q.rate_limits.max_dispatches_per_second = r.real(1);
  q.rate_limits.max_burst_size = static_cast<int>(r.int64(2));
  q.rate_limits.max_concurrent_dispatches = static_cast<int>(r.int64(3));
  q.retry_config.max_attempts = static_cast<int>(r.int64(4));
  q.retry_config.max_retry_duration = Micros(r.int64(5));
  q.retry_config.min_backoff = Micros(r.int64(6));
  q.retry_config.max_backoff = Micros(r.int64(7));
  q.retry_config.max_doublings = static_cast<int>(r.int64(8));
  q.state = static_cast<QueueState>(r.int64(9));
  q.worker_base_url = r.text(10);
  q.purge_time = optional_time(r, 11);
  return q;
}

template <typename Row>
std::optional<Attempt> read_attempt(const Row& r, int col) {
  if (r.is_null(col)) return std::nullopt;
  return Attempt{time_point(r.int64(col)), optional_time(r, col + 1), optional_time(r, col + 2),
                 static_cast<int>(r.int64(col + 3)), r.text(col + 4)};
}

// A row of kTaskColumns.
template <typename Row>
Result<Task> read_task(const Row& r, const QueueName& queue) {
  Task t;
  t.name = {queue, r.text(0)};
  t.request.kind = static_cast<TaskRequest::Kind>(r.int64(1));
  t.request.url = r.text(2);
  t.request.method = static_cast<HttpMethod>(r.int64(3));
  auto headers = decode_headers(r.text(4));
  if (!headers) return tl::unexpected(headers.error());
  t.request.headers = std::move(*headers);
  t.request.body = r.text(5);
  t.schedule_time = time_point(r.int64(6));
  t.create_time = time_point(r.int64(7));
  t.dispatch_deadline = Micros(r.int64(8));
  t.dispatch_count = static_cast<int>(r.int64(9));
  t.response_count = static_cast<int>(r.int64(10));
  t.first_attempt = read_attempt(r, 11);
  t.last_attempt = read_attempt(r, 16);
  t.state = static_cast<TaskState>(r.int64(21));
  return t;
}

// The new task a create stores: create_time is `now`, schedule_time `now` when unset (the
// epoch), counts and attempts empty.
Task new_task(const Task& task, TimePoint now);

}  // namespace mando::queue::rows
