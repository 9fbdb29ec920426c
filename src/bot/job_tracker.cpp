#include "bot/job_tracker.hpp"

#include <algorithm>

namespace mando::bot {

JobLimits::JobLimits(const core::BotConfig& bot, const std::vector<core::GuildLimits>& guilds)
    : defaults_{bot.max_running_per_user, bot.max_queued_per_user} {
  for (const auto& g : guilds) {
    UserLimits limits = defaults_;
    if (g.max_running_per_user > 0) limits.max_running = g.max_running_per_user;
    if (g.max_queued_per_user > 0) limits.max_queued = g.max_queued_per_user;
    guilds_[g.guild_id] = limits;
  }
}

UserLimits JobLimits::for_guild(const std::optional<std::string>& guild_id) const {
  if (guild_id) {
    if (auto it = guilds_.find(*guild_id); it != guilds_.end()) return it->second;
  }
  return defaults_;
}

JobTracker::JobTracker(JobLimits limits, bool count_queued)
    : limits_(std::move(limits)), count_queued_(count_queued) {}

JobTracker::Admission JobTracker::admit(const DiscordTarget& job, Clock::time_point now) {
  const std::string& job_id = job.interaction_id;
  const UserLimits limits = limits_.for_guild(job.guild_id);
  std::lock_guard lock(mutex_);
  Counts& counts = users_[job.user_id];
  Admission answer{false, false, counts.queued, counts.running, limits.max_queued};
  if (jobs_.contains(job_id)) {
    answer.admitted = true;
    return answer;
  }
  if (count_queued_ && (counts.queued >= limits.max_queued ||
                        counts.queued + counts.running >= limits.max_queued + limits.max_running)) {
    return answer;
  }
  line_.push_back(job_id);
  jobs_.emplace(job_id, Job{job, now, false, false, 0, {}, std::prev(line_.end())});
  ++counts.queued;
  answer.admitted = true;
  answer.fresh = true;
  answer.queued = counts.queued;
  return answer;
}

void JobTracker::forget(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  if (auto it = jobs_.find(job_id); it != jobs_.end()) remove(it);
}

JobTracker::Start JobTracker::start(const DiscordTarget& job, Clock::time_point now) {
  const std::string& job_id = job.interaction_id;
  const UserLimits limits = limits_.for_guild(job.guild_id);
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it != jobs_.end() && it->second.running) return Start::kStarted;  // a retried task
  Counts& counts = users_[job.user_id];
  if (counts.running >= limits.max_running) return Start::kUserBusy;
  if (it == jobs_.end()) {
    jobs_.emplace(job_id, Job{job, now, true, false, 0, {}, line_.end()});
  } else {
    line_.erase(it->second.in_line);
    it->second.in_line = line_.end();
    it->second.running = true;
    it->second.since = now;
    --counts.queued;
  }
  ++counts.running;
  return Start::kStarted;
}

void JobTracker::finish(const std::string& job_id) { forget(job_id); }

void JobTracker::remove(std::map<std::string, Job>::iterator it) {
  auto user = users_.find(it->second.target.user_id);
  if (it->second.running) {
    --user->second.running;
  } else {
    --user->second.queued;
    line_.erase(it->second.in_line);
  }
  if (user->second.queued == 0 && user->second.running == 0) users_.erase(user);
  jobs_.erase(it);
}

std::optional<JobTracker::Position> JobTracker::position(const std::string& job_id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.running) return std::nullopt;
  const std::list<std::string>::const_iterator place = it->second.in_line;
  const auto ahead = std::distance(line_.cbegin(), place);
  return Position{static_cast<int>(ahead) + 1, static_cast<int>(line_.size())};
}

std::vector<JobTracker::ProgressEdit> JobTracker::claim_progress(Clock::time_point since,
                                                                 Clock::time_point now,
                                                                 std::size_t max_edits,
                                                                 Clock::duration interval) {
  std::lock_guard lock(mutex_);
  std::vector<ProgressEdit> out;
  const int waiting = static_cast<int>(line_.size());
  int position = 0;
  for (const auto& id : line_) {
    if (out.size() >= max_edits) break;
    ++position;
    Job& job = jobs_.at(id);
    if (job.since >= since) break;  // the line is in admission order
    if (job.editing || job.shown_position == position) continue;
    if (job.shown_position != 0 && now - job.shown_at < interval) continue;
    job.editing = true;
    job.shown_position = position;
    job.shown_at = now;
    out.push_back({job.target, {position, waiting}});
  }
  return out;
}

void JobTracker::end_progress(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  if (auto it = jobs_.find(job_id); it != jobs_.end()) it->second.editing = false;
}

bool JobTracker::editing(const std::string& job_id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job_id);
  return it != jobs_.end() && it->second.editing;
}

void JobTracker::forget_before(Clock::time_point before) {
  std::lock_guard lock(mutex_);
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    auto next = std::next(it);
    if (it->second.since < before) remove(it);
    it = next;
  }
}

std::size_t JobTracker::size() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

}  // namespace mando::bot
