// Fuzzes the Cloud Tasks JSON mapping, the parser of every /v2/ request body: the input is a
// request body (and, as text, a timestamp, a duration, an update mask, base64 and a worker's
// Retry-After, which must land within its cap whatever it says). Parsing must
// either refuse with a message naming a field, or give a value that, once named (as every stored
// queue and task is), writes back to JSON and reads again to the same value (checked here field
// by field).

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "queue/json_mapping.hpp"
#include "queue/retry.hpp"

namespace {

using namespace mando::queue;
namespace json = boost::json;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_refusal(const mando::Error& error) {
  check(error.kind == mando::ErrorKind::kInvalidArgument && !error.message.empty() &&
        error.message.size() < 4096);
}

void fuzz_task(const json::value& value) {
  auto task = task_from_json(value);
  if (!task) return check_refusal(task.error());
  // Only stored tasks are written back, and those always have a name.
  if (task->name.task.empty() || task->name.queue.queue.empty()) return;
  auto again = task_from_json(
      json::parse(json::serialize(to_json(*task, TaskView::kFull, EnumEncoding::kNumber))));
  check(again.has_value());
  check(again->name == task->name && again->request.url == task->request.url &&
        again->request.body == task->request.body &&
        again->request.headers.size() == task->request.headers.size() &&
        again->request.method == task->request.method &&
        again->schedule_time == task->schedule_time &&
        again->dispatch_deadline == task->dispatch_deadline);
}

void fuzz_queue(const json::value& value) {
  auto queue = queue_from_json(value);
  if (!queue) return check_refusal(queue.error());
  if (queue->name.queue.empty()) return;  // as for tasks: only named queues are written back
  auto again = queue_from_json(json::parse(json::serialize(to_json(*queue, EnumEncoding::kName))));
  check(again.has_value());
  check(again->name == queue->name && again->state == queue->state &&
        again->retry_config.max_attempts == queue->retry_config.max_attempts &&
        again->retry_config.min_backoff == queue->retry_config.min_backoff &&
        again->rate_limits.max_concurrent_dispatches ==
            queue->rate_limits.max_concurrent_dispatches &&
        again->worker_base_url == queue->worker_base_url);
}

// `parse` either refuses (with a field-naming message, when `named`) or gives a value that
// `format` writes back to text that parses to the same value.
template <typename Parse, typename Format>
void round_trip(std::string_view text, Parse parse, Format format, bool named) {
  auto value = parse(text);
  if (!value) {
    if (named) check_refusal(value.error());
    return;
  }
  auto again = parse(format(*value));
  check(again.has_value() && *again == *value);
}

void fuzz_text(std::string_view text) {
  round_trip(text, parse_timestamp, format_timestamp, true);
  round_trip(text, parse_duration, format_duration, true);
  round_trip(text, decode_base64, encode_base64, false);
  round_trip(text, parse_queue_update_mask, format_update_mask, false);
  for (Micros cap : {Micros(std::chrono::hours(1)), Micros::max()}) {
    if (auto delay = parse_retry_after(text, cap, TimePoint{})) {
      check(*delay >= Micros(0) && *delay <= std::min(cap, kMaxRetryAfter));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz_text(input);
  auto body = parse_json_object(input);
  if (!body) {
    check_refusal(body.error());
    return 0;
  }
  const json::value value(*body);
  fuzz_queue(value);
  fuzz_task(value);
  if (auto it = body->find("task"); it != body->end()) fuzz_task(it->value());
  return 0;
}
