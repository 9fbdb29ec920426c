#pragma once
// How a job ends when it will not deliver its picture, and when it stops trying.
//
// A user is never left on "thinking…": every path that does not deliver the picture ends with
// one edit of the original response into a plain sentence saying what happened and what to do,
// with the interaction id to quote (failure_text()). What went wrong inside (an Error's message,
// Discord's error body) goes to the log only. The timeline of one job, t = 0 being the
// interaction (read from its id, so every process agrees without sharing a clock):
//   1. 0 .. give_up_after ([bot], 12 min): a step that may succeed later (the blob store or the
//      queue unavailable, Discord answering 5xx, the user's other jobs still running) answers the
//      queue 5xx or 429 and is retried with backoff, at most max_backoff apart (10 s on
//      create-image, 30 s on reply-discord: tasks.hpp).
//   2. A step that can never succeed (Discord refused the picture, the blob is gone, the render
//      failed) edits its failure line at once and answers 200: the task ends.
//   3. The first step after give_up_after edits "this took too long" instead of working, and
//      answers 200. With the backoff capped at 30 s, that is before 12.5 min.
//   4. The failure edit is one PATCH (idempotent). While Discord fails it, the step answers 503
//      and the queue retries the step, which goes to 3 again; from 10 s before the token's 15
//      minutes every step drops the job (token_expired). So the edit is retried for at most
//      the token's last minutes, never for ever.
//
// Thread-safety: every method may be called concurrently. The REST client, tracker and metrics
// must outlive the finisher.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "bot/job_tracker.hpp"
#include "bot/jobs.hpp"
#include "core/metrics.hpp"
#include "discord/rest_client.hpp"
#include "net/http_message.hpp"

namespace mando::bot {

// Why a job will not deliver its picture; each has its sentence for the user.
enum class Failure {
  kTookTooLong,  // the give-up point passed
  kNotDrawn,     // the render failed
  kRefused,      // Discord refused the message (AutoMod, any 4xx but auth and expiry)
  kLost,         // the stored file is gone
  kTooLarge,     // over the upload limit, and no link to show instead
};

// The sentence for the user: plain words and the interaction id, never internal error text.
std::string failure_text(Failure failure, std::string_view interaction_id);
// A message that is only `content`: it replaces whatever the response showed (embeds,
// buttons, files) and mentions no one.
boost::json::object plain_message(std::string_view content);

class Finisher {
 public:
  using WallClock = std::function<std::chrono::system_clock::time_point()>;

  // `now` is the system clock unless a test sets it.
  Finisher(discord::RestClient& discord, JobTracker& jobs, core::MetricsRegistry& metrics,
           std::chrono::milliseconds give_up_after, WallClock now = {});

  std::chrono::system_clock::time_point now() const { return now_(); }
  // The token can no longer carry an edit (10 s before its 15 minutes).
  bool token_expired(const DiscordTarget& target) const;
  // Step 3 of the file comment: stop working, say so.
  bool past_give_up(const DiscordTarget& target) const;

  // What every worker checks before it works on `target`: the token gone (dropped, 200), past
  // the give-up point (step 3: the failure line), the user's other jobs running
  // (JobTracker::start: 429, the queue retries later). nullopt: go on, the job now runs.
  boost::asio::awaitable<std::optional<net::Response>> begin(const DiscordTarget& target,
                                                             JobTracker::Clock::time_point now);

  // Counts `outcome` in mando_discord_replies_total (how every job ended, by whichever worker
  // ended it), forgets the job and answers the queue 200 with `note`.
  net::Response done(const DiscordTarget& target, std::string_view outcome, std::string_view note);

  // Waits (5 s at most) for a progress line of the job in flight, so that it cannot land after
  // what the caller sends next.
  boost::asio::awaitable<void> wait_for_progress(std::string job_id);

  // Edits the failure line (steps 2 to 4) and answers the queue: 200 once it is shown (counted
  // as `outcome`) or can never be (the token is gone or Discord refuses even that); 503 while
  // Discord fails and the token has time left.
  boost::asio::awaitable<net::Response> fail(DiscordTarget target, Failure failure,
                                             std::string outcome);
  // The same with the module's own sentence (`text`, for the user: the interaction id is
  // added).
  boost::asio::awaitable<net::Response> fail(DiscordTarget target, std::string text,
                                             std::string outcome);

 private:
  // Edits `text` (with the id already in it) and answers as fail() says.
  boost::asio::awaitable<net::Response> fail_with(DiscordTarget target, std::string text,
                                                  std::string outcome);

  discord::RestClient& discord_;
  JobTracker& jobs_;
  core::Family<core::Counter>& outcomes_;
  std::chrono::milliseconds give_up_after_;
  WallClock now_;
};

}  // namespace mando::bot
