// `mando queues ...` and `mando tasks ...`: the Cloud Tasks v2 REST API of a running mando (or of
// Google's service) from the command line, close to `gcloud tasks`.
//
//   1. Every subcommand resolves where to talk to: --url (default http:// + [server]
//      internal_listen), --token ([queue] api_token, else the token `mando serve` generated in
//      {data_dir}/api_token), --project and --location ([queue] project/location).
//   2. It builds one RemoteTaskQueue on a private io_context and runs each API call to
//      completion on it: the CLI makes a few calls, one after the other, so nothing needs more.
//   3. It prints the answer: --format text gives a table (lists) or `key: value` lines (one
//      resource), --format json the Cloud Tasks JSON of json_mapping.hpp (a list is an array).
//   4. Exit status: 0 done; 1 the API or the network refused (`mando: <message>` on stderr);
//      2 a usage error (a flag that does not parse, a missing or conflicting flag).
//
// `tasks create` uses --url for the task's target, as `gcloud tasks create-http-task` does, so
// the API's address is also accepted as --api-url on every subcommand.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "app/api_token.hpp"
#include "app/cli.hpp"
#include "app/queue_service.hpp"
#include "core/duration.hpp"
#include "net/http_client.hpp"
#include "queue/json_mapping.hpp"
#include "queue/remote_task_queue.hpp"

namespace mando::app {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using queue::Queue;
using queue::QueueName;
using queue::Task;
using queue::TaskName;

constexpr int kApiError = 1;
constexpr int kUsageError = 2;

// What every subcommand accepts. One instance per command group: only one subcommand runs.
struct ApiFlags {
  std::string config;
  std::string data_dir;
  std::string url;
  std::string token;
  std::string project;
  std::string location;
  std::string format = "text";

  bool json() const { return format == "json"; }
};

// `url_names` is "--url,--api-url", or "--api-url" where --url means something else.
void add_api_flags(CLI::App* cmd, ApiFlags& flags, const std::string& url_names) {
  cmd->add_option("--config,-c", flags.config, "TOML config file the defaults come from")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data-dir", flags.data_dir,
                  "Data directory of the mando to talk to, for its api_token file (default: the "
                  "config's data_dir)");
  cmd->add_option(url_names, flags.url,
                  "Base URL of the queue API (default: http:// + [server] internal_listen)");
  cmd->add_option("--token", flags.token,
                  "Bearer token of the queue API (default: [queue] api_token, i.e. "
                  "MANDO_QUEUE_API_TOKEN, else {data_dir}/api_token)");
  cmd->add_option("--project", flags.project, "Project id (default: [queue] project)");
  cmd->add_option("--location", flags.location, "Location id (default: [queue] location)");
  cmd->add_option("--format", flags.format, "Output: text (tables, key: value) or json")
      ->check(CLI::IsMember({"text", "json"}));
}

// "0.0.0.0:8080" and "[::]:8080" listen everywhere; a client reaches them on loopback.
std::string url_of_listen(std::string_view listen) {
  for (auto [any, loopback] :
       {std::pair<std::string_view, std::string_view>{"0.0.0.0:", "127.0.0.1:"},
        {"[::]:", "[::1]:"}}) {
    if (listen.starts_with(any)) {
      return fmt::format("http://{}{}", loopback, listen.substr(any.size()));
    }
  }
  return fmt::format("http://{}", listen);
}

core::Config config_of(const ApiFlags& flags) {
  auto config = load_config_or_exit(
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config));
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  return config;
}

// A RemoteTaskQueue on its own io_context, with the defaults of the configuration applied.
class Api {
 public:
  explicit Api(const ApiFlags& flags)
      : config_(config_of(flags)),
        options_{.base_url = flags.url.empty()
                                 ? url_of_listen(config_.server.effective_internal_listen())
                                 : flags.url,
                 .bearer_token = flags.token.empty() ? token_of(config_) : flags.token},
        project_(flags.project.empty() ? config_.queue.project : flags.project),
        location_(flags.location.empty() ? config_.queue.location : flags.location),
        http_(ioc_.get_executor()),
        queue_(http_, options_) {}

  // The token to send, or none: a missing token is reported when the API refuses the call
  // (so usage errors still come first, and an API that needs none is reached).
  std::string token_of(const core::Config& config) {
    auto token = client_api_token(config);
    if (token) return *token;
    missing_token_ = token.error().message;
    return "";
  }

  queue::TaskQueue& queue() { return queue_; }
  std::string parent() const { return QueueName{project_, location_, ""}.parent(); }

  // QUEUE as an id under --project/--location, or as a full name.
  QueueName queue_name(const std::string& queue) const {
    auto name = queue.find('/') == std::string::npos
                    ? QueueName::parse(QueueName{project_, location_, queue}.full())
                    : QueueName::parse(queue);
    if (!name) exit_with(kUsageError, name.error().message);
    return *name;
  }

  // TASK as an id in `queue`, or as a full name (which must be in that queue).
  TaskName task_name(const std::string& queue, const std::string& task) const {
    auto in_queue = queue_name(queue);
    auto name = task.find('/') == std::string::npos
                    ? TaskName::parse(TaskName{in_queue, task}.full())
                    : TaskName::parse(task);
    if (!name) exit_with(kUsageError, name.error().message);
    if (name->queue != in_queue) {
      exit_with(kUsageError,
                fmt::format("task {} is not in queue {}", name->full(), in_queue.full()));
    }
    return *name;
  }

  // Runs one call to completion. On failure prints the error, naming `resource` when the API's
  // message does not (Google's say "Requested entity was not found."), and exits 1.
  template <typename T>
  T run(asio::awaitable<Result<T>> call, std::string_view resource) {
    auto future = asio::co_spawn(ioc_, std::move(call), asio::use_future);
    ioc_.restart();
    ioc_.run();
    auto result = future.get();
    if (!result) exit_with(kApiError, describe(result.error(), resource));
    if constexpr (!std::is_void_v<T>) return std::move(*result);
  }

 private:
  std::string describe(const Error& error, std::string_view resource) const {
    switch (error.kind) {
      case ErrorKind::kUnavailable:
      case ErrorKind::kDeadlineExceeded:
        return fmt::format("cannot reach the queue API at {} (is `mando serve` running?): {}",
                           options_.base_url, error.message);
      case ErrorKind::kUnauthenticated:
      case ErrorKind::kPermissionDenied:
        if (!missing_token_.empty()) return fmt::format("{} ({})", error.message, missing_token_);
        return fmt::format("{} (set --token or MANDO_QUEUE_API_TOKEN)", error.message);
      default:
        if (resource.empty() || error.message.find(resource) != std::string::npos) {
          return error.message;
        }
        return fmt::format("{}: {}", resource, error.message);
    }
  }

  core::Config config_;
  std::string missing_token_;  // why no token was found, when none was
  queue::RemoteOptions options_;
  std::string project_;
  std::string location_;
  asio::io_context ioc_;
  net::HttpClient http_;
  queue::RemoteTaskQueue queue_;
};

// Every item of a list, following nextPageToken until the last page or `limit` items (0: no
// limit). `fetch(token)` answers one page.
template <typename T, typename Fetch>
std::vector<T> collect(Api& api, std::string_view resource, int limit, Fetch fetch) {
  std::vector<T> items;
  std::string token;
  do {
    auto page = api.run(fetch(token), resource);
    std::move(page.items.begin(), page.items.end(), std::back_inserter(items));
    token = std::move(page.next_page_token);
  } while (!token.empty() && (limit == 0 || static_cast<int>(items.size()) < limit));
  if (limit > 0 && static_cast<int>(items.size()) > limit) items.resize(limit);
  return items;
}

// ---- Text output

using Lines = std::vector<std::pair<std::string, std::string>>;

void print_lines(const Lines& lines) {
  std::size_t width = 0;
  for (const auto& [key, value] : lines) width = std::max(width, key.size() + 1);
  for (const auto& [key, value] : lines) fmt::print("{:<{}} {}\n", key + ":", width, value);
}

// Columns padded to their widest cell; the last one is not padded.
void print_table(std::vector<std::vector<std::string>> rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], widths[i]) : row[i];
    }
    fmt::print("{}\n", line);
  }
}

// mando's spelling ("100ms", "1h") when exact to the millisecond, else the proto one ("0.000500s").
std::string show_duration(queue::Micros d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d);
  return ms == d ? core::format_duration(ms) : queue::format_duration(d);
}

std::string_view state_name(queue::QueueState state) {
  switch (state) {
    case queue::QueueState::kRunning:
      return "RUNNING";
    case queue::QueueState::kPaused:
      return "PAUSED";
    case queue::QueueState::kDisabled:
      return "DISABLED";
  }
  return "UNKNOWN";
}

std::string state_name(queue::TaskState state) {
  std::string name(queue::to_string(state));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return name;
}

// ---- Queue settings: one table drives the flags of create/update, the update mask and the
// text output, so a setting is declared once.

Result<int> parse_value(std::string_view text, int*) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return fail(ErrorKind::kInvalidArgument, fmt::format("\"{}\" is not an integer", text));
  }
  return value;
}

Result<double> parse_value(std::string_view text, double*) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return fail(ErrorKind::kInvalidArgument, fmt::format("\"{}\" is not a number", text));
  }
  return value;
}

Result<queue::Micros> parse_value(std::string_view text, queue::Micros*) {
  auto d = core::parse_duration(text);
  if (!d) return tl::unexpected(d.error());
  return queue::Micros(*d);
}

Result<std::string> parse_value(std::string_view text, std::string*) { return std::string(text); }

std::string_view type_name(int*) { return "INT"; }
std::string_view type_name(double*) { return "NUMBER"; }
std::string_view type_name(queue::Micros*) { return "DURATION"; }
std::string_view type_name(std::string*) { return "URL"; }

std::string show_value(int v) { return fmt::format("{}", v); }
std::string show_value(double v) { return fmt::format("{}", v); }
std::string show_value(queue::Micros v) { return show_duration(v); }
std::string show_value(const std::string& v) { return v.empty() ? "-" : v; }

struct QueueSetting {
  std::string flag;       // "max-attempts"
  std::string mask_path;  // "retry_config.max_attempts", as TaskQueue::update_queue expects
  std::string help;
  std::string_view type_name;  // for --help
  std::function<Result<void>(Queue&, std::string_view)> set;
  std::function<std::string(const Queue&)> show;
};

// `field` is a generic lambda answering a reference to the setting in a (const or not) Queue.
template <typename Field>
QueueSetting setting(std::string flag, std::string mask_path, std::string help, Field field) {
  using T = std::remove_reference_t<decltype(field(std::declval<Queue&>()))>;
  return QueueSetting{std::move(flag),
                      std::move(mask_path),
                      std::move(help),
                      type_name(static_cast<T*>(nullptr)),
                      [field](Queue& q, std::string_view text) -> Result<void> {
                        auto value = parse_value(text, static_cast<T*>(nullptr));
                        if (!value) return tl::unexpected(value.error());
                        field(q) = std::move(*value);
                        return {};
                      },
                      [field](const Queue& q) { return show_value(field(q)); }};
}

const std::vector<QueueSetting>& queue_settings() {
  static const std::vector<QueueSetting> settings{
      setting(
          "max-dispatches-per-second", "rate_limits.max_dispatches_per_second",
          "Most tasks dispatched per second, (0, 500]",
          [](auto& q) -> auto& { return q.rate_limits.max_dispatches_per_second; }),
      setting(
          "max-burst-size", "rate_limits.max_burst_size",
          "Token bucket size: how many tasks may go at once after a quiet spell",
          [](auto& q) -> auto& { return q.rate_limits.max_burst_size; }),
      setting(
          "max-concurrent-dispatches", "rate_limits.max_concurrent_dispatches",
          "Most tasks in flight at once, [1, 5000]",
          [](auto& q) -> auto& { return q.rate_limits.max_concurrent_dispatches; }),
      setting(
          "max-attempts", "retry_config.max_attempts",
          "Attempts before a task becomes a dead letter; -1: unlimited",
          [](auto& q) -> auto& { return q.retry_config.max_attempts; }),
      setting(
          "max-retry-duration", "retry_config.max_retry_duration",
          "Time after the first attempt during which a task is retried (10s, 1h); 0: "
          "unlimited",
          [](auto& q) -> auto& { return q.retry_config.max_retry_duration; }),
      setting(
          "min-backoff", "retry_config.min_backoff", "Shortest wait before a retry (100ms)",
          [](auto& q) -> auto& { return q.retry_config.min_backoff; }),
      setting(
          "max-backoff", "retry_config.max_backoff", "Longest wait before a retry (1h)",
          [](auto& q) -> auto& { return q.retry_config.max_backoff; }),
      setting(
          "max-doublings", "retry_config.max_doublings",
          "Times the backoff doubles before it grows linearly",
          [](auto& q) -> auto& { return q.retry_config.max_doublings; }),
      setting(
          "worker-base-url", "app_engine_routing_override",
          "Base URL that tasks' --relative-uri is resolved against (mando's extension)",
          [](auto& q) -> auto& { return q.worker_base_url; }),
  };
  return settings;
}

void add_setting_flags(CLI::App* cmd) {
  for (const auto& s : queue_settings()) {
    cmd->add_option("--" + s.flag)->description(s.help)->type_name(std::string(s.type_name));
  }
}

// Applies the setting flags given to `cmd` onto `queue`; answers the mask paths they name.
std::vector<std::string> apply_setting_flags(const CLI::App* cmd, Queue& queue) {
  std::vector<std::string> mask;
  for (const auto& s : queue_settings()) {
    const CLI::Option* option = cmd->get_option("--" + s.flag);
    if (option->count() == 0) continue;
    if (auto ok = s.set(queue, option->as<std::string>()); !ok) {
      exit_with(kUsageError, fmt::format("--{}: {}", s.flag, ok.error().message));
    }
    mask.push_back(s.mask_path);
  }
  return mask;
}

void print_queue(const Queue& q, const ApiFlags& flags) {
  if (flags.json()) {
    fmt::print("{}\n", json::serialize(queue::to_json(q, queue::EnumEncoding::kName)));
    return;
  }
  Lines lines{{"name", q.name.full()}, {"state", std::string(state_name(q.state))}};
  for (const auto& s : queue_settings()) lines.emplace_back(s.flag, s.show(q));
  if (q.purge_time) lines.emplace_back("purge-time", queue::format_timestamp(*q.purge_time));
  print_lines(lines);
}

void print_queues(const std::vector<Queue>& queues, const ApiFlags& flags) {
  if (flags.json()) {
    json::array out;
    for (const auto& q : queues) out.push_back(queue::to_json(q, queue::EnumEncoding::kName));
    fmt::print("{}\n", json::serialize(out));
    return;
  }
  std::vector<std::vector<std::string>> rows{
      {"QUEUE", "STATE", "MAX_RATE", "MAX_CONCURRENT", "MAX_ATTEMPTS", "WORKER_BASE_URL"}};
  for (const auto& q : queues) {
    rows.push_back({q.name.queue, std::string(state_name(q.state)),
                    show_value(q.rate_limits.max_dispatches_per_second),
                    show_value(q.rate_limits.max_concurrent_dispatches),
                    show_value(q.retry_config.max_attempts), show_value(q.worker_base_url)});
  }
  print_table(std::move(rows));
}

void print_deleted(std::string_view what, std::string_view name, const ApiFlags& flags) {
  if (flags.json()) {
    fmt::print("{{}}\n");
  } else {
    fmt::print("deleted {} {}\n", what, name);
  }
}

// ---- Task output

std::string show_attempt(const std::optional<queue::Attempt>& a) {
  if (!a) return "-";
  std::string out = queue::format_timestamp(a->dispatch_time.value_or(a->schedule_time));
  if (a->http_status != 0) out += fmt::format(" HTTP {}", a->http_status);
  if (!a->error.empty()) out += fmt::format(" ({})", a->error);
  if (a->http_status == 0 && a->error.empty() && !a->response_time) out += " (no answer yet)";
  return out;
}

std::string show_body(const std::string& body) {
  // One short line of text is shown as is; anything else would garble the `key: value` lines.
  bool one_line =
      std::all_of(body.begin(), body.end(), [](unsigned char c) { return c >= 0x20 || c == '\t'; });
  if (body.empty()) return "-";
  if (one_line && body.size() <= 200) return body;
  return fmt::format("<{} bytes>", body.size());
}

std::string_view target_key(const Task& t) {
  return t.request.kind == queue::TaskRequest::Kind::kHttp ? "url" : "relative-uri";
}

void print_task(const Task& t, const ApiFlags& flags) {
  if (flags.json()) {
    fmt::print("{}\n", json::serialize(
                           queue::to_json(t, queue::TaskView::kFull, queue::EnumEncoding::kName)));
    return;
  }
  Lines lines{{"name", t.name.full()},
              {"state", state_name(t.state)},
              {"method", std::string(queue::to_string(t.request.method))},
              {std::string(target_key(t)), t.request.url}};
  for (const auto& [key, value] : t.request.headers) {
    lines.emplace_back("header", fmt::format("{}: {}", key, value));
  }
  lines.emplace_back("body", show_body(t.request.body));
  lines.emplace_back("schedule-time", queue::format_timestamp(t.schedule_time));
  lines.emplace_back("create-time", queue::format_timestamp(t.create_time));
  lines.emplace_back("dispatch-deadline", show_duration(t.dispatch_deadline));
  lines.emplace_back("dispatch-count", show_value(t.dispatch_count));
  lines.emplace_back("response-count", show_value(t.response_count));
  lines.emplace_back("first-attempt", show_attempt(t.first_attempt));
  lines.emplace_back("last-attempt", show_attempt(t.last_attempt));
  print_lines(lines);
}

void print_tasks(const std::vector<Task>& tasks, const ApiFlags& flags) {
  if (flags.json()) {
    json::array out;
    for (const auto& t : tasks) {
      out.push_back(queue::to_json(t, queue::TaskView::kFull, queue::EnumEncoding::kName));
    }
    fmt::print("{}\n", json::serialize(out));
    return;
  }
  std::vector<std::vector<std::string>> rows{{"TASK", "STATE", "SCHEDULE_TIME", "DISPATCHES",
                                              "RESPONSES", "LAST_ATTEMPT", "METHOD", "TARGET"}};
  for (const auto& t : tasks) {
    rows.push_back({t.name.task, state_name(t.state), queue::format_timestamp(t.schedule_time),
                    show_value(t.dispatch_count), show_value(t.response_count),
                    show_attempt(t.last_attempt), std::string(queue::to_string(t.request.method)),
                    t.request.url});
  }
  print_table(std::move(rows));
}

// ---- mando queues

struct QueueFlags {
  ApiFlags api;
  std::string queue;
  int page_size = 100;
  int limit = 0;
};

void add_queues_group(CLI::App& app) {
  auto* group = app.add_subcommand(
      "queues", "Manage the task queues of a running mando (or of Google Cloud Tasks)");
  group->require_subcommand(1);
  auto flags = std::make_shared<QueueFlags>();

  // A subcommand taking QUEUE, with the common flags.
  auto with_queue = [&](const std::string& name, const std::string& help) {
    auto* cmd = group->add_subcommand(name, help);
    add_api_flags(cmd, flags->api, "--url,--api-url");
    cmd->add_option("QUEUE", flags->queue, "Queue id, or its full name")->required();
    return cmd;
  };

  auto* list = group->add_subcommand("list", "List the queues of --project and --location");
  add_api_flags(list, flags->api, "--url,--api-url");
  list->add_option("--page-size", flags->page_size, "Queues asked for per API call")
      ->check(CLI::PositiveNumber);
  list->add_option("--limit", flags->limit, "Stop after this many queues")
      ->check(CLI::PositiveNumber);
  list->callback([flags] {
    Api api(flags->api);
    auto parent = api.parent();
    print_queues(collect<Queue>(api, parent, flags->limit,
                                [&](const std::string& token) {
                                  return api.queue().list_queues(parent, flags->page_size, token);
                                }),
                 flags->api);
  });

  auto* create = with_queue("create", "Create a queue; unset settings take Cloud Tasks' defaults");
  add_setting_flags(create);
  create->callback([flags, create] {
    Api api(flags->api);
    Queue q;
    q.name = api.queue_name(flags->queue);
    apply_setting_flags(create, q);
    print_queue(api.run(api.queue().create_queue(q), q.name.full()), flags->api);
  });

  auto* update = with_queue(
      "update",
      "Change the settings given as flags and keep the others (the update mask names exactly "
      "those flags); creates the queue when it does not exist, as Cloud Tasks does");
  add_setting_flags(update);
  update->callback([flags, update] {
    Api api(flags->api);
    Queue q;
    q.name = api.queue_name(flags->queue);
    auto mask = apply_setting_flags(update, q);
    if (mask.empty()) {
      exit_with(kUsageError, "queues update: give at least one setting to change (see --help)");
    }
    print_queue(api.run(api.queue().update_queue(q, mask), q.name.full()), flags->api);
  });

  // describe, pause, resume and purge: one call on a name, answering the queue.
  using QueueCall = asio::awaitable<Result<Queue>> (queue::TaskQueue::*)(QueueName);
  struct NameCommand {
    const char* name;
    const char* help;
    QueueCall call;
  };
  for (const auto& c : std::initializer_list<NameCommand>{
           {"describe", "Show a queue's state and settings", &queue::TaskQueue::get_queue},
           {"pause", "Stop dispatching the queue's tasks (creating tasks still works)",
            &queue::TaskQueue::pause_queue},
           {"resume", "Dispatch the queue's tasks again", &queue::TaskQueue::resume_queue},
           {"purge", "Delete every task of the queue", &queue::TaskQueue::purge_queue},
       }) {
    with_queue(c.name, c.help)->callback([flags, call = c.call] {
      Api api(flags->api);
      auto name = api.queue_name(flags->queue);
      print_queue(api.run((api.queue().*call)(name), name.full()), flags->api);
    });
  }

  with_queue("delete", "Delete a queue and every task in it")->callback([flags] {
    Api api(flags->api);
    auto name = api.queue_name(flags->queue);
    api.run(api.queue().delete_queue(name), name.full());
    print_deleted("queue", name.full(), flags->api);
  });
}

// ---- mando tasks

struct TaskFlags {
  ApiFlags api;
  std::string queue;
  std::string task;
  // create
  std::string url;
  std::string relative_uri;
  std::string method = "POST";
  std::vector<std::string> headers;
  std::string body;
  std::string body_file;
  std::string schedule_time;
  std::string delay;
  std::string deadline;
  // list
  int page_size = 100;
  int limit = 0;
  bool failed = false;
};

std::chrono::milliseconds parse_flag_duration(std::string_view flag, const std::string& text) {
  auto d = core::parse_duration(text);
  if (!d) exit_with(kUsageError, fmt::format("{}: {}", flag, d.error().message));
  return *d;
}

// The task `tasks create` sends, from its flags. Usage errors exit 2.
Task task_from_flags(const TaskFlags& flags, Api& api) {
  Task t;
  t.name = flags.task.empty() ? TaskName{api.queue_name(flags.queue), ""}
                              : api.task_name(flags.queue, flags.task);
  if (flags.url.empty() == flags.relative_uri.empty()) {
    exit_with(kUsageError, "tasks create: give exactly one of --url and --relative-uri");
  }
  t.request.kind =
      flags.url.empty() ? queue::TaskRequest::Kind::kAppEngine : queue::TaskRequest::Kind::kHttp;
  t.request.url = flags.url.empty() ? flags.relative_uri : flags.url;

  std::string method = flags.method;
  std::transform(method.begin(), method.end(), method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  auto parsed_method = queue::parse_http_method(method);
  if (!parsed_method) {
    exit_with(kUsageError,
              fmt::format("--method: \"{}\" is not one of POST, GET, HEAD, PUT, DELETE, PATCH, "
                          "OPTIONS",
                          flags.method));
  }
  t.request.method = *parsed_method;

  for (const auto& header : flags.headers) {
    auto colon = header.find(':');
    if (colon == std::string::npos || colon == 0) {
      exit_with(kUsageError, fmt::format("--header: \"{}\" is not KEY:VALUE", header));
    }
    auto value = header.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    t.request.headers.emplace_back(header.substr(0, colon), value);
  }

  t.request.body = flags.body;
  if (!flags.body_file.empty()) {
    std::ifstream in(flags.body_file, std::ios::binary);
    t.request.body.assign(std::istreambuf_iterator<char>(in), {});
    if (in.bad()) exit_with(kApiError, fmt::format("--body-file: cannot read {}", flags.body_file));
  }

  if (!flags.schedule_time.empty()) {
    auto time = queue::parse_timestamp(flags.schedule_time);
    if (!time) exit_with(kUsageError, fmt::format("--schedule-time: {}", time.error().message));
    t.schedule_time = *time;
  } else if (!flags.delay.empty()) {
    t.schedule_time = queue::now() + parse_flag_duration("--delay", flags.delay);
  }
  if (!flags.deadline.empty()) {
    t.dispatch_deadline = parse_flag_duration("--deadline", flags.deadline);
  }
  return t;
}

void add_tasks_group(CLI::App& app) {
  auto* group = app.add_subcommand(
      "tasks",
      "Create, inspect and run the tasks of a queue of a running mando (or of Google "
      "Cloud Tasks)");
  group->require_subcommand(1);
  auto flags = std::make_shared<TaskFlags>();

  auto add_queue_flag = [&](CLI::App* cmd) {
    cmd->add_option("--queue", flags->queue, "Queue id, or its full name")->required();
  };
  // A subcommand taking TASK and --queue, with the common flags.
  auto with_task = [&](const std::string& name, const std::string& help) {
    auto* cmd = group->add_subcommand(name, help);
    add_api_flags(cmd, flags->api, "--url,--api-url");
    add_queue_flag(cmd);
    cmd->add_option("TASK", flags->task, "Task id, or its full name")->required();
    return cmd;
  };

  auto* list = group->add_subcommand("list", "List the tasks of a queue");
  add_api_flags(list, flags->api, "--url,--api-url");
  add_queue_flag(list);
  list->add_option("--page-size", flags->page_size, "Tasks asked for per API call")
      ->check(CLI::PositiveNumber);
  list->add_option("--limit", flags->limit, "Stop after this many tasks")
      ->check(CLI::PositiveNumber);
  list->add_flag("--failed", flags->failed,
                 "Only dead letters: tasks that used up their attempts (mando's extension)");
  list->callback([flags] {
    Api api(flags->api);
    auto name = api.queue_name(flags->queue);
    auto filter = flags->failed ? queue::TaskFilter::kFailed : queue::TaskFilter::kAll;
    print_tasks(collect<Task>(api, name.full(), flags->limit,
                              [&](const std::string& token) {
                                return api.queue().list_tasks(name, filter, flags->page_size,
                                                              token);
                              }),
                flags->api);
  });

  auto* create = group->add_subcommand(
      "create", "Create a task that sends an HTTP request; without TASK the API names it");
  add_api_flags(create, flags->api, "--api-url");
  add_queue_flag(create);
  create->add_option("TASK", flags->task, "Task id or full name (optional)");
  auto* url = create->add_option("--url", flags->url, "Absolute URL the task requests");
  auto* relative = create->add_option(
      "--relative-uri", flags->relative_uri,
      "Path (and query) resolved against the queue's worker base URL: an appEngineHttpRequest");
  url->excludes(relative);
  create->add_option("--method", flags->method, "HTTP method (default POST)");
  create->add_option("--header", flags->headers, "Request header KEY:VALUE (repeatable)")
      ->allow_extra_args(false);
  auto* body = create->add_option("--body", flags->body, "Request body");
  auto* body_file = create->add_option("--body-file", flags->body_file, "Request body from a file")
                        ->check(CLI::ExistingFile);
  body->excludes(body_file);
  auto* at = create->add_option("--schedule-time", flags->schedule_time,
                                "When to dispatch, RFC 3339 (2024-05-01T12:00:00Z)");
  auto* delay = create->add_option("--delay", flags->delay, "Dispatch after this long (10s, 1h)");
  at->excludes(delay);
  create->add_option("--deadline", flags->deadline,
                     "How long a dispatch may wait for the worker's answer (15s to 30m; default "
                     "10m)");
  create->callback([flags] {
    Api api(flags->api);
    auto task = task_from_flags(*flags, api);
    auto resource = task.name.task.empty() ? task.name.queue.full() : task.name.full();
    print_task(api.run(api.queue().create_task(task), resource), flags->api);
  });

  with_task("describe", "Show a task, its request and its attempts")->callback([flags] {
    Api api(flags->api);
    auto name = api.task_name(flags->queue, flags->task);
    print_task(api.run(api.queue().get_task(name), name.full()), flags->api);
  });

  with_task("run",
            "Dispatch a task now, whatever its schedule time, even when the queue is paused; a "
            "dead letter runs again")
      ->callback([flags] {
        Api api(flags->api);
        auto name = api.task_name(flags->queue, flags->task);
        print_task(api.run(api.queue().run_task(name), name.full()), flags->api);
      });

  with_task("delete", "Delete a task")->callback([flags] {
    Api api(flags->api);
    auto name = api.task_name(flags->queue, flags->task);
    api.run(api.queue().delete_task(name), name.full());
    print_deleted("task", name.full(), flags->api);
  });
}

}  // namespace

// `mando queues reset-dedup`: forgets every task-name tombstone, so a name completed or deleted
// within [queue] dedup_window can be used again at once (tests, local development). It opens
// the database directly, not through the API (Cloud Tasks has no such call); a running mando
// may go on serving meanwhile, SQLite's locks keep the two apart.
void add_reset_dedup(CLI::App& group) {
  struct Flags {
    std::string config;
    std::string data_dir;
  };
  auto flags = std::make_shared<Flags>();
  auto* cmd = group.add_subcommand(
      "reset-dedup", "Forget the names of completed and deleted tasks (the deduplication window)");
  cmd->add_option("--config,-c", flags->config, "TOML config file")->check(CLI::ExistingFile);
  cmd->add_option("--data-dir", flags->data_dir, "Data directory (default: the config's data_dir)");
  cmd->callback([flags] {
    auto config = load_config_or_exit(
        flags->config.empty() ? std::nullopt : std::optional<std::string>(flags->config));
    if (!flags->data_dir.empty()) config.data_dir = flags->data_dir;
    const auto options = sqlite_options(config);
    auto store = queue::SqliteTaskStore::open(options);
    if (!store)
      exit_with(kApiError, fmt::format("{}: {}", options.path.string(), store.error().message));
    if (auto reset = (*store)->reset_deduplication(); !reset) {
      exit_with(kApiError, reset.error().message);
    }
    fmt::print("forgot every completed or deleted task name in {}\n", options.path.string());
  });
}

void add_queue_commands(CLI::App& app) {
  add_queues_group(app);
  add_reset_dedup(*app.get_subcommand("queues"));
  add_tasks_group(app);
}

}  // namespace mando::app
