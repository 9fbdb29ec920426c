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
// Authentication: every request needs `Authorization: Bearer <api_token>` (else 401
// UNAUTHENTICATED), whatever its peer: behind a reverse proxy every request comes from
// 127.0.0.1, so loopback is not a credential. With no token configured nothing is answered.
// (`mando serve` also installs the API on its internal listener only: see app/server.cpp.)
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
  // Bearer token clients must send; empty: every request is refused. Never logged.
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
