#pragma once
// Housekeeping of the job tracker, once a second on the I/O threads:
//   - jobs older than an interaction token's life are forgotten (their task was dropped, or
//     this process restarted and never saw them end);
//   - with [bot] progress_after set and a Discord client at hand (ingress and workers in one
//     process), the deferred messages of jobs waiting longer than that show their place in
//     line ("Waiting in line: 3 of 12"), edited when the place changed, at most every
//     kMinEditInterval per job and kMaxEditsPerTick edits a second in all, oldest jobs first:
//     a long line must not cost one request per job per second (the load benchmark saw that
//     take the CPU from rendering). Edits go through the REST client, whose per-token buckets
//     keep them within Discord's rate limits; the tracker marks them, and the finished message
//     waits for an edit in flight, so a progress line never lands after the image.

#include <chrono>
#include <cstddef>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "bot/job_tracker.hpp"
#include "discord/rest_client.hpp"

namespace mando::bot {

inline constexpr std::chrono::seconds kMinEditInterval{10};
inline constexpr std::size_t kMaxEditsPerTick = 10;

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
