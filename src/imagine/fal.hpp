#pragma once
// The fal-style queue API, as plain functions over its JSON (the client, the fake provider and
// the fuzz target share them):
//
//   submit   POST {endpoint}/{model}?fal_webhook=URL      body: the model's input
//            Authorization: Key <token>                  -> {"request_id", "status_url", ...}
//   status   GET  {endpoint}/{app}/requests/{id}/status?logs=1
//            -> {"status": IN_QUEUE | IN_PROGRESS | COMPLETED, "queue_position", "logs": [...]}
//   result   GET  {endpoint}/{app}/requests/{id}          -> the model's output, or 4xx/5xx
//   cancel   PUT  {endpoint}/{app}/requests/{id}/cancel
//   webhook  POST to fal_webhook once the request is done:
//            {"request_id", "status": "OK" | "ERROR", "payload": <output>, "error": "..."}
//            signed with Ed25519 over "request_id\nuser_id\ntimestamp\nsha256-hex(body)"
//            (X-Fal-Webhook-Request-Id, -User-Id, -Timestamp, -Signature: hex), keys in the
//            provider's JWKS.
// {model} is "owner/name" or "owner/name/sub/path"; {app} is its first two segments.
// Outputs are read from the output's "images"/"videos" lists and "image"/"video" objects.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "imagine/job.hpp"

namespace mando::imagine::fal {

// "owner/name" of "owner/name/sub"; kInvalidArgument for a model id of other shape.
Result<std::string> app_id(std::string_view model);
// The submit URL (the webhook, when set, percent-encoded into fal_webhook).
Result<std::string> submit_url(std::string_view endpoint, std::string_view model,
                               std::string_view webhook);

// The submit answer: the request id, in line.
Result<JobUpdate> parse_submitted(std::string_view body);
// A status answer for `request_id`. COMPLETED is kSucceeded without outputs: the result is
// fetched apart (parse_result). FAILED and CANCELED, which some deployments answer, map to
// kFailed and kCanceled.
Result<JobUpdate> parse_status(std::string_view request_id, std::string_view body);
// The output URLs of a result (or a webhook's payload) object.
Result<std::vector<std::string>> parse_result(std::string_view body);
// A completion webhook, once verified.
Result<JobUpdate> parse_webhook(std::string_view body);

// What the signature covers.
std::string signed_message(std::string_view request_id, std::string_view user_id,
                           std::string_view timestamp, std::string_view body);

}  // namespace mando::imagine::fal
