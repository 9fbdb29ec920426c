#pragma once
// Housekeeping of the job tracker, once a second on the I/O threads:
//   - jobs older than an interaction token's life are forgotten (their task was dropped, or
//     this process restarted and never saw them end);
//   - with [bot] progress_after set and a Discord client at hand (ingress and workers in one
//     process), the deferred message of every job waiting longer than that shows its place in
//     line ("Waiting in line: 3 of 12"), edited only when the place changed. Edits go through
//     the REST client, whose per-token buckets keep them within Discord's rate limits, and the
//     tracker marks them so that a worker never starts a job while its edit is in flight (the
//     edit cannot land after the finished message).

#include <chrono>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "bot/job_tracker.hpp"
#include "discord/rest_client.hpp"

namespace mando::bot {

class ProgressLoop {
 public:
  // `discord` may be null (no progress lines). Both must outlive the io_context's run.
  ProgressLoop(JobTracker& jobs, discord::RestClient* discord,
               std::chrono::milliseconds progress_after);

  // Runs until the io_context stops.
  void start(boost::asio::any_io_executor executor);

  // One round (tests call it directly).
  boost::asio::awaitable<void> tick(JobTracker::Clock::time_point now);

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<void> edit(JobTracker::ProgressEdit edit);

  JobTracker& jobs_;
  discord::RestClient* discord_;
  std::chrono::milliseconds progress_after_;
};

}  // namespace mando::bot
