#pragma once
// What mando knows of one generation at a provider, and how news of it is merged.
//
// News comes from webhooks and from polls, may come twice and in any order (a provider retries a
// delivery it thinks failed; a poll answer can overtake a webhook). merge() therefore only moves
// forward: starting < processing < terminal, and once terminal nothing changes. Within one rank
// only progress counts: the percentage and the outputs grow, the place in line shrinks, so a
// stale view arriving late changes nothing. A terminal state is taken as a whole, once.
//
// Provider adapters (replicate.hpp, ...) turn their JSON into a JobUpdate; nothing here knows a
// provider.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace mando::imagine {

enum class Status {
  kStarting,    // accepted, waiting for a GPU (queue_position, when the provider says)
  kProcessing,  // generating (progress, when the provider says)
  kSucceeded,   // outputs are there
  kFailed,      // the provider's error (its safety verdict among them) is in `error`
  kCanceled,    // canceled at our request or the provider's
  kAborted,     // ended before it started (a deadline such as Cancel-After passed)
};

std::string_view to_string(Status status);
// kInvalidArgument for a name to_string() does not give.
Result<Status> parse_status(std::string_view name);
bool terminal(Status status);

// One provider event or poll answer, as an adapter reads it.
struct JobUpdate {
  std::string provider_job_id;
  Status status = Status::kStarting;
  std::optional<int> queue_position;  // 1 is next
  std::optional<int> percent;         // 0..100
  std::vector<std::string> outputs;   // URLs or data: URIs, in the provider's order
  std::string error;                  // the provider's words; empty unless failed
};

// A JobUpdate as provider-neutral JSON, the body of an imagine-events task (written by the
// webhook route and the poller, read by the events worker, maybe of another mando version).
std::string to_json(const JobUpdate& update);
// kInvalidArgument naming the field that is missing or malformed; unknown fields are ignored.
Result<JobUpdate> parse_update(std::string_view json);

// The merged view.
struct JobState {
  Status status = Status::kStarting;
  std::optional<int> queue_position;
  std::optional<int> percent;
  std::vector<std::string> outputs;
  std::string error;
};

// Folds `update` into `state`; true when something a user would see changed (the status, the
// position, the percentage or the outputs), so the caller knows whether to edit the message.
bool merge(JobState& state, const JobUpdate& update);

}  // namespace mando::imagine
