#pragma once
// RemoteTaskQueue: a TaskQueue that calls the Cloud Tasks v2 REST API (rest_api.hpp) of another
// mando, or of Google's service itself, over net::HttpClient. Used by the `mando queues|tasks`
// CLI and by bots that put Cloud Tasks behind mando.
//
// Errors: transport failures keep the HTTP client's kind (kUnavailable, kDeadlineExceeded, ...);
// an API error becomes the kind of its google.rpc `status` ("ALREADY_EXISTS" -> kAlreadyExists),
// or of its HTTP status when the body has none, with the API's message.
//
// Requests carry only the fields a client may set (Google refuses unknown fields). Tasks are
// asked for in the FULL view, so they come back with their headers and body. list_tasks with a
// filter other than kAll uses mando's `filter=state:...` extension, which Google's service
// does not know.
//
// Thread-safety: as the HttpClient; the client must outlive the queue.

#include <chrono>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "net/http_client.hpp"
#include "queue/task_queue.hpp"

namespace mando::queue {

struct RemoteOptions {
  // Scheme, host and port, without /v2: "https://cloudtasks.googleapis.com",
  // "http://127.0.0.1:8080". A trailing slash is tolerated.
  std::string base_url;
  // Sent as "Authorization: Bearer <token>" when not empty. Never logged.
  std::string bearer_token;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // per request
};

class RemoteTaskQueue : public TaskQueue {
 public:
  RemoteTaskQueue(net::HttpClient& client, RemoteOptions options);

  boost::asio::awaitable<Result<Queue>> create_queue(Queue queue) override;
  boost::asio::awaitable<Result<Queue>> get_queue(QueueName name) override;
  boost::asio::awaitable<Result<Page<Queue>>> list_queues(std::string parent, int page_size,
                                                          std::string page_token) override;
  boost::asio::awaitable<Result<Queue>> update_queue(Queue patch,
                                                     std::vector<std::string> update_mask) override;
  boost::asio::awaitable<Result<void>> delete_queue(QueueName name) override;
  boost::asio::awaitable<Result<Queue>> pause_queue(QueueName name) override;
  boost::asio::awaitable<Result<Queue>> resume_queue(QueueName name) override;
  boost::asio::awaitable<Result<Queue>> purge_queue(QueueName name) override;

  boost::asio::awaitable<Result<Task>> create_task(Task task) override;
  boost::asio::awaitable<Result<Task>> get_task(TaskName name) override;
  boost::asio::awaitable<Result<Page<Task>>> list_tasks(QueueName queue, TaskFilter filter,
                                                        int page_size,
                                                        std::string page_token) override;
  boost::asio::awaitable<Result<void>> delete_task(TaskName name) override;
  boost::asio::awaitable<Result<Task>> run_task(TaskName name) override;

 private:
  // Sends one call and answers the JSON object of a 2xx, else the API's error. `path` follows
  // "/v2/" and is already encoded; `body` empty: no body.
  boost::asio::awaitable<Result<boost::json::object>> call(std::string method, std::string path,
                                                           std::string body);

  net::HttpClient& client_;
  RemoteOptions options_;
};

}  // namespace mando::queue
