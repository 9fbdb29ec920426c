#pragma once
// The proto3 JSON mapping of google.cloud.tasks.v2 (Queue, Task, Attempt, google.rpc.Status,
// FieldMask) onto mando's model, for the REST API (rest_api.hpp) and RemoteTaskQueue.
//
// What is read follows the proto3 JSON rules the official clients rely on:
//   - enums as names ("RUNNING", "POST") or numbers (clients that send
//     `$alt=json;enum-encoding=int` send numbers and expect numbers back: EnumEncoding);
//   - timestamps in RFC 3339 with 0 to 9 fraction digits and a Z or +hh:mm offset; durations
//     as "10s", "10.500s", "-1.5s" (at most 9 fraction digits, at most 315576000000 s, as
//     protobuf's parser); integers as numbers or decimal strings; bytes as base64, standard or
//     url-safe, padded or not; null as an absent field; unknown fields ignored.
//   - Wrong types and out-of-range values are kInvalidArgument naming the field the way Cloud
//     Tasks does ("task.scheduleTime", "queue.rateLimits.maxDispatchesPerSecond").
// What is written is what protobuf prints: timestamps with a Z and 0, 3 or 6 fraction digits
// (mando keeps microseconds), durations with 0, 3 or 6.
//
// mando's extensions, which real Cloud Tasks clients ignore as unknown fields:
//   - Queue.appEngineRoutingOverride.host carries Queue::worker_base_url. mando uses it as the
//     authority of the base URL that appEngineHttpRequest.relativeUri is resolved against:
//     "http://" + host when the host has no scheme, the host as is when it has one
//     ("https://workers.example"). Written back the same way: an http:// URL loses its scheme.
//   - Task.mandoState ("PENDING", "LEASED", "FAILED") exposes TaskState, so dead letters
//     (FAILED) can be listed and inspected. Output only; never sent in requests.

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.hpp"
#include "queue/model.hpp"

namespace mando::queue {

// Task.View: BASIC leaves out the request's headers and body (large or sensitive), FULL keeps
// them.
enum class TaskView { kBasic, kFull };
enum class EnumEncoding { kName, kNumber };

// Scalars on the wire.
std::string format_timestamp(TimePoint time);
Result<TimePoint> parse_timestamp(std::string_view text);
std::string format_duration(Micros duration);
Result<Micros> parse_duration(std::string_view text);
std::string encode_base64(std::string_view bytes);
Result<std::string> decode_base64(std::string_view text);

// A request body: a JSON object, or an empty object when the body is empty. Anything else is
// kInvalidArgument.
Result<boost::json::object> parse_json_object(std::string_view body);

// Responses: every field the model has.
boost::json::object to_json(const Queue& queue, EnumEncoding enums);
boost::json::object to_json(const Task& task, TaskView view, EnumEncoding enums);
// Requests (what RemoteTaskQueue sends): only the fields a client may set, so Google's service,
// which refuses unknown fields, accepts them. Enums by name.
boost::json::object to_request_json(const Queue& queue);
boost::json::object to_request_json(const Task& task);

// `field` names the value in errors ("queue", "task"). Every field is read, output-only ones
// included (RemoteTaskQueue reads answers with these); the REST API drops what a client may not
// set. A Task with neither request kind keeps the model's default (an httpRequest).
Result<Queue> queue_from_json(const boost::json::value& value, std::string_view field = "queue");
Result<Task> task_from_json(const boost::json::value& value, std::string_view field = "task");
// A Task.View given by name or number; VIEW_UNSPECIFIED is BASIC, as in Cloud Tasks.
Result<TaskView> task_view_from_json(const boost::json::value& value, std::string_view field);
std::string_view to_string(TaskView view);  // "BASIC", "FULL"

// Queue update masks. `text` is the updateMask query parameter: comma-separated paths in
// camelCase ("rateLimits.maxDispatchesPerSecond") or snake_case. Answers the proto paths in
// snake_case ("rate_limits.max_dispatches_per_second"), as TaskQueue::update_queue expects.
// Unknown paths and the output-only ones (name, state, purge_time) are kInvalidArgument.
Result<std::vector<std::string>> parse_queue_update_mask(std::string_view text);
// The mask as a client sends it: camelCase paths joined by commas.
std::string format_update_mask(const std::vector<std::string>& paths);
// Every path a client may update, in the order of queue.proto; what an empty mask means.
const std::vector<std::string>& queue_update_paths();
// Copies the fields `mask` names from `patch` into `queue` (empty mask: every updatable field).
// Errors as parse_queue_update_mask.
Result<void> apply_queue_update(Queue& queue, const Queue& patch,
                                const std::vector<std::string>& mask);

// google.rpc.Code of an error kind: number and name ("ALREADY_EXISTS"), and the HTTP status
// the API answers it with (kUnavailable: UNAVAILABLE and 503; kInternal: INTERNAL and 500).
int rpc_code(ErrorKind kind);
std::string_view rpc_status_name(ErrorKind kind);
int api_http_status(ErrorKind kind);
// The google.rpc.Code a worker's HTTP status stands for (see the table in json_mapping.cpp).
int rpc_code_for_http_status(int http_status);
// The Google error body {"error":{"code":409,"message":"...","status":"ALREADY_EXISTS"}}, with
// the HTTP status of the kind as "code".
std::string error_body(const Error& error);
std::string error_body(int http_status, std::string_view status, std::string_view message);
// The Error an API answered with: the kind from the body's "status" when there is one, else
// from the HTTP status; the message from the body, else a summary of the answer.
Error error_from_response(int http_status, std::string_view body);

}  // namespace mando::queue
