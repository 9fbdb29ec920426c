#pragma once
// The Replicate-style predictions API, as plain functions over its JSON (so that the fuzz
// target and the fake provider exercise exactly what the client sends and reads).
//
//   create   POST {endpoint}/predictions                      {"version", "input", "webhook",
//            or POST {endpoint}/models/{owner}/{name}/predictions   "webhook_events_filter"}
//            Authorization: Bearer <token>, Cancel-After: <seconds>s
//   get      GET  {endpoint}/predictions/{id}
//   cancel   POST {endpoint}/predictions/{id}/cancel
// Every answer and every webhook body is a prediction object:
//   {"id", "status": starting|processing|succeeded|failed|canceled|aborted,
//    "output": null | "url" | ["url", ...], "error": null | "text", "logs": "text", ...}
// Progress comes from the logs: the last tqdm bar (" 40%|████      | 20/50 [00:02<00:03]").
//
// `version` in the configuration names what to run: "owner/name" (an official model, run at its
// latest version through the models route), "owner/name:version-id" or a bare version id.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/error.hpp"
#include "imagine/job.hpp"

namespace mando::imagine::replicate {

// The events mando asks webhooks for: every status change, outputs and logs (for progress).
inline constexpr std::string_view kWebhookEvents[] = {"start", "output", "logs", "completed"};
// Cancel-After below this is refused by the API.
inline constexpr std::chrono::seconds kMinCancelAfter{5};

struct CreateCall {
  std::string path;  // below the endpoint, starting with '/'
  std::string body;  // JSON
};

// `webhook` empty: no webhook (polling only).
Result<CreateCall> create_call(std::string_view version, const boost::json::object& input,
                               std::string_view webhook);
// The Cancel-After header's value for `remaining` (at least kMinCancelAfter).
std::string cancel_after(std::chrono::seconds remaining);

// A prediction object as a JobUpdate. kInvalidArgument naming what is missing or malformed (an
// id, a known status); unknown fields are ignored, output entries that are not strings skipped.
Result<JobUpdate> parse_prediction(std::string_view body);

// The percentage of the last tqdm progress bar in `logs`, if any.
std::optional<int> percent_from_logs(std::string_view logs);

}  // namespace mando::imagine::replicate
