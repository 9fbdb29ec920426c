#pragma once
// One GPU provider's API as /imagine uses it: submit a job, ask how it goes, cancel it. Each
// provider shape (replicate_provider.hpp, ...) implements this over the one outbound client;
// nothing above this interface knows a provider's URLs or JSON.
//
// Errors say what the caller should do:
//   kResourceExhausted  the provider is rate-limiting us (429): try again later
//   kUnavailable        transport failure or a 5xx: try again later
//   kUnauthenticated    the provider refused mando's credentials (401, 403): an operator's job
//   kInvalidArgument    the provider refused the request itself (another 4xx): the message is
//                       the provider's own words, fit to show the user
//   kNotFound           no such job at the provider (404 on poll or cancel)
//
// Thread-safety: every method may run from any number of coroutines at once.

#include <chrono>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/error.hpp"
#include "imagine/job.hpp"

namespace mando::imagine {

struct Submission {
  boost::json::object input;  // the model's input object (input_template.hpp)
  std::string webhook;        // where the provider posts events; empty: polling only
  // The provider may stop the job after this long (Replicate's Cancel-After): the time the
  // interaction has left, so a job nobody can be told about does not run up a bill.
  std::chrono::seconds cancel_after{std::chrono::minutes(14)};
};

class Provider {
 public:
  virtual ~Provider() = default;

  // The job as the provider accepted it (its id and first status).
  virtual boost::asio::awaitable<Result<JobUpdate>> submit(Submission submission) = 0;
  virtual boost::asio::awaitable<Result<JobUpdate>> poll(std::string provider_job_id) = 0;
  virtual boost::asio::awaitable<Result<void>> cancel(std::string provider_job_id) = 0;
  // A webhook body, once its signature was verified, as an update.
  virtual Result<JobUpdate> parse_event(std::string_view body) const = 0;
};

}  // namespace mando::imagine
