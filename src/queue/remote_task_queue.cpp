#include "queue/remote_task_queue.hpp"

#include <utility>

#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <fmt/format.h>

#include "queue/json_mapping.hpp"

namespace mando::queue {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

std::string encode(std::string_view text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

// A resource name as a URL path: each segment percent-encoded, the slashes kept.
std::string path_of(std::string_view name) {
  std::string out;
  while (true) {
    auto slash = name.find('/');
    out += encode(name.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    out += '/';
    name.remove_prefix(slash + 1);
  }
}

std::string page_query(int page_size, const std::string& page_token) {
  std::string query = fmt::format("pageSize={}", page_size);
  if (!page_token.empty()) query += fmt::format("&pageToken={}", encode(page_token));
  return query;
}

Error bad_answer(std::string_view what, const Error& error) {
  return Error{ErrorKind::kInternal,
               fmt::format("the queue API answered an unreadable {}: {}", what, error.message)};
}

Result<Queue> queue_of(const Result<json::object>& answer) {
  if (!answer) return tl::unexpected(answer.error());
  auto queue = queue_from_json(*answer);
  if (!queue) return tl::unexpected(bad_answer("queue", queue.error()));
  return queue;
}

Result<Task> task_of(const Result<json::object>& answer) {
  if (!answer) return tl::unexpected(answer.error());
  auto task = task_from_json(*answer);
  if (!task) return tl::unexpected(bad_answer("task", task.error()));
  return task;
}

// {"<key>": [...], "nextPageToken": "..."}; both may be missing (an empty last page).
template <typename T, typename Read>
Result<Page<T>> page_of(const Result<json::object>& answer, std::string_view key, Read read) {
  if (!answer) return tl::unexpected(answer.error());
  Page<T> page;
  if (auto* token = answer->if_contains("nextPageToken"); token != nullptr && token->is_string()) {
    page.next_page_token = std::string(token->get_string());
  }
  auto* items = answer->if_contains(key);
  if (items == nullptr || items->is_null()) return page;
  if (!items->is_array()) {
    return tl::unexpected(bad_answer(
        "list", Error{ErrorKind::kInvalidArgument, fmt::format("{}: not an array", key)}));
  }
  for (const auto& item : items->get_array()) {
    auto parsed = read(item, fmt::format("{}[{}]", key, page.items.size()));
    if (!parsed) return tl::unexpected(bad_answer("list", parsed.error()));
    page.items.push_back(std::move(*parsed));
  }
  return page;
}

Result<void> done(const Result<json::object>& answer) {
  if (!answer) return tl::unexpected(answer.error());
  return {};
}

const json::string_view kFullView = "FULL";

}  // namespace

RemoteTaskQueue::RemoteTaskQueue(net::HttpClient& client, RemoteOptions options)
    : client_(client), options_(std::move(options)) {
  while (options_.base_url.ends_with('/')) options_.base_url.pop_back();
}

asio::awaitable<Result<json::object>> RemoteTaskQueue::call(std::string method, std::string path,
                                                            std::string body) {
  net::ClientRequest request;
  request.method = std::move(method);
  request.url = fmt::format("{}/v2/{}", options_.base_url, path);
  request.timeout = options_.timeout;
  request.headers.set("Accept", "application/json");
  if (!options_.bearer_token.empty()) {
    request.headers.set("Authorization", "Bearer " + options_.bearer_token);
  }
  if (!body.empty()) {
    request.headers.set("Content-Type", "application/json");
    request.body = std::move(body);
  }
  auto response = co_await client_.send(std::move(request));
  if (!response) co_return tl::unexpected(response.error());
  if (response->status < 200 || response->status > 299) {
    co_return tl::unexpected(error_from_response(response->status, response->body));
  }
  auto object = parse_json_object(response->body);
  if (!object) co_return tl::unexpected(bad_answer("body", object.error()));
  co_return object;
}

asio::awaitable<Result<Queue>> RemoteTaskQueue::create_queue(Queue queue) {
  co_return queue_of(co_await call("POST", path_of(queue.name.parent()) + "/queues",
                                   json::serialize(to_request_json(queue))));
}

asio::awaitable<Result<Queue>> RemoteTaskQueue::get_queue(QueueName name) {
  co_return queue_of(co_await call("GET", path_of(name.full()), ""));
}

asio::awaitable<Result<Page<Queue>>> RemoteTaskQueue::list_queues(std::string parent, int page_size,
                                                                  std::string page_token) {
  auto answer = co_await call(
      "GET", fmt::format("{}/queues?{}", path_of(parent), page_query(page_size, page_token)), "");
  co_return page_of<Queue>(answer, "queues", [](const json::value& v, std::string field) {
    return queue_from_json(v, field);
  });
}

asio::awaitable<Result<Queue>> RemoteTaskQueue::update_queue(Queue patch,
                                                             std::vector<std::string> update_mask) {
  std::string path = path_of(patch.name.full());
  if (!update_mask.empty()) path += "?updateMask=" + encode(format_update_mask(update_mask));
  co_return queue_of(co_await call("PATCH", path, json::serialize(to_request_json(patch))));
}

asio::awaitable<Result<void>> RemoteTaskQueue::delete_queue(QueueName name) {
  co_return done(co_await call("DELETE", path_of(name.full()), ""));
}

asio::awaitable<Result<Queue>> RemoteTaskQueue::pause_queue(QueueName name) {
  co_return queue_of(co_await call("POST", path_of(name.full()) + ":pause", "{}"));
}

asio::awaitable<Result<Queue>> RemoteTaskQueue::resume_queue(QueueName name) {
  co_return queue_of(co_await call("POST", path_of(name.full()) + ":resume", "{}"));
}

asio::awaitable<Result<Queue>> RemoteTaskQueue::purge_queue(QueueName name) {
  co_return queue_of(co_await call("POST", path_of(name.full()) + ":purge", "{}"));
}

asio::awaitable<Result<Task>> RemoteTaskQueue::create_task(Task task) {
  json::object body{{"task", to_request_json(task)}, {"responseView", kFullView}};
  co_return task_of(
      co_await call("POST", path_of(task.name.queue.full()) + "/tasks", json::serialize(body)));
}

asio::awaitable<Result<Task>> RemoteTaskQueue::get_task(TaskName name) {
  co_return task_of(co_await call("GET", path_of(name.full()) + "?responseView=FULL", ""));
}

asio::awaitable<Result<Page<Task>>> RemoteTaskQueue::list_tasks(QueueName queue, TaskFilter filter,
                                                                int page_size,
                                                                std::string page_token) {
  std::string path = fmt::format("{}/tasks?responseView=FULL&{}", path_of(queue.full()),
                                 page_query(page_size, page_token));
  if (filter == TaskFilter::kFailed) path += "&filter=" + encode("state:FAILED");
  if (filter == TaskFilter::kPending) path += "&filter=" + encode("state:PENDING");
  auto answer = co_await call("GET", path, "");
  co_return page_of<Task>(answer, "tasks", [](const json::value& v, std::string field) {
    return task_from_json(v, field);
  });
}

asio::awaitable<Result<void>> RemoteTaskQueue::delete_task(TaskName name) {
  co_return done(co_await call("DELETE", path_of(name.full()), ""));
}

asio::awaitable<Result<Task>> RemoteTaskQueue::run_task(TaskName name) {
  json::object body{{"responseView", kFullView}};
  co_return task_of(co_await call("POST", path_of(name.full()) + ":run", json::serialize(body)));
}

}  // namespace mando::queue
