#include "imagine/job.hpp"

namespace mando::imagine {
namespace {

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

bool terminal(Status status) { return rank(status) == 2; }

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
