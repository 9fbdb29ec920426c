#pragma once
// Fairness between users: at most `max_queued` jobs of one user wait for a worker and at most
// `max_running` of them run (render or deliver) at once, per guild if configured; and where a
// waiting job stands in line, for the progress line of its message.
//
// A job is admitted at the ingress (queued), started by its worker (running) and finished when
// its reply is delivered or dropped. In one process (`mando serve`, role all) one tracker sees
// all three. When the roles run apart, each process sees its part only: the ingress cannot see
// completions, so it does not limit queued jobs (a limiter shared through a database can take
// this seam later, as for Discord's rate limits), and workers limit running jobs on their own.
// Entries older than the interaction token's lifetime are forgotten: their job can no longer
// answer anyone.
//
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bot/jobs.hpp"
#include "core/config.hpp"

namespace mando::bot {

struct UserLimits {
  int max_running = 3;
  int max_queued = 7;
};

// [bot] limits with their [guilds.ID] overrides.
class JobLimits {
 public:
  JobLimits() = default;
  JobLimits(const core::BotConfig& bot, const std::vector<core::GuildLimits>& guilds);
  UserLimits for_guild(const std::optional<std::string>& guild_id) const;

 private:
  UserLimits defaults_;
  std::map<std::string, UserLimits, std::less<>> guilds_;
};

class JobTracker {
 public:
  using Clock = std::chrono::steady_clock;

  struct Admission {
    bool admitted = false;
    bool fresh = false;  // admitted now, not before (forget() it if the work was sent before)
    int queued = 0;      // the user's waiting jobs, this one included when admitted
    int running = 0;     // the user's running jobs
    int max_queued = 0;
  };

  struct Position {
    int position = 0;  // 1 is next
    int waiting = 0;   // jobs waiting in all
  };

  // `count_queued`: whether admission limits the jobs waiting (see the file comment).
  JobTracker(JobLimits limits, bool count_queued);

  // The ingress: refuses when the user already has max_queued jobs waiting or max_running +
  // max_queued jobs in all. A job is known by its interaction id; admitting it again (a retried
  // interaction) admits it.
  Admission admit(const DiscordTarget& job, Clock::time_point now);
  // Undoes admit() when the job could not be enqueued.
  void forget(const std::string& job_id);

  enum class Start {
    kStarted,
    kUserBusy,  // the user already has max_running jobs running: retry the task later
  };
  // The worker. A job this process never admitted is tracked from here.
  Start start(const DiscordTarget& job, Clock::time_point now);
  // The reply was delivered or dropped.
  void finish(const std::string& job_id);

  std::optional<Position> position(const std::string& job_id) const;

  // Progress lines: at most `max_edits` of the jobs waiting since before `since` whose place
  // changed since their last line, shown at most once per `interval` each (oldest first), now
  // marked as being edited, with their targets. A line costs Discord requests and the
  // process CPU: a long line of waiting jobs must not turn into one edit per job per second.
  struct ProgressEdit {
    DiscordTarget target;
    Position position;
  };
  std::vector<ProgressEdit> claim_progress(Clock::time_point since, Clock::time_point now,
                                           std::size_t max_edits, Clock::duration interval);
  void end_progress(const std::string& job_id);
  // Whether a progress edit of the job is in flight: the final message waits for it, so that it
  // cannot land after (replies come long after a start, so this wait is rare and short).
  bool editing(const std::string& job_id) const;

  // Drops entries admitted or started before `before` (their tokens have expired).
  void forget_before(Clock::time_point before);

  std::size_t size() const;

 private:
  struct Job {
    DiscordTarget target;
    Clock::time_point since;
    bool running = false;
    bool editing = false;                      // a progress edit is in flight
    int shown_position = 0;                    // the place its last progress line showed
    Clock::time_point shown_at{};              // when
    std::list<std::string>::iterator in_line;  // its place in line_ while waiting
  };
  struct Counts {
    int queued = 0;
    int running = 0;
  };

  void remove(std::map<std::string, Job>::iterator it);

  const JobLimits limits_;
  const bool count_queued_;
  mutable std::mutex mutex_;
  std::map<std::string, Job> jobs_;
  std::map<std::string, Counts> users_;
  std::list<std::string> line_;  // waiting job ids, oldest first
};

}  // namespace mando::bot
