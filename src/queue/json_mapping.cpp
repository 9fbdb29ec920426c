#include "queue/json_mapping.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "core/crypto.hpp"

namespace mando::queue {
namespace {

// A client's value as error messages quote it: at most 64 characters, control characters as
// '?', so a hostile request cannot make an error (or the log line that carries it) huge.
std::string shown(std::string_view value) {
  constexpr std::size_t kMax = 64;
  std::string out(value.substr(0, value.size() > kMax ? kMax - 3 : kMax));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (value.size() > kMax) out += "...";
  return out;
}

namespace json = boost::json;
using std::chrono::duration_cast;

// Reading nested JSON with a Result at every step would bury the mapping under error plumbing:
// the private readers below throw BadField, and every public *_from_json catches it, so no
// exception leaves this file.
struct BadField {
  std::string message;
};

[[noreturn]] void bad(std::string_view path, std::string_view what) {
  throw BadField{fmt::format("{}: {}", path, what)};
}

std::string join(std::string_view path, std::string_view key) {
  return fmt::format("{}.{}", path, key);
}

std::string_view describe(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

const json::object& read_object(const json::value& v, std::string_view path) {
  if (!v.is_object()) bad(path, fmt::format("expected an object, got {}", describe(v)));
  return v.get_object();
}

std::string read_string(const json::value& v, std::string_view path) {
  if (!v.is_string()) bad(path, fmt::format("expected a string, got {}", describe(v)));
  return std::string(v.get_string());
}

// Calls `read(value, path)` for each present, non-null field of `object`: proto3 JSON reads
// null as "not set".
template <typename Read>
void each_field(const json::object& object, std::string_view path, std::string_view key,
                Read&& read) {
  auto it = object.find(key);
  if (it == object.end() || it->value().is_null()) return;
  read(it->value(), join(path, key));
}

// Integers: numbers (integral doubles such as 1e3 too) or strings of decimal digits, which is
// how proto3 JSON writes int64.
std::int64_t read_integer(const json::value& v, std::string_view path, std::int64_t min,
                          std::int64_t max) {
  auto out_of_range = [&] {
    bad(path, fmt::format("{} is out of range [{}, {}]", json::serialize(v), min, max));
  };
  std::int64_t out = 0;
  if (v.is_int64()) {
    out = v.get_int64();
  } else if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(max)) out_of_range();
    out = static_cast<std::int64_t>(v.get_uint64());
  } else if (v.is_double()) {
    double d = v.get_double();
    if (!std::isfinite(d) || std::trunc(d) != d) bad(path, "expected an integer");
    if (d < static_cast<double>(min) || d > static_cast<double>(max)) out_of_range();
    out = static_cast<std::int64_t>(d);
  } else if (v.is_string()) {
    std::string_view s = v.get_string();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc::result_out_of_range) out_of_range();
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
      bad(path, fmt::format("\"{}\" is not an integer", shown(s)));
    }
  } else {
    bad(path, fmt::format("expected an integer, got {}", describe(v)));
  }
  if (out < min || out > max) out_of_range();
  return out;
}

int read_int32(const json::value& v, std::string_view path) {
  return static_cast<int>(read_integer(v, path, std::numeric_limits<std::int32_t>::min(),
                                       std::numeric_limits<std::int32_t>::max()));
}

// Doubles: numbers, or strings holding a number ("NaN" and "Infinity" are refused: no field of
// Cloud Tasks can take them).
double read_double(const json::value& v, std::string_view path) {
  double out = 0;
  if (v.is_number()) {
    out = v.to_number<double>();
  } else if (v.is_string()) {
    std::string_view s = v.get_string();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
      bad(path, fmt::format("\"{}\" is not a number", shown(s)));
    }
  } else {
    bad(path, fmt::format("expected a number, got {}", describe(v)));
  }
  if (!std::isfinite(out)) bad(path, "expected a finite number");
  return out;
}

TimePoint read_timestamp(const json::value& v, std::string_view path) {
  auto t = parse_timestamp(read_string(v, path));
  if (!t) bad(path, t.error().message);
  return *t;
}

Micros read_duration(const json::value& v, std::string_view path) {
  auto d = parse_duration(read_string(v, path));
  if (!d) bad(path, d.error().message);
  return *d;
}

// QueueName::parse and TaskName::parse name the field "name"; `path` names it in full.
[[noreturn]] void bad_name(std::string_view path, std::string_view message) {
  if (message.starts_with("name: ")) message.remove_prefix(6);
  bad(path, message);
}

std::string read_bytes(const json::value& v, std::string_view path) {
  auto b = decode_base64(read_string(v, path));
  if (!b) bad(path, b.error().message);
  return std::move(*b);
}

// ---- Enums: the proto names and numbers, and mando's value for each.

template <typename T>
struct EnumValue {
  std::string_view name;
  int number;
  T value;
};

template <typename T, std::size_t N>
T read_enum(const json::value& v, std::string_view path, const std::array<EnumValue<T>, N>& table) {
  if (v.is_string()) {
    for (const auto& e : table) {
      if (e.name == v.get_string()) return e.value;
    }
    bad(path, fmt::format("unknown value \"{}\"", shown(v.get_string())));
  }
  if (!v.is_number())
    bad(path, fmt::format("expected an enum name or number, got {}", describe(v)));
  auto n = read_integer(v, path, std::numeric_limits<std::int32_t>::min(),
                        std::numeric_limits<std::int32_t>::max());
  for (const auto& e : table) {
    if (e.number == n) return e.value;
  }
  bad(path, fmt::format("unknown value {}", n));
}

// The entry written for `value`: the first one of the table that maps to it (the tables list
// the UNSPECIFIED alias after the real value).
template <typename T, std::size_t N>
json::value write_enum(T value, EnumEncoding enums, const std::array<EnumValue<T>, N>& table) {
  for (const auto& e : table) {
    if (e.value == value) {
      return enums == EnumEncoding::kNumber ? json::value(e.number) : json::value(e.name);
    }
  }
  return nullptr;  // unreachable: every table covers its enum
}

// UNSPECIFIED is read as what Cloud Tasks does with it: a RUNNING queue, a POST, a BASIC view.
constexpr std::array<EnumValue<QueueState>, 4> kQueueStates{{
    {"RUNNING", 1, QueueState::kRunning},
    {"PAUSED", 2, QueueState::kPaused},
    {"DISABLED", 3, QueueState::kDisabled},
    {"STATE_UNSPECIFIED", 0, QueueState::kRunning},
}};

constexpr std::array<EnumValue<HttpMethod>, 8> kHttpMethods{{
    {"POST", 1, HttpMethod::kPost},
    {"GET", 2, HttpMethod::kGet},
    {"HEAD", 3, HttpMethod::kHead},
    {"PUT", 4, HttpMethod::kPut},
    {"DELETE", 5, HttpMethod::kDelete},
    {"PATCH", 6, HttpMethod::kPatch},
    {"OPTIONS", 7, HttpMethod::kOptions},
    {"HTTP_METHOD_UNSPECIFIED", 0, HttpMethod::kPost},
}};

constexpr std::array<EnumValue<TaskView>, 3> kViews{{
    {"BASIC", 1, TaskView::kBasic},
    {"FULL", 2, TaskView::kFull},
    {"VIEW_UNSPECIFIED", 0, TaskView::kBasic},
}};

// mando's own field, so names only; the numbers follow the declaration order.
constexpr std::array<EnumValue<TaskState>, 3> kTaskStates{{
    {"PENDING", 0, TaskState::kPending},
    {"LEASED", 1, TaskState::kLeased},
    {"FAILED", 2, TaskState::kFailed},
}};

// ---- google.rpc.Code

struct RpcCode {
  std::string_view name;
  int number;
  int http_status;  // the mapping code.proto's comments give
  ErrorKind kind;   // what mando makes of it
};

// Codes ErrorKind has no word for become the nearest kind: CANCELLED and ABORTED may succeed
// when retried (kUnavailable), OUT_OF_RANGE is a bad argument, the rest are internal.
constexpr std::array<RpcCode, 17> kRpcCodes{{
    {"OK", 0, 200, ErrorKind::kInternal},
    {"CANCELLED", 1, 499, ErrorKind::kUnavailable},
    {"UNKNOWN", 2, 500, ErrorKind::kInternal},
    {"INVALID_ARGUMENT", 3, 400, ErrorKind::kInvalidArgument},
    {"DEADLINE_EXCEEDED", 4, 504, ErrorKind::kDeadlineExceeded},
    {"NOT_FOUND", 5, 404, ErrorKind::kNotFound},
    {"ALREADY_EXISTS", 6, 409, ErrorKind::kAlreadyExists},
    {"PERMISSION_DENIED", 7, 403, ErrorKind::kPermissionDenied},
    {"RESOURCE_EXHAUSTED", 8, 429, ErrorKind::kResourceExhausted},
    {"FAILED_PRECONDITION", 9, 400, ErrorKind::kFailedPrecondition},
    {"ABORTED", 10, 409, ErrorKind::kUnavailable},
    {"OUT_OF_RANGE", 11, 400, ErrorKind::kInvalidArgument},
    {"UNIMPLEMENTED", 12, 501, ErrorKind::kInternal},
    {"INTERNAL", 13, 500, ErrorKind::kInternal},
    {"UNAVAILABLE", 14, 503, ErrorKind::kUnavailable},
    {"DATA_LOSS", 15, 500, ErrorKind::kInternal},
    {"UNAUTHENTICATED", 16, 401, ErrorKind::kUnauthenticated},
}};

constexpr int kRpcOk = 0;
constexpr int kRpcDeadlineExceeded = 4;
constexpr int kRpcUnavailable = 14;

const RpcCode* rpc_by_number(int number) {
  for (const auto& c : kRpcCodes) {
    if (c.number == number) return &c;
  }
  return nullptr;
}

// ---- Attempt

// An attempt without an HTTP status failed before the worker answered: the dispatcher words a
// timeout "deadline exceeded" (DEADLINE_EXCEEDED), anything else is a connection error
// (UNAVAILABLE), as Cloud Tasks reports them.
int attempt_rpc_code(const Attempt& a) {
  if (a.http_status != 0) return rpc_code_for_http_status(a.http_status);
  std::string lower = a.error;
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("deadline") != std::string::npos ? kRpcDeadlineExceeded : kRpcUnavailable;
}

json::object attempt_to_json(const Attempt& a) {
  json::object o;
  o["scheduleTime"] = format_timestamp(a.schedule_time);
  if (a.dispatch_time) o["dispatchTime"] = format_timestamp(*a.dispatch_time);
  if (a.response_time) o["responseTime"] = format_timestamp(*a.response_time);
  // The status means something once the attempt ended: with a response or an error. Its
  // message keeps the HTTP status ("HTTP 503 ...") so a reader gets it back exactly.
  if (a.response_time || a.http_status != 0 || !a.error.empty()) {
    std::string message =
        a.error.empty() && a.http_status != 0 ? fmt::format("HTTP {}", a.http_status) : a.error;
    o["responseStatus"] = {{"code", attempt_rpc_code(a)}, {"message", message}};
  }
  return o;
}

// "HTTP 503..." -> 503.
std::optional<int> http_status_in(std::string_view message) {
  if (!message.starts_with("HTTP ") || message.size() < 8) return std::nullopt;
  int status = 0;
  auto [end, ec] = std::from_chars(message.data() + 5, message.data() + 8, status);
  if (ec != std::errc() || end != message.data() + 8 || status < 100 || status > 599) {
    return std::nullopt;
  }
  return status;
}

Attempt read_attempt(const json::value& v, std::string_view path) {
  const auto& o = read_object(v, path);
  Attempt a;
  each_field(o, path, "scheduleTime",
             [&](auto& f, auto p) { a.schedule_time = read_timestamp(f, p); });
  each_field(o, path, "dispatchTime",
             [&](auto& f, auto p) { a.dispatch_time = read_timestamp(f, p); });
  each_field(o, path, "responseTime",
             [&](auto& f, auto p) { a.response_time = read_timestamp(f, p); });
  each_field(o, path, "responseStatus", [&](auto& f, auto p) {
    const auto& status = read_object(f, p);
    int code = kRpcOk;
    std::string message;
    each_field(status, p, "code", [&](auto& c, auto cp) { code = read_int32(c, cp); });
    each_field(status, p, "message", [&](auto& m, auto mp) { message = read_string(m, mp); });
    if (auto http = http_status_in(message)) {
      a.http_status = *http;
    } else if (code == kRpcOk) {
      a.http_status = 200;
    } else if (code != kRpcDeadlineExceeded && code != kRpcUnavailable) {
      const RpcCode* rpc = rpc_by_number(code);
      a.http_status = rpc != nullptr ? rpc->http_status : 500;
    }
    if (code != kRpcOk) a.error = message;
  });
  return a;
}

// ---- Requests

void write_headers_and_body(json::object& o, const TaskRequest& r) {
  if (!r.headers.empty()) {
    json::object headers;
    for (const auto& [name, value] : r.headers) headers[name] = value;
    o["headers"] = std::move(headers);
  }
  if (!r.body.empty()) o["body"] = encode_base64(r.body);
}

void write_request(json::object& task, const TaskRequest& r, TaskView view, EnumEncoding enums) {
  json::object o;
  bool http = r.kind == TaskRequest::Kind::kHttp;
  o[http ? "url" : "relativeUri"] = r.url;
  o["httpMethod"] = write_enum(r.method, enums, kHttpMethods);
  if (view == TaskView::kFull) write_headers_and_body(o, r);
  task[http ? "httpRequest" : "appEngineHttpRequest"] = std::move(o);
}

TaskRequest read_request(const json::value& v, std::string_view path, TaskRequest::Kind kind) {
  const auto& o = read_object(v, path);
  TaskRequest r;
  r.kind = kind;
  each_field(o, path, kind == TaskRequest::Kind::kHttp ? "url" : "relativeUri",
             [&](auto& f, auto p) { r.url = read_string(f, p); });
  each_field(o, path, "httpMethod",
             [&](auto& f, auto p) { r.method = read_enum(f, p, kHttpMethods); });
  each_field(o, path, "headers", [&](auto& f, auto p) {
    for (const auto& [name, value] : read_object(f, p)) {
      r.headers.emplace_back(std::string(name), read_string(value, join(p, name)));
    }
  });
  each_field(o, path, "body", [&](auto& f, auto p) { r.body = read_bytes(f, p); });
  // A task's own appEngineRouting is checked but not used: mando routes every task of a queue
  // through the queue's appEngineRoutingOverride, as Cloud Tasks does when a queue has one.
  each_field(o, path, "appEngineRouting", [&](auto& f, auto p) { read_object(f, p); });
  return r;
}

// ---- Queue

constexpr std::string_view kHttpScheme = "http://";

std::string host_of(const std::string& base_url) {
  return base_url.starts_with(kHttpScheme) ? base_url.substr(kHttpScheme.size()) : base_url;
}

std::string base_url_of(const std::string& host) {
  if (host.empty() || host.find("://") != std::string::npos) return host;
  return std::string(kHttpScheme) + host;
}

// A double as protobuf's JSON writes it: 500, not Boost.JSON's 5E2, when it is a whole number.
json::value number_json(double v) {
  if (v == std::trunc(v) && std::abs(v) < 1e15) return json::value(static_cast<std::int64_t>(v));
  return json::value(v);
}

json::object queue_json(const Queue& q, EnumEncoding enums, bool output_fields) {
  json::object o;
  o["name"] = q.name.full();
  o["rateLimits"] = {
      {"maxDispatchesPerSecond", number_json(q.rate_limits.max_dispatches_per_second)},
      {"maxBurstSize", q.rate_limits.max_burst_size},
      {"maxConcurrentDispatches", q.rate_limits.max_concurrent_dispatches},
  };
  o["retryConfig"] = {
      {"maxAttempts", q.retry_config.max_attempts},
      {"maxRetryDuration", format_duration(q.retry_config.max_retry_duration)},
      {"minBackoff", format_duration(q.retry_config.min_backoff)},
      {"maxBackoff", format_duration(q.retry_config.max_backoff)},
      {"maxDoublings", q.retry_config.max_doublings},
  };
  if (!q.worker_base_url.empty()) {
    o["appEngineRoutingOverride"] = {{"host", host_of(q.worker_base_url)}};
  }
  if (output_fields) {
    o["state"] = write_enum(q.state, enums, kQueueStates);
    if (q.purge_time) o["purgeTime"] = format_timestamp(*q.purge_time);
  }
  return o;
}

Queue read_queue(const json::value& v, std::string_view path) {
  const auto& o = read_object(v, path);
  Queue q;
  each_field(o, path, "name", [&](auto& f, auto p) {
    auto name = QueueName::parse(read_string(f, p));
    if (!name) bad_name(p, name.error().message);
    q.name = std::move(*name);
  });
  each_field(o, path, "rateLimits", [&](auto& f, auto p) {
    const auto& r = read_object(f, p);
    auto& limits = q.rate_limits;
    each_field(r, p, "maxDispatchesPerSecond",
               [&](auto& x, auto xp) { limits.max_dispatches_per_second = read_double(x, xp); });
    each_field(r, p, "maxBurstSize",
               [&](auto& x, auto xp) { limits.max_burst_size = read_int32(x, xp); });
    each_field(r, p, "maxConcurrentDispatches",
               [&](auto& x, auto xp) { limits.max_concurrent_dispatches = read_int32(x, xp); });
  });
  each_field(o, path, "retryConfig", [&](auto& f, auto p) {
    const auto& r = read_object(f, p);
    auto& retry = q.retry_config;
    each_field(r, p, "maxAttempts",
               [&](auto& x, auto xp) { retry.max_attempts = read_int32(x, xp); });
    each_field(r, p, "maxRetryDuration",
               [&](auto& x, auto xp) { retry.max_retry_duration = read_duration(x, xp); });
    each_field(r, p, "minBackoff",
               [&](auto& x, auto xp) { retry.min_backoff = read_duration(x, xp); });
    each_field(r, p, "maxBackoff",
               [&](auto& x, auto xp) { retry.max_backoff = read_duration(x, xp); });
    each_field(r, p, "maxDoublings",
               [&](auto& x, auto xp) { retry.max_doublings = read_int32(x, xp); });
  });
  each_field(o, path, "state", [&](auto& f, auto p) { q.state = read_enum(f, p, kQueueStates); });
  each_field(o, path, "purgeTime", [&](auto& f, auto p) { q.purge_time = read_timestamp(f, p); });
  each_field(o, path, "appEngineRoutingOverride", [&](auto& f, auto p) {
    each_field(read_object(f, p), p, "host",
               [&](auto& h, auto hp) { q.worker_base_url = base_url_of(read_string(h, hp)); });
  });
  return q;
}

// ---- Task

// Timestamps at the epoch are unset (proto3 leaves default values out).
void write_time(json::object& o, std::string_view key, TimePoint t) {
  if (t != TimePoint{}) o[key] = format_timestamp(t);
}

Task read_task(const json::value& v, std::string_view path) {
  const auto& o = read_object(v, path);
  Task t;
  each_field(o, path, "name", [&](auto& f, auto p) {
    auto name = TaskName::parse(read_string(f, p));
    if (!name) bad_name(p, name.error().message);
    t.name = std::move(*name);
  });
  bool has_request = false;
  auto request = [&](TaskRequest::Kind kind) {
    return [&, kind](auto& f, auto p) {
      if (has_request) bad(path, "only one of httpRequest and appEngineHttpRequest may be set");
      has_request = true;
      t.request = read_request(f, p, kind);
    };
  };
  each_field(o, path, "httpRequest", request(TaskRequest::Kind::kHttp));
  each_field(o, path, "appEngineHttpRequest", request(TaskRequest::Kind::kAppEngine));
  each_field(o, path, "scheduleTime",
             [&](auto& f, auto p) { t.schedule_time = read_timestamp(f, p); });
  each_field(o, path, "createTime", [&](auto& f, auto p) { t.create_time = read_timestamp(f, p); });
  each_field(o, path, "dispatchDeadline",
             [&](auto& f, auto p) { t.dispatch_deadline = read_duration(f, p); });
  each_field(o, path, "dispatchCount",
             [&](auto& f, auto p) { t.dispatch_count = read_int32(f, p); });
  each_field(o, path, "responseCount",
             [&](auto& f, auto p) { t.response_count = read_int32(f, p); });
  each_field(o, path, "firstAttempt",
             [&](auto& f, auto p) { t.first_attempt = read_attempt(f, p); });
  each_field(o, path, "lastAttempt", [&](auto& f, auto p) { t.last_attempt = read_attempt(f, p); });
  each_field(o, path, "mandoState", [&](auto& f, auto p) {
    if (!f.is_string()) bad(p, fmt::format("expected a string, got {}", describe(f)));
    t.state = read_enum(f, p, kTaskStates);
  });
  return t;
}

template <typename T, typename Read>
Result<T> catching(Read&& read) {
  try {
    return read();
  } catch (const BadField& e) {
    return fail(ErrorKind::kInvalidArgument, e.message);
  }
}

Result<std::vector<std::string>> invalid_mask(std::string message) {
  return fail(ErrorKind::kInvalidArgument, fmt::format("updateMask: {}", message));
}

std::string snake_case(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

std::string camel_case(std::string_view path) {
  std::string out;
  bool upper = false;
  for (char c : path) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

// Each updatable path and how it copies from the patch.
struct MaskPath {
  std::string_view path;
  std::function<void(Queue&, const Queue&)> copy;
};

const std::vector<MaskPath>& mask_paths() {
  static const std::vector<MaskPath> paths{
      {"rate_limits", [](Queue& q, const Queue& p) { q.rate_limits = p.rate_limits; }},
      {"rate_limits.max_dispatches_per_second",
       [](Queue& q, const Queue& p) {
         q.rate_limits.max_dispatches_per_second = p.rate_limits.max_dispatches_per_second;
       }},
      {"rate_limits.max_burst_size",
       [](Queue& q, const Queue& p) {
         q.rate_limits.max_burst_size = p.rate_limits.max_burst_size;
       }},
      {"rate_limits.max_concurrent_dispatches",
       [](Queue& q, const Queue& p) {
         q.rate_limits.max_concurrent_dispatches = p.rate_limits.max_concurrent_dispatches;
       }},
      {"retry_config", [](Queue& q, const Queue& p) { q.retry_config = p.retry_config; }},
      {"retry_config.max_attempts",
       [](Queue& q, const Queue& p) { q.retry_config.max_attempts = p.retry_config.max_attempts; }},
      {"retry_config.max_retry_duration",
       [](Queue& q, const Queue& p) {
         q.retry_config.max_retry_duration = p.retry_config.max_retry_duration;
       }},
      {"retry_config.min_backoff",
       [](Queue& q, const Queue& p) { q.retry_config.min_backoff = p.retry_config.min_backoff; }},
      {"retry_config.max_backoff",
       [](Queue& q, const Queue& p) { q.retry_config.max_backoff = p.retry_config.max_backoff; }},
      {"retry_config.max_doublings",
       [](Queue& q, const Queue& p) {
         q.retry_config.max_doublings = p.retry_config.max_doublings;
       }},
      {"app_engine_routing_override",
       [](Queue& q, const Queue& p) { q.worker_base_url = p.worker_base_url; }},
      {"app_engine_routing_override.host",
       [](Queue& q, const Queue& p) { q.worker_base_url = p.worker_base_url; }},
  };
  return paths;
}

const MaskPath* find_mask_path(std::string_view path) {
  for (const auto& p : mask_paths()) {
    if (p.path == path) return &p;
  }
  return nullptr;
}

Result<void> check_mask_path(std::string_view path) {
  if (path == "name" || path == "state" || path == "purge_time") {
    std::string_view hint = path == "state"        ? "; use :pause and :resume"
                            : path == "purge_time" ? "; use :purge"
                                                   : "";
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("updateMask: {} cannot be updated{}", camel_case(path), hint));
  }
  if (find_mask_path(path) == nullptr) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("updateMask: \"{}\" is not an updatable field of Queue",
                            shown(camel_case(path))));
  }
  return {};
}

}  // namespace

// ---- Scalars

std::string format_timestamp(TimePoint time) {
  using namespace std::chrono;
  auto day = floor<days>(time);
  year_month_day ymd{day};
  auto since_midnight = time - day;  // in [0, 24h)
  auto secs = duration_cast<seconds>(since_midnight);
  auto micros = (since_midnight - secs).count();
  hh_mm_ss hms{secs};
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  hms.hours().count(), hms.minutes().count(), hms.seconds().count());
  if (micros % 1000 == 0 && micros != 0) {
    out += fmt::format(".{:03}", micros / 1000);
  } else if (micros != 0) {
    out += fmt::format(".{:06}", micros);
  }
  out += 'Z';
  return out;
}

Result<TimePoint> parse_timestamp(std::string_view s) {
  using namespace std::chrono;
  auto invalid = [&] {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("\"{}\" is not an RFC 3339 timestamp such as 2024-05-01T12:00:00.5Z",
                            shown(s)));
  };
  std::size_t i = 0;
  auto number = [&](std::size_t n, int& out) {
    if (i + n > s.size()) return false;
    out = 0;
    for (std::size_t k = 0; k < n; ++k, ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  auto literal = [&](char c) {
    if (i >= s.size() || s[i] != c) return false;
    ++i;
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!(number(4, y) && literal('-') && number(2, mo) && literal('-') && number(2, d) &&
        literal('T') && number(2, h) && literal(':') && number(2, mi) && literal(':') &&
        number(2, se))) {
    return invalid();
  }
  std::int64_t nanos = 0;
  if (literal('.')) {
    int digits = 0;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
      if (digits == 9) return invalid();
      nanos = nanos * 10 + (s[i] - '0');
    }
    if (digits == 0) return invalid();
    for (; digits < 9; ++digits) nanos *= 10;
  }
  int offset_minutes = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int oh = 0, om = 0;
    if (!(number(2, oh) && literal(':') && number(2, om)) || oh > 23 || om > 59) return invalid();
    offset_minutes = sign * (oh * 60 + om);
  } else if (!literal('Z')) {
    return invalid();
  }
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (i != s.size() || y < 1 || !ymd.ok() || h > 23 || mi > 59 || se > 59) return invalid();
  auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{se} - minutes{offset_minutes};
  return TimePoint{duration_cast<Micros>(t.time_since_epoch()) + Micros{nanos / 1000}};
}

std::string format_duration(Micros duration) {
  std::int64_t us = duration.count();
  std::string sign = us < 0 ? "-" : "";
  // Magnitudes as unsigned: negating the smallest int64 would overflow.
  std::uint64_t magnitude = us < 0 ? 0 - static_cast<std::uint64_t>(us) : us;
  std::uint64_t secs = magnitude / 1'000'000, micros = magnitude % 1'000'000;
  if (micros == 0) return fmt::format("{}{}s", sign, secs);
  if (micros % 1000 == 0) return fmt::format("{}{}.{:03}s", sign, secs, micros / 1000);
  return fmt::format("{}{}.{:06}s", sign, secs, micros);
}

Result<Micros> parse_duration(std::string_view text) {
  // google.protobuf.Duration's range: +-10000 years.
  constexpr std::int64_t kMaxSeconds = 315'576'000'000;
  auto invalid = [&] {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("\"{}\" is not a duration such as \"10s\" or \"0.5s\"", shown(text)));
  };
  std::string_view s = text;
  if (!s.ends_with('s')) return invalid();
  s.remove_suffix(1);
  bool negative = s.starts_with('-');
  if (negative) s.remove_prefix(1);
  std::string_view whole = s.substr(0, s.find('.'));
  std::string_view fraction =
      whole.size() < s.size() ? s.substr(whole.size() + 1) : std::string_view{};
  auto all_digits = [](std::string_view d) {
    return std::ranges::all_of(d, [](unsigned char c) { return std::isdigit(c) != 0; });
  };
  if (whole.empty() || whole.size() > 12 || !all_digits(whole) || !all_digits(fraction) ||
      fraction.size() > 9 || (whole.size() < s.size() && fraction.empty())) {
    return invalid();
  }
  std::int64_t secs = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), secs);
  if (secs > kMaxSeconds) return invalid();
  std::int64_t nanos = 0;
  for (std::size_t k = 0; k < 9; ++k)
    nanos = nanos * 10 + (k < fraction.size() ? fraction[k] - '0' : 0);
  std::int64_t us = secs * 1'000'000 + nanos / 1000;
  return Micros{negative ? -us : us};
}

std::string encode_base64(std::string_view bytes) {
  return core::to_base64(bytes, core::Base64::kStandard);
}

Result<std::string> decode_base64(std::string_view text) {
  // One alphabet: standard characters become url-safe ones, and the padding, which proto3 JSON
  // readers treat as optional, goes (it must still be right when it is there).
  std::string normal(text);
  std::ranges::replace(normal, '+', '-');
  std::ranges::replace(normal, '/', '_');
  std::size_t padding = 0;
  while (!normal.empty() && normal.back() == '=' && padding < 2) {
    normal.pop_back();
    ++padding;
  }
  auto out = core::from_base64(normal, core::Base64::kUrlNoPadding);
  if (!out || (padding > 0 && (normal.size() + padding) % 4 != 0)) {
    return fail(ErrorKind::kInvalidArgument, "not valid base64");
  }
  return std::move(*out);
}

Result<json::object> parse_json_object(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object{};
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("the request body is not valid JSON: {}", ec.message()));
  }
  if (!v.is_object()) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("the request body must be a JSON object, not {}", describe(v)));
  }
  return std::move(v.get_object());
}

// ---- Messages

json::object to_json(const Queue& queue, EnumEncoding enums) {
  return queue_json(queue, enums, /*output_fields=*/true);
}

json::object to_request_json(const Queue& queue) {
  return queue_json(queue, EnumEncoding::kName, /*output_fields=*/false);
}

json::object to_json(const Task& task, TaskView view, EnumEncoding enums) {
  json::object o;
  o["name"] = task.name.full();
  write_request(o, task.request, view, enums);
  write_time(o, "scheduleTime", task.schedule_time);
  write_time(o, "createTime", task.create_time);
  o["dispatchDeadline"] = format_duration(task.dispatch_deadline);
  o["dispatchCount"] = task.dispatch_count;
  o["responseCount"] = task.response_count;
  if (task.first_attempt) o["firstAttempt"] = attempt_to_json(*task.first_attempt);
  if (task.last_attempt) o["lastAttempt"] = attempt_to_json(*task.last_attempt);
  o["view"] = write_enum(view, enums, kViews);
  o["mandoState"] = write_enum(task.state, EnumEncoding::kName, kTaskStates);
  return o;
}

json::object to_request_json(const Task& task) {
  json::object o;
  if (!task.name.task.empty()) o["name"] = task.name.full();
  write_request(o, task.request, TaskView::kFull, EnumEncoding::kName);
  write_time(o, "scheduleTime", task.schedule_time);
  o["dispatchDeadline"] = format_duration(task.dispatch_deadline);
  return o;
}

Result<Queue> queue_from_json(const json::value& value, std::string_view field) {
  return catching<Queue>([&] { return read_queue(value, field); });
}

Result<Task> task_from_json(const json::value& value, std::string_view field) {
  return catching<Task>([&] { return read_task(value, field); });
}

Result<TaskView> task_view_from_json(const json::value& value, std::string_view field) {
  return catching<TaskView>([&] { return read_enum(value, field, kViews); });
}

std::string_view to_string(TaskView view) { return view == TaskView::kFull ? "FULL" : "BASIC"; }

// ---- Field masks

Result<std::vector<std::string>> parse_queue_update_mask(std::string_view text) {
  std::vector<std::string> paths;
  while (!text.empty()) {
    std::string_view item = text.substr(0, text.find(','));
    text.remove_prefix(std::min(text.size(), item.size() + 1));
    auto first = item.find_first_not_of(' ');
    if (first == std::string_view::npos) return invalid_mask("empty path");
    item = item.substr(first, item.find_last_not_of(' ') - first + 1);
    std::string path = snake_case(item);
    if (auto ok = check_mask_path(path); !ok) return tl::unexpected(ok.error());
    paths.push_back(std::move(path));
  }
  return paths;
}

std::string format_update_mask(const std::vector<std::string>& paths) {
  std::vector<std::string> camel;
  for (const auto& p : paths) camel.push_back(camel_case(p));
  return fmt::format("{}", fmt::join(camel, ","));
}

const std::vector<std::string>& queue_update_paths() {
  static const std::vector<std::string> paths{"rate_limits", "retry_config",
                                              "app_engine_routing_override"};
  return paths;
}

Result<void> apply_queue_update(Queue& queue, const Queue& patch,
                                const std::vector<std::string>& mask) {
  const auto& paths = mask.empty() ? queue_update_paths() : mask;
  for (const auto& path : paths) {
    if (auto ok = check_mask_path(path); !ok) return ok;
  }
  for (const auto& path : paths) find_mask_path(path)->copy(queue, patch);
  return {};
}

// ---- Errors

// What the API answers for each kind: one row per kind, nothing derived from kRpcCodes (whose
// many-to-one mapping would otherwise pick CANCELLED for kUnavailable).
struct KindStatus {
  ErrorKind kind;
  int rpc_code;
  int http_status;
};
constexpr std::array<KindStatus, 10> kKindStatus{{
    {ErrorKind::kInvalidArgument, 3, 400},
    {ErrorKind::kNotFound, 5, 404},
    {ErrorKind::kAlreadyExists, 6, 409},
    {ErrorKind::kUnauthenticated, 16, 401},
    {ErrorKind::kPermissionDenied, 7, 403},
    {ErrorKind::kResourceExhausted, 8, 429},
    {ErrorKind::kFailedPrecondition, 9, 400},
    {ErrorKind::kDeadlineExceeded, 4, 504},
    {ErrorKind::kUnavailable, 14, 503},
    {ErrorKind::kInternal, 13, 500},
}};

const KindStatus& kind_status(ErrorKind kind) {
  for (const auto& k : kKindStatus) {
    if (k.kind == kind) return k;
  }
  return kKindStatus.back();  // unreachable while the table names every kind (tested)
}

int rpc_code(ErrorKind kind) { return kind_status(kind).rpc_code; }

std::string_view rpc_status_name(ErrorKind kind) { return rpc_by_number(rpc_code(kind))->name; }

int api_http_status(ErrorKind kind) { return kind_status(kind).http_status; }

// The worker's HTTP status as a google.rpc.Code. The statuses code.proto's comments name map
// to their code (2xx to OK; 409 to ABORTED, as Cloud Tasks reports a worker's 409, since
// ALREADY_EXISTS is about API resources; 400 to INVALID_ARGUMENT, 500 to INTERNAL). The others
// by what they mean:
//   405 Method Not Allowed -> UNIMPLEMENTED (12), like 501;
//   408 Request Timeout    -> DEADLINE_EXCEEDED (4), like 504;
//   502 Bad Gateway        -> UNAVAILABLE (14), like 503: a proxy could not reach the worker;
//   other 4xx              -> FAILED_PRECONDITION (9): the worker refused the task as it is;
//   other 5xx              -> INTERNAL (13);
//   1xx, 3xx and the rest  -> UNKNOWN (2).
int rpc_code_for_http_status(int status) {
  switch (status) {
    case 400:
      return 3;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 5;
    case 405:
    case 501:
      return 12;
    case 408:
    case 504:
      return 4;
    case 409:
      return 10;
    case 429:
      return 8;
    case 499:
      return 1;
    case 502:
    case 503:
      return 14;
    default:
      break;
  }
  if (status >= 200 && status < 300) return 0;
  if (status >= 400 && status < 500) return 9;
  if (status >= 500 && status < 600) return 13;
  return 2;
}

std::string error_body(const Error& error) {
  return error_body(api_http_status(error.kind), rpc_status_name(error.kind), error.message);
}

std::string error_body(int http_status, std::string_view status, std::string_view message) {
  json::value v = {{"error", {{"code", http_status}, {"message", message}, {"status", status}}}};
  return json::serialize(v);
}

Error error_from_response(int status, std::string_view body) {
  Error error;
  // The kind from the HTTP status first, the body's "status" string refines it.
  switch (status) {
    case 400:
      error.kind = ErrorKind::kInvalidArgument;
      break;
    case 401:
      error.kind = ErrorKind::kUnauthenticated;
      break;
    case 403:
      error.kind = ErrorKind::kPermissionDenied;
      break;
    case 404:
      error.kind = ErrorKind::kNotFound;
      break;
    case 409:
      error.kind = ErrorKind::kAlreadyExists;
      break;
    case 429:
      error.kind = ErrorKind::kResourceExhausted;
      break;
    case 504:
      error.kind = ErrorKind::kDeadlineExceeded;
      break;
    case 499:
    case 502:
    case 503:
      error.kind = ErrorKind::kUnavailable;
      break;
    default:
      error.kind =
          status >= 400 && status < 500 ? ErrorKind::kInvalidArgument : ErrorKind::kInternal;
  }
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  const json::object* e = nullptr;
  if (!ec && v.is_object()) {
    if (auto* inner = v.get_object().if_contains("error")) e = inner->if_object();
  }
  if (e != nullptr) {
    if (auto* s = e->if_contains("status"); s != nullptr && s->is_string()) {
      for (const auto& c : kRpcCodes) {
        if (c.name == s->get_string() && c.number != kRpcOk) error.kind = c.kind;
      }
    }
    if (auto* m = e->if_contains("message"); m != nullptr && m->is_string()) {
      error.message = std::string(m->get_string());
    }
  }
  if (error.message.empty()) {
    constexpr std::size_t kMaxQuoted = 200;
    error.message = body.empty() ? fmt::format("HTTP {}", status)
                                 : fmt::format("HTTP {}: {}", status, body.substr(0, kMaxQuoted));
  }
  return error;
}

}  // namespace mando::queue
