#include "queue/rest_api.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>
#include <boost/url/pct_string_view.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "core/log.hpp"
#include "queue/json_mapping.hpp"

namespace mando::queue {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

constexpr std::string_view kPrefix = "/v2/";
// Cloud Tasks' own maximum for task lists; queue lists may be answered shorter, so one cap
// serves both. pageSize 0 asks for the maximum, as Cloud Tasks does for tasks.
constexpr int kMaxPageSize = 1000;

// The resource a path names.
struct Target {
  enum class Kind { kQueues, kQueue, kTasks, kTask } kind;
  std::string parent;  // kQueues: projects/{p}/locations/{l}
  QueueName queue;     // kQueue, kTasks
  TaskName task;       // kTask
  std::string verb;    // after ':' in the last segment ("pause"), or empty
};

net::Response error_response(int status, std::string_view rpc_status, std::string_view message) {
  return net::Response::json(status, error_body(status, rpc_status, message));
}

net::Response error_response(const Error& error) {
  return net::Response::json(api_http_status(error.kind), error_body(error));
}

net::Response not_found(std::string_view path) {
  return error_response(404, "NOT_FOUND",
                        fmt::format("{} is not a Cloud Tasks v2 resource mando serves", path));
}

// Parses "/v2/projects/{p}/locations/{l}/queues[/{q}[/tasks[/{t}]]][:verb]", percent-decoding
// each segment. nullopt: not a path of this API (404).
Result<std::optional<Target>> parse_target(std::string_view path) {
  path.remove_prefix(kPrefix.size());
  std::vector<std::string> segments;
  std::string verb;
  while (true) {
    auto slash = path.find('/');
    std::string_view raw = path.substr(0, slash);
    if (slash == std::string_view::npos) {
      // The verb is split off before decoding: ids never hold ':', so an encoded one stays
      // part of the id (and is refused by the name check).
      if (auto colon = raw.rfind(':'); colon != std::string_view::npos) {
        verb = std::string(raw.substr(colon + 1));
        raw = raw.substr(0, colon);
      }
    }
    auto encoded = boost::urls::make_pct_string_view(raw);
    if (!encoded) {
      return fail(ErrorKind::kInvalidArgument, fmt::format("bad percent-encoding in \"{}\"", raw));
    }
    segments.push_back(encoded->decode());
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  constexpr std::array<std::string_view, 4> kLiterals{"projects", "locations", "queues", "tasks"};
  if (segments.size() < 5 || segments.size() > 8) return std::nullopt;
  for (std::size_t i = 0; i < segments.size(); i += 2) {
    if (segments[i] != kLiterals[i / 2]) return std::nullopt;
  }
  Target target;
  target.verb = std::move(verb);
  target.parent = fmt::format("projects/{}/locations/{}", segments[1], segments[3]);
  switch (segments.size()) {
    case 5: {
      target.kind = Target::Kind::kQueues;
      // A queue id that is surely valid, so only the parent's ids are checked.
      if (auto ok = QueueName::from_parent(target.parent, "q"); !ok) {
        return tl::unexpected(ok.error());
      }
      return target;
    }
    case 6:
    case 7: {
      target.kind = segments.size() == 6 ? Target::Kind::kQueue : Target::Kind::kTasks;
      auto name = QueueName::from_parent(target.parent, segments[5]);
      if (!name) return tl::unexpected(name.error());
      target.queue = std::move(*name);
      return target;
    }
    default: {
      target.kind = Target::Kind::kTask;
      auto name = TaskName::parse(
          fmt::format("{}/queues/{}/tasks/{}", target.parent, segments[5], segments[7]));
      if (!name) return tl::unexpected(name.error());
      target.task = std::move(*name);
      return target;
    }
  }
}

// Compares secrets in time independent of where they differ, and of their lengths: both are
// hashed first, so sodium_memcmp always compares 32 bytes.
bool same_secret(std::string_view a, std::string_view b) {
  std::array<unsigned char, crypto_generichash_BYTES> ha{}, hb{};
  crypto_generichash(ha.data(), ha.size(), reinterpret_cast<const unsigned char*>(a.data()),
                     a.size(), nullptr, 0);
  crypto_generichash(hb.data(), hb.size(), reinterpret_cast<const unsigned char*>(b.data()),
                     b.size(), nullptr, 0);
  return sodium_memcmp(ha.data(), hb.data(), ha.size()) == 0;
}

EnumEncoding enum_encoding(const net::Request& request) {
  auto alt = request.query_param("$alt");
  return alt && alt->find("enum-encoding=int") != std::string::npos ? EnumEncoding::kNumber
                                                                    : EnumEncoding::kName;
}

// responseView as a query parameter: a name or a number.
Result<TaskView> view_from_query(const net::Request& request) {
  auto text = request.query_param("responseView");
  if (!text) return TaskView::kBasic;
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), number);
  if (!text->empty() && ec == std::errc() && end == text->data() + text->size()) {
    return task_view_from_json(json::value(number), "responseView");
  }
  return task_view_from_json(json::value(*text), "responseView");
}

Result<TaskView> view_from_body(const json::object& body) {
  auto* view = body.if_contains("responseView");
  if (view == nullptr || view->is_null()) return TaskView::kBasic;
  return task_view_from_json(*view, "responseView");
}

Result<int> page_size(const net::Request& request) {
  auto text = request.query_param("pageSize");
  if (!text) return kMaxPageSize;
  int size = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), size);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size() || size < 0) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("pageSize: \"{}\" is not a non-negative integer", *text));
  }
  return size == 0 ? kMaxPageSize : std::min(size, kMaxPageSize);
}

Result<TaskFilter> task_filter(const net::Request& request) {
  auto text = request.query_param("filter").value_or("");
  if (text.empty()) return TaskFilter::kAll;
  if (text == "state:FAILED") return TaskFilter::kFailed;
  if (text == "state:PENDING") return TaskFilter::kPending;
  return fail(
      ErrorKind::kInvalidArgument,
      fmt::format("filter: \"{}\" is not supported (use state:FAILED or state:PENDING)", text));
}

// QueueName::parse() names the field "name"; the API names it from the request.
Error queue_field_error(Error error) {
  error.message = fmt::format("queue.{}", error.message);
  return error;
}

// The queue a request's body describes, named `name`: the body may leave its name out, or must
// agree.
Result<Queue> queue_from_body(const json::object& body, const QueueName& name) {
  auto queue = queue_from_json(body, "queue");
  if (!queue) return queue;
  if (!queue->name.queue.empty() && queue->name != name) {
    return fail(ErrorKind::kInvalidArgument,
                fmt::format("queue.name: \"{}\" does not match \"{}\" in the URL",
                            queue->name.full(), name.full()));
  }
  queue->name = name;
  // Output only in Cloud Tasks: :pause, :resume and :purge change them.
  queue->state = QueueState::kRunning;
  queue->purge_time.reset();
  return queue;
}

// What a create call may set of a task: Cloud Tasks ignores the output-only fields.
Result<Task> new_task_from_body(const json::object& body, const QueueName& queue) {
  auto* value = body.if_contains("task");
  if (value == nullptr || value->is_null()) {
    return fail(ErrorKind::kInvalidArgument, "task: required");
  }
  auto parsed = task_from_json(*value, "task");
  if (!parsed) return parsed;
  if (!parsed->name.task.empty() && parsed->name.queue != queue) {
    return fail(ErrorKind::kInvalidArgument, fmt::format("task.name: \"{}\" is not in queue \"{}\"",
                                                         parsed->name.full(), queue.full()));
  }
  Task task;
  task.name = TaskName{queue, parsed->name.task};
  task.request = std::move(parsed->request);
  task.schedule_time = parsed->schedule_time;
  task.dispatch_deadline = parsed->dispatch_deadline;
  return task;
}

net::Response ok(json::value body) { return net::Response::json(200, json::serialize(body)); }

// One request being answered: its parsed pieces and the replies it builds.
class Call {
 public:
  Call(TaskQueue& queue, const net::Request& request, Target target)
      : queue_(queue),
        request_(request),
        target_(std::move(target)),
        enums_(enum_encoding(request)) {}

  asio::awaitable<net::Response> run() {
    using Kind = Target::Kind;
    const std::string& method = request_.method;
    const std::string& verb = target_.verb;
    switch (target_.kind) {
      case Kind::kQueues:
        if (!verb.empty()) break;
        if (method == "GET") co_return co_await list_queues();
        if (method == "POST") co_return co_await create_queue();
        co_return wrong_method("GET, POST");
      case Kind::kQueue:
        if (verb.empty()) {
          if (method == "GET") co_return queue_reply(co_await queue_.get_queue(target_.queue));
          if (method == "PATCH") co_return co_await update_queue();
          if (method == "DELETE")
            co_return empty_reply(co_await queue_.delete_queue(target_.queue));
          co_return wrong_method("GET, PATCH, DELETE");
        }
        if (verb != "pause" && verb != "resume" && verb != "purge") break;
        if (method != "POST") co_return wrong_method("POST");
        if (auto body = parse_json_object(request_.body); !body)
          co_return error_response(body.error());
        if (verb == "pause") co_return queue_reply(co_await queue_.pause_queue(target_.queue));
        if (verb == "resume") co_return queue_reply(co_await queue_.resume_queue(target_.queue));
        co_return queue_reply(co_await queue_.purge_queue(target_.queue));
      case Kind::kTasks:
        if (!verb.empty()) break;
        if (method == "GET") co_return co_await list_tasks();
        if (method == "POST") co_return co_await create_task();
        co_return wrong_method("GET, POST");
      case Kind::kTask:
        if (verb.empty()) {
          if (method == "GET") co_return co_await get_task();
          if (method == "DELETE") co_return empty_reply(co_await queue_.delete_task(target_.task));
          co_return wrong_method("GET, DELETE");
        }
        if (verb != "run") break;
        if (method != "POST") co_return wrong_method("POST");
        co_return co_await run_task();
    }
    co_return not_found(request_.path());
  }

 private:
  asio::awaitable<net::Response> list_queues() {
    auto size = page_size(request_);
    if (!size) co_return error_response(size.error());
    auto page = co_await queue_.list_queues(target_.parent, *size,
                                            request_.query_param("pageToken").value_or(""));
    if (!page) co_return error_response(page.error());
    json::array items;
    for (const auto& q : page->items) items.push_back(to_json(q, enums_));
    co_return page_reply("queues", std::move(items), page->next_page_token);
  }

  asio::awaitable<net::Response> create_queue() {
    auto body = parse_json_object(request_.body);
    if (!body) co_return error_response(body.error());
    // The new queue's name comes from the body; it must be under the URL's parent.
    auto* name = body->if_contains("name");
    if (name == nullptr || !name->is_string()) {
      co_return error_response(Error{ErrorKind::kInvalidArgument, "queue.name: required"});
    }
    auto parsed = QueueName::parse(name->get_string());
    if (!parsed) co_return error_response(queue_field_error(parsed.error()));
    if (parsed->parent() != target_.parent) {
      co_return error_response(Error{
          ErrorKind::kInvalidArgument,
          fmt::format("queue.name: \"{}\" is not under \"{}\"", parsed->full(), target_.parent)});
    }
    auto queue = queue_from_body(*body, *parsed);
    if (!queue) co_return error_response(queue.error());
    // The TaskQueue fills in defaults and validates, naming fields as the API does.
    co_return queue_reply(co_await queue_.create_queue(std::move(*queue)));
  }

  asio::awaitable<net::Response> update_queue() {
    auto body = parse_json_object(request_.body);
    if (!body) co_return error_response(body.error());
    auto patch = queue_from_body(*body, target_.queue);
    if (!patch) co_return error_response(patch.error());
    auto mask = parse_queue_update_mask(request_.query_param("updateMask").value_or(""));
    if (!mask) co_return error_response(mask.error());
    // An empty mask means every field in Cloud Tasks, but never the state (only :pause and
    // :resume change it): name the updatable fields, so no TaskQueue resets a paused queue.
    if (mask->empty()) *mask = queue_update_paths();
    co_return queue_reply(co_await queue_.update_queue(std::move(*patch), std::move(*mask)));
  }

  asio::awaitable<net::Response> list_tasks() {
    auto size = page_size(request_);
    if (!size) co_return error_response(size.error());
    auto view = view_from_query(request_);
    if (!view) co_return error_response(view.error());
    auto filter = task_filter(request_);
    if (!filter) co_return error_response(filter.error());
    auto page = co_await queue_.list_tasks(target_.queue, *filter, *size,
                                           request_.query_param("pageToken").value_or(""));
    if (!page) co_return error_response(page.error());
    json::array items;
    for (const auto& t : page->items) items.push_back(to_json(t, *view, enums_));
    co_return page_reply("tasks", std::move(items), page->next_page_token);
  }

  asio::awaitable<net::Response> create_task() {
    auto body = parse_json_object(request_.body);
    if (!body) co_return error_response(body.error());
    auto view = view_from_body(*body);
    if (!view) co_return error_response(view.error());
    auto task = new_task_from_body(*body, target_.queue);
    if (!task) co_return error_response(task.error());
    co_return task_reply(co_await queue_.create_task(std::move(*task)), *view);
  }

  asio::awaitable<net::Response> get_task() {
    auto view = view_from_query(request_);
    if (!view) co_return error_response(view.error());
    co_return task_reply(co_await queue_.get_task(target_.task), *view);
  }

  asio::awaitable<net::Response> run_task() {
    auto body = parse_json_object(request_.body);
    if (!body) co_return error_response(body.error());
    auto view = view_from_body(*body);
    if (!view) co_return error_response(view.error());
    co_return task_reply(co_await queue_.run_task(target_.task), *view);
  }

  net::Response queue_reply(const Result<Queue>& queue) const {
    return queue ? ok(to_json(*queue, enums_)) : error_response(queue.error());
  }

  net::Response task_reply(const Result<Task>& task, TaskView view) const {
    return task ? ok(to_json(*task, view, enums_)) : error_response(task.error());
  }

  static net::Response empty_reply(const Result<void>& done) {
    return done ? ok(json::object{}) : error_response(done.error());
  }

  // The last page has no nextPageToken, as in Cloud Tasks.
  static net::Response page_reply(std::string_view key, json::array items,
                                  const std::string& next_page_token) {
    json::object o;
    o[key] = std::move(items);
    if (!next_page_token.empty()) o["nextPageToken"] = next_page_token;
    return ok(std::move(o));
  }

  net::Response wrong_method(std::string_view allow) const {
    auto response = error_response(
        405, "UNIMPLEMENTED",
        fmt::format("{} is not supported on {}; use {}", request_.method, request_.path(), allow));
    response.headers.set("Allow", allow);
    return response;
  }

  TaskQueue& queue_;
  const net::Request& request_;
  Target target_;
  EnumEncoding enums_;
};

}  // namespace

RestApi::RestApi(TaskQueue& queue, RestApiOptions options)
    : queue_(queue), options_(std::move(options)) {
  // crypto_generichash needs nothing set up, but sodium_init() picks the fastest
  // implementation; it is idempotent and thread-safe.
  [[maybe_unused]] int initialised = sodium_init();
}

void RestApi::install(net::Router& router) {
  for (const char* method : {"GET", "POST", "PATCH", "DELETE"}) {
    router.add(method, "/v2/*",
               [this](net::Request request) { return handle(std::move(request)); });
  }
}

asio::awaitable<net::Response> RestApi::handle(net::Request request) {
  static const auto log = core::logger("queue");
  // No token configured answers nobody (QueueService always configures one).
  constexpr std::string_view kBearer = "Bearer ";
  auto header = request.headers.get("Authorization").value_or("");
  bool bearer =
      header.size() > kBearer.size() && net::iequals(header.substr(0, kBearer.size()), kBearer);
  if (options_.api_token.empty() || !bearer ||
      !same_secret(header.substr(kBearer.size()), options_.api_token)) {
    log->info("api: refused method={} path={} remote={} reason=bad_token", request.method,
              request.path(), request.remote);
    auto response = error_response(
        401, "UNAUTHENTICATED",
        "missing or wrong credentials: send \"Authorization: Bearer <token>\" with [queue] "
        "api_token, or the token mando generated in {data_dir}/api_token");
    response.headers.set("WWW-Authenticate", "Bearer");
    co_return response;
  }

  auto target = parse_target(request.path());
  net::Response response;
  if (!target) {
    response = error_response(target.error());
  } else if (!*target) {
    response = not_found(request.path());
  } else {
    Call call(queue_, request, std::move(**target));
    response = co_await call.run();
  }
  if (response.status >= 500) {
    log->warn("api: method={} path={} status={} body={}", request.method, request.path(),
              response.status, response.body);
  } else if (response.status >= 400) {
    log->debug("api: method={} path={} status={} body={}", request.method, request.path(),
               response.status, response.body);
  }
  co_return response;
}

}  // namespace mando::queue
