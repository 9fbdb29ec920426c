#pragma once
// The Cloud Tasks data model, as plain values: queues, tasks, attempts and their defaults.
// Field names and defaults follow google.cloud.tasks.v2 (queue.proto, task.proto, target.proto);
// where Cloud Tasks says nothing, the choice is written here. Nothing in this header knows
// about SQLite, HTTP or JSON: the store, the dispatcher and the REST API all speak these types.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace mando::queue {

// Cloud Tasks timestamps have microsecond precision in practice; mando stores microseconds
// since the Unix epoch.
using Clock = std::chrono::system_clock;
using Micros = std::chrono::microseconds;
using TimePoint = std::chrono::time_point<Clock, Micros>;

inline TimePoint now() { return std::chrono::time_point_cast<Micros>(Clock::now()); }

// projects/{project}/locations/{location}/queues/{queue}. Ids follow Cloud Tasks: project ids
// [a-z][a-z0-9-]{4,28}[a-z0-9] (mando also accepts [A-Za-z0-9-_.:] up to 100 characters, for
// local use), location ids [a-z0-9-]{1,63}, queue ids [A-Za-z0-9-]{1,100}.
struct QueueName {
  std::string project;
  std::string location;
  std::string queue;

  std::string parent() const;  // projects/{p}/locations/{l}
  std::string full() const;    // projects/{p}/locations/{l}/queues/{q}
  static Result<QueueName> parse(std::string_view name);
  // `parent` is projects/{p}/locations/{l}.
  static Result<QueueName> from_parent(std::string_view parent, std::string_view queue_id);
  friend bool operator==(const QueueName&, const QueueName&) = default;
};

// {queue}/tasks/{task}. Task ids are [A-Za-z0-9_-]{1,500}.
struct TaskName {
  QueueName queue;
  std::string task;

  std::string full() const;
  static Result<TaskName> parse(std::string_view name);
  friend bool operator==(const TaskName&, const TaskName&) = default;
};

struct RateLimits {
  double max_dispatches_per_second = 500;  // (0, 500]
  int max_burst_size = 100;                // output only in Cloud Tasks; mando lets config set it
  int max_concurrent_dispatches = 1000;    // [1, 5000]
};

struct RetryConfig {
  int max_attempts = 100;        // -1: unlimited; 0 is treated as the default, like Cloud Tasks
  Micros max_retry_duration{0};  // 0: unlimited
  Micros min_backoff = std::chrono::milliseconds(100);
  Micros max_backoff = std::chrono::seconds(3600);
  int max_doublings = 16;
};

enum class QueueState { kRunning, kPaused, kDisabled };

struct Queue {
  QueueName name;
  RateLimits rate_limits;
  RetryConfig retry_config;
  QueueState state = QueueState::kRunning;
  std::optional<TimePoint> purge_time;
  // mando's extension: the base URL that appEngineHttpRequest.relativeUri is resolved against
  // (Cloud Tasks resolves it against the App Engine app). Empty: the server's own address.
  std::string worker_base_url;
};

enum class HttpMethod { kPost, kGet, kHead, kPut, kDelete, kPatch, kOptions };
std::string_view to_string(HttpMethod method);
std::optional<HttpMethod> parse_http_method(std::string_view text);

// The request a task sends: httpRequest (an absolute URL) or appEngineHttpRequest (a
// relative URI resolved against Queue::worker_base_url).
struct TaskRequest {
  enum class Kind { kHttp, kAppEngine };
  Kind kind = Kind::kHttp;
  std::string url;  // absolute for kHttp; the relative URI ("/path?query") for kAppEngine
  HttpMethod method = HttpMethod::kPost;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // raw bytes (base64 only on the wire)
};

struct Attempt {
  TimePoint schedule_time;
  std::optional<TimePoint> dispatch_time;
  std::optional<TimePoint> response_time;
  // The worker's HTTP status, or 0 when there was no HTTP response (connection error, deadline).
  int http_status = 0;
  std::string error;  // why it failed, when it did ("HTTP 503", "connection refused", ...)
};

// Pending tasks wait for their schedule time; leased ones are being dispatched; failed ones
// used up their retries and are kept as dead letters until re-run or deleted (beyond Cloud
// Tasks, which drops them).
enum class TaskState { kPending, kLeased, kFailed };
std::string_view to_string(TaskState state);

inline constexpr Micros kDefaultDispatchDeadline = std::chrono::minutes(10);
inline constexpr Micros kMinDispatchDeadline = std::chrono::seconds(15);
inline constexpr Micros kMaxDispatchDeadline = std::chrono::minutes(30);
inline constexpr Micros kMaxScheduleAhead = std::chrono::hours(24 * 30);

struct Task {
  TaskName name;
  TaskRequest request;
  TimePoint schedule_time;
  TimePoint create_time;
  Micros dispatch_deadline = kDefaultDispatchDeadline;
  int dispatch_count = 0;
  int response_count = 0;
  std::optional<Attempt> first_attempt;
  std::optional<Attempt> last_attempt;
  TaskState state = TaskState::kPending;
};

// One page of a list call. An empty next_page_token means the last page.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;
};

// Validation of what callers may set. Errors are kInvalidArgument and name the field the way
// the REST API spells it ("rateLimits.maxDispatchesPerSecond").
Result<void> validate(const Queue& queue);
Result<void> validate_new_task(const Task& task, TimePoint now);

// The id of a task created without a name: 26 decimal digits, the creation time in
// microseconds since the epoch and then 10 random digits. Google generates 19-20 random digits;
// mando puts the time first so that consecutive names land next to each other in the store's
// indexes (random names cost one index page written per task and commit), and two names can
// only collide when made in the same microsecond with the same random part (one in 10^10).
std::string generate_task_id();

}  // namespace mando::queue
