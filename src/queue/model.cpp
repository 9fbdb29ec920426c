#include "queue/model.hpp"

#include <array>

#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <sodium.h>

namespace mando::queue {
namespace {

constexpr std::string_view kProjects = "projects/";
constexpr std::string_view kLocations = "/locations/";
constexpr std::string_view kQueues = "/queues/";
constexpr std::string_view kTasks = "/tasks/";

bool is_lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_or_digit(c) || (c >= 'A' && c <= 'Z'); }

// True when `id` has between 1 and `max_len` characters, each accepted by `allowed`.
template <typename Pred>
bool is_id(std::string_view id, std::size_t max_len, Pred allowed) {
  if (id.empty() || id.size() > max_len) return false;
  for (char c : id) {
    if (!allowed(c)) return false;
  }
  return true;
}

// Cloud Tasks' own project ids ([a-z][a-z0-9-]{4,28}[a-z0-9]) are a subset of this.
bool is_project_id(std::string_view id) {
  return is_id(id, 100,
               [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.' || c == ':'; });
}
bool is_location_id(std::string_view id) {
  return is_id(id, 63, [](char c) { return is_lower_or_digit(c) || c == '-'; });
}
bool is_queue_id(std::string_view id) {
  return is_id(id, 100, [](char c) { return is_alnum(c) || c == '-'; });
}
bool is_task_id(std::string_view id) {
  return is_id(id, 500, [](char c) { return is_alnum(c) || c == '-' || c == '_'; });
}

// Checks the three ids of a queue name; `field` is how the caller's input names them.
Result<void> check_queue_ids(const QueueName& name, std::string_view field) {
  if (!is_project_id(name.project)) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: invalid project id \"{}\"", field, name.project));
  }
  if (!is_location_id(name.location)) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: invalid location id \"{}\" (expected [a-z0-9-]{{1,63}})", field,
                            name.location));
  }
  if (!is_queue_id(name.queue)) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: invalid queue id \"{}\" (expected [A-Za-z0-9-]{{1,100}})", field,
                            name.queue));
  }
  return {};
}

// Splits projects/{p}/locations/{l} into its ids, or nullopt when the shape is wrong.
std::optional<std::pair<std::string_view, std::string_view>> split_parent(std::string_view text) {
  if (!text.starts_with(kProjects)) return std::nullopt;
  text.remove_prefix(kProjects.size());
  auto at = text.find(kLocations);
  if (at == std::string_view::npos) return std::nullopt;
  return std::pair{text.substr(0, at), text.substr(at + kLocations.size())};
}

Result<QueueName> parse_queue_name(std::string_view text, std::string_view field) {
  auto at = text.rfind(kQueues);
  std::optional<std::pair<std::string_view, std::string_view>> parent;
  if (at != std::string_view::npos) parent = split_parent(text.substr(0, at));
  if (!parent) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("{}: \"{}\" is not projects/{{project}}/locations/{{location}}/"
                            "queues/{{queue}}",
                            field, text));
  }
  QueueName name{std::string(parent->first), std::string(parent->second),
                 std::string(text.substr(at + kQueues.size()))};
  if (auto ok = check_queue_ids(name, field); !ok) return tl::unexpected(ok.error());
  return name;
}

bool is_absolute_http_url(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return false;
  auto scheme = parsed->scheme_id();
  return (scheme == boost::urls::scheme::http || scheme == boost::urls::scheme::https) &&
         !parsed->encoded_host().empty();
}

// RFC 9110 token characters.
bool is_token(std::string_view name) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return is_id(name, name.size(),
               [&](char c) { return is_alnum(c) || kSpecials.find(c) != std::string_view::npos; });
}

Result<void> invalid(std::string message) {
  return fail(ErrorKind::kInvalidArgument, std::move(message));
}

}  // namespace

std::string QueueName::parent() const {
  return fmt::format("{}{}{}{}", kProjects, project, kLocations, location);
}

std::string QueueName::full() const { return fmt::format("{}{}{}", parent(), kQueues, queue); }

Result<QueueName> QueueName::parse(std::string_view name) { return parse_queue_name(name, "name"); }

Result<QueueName> QueueName::from_parent(std::string_view parent, std::string_view queue_id) {
  auto ids = split_parent(parent);
  if (!ids) {
    return fail(
        ErrorKind::kInvalidArgument,
        fmt::format("parent: \"{}\" is not projects/{{project}}/locations/{{location}}", parent));
  }
  QueueName name{std::string(ids->first), std::string(ids->second), "queue"};
  if (auto ok = check_queue_ids(name, "parent"); !ok) return tl::unexpected(ok.error());
  name.queue = std::string(queue_id);
  if (auto ok = check_queue_ids(name, "name"); !ok) return tl::unexpected(ok.error());
  return name;
}

std::string TaskName::full() const { return fmt::format("{}{}{}", queue.full(), kTasks, task); }

Result<TaskName> TaskName::parse(std::string_view name) {
  auto at = name.rfind(kTasks);
  if (at == std::string_view::npos) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("name: \"{}\" is not projects/{{project}}/locations/{{location}}/"
                            "queues/{{queue}}/tasks/{{task}}",
                            name));
  }
  auto queue = parse_queue_name(name.substr(0, at), "name");
  if (!queue) return tl::unexpected(queue.error());
  auto task = name.substr(at + kTasks.size());
  if (!is_task_id(task)) {
    return fail(
        ErrorKind::kInvalidArgument,
        fmt::format("name: invalid task id \"{}\" (expected [A-Za-z0-9_-]{{1,500}})", task));
  }
  return TaskName{std::move(*queue), std::string(task)};
}

namespace {
constexpr std::array<std::pair<HttpMethod, std::string_view>, 7> kMethods{{
    {HttpMethod::kPost, "POST"},
    {HttpMethod::kGet, "GET"},
    {HttpMethod::kHead, "HEAD"},
    {HttpMethod::kPut, "PUT"},
    {HttpMethod::kDelete, "DELETE"},
    {HttpMethod::kPatch, "PATCH"},
    {HttpMethod::kOptions, "OPTIONS"},
}};
}  // namespace

std::string_view to_string(HttpMethod method) {
  for (const auto& [m, text] : kMethods) {
    if (m == method) return text;
  }
  return "POST";
}

std::optional<HttpMethod> parse_http_method(std::string_view text) {
  for (const auto& [m, name] : kMethods) {
    if (name == text) return m;
  }
  return std::nullopt;
}

std::string_view to_string(TaskState state) {
  switch (state) {
    case TaskState::kPending:
      return "pending";
    case TaskState::kLeased:
      return "leased";
    case TaskState::kFailed:
      return "failed";
  }
  return "pending";
}

Result<void> validate(const Queue& queue) {
  if (auto ok = check_queue_ids(queue.name, "queue.name"); !ok) return ok;
  const auto& rate = queue.rate_limits;
  if (!(rate.max_dispatches_per_second > 0 && rate.max_dispatches_per_second <= 500)) {
    return invalid(
        fmt::format("queue.rateLimits.maxDispatchesPerSecond: must be in (0, 500], got {}",
                    rate.max_dispatches_per_second));
  }
  if (rate.max_burst_size < 1) {
    return invalid(fmt::format("queue.rateLimits.maxBurstSize: must be at least 1, got {}",
                               rate.max_burst_size));
  }
  if (rate.max_concurrent_dispatches < 1 || rate.max_concurrent_dispatches > 5000) {
    return invalid(
        fmt::format("queue.rateLimits.maxConcurrentDispatches: must be in [1, 5000], got {}",
                    rate.max_concurrent_dispatches));
  }
  const auto& retry = queue.retry_config;
  if (retry.max_attempts < -1) {
    return invalid(
        fmt::format("queue.retryConfig.maxAttempts: must be -1 (unlimited) or more, got {}",
                    retry.max_attempts));
  }
  if (retry.max_retry_duration.count() < 0) {
    return invalid("queue.retryConfig.maxRetryDuration: must not be negative");
  }
  if (retry.min_backoff.count() < 0) {
    return invalid("queue.retryConfig.minBackoff: must not be negative");
  }
  if (retry.max_backoff.count() < 0) {
    return invalid("queue.retryConfig.maxBackoff: must not be negative");
  }
  if (retry.min_backoff > retry.max_backoff) {
    return invalid("queue.retryConfig.minBackoff: must not exceed queue.retryConfig.maxBackoff");
  }
  if (retry.max_doublings < 0) {
    return invalid(fmt::format("queue.retryConfig.maxDoublings: must not be negative, got {}",
                               retry.max_doublings));
  }
  if (!queue.worker_base_url.empty() && !is_absolute_http_url(queue.worker_base_url)) {
    return invalid(fmt::format(
        "queue.appEngineRoutingOverride.host: \"{}\" is not an absolute http or https URL",
        queue.worker_base_url));
  }
  return {};
}

Result<void> validate_new_task(const Task& task, TimePoint now) {
  if (auto ok = check_queue_ids(task.name.queue, "task.name"); !ok) return ok;
  // An empty id is allowed: the queue generates one (generate_task_id()).
  if (!task.name.task.empty() && !is_task_id(task.name.task)) {
    return invalid(fmt::format(
        "task.name: invalid task id \"{}\" (expected [A-Za-z0-9_-]{{1,500}})", task.name.task));
  }
  const auto& request = task.request;
  const bool http = request.kind == TaskRequest::Kind::kHttp;
  const std::string_view field = http ? "task.httpRequest" : "task.appEngineHttpRequest";
  if (http && !is_absolute_http_url(request.url)) {
    return invalid(
        fmt::format("{}.url: \"{}\" is not an absolute http or https URL", field, request.url));
  }
  if (!http && !request.url.starts_with('/')) {
    return invalid(fmt::format("{}.relativeUri: \"{}\" must start with \"/\"", field, request.url));
  }
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name)) {
      return invalid(fmt::format("{}.headers: \"{}\" is not a valid header name", field, name));
    }
    // CR, LF or NUL in a value would let a task smuggle extra headers into the dispatch.
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return invalid(
          fmt::format("{}.headers: the value of \"{}\" contains CR, LF or NUL", field, name));
    }
  }
  if (task.schedule_time > now + kMaxScheduleAhead) {
    return invalid("task.scheduleTime: must be at most 30 days in the future");
  }
  if (task.dispatch_deadline < kMinDispatchDeadline ||
      task.dispatch_deadline > kMaxDispatchDeadline) {
    return invalid("task.dispatchDeadline: must be between 15 seconds and 30 minutes");
  }
  return {};
}

std::string generate_task_id() {
  // libsodium's generator is thread-safe once sodium_init() has run; running it more than once
  // is harmless. One call for the whole id: each call is a getrandom() system call, and one per
  // digit was a tenth of the CPU of an enqueue.
  [[maybe_unused]] static const int initialised = sodium_init();
  std::uint64_t random = 0;
  randombytes_buf(&random, sizeof random);
  // 2^64 is not a multiple of 10^10, which favours the low values by less than one part in 10^9:
  // nothing a name needs to care about.
  constexpr std::uint64_t kTenDigits = 10'000'000'000;
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return fmt::format("{:016}{:010}", micros, random % kTenDigits);
}

}  // namespace mando::queue
