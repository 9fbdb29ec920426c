#include "imagine/job.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace mando::imagine {
namespace {

namespace json = boost::json;

constexpr Status kStatuses[] = {Status::kStarting, Status::kProcessing, Status::kSucceeded,
                                Status::kFailed,   Status::kCanceled,   Status::kAborted};

tl::unexpected<Error> malformed(std::string_view field, std::string_view why) {
  return fail(ErrorKind::kInvalidArgument, fmt::format("job update: field `{}` {}", field, why));
}

// An optional small integer field; nullopt when absent or null.
Result<std::optional<int>> optional_int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<int>();
  if (!v->is_int64() || v->get_int64() < 0 || v->get_int64() > 1'000'000) {
    return malformed(key, "must be a small whole number");
  }
  return std::optional<int>(static_cast<int>(v->get_int64()));
}

int rank(Status status) {
  switch (status) {
    case Status::kStarting:
      return 0;
    case Status::kProcessing:
      return 1;
    default:
      return 2;
  }
}

}  // namespace

std::string_view to_string(Status status) {
  switch (status) {
    case Status::kStarting:
      return "starting";
    case Status::kProcessing:
      return "processing";
    case Status::kSucceeded:
      return "succeeded";
    case Status::kFailed:
      return "failed";
    case Status::kCanceled:
      return "canceled";
    case Status::kAborted:
      return "aborted";
  }
  return "unknown";
}

Result<Status> parse_status(std::string_view name) {
  for (Status status : kStatuses) {
    if (to_string(status) == name) return status;
  }
  return fail(ErrorKind::kInvalidArgument, fmt::format("unknown job status \"{}\"", name));
}

bool terminal(Status status) { return rank(status) == 2; }

std::string to_json(const JobUpdate& update) {
  json::array outputs;
  for (const auto& output : update.outputs) outputs.emplace_back(output);
  json::object o{{"provider_job_id", update.provider_job_id},
                 {"status", to_string(update.status)},
                 {"outputs", std::move(outputs)}};
  if (update.queue_position) o["queue_position"] = *update.queue_position;
  if (update.percent) o["percent"] = *update.percent;
  if (!update.error.empty()) o["error"] = update.error;
  return json::serialize(o);
}

Result<JobUpdate> parse_update(std::string_view text) {
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return fail(ErrorKind::kInvalidArgument, "job update: not a JSON object");
  }
  const json::object& o = value.as_object();
  JobUpdate update;
  const json::value* id = o.if_contains("provider_job_id");
  if (id == nullptr || !id->is_string() || id->as_string().empty()) {
    return malformed("provider_job_id", "must be a non-empty string");
  }
  update.provider_job_id = std::string(id->as_string());
  const json::value* status = o.if_contains("status");
  auto parsed = status != nullptr && status->is_string()
                    ? parse_status(std::string_view(status->as_string()))
                    : Result<Status>(fail(ErrorKind::kInvalidArgument, "missing"));
  if (!parsed) return malformed("status", "must be a job status");
  update.status = *parsed;
  const json::value* outputs = o.if_contains("outputs");
  if (outputs != nullptr && !outputs->is_array()) return malformed("outputs", "must be an array");
  if (outputs != nullptr) {
    for (const json::value& item : outputs->as_array()) {
      if (!item.is_string()) return malformed("outputs", "must hold strings");
      update.outputs.emplace_back(item.as_string());
    }
  }
  for (auto [key, out] : {std::pair{"queue_position", &update.queue_position},
                          std::pair{"percent", &update.percent}}) {
    auto n = optional_int(o, key);
    if (!n) return tl::unexpected(n.error());
    *out = *n;
  }
  if (update.percent && *update.percent > 100) return malformed("percent", "must be 0 to 100");
  if (const json::value* error = o.if_contains("error"); error != nullptr && error->is_string()) {
    update.error = std::string(error->as_string());
  }
  return update;
}

bool merge(JobState& state, const JobUpdate& update) {
  if (terminal(state.status) || rank(update.status) < rank(state.status)) return false;
  if (terminal(update.status)) {
    state.status = update.status;
    state.outputs = update.outputs;
    state.error = update.error;
    state.queue_position.reset();
    if (update.status == Status::kSucceeded) state.percent = 100;
    return true;
  }
  bool changed = update.status != state.status;
  state.status = update.status;
  if (update.status == Status::kProcessing && state.queue_position) {
    state.queue_position.reset();
    changed = true;
  }
  // A place in line only shrinks, for the same reason.
  if (update.queue_position && update.status == Status::kStarting &&
      (!state.queue_position || *update.queue_position < *state.queue_position)) {
    state.queue_position = update.queue_position;
    changed = true;
  }
  // Progress only grows: an older log tail arriving late must not move the bar back.
  if (update.percent && (!state.percent || *update.percent > *state.percent)) {
    state.percent = update.percent;
    changed = true;
  }
  if (update.outputs.size() > state.outputs.size()) {
    state.outputs = update.outputs;  // a streamed preview, ahead of the final outputs
    changed = true;
  }
  return changed;
}

}  // namespace mando::imagine
