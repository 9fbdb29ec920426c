#pragma once
// The Cloud Tasks v2 REST API over a TaskQueue, so the official clients (`@google-cloud/tasks`
// in REST mode, gcloud) and mando's own RemoteTaskQueue can drive mando's queue:
//
//   GET    /v2/{parent=projects/*/locations/*}/queues         pageSize, pageToken (filter ignored)
//   POST   /v2/{parent}/queues                                 body: Queue
//   GET    /v2/{name=projects/*/locations/*/queues/*}
//   PATCH  /v2/{queue.name}?updateMask=...                     body: Queue
//   DELETE /v2/{name}                                          -> {}
//   POST   /v2/{name}:pause | :resume | :purge                 -> Queue
//   GET    /v2/{parent=.../queues/*}/tasks                     responseView, pageSize, pageToken,
//                                                              filter=state:FAILED|state:PENDING
//   POST   /v2/{parent}/tasks                                  body: {"task": Task, "responseView"}
//   GET    /v2/{name=.../tasks/*}                              responseView
//   DELETE /v2/{name}                                          -> {}
//   POST   /v2/{name}:run                                      body: {"responseView"}
//
// The JSON is the proto3 mapping of json_mapping.hpp; a request whose query has
// `$alt=json;enum-encoding=int` gets enums as numbers. Errors are Google's shape,
// {"error":{"code":409,"message":"...","status":"ALREADY_EXISTS"}}, with the HTTP status of the
// kind. The `filter` of task lists is mando's extension: state:FAILED lists dead letters.
//
// Authentication: with an api_token, every request needs `Authorization: Bearer <token>` (else
// 401 UNAUTHENTICATED). Without one, only loopback peers (127.0.0.0/8, ::1) are answered (else
// 403 PERMISSION_DENIED): a queue API must never be open to the network by default.
//
// Thread-safety: handle() may run on any number of threads at once if the TaskQueue allows it.
// The RestApi must outlive the router it is installed in.

#include <string>

#include <boost/asio/awaitable.hpp>

#include "net/http_message.hpp"
#include "net/router.hpp"
#include "queue/task_queue.hpp"

namespace mando::queue {

struct RestApiOptions {
  // Bearer token clients must send; empty: loopback clients only. Never logged.
  std::string api_token;
};

class RestApi {
 public:
  RestApi(TaskQueue& queue, RestApiOptions options);

  // Adds handle() on "/v2/*" for GET, POST, PATCH and DELETE.
  void install(net::Router& router);

  boost::asio::awaitable<net::Response> handle(net::Request request);

 private:
  TaskQueue& queue_;
  RestApiOptions options_;
};

}  // namespace mando::queue
