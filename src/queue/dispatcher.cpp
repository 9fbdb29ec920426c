#include "queue/dispatcher.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <random>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "queue/retry.hpp"
#include "queue/store_call.hpp"
#include "queue/token_bucket.hpp"
#include <unistd.h>

namespace mando::queue {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kUserAgent = "Google-Cloud-Tasks";
constexpr auto kStoreErrorPause = std::chrono::seconds(1);

bool is_2xx(int status) { return status >= 200 && status < 300; }

// Headers the dispatcher owns: a task cannot set them (Cloud Tasks ignores them too).
bool reserved_header(std::string_view name) {
  for (std::string_view owned :
       {"Host", "Content-Length", "User-Agent", "Transfer-Encoding", "Connection"}) {
    if (net::iequals(name, owned)) return true;
  }
  auto starts_with = [name](std::string_view prefix) {
    return name.size() >= prefix.size() && net::iequals(name.substr(0, prefix.size()), prefix);
  };
  return starts_with("X-CloudTasks-") || starts_with("X-Mando-");
}

std::string eta_header(TimePoint t) {
  const auto micros = t.time_since_epoch().count();
  return fmt::format("{}.{:06}", micros / 1'000'000, micros % 1'000'000);
}

std::string worker_url(const Queue& queue, const Task& task, const DispatcherOptions& options) {
  if (task.request.kind == TaskRequest::Kind::kHttp) return task.request.url;
  std::string base =
      queue.worker_base_url.empty() ? options.default_worker_base_url : queue.worker_base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + task.request.url;
}

using Report = TaskStore::Report;

std::string_view to_string(Report::Kind kind) {
  switch (kind) {
    case Report::Kind::kRetry:
      return "retry";
    case Report::Kind::kFail:
      return "failed";
    case Report::Kind::kComplete:
      break;
  }
  return "ok";
}

// Step c of the walkthrough: what an attempt's result means for the task, as the report to
// store.
Report judge(const RetryConfig& config, const Task& task, const Attempt& attempt,
             std::optional<Micros> retry_after, TimePoint now) {
  Report report;
  report.name = task.name;
  report.dispatch_count = task.dispatch_count;
  report.attempt = attempt;
  const TimePoint at = attempt.response_time.value_or(now);
  report.at = at;
  if (is_2xx(attempt.http_status)) return report;
  const TimePoint first = task.first_attempt && task.first_attempt->dispatch_time
                              ? *task.first_attempt->dispatch_time
                              : attempt.dispatch_time.value_or(attempt.schedule_time);
  if (!may_retry(config, task.dispatch_count, first, at)) {
    report.kind = Report::Kind::kFail;
    return report;
  }
  Micros delay = backoff(config, task.dispatch_count);
  // The task waits at least what its worker asked for, but never beyond the queue's maxBackoff.
  if (retry_after) delay = std::max(delay, std::min(*retry_after, config.max_backoff));
  report.kind = Report::Kind::kRetry;
  report.at = at + delay;
  return report;
}

}  // namespace

// The request of one attempt (step a of the walkthrough).
net::ClientRequest build_worker_request(const Queue& queue, const Task& task,
                                        const DispatcherOptions& options,
                                        const RequestSigner& signer) {
  net::ClientRequest request;
  request.method = std::string(to_string(task.request.method));
  request.url = worker_url(queue, task, options);
  for (const auto& [name, value] : task.request.headers) {
    if (!reserved_header(name)) request.headers.add(name, value);
  }
  if (!task.request.body.empty() && !request.headers.contains("Content-Type")) {
    request.headers.set("Content-Type", "application/octet-stream");
  }
  request.headers.set("User-Agent", kUserAgent);
  request.headers.set("X-CloudTasks-QueueName", task.name.queue.queue);
  request.headers.set("X-CloudTasks-TaskName", task.name.task);
  request.headers.set("X-CloudTasks-TaskRetryCount", std::to_string(task.dispatch_count - 1));
  request.headers.set("X-CloudTasks-TaskExecutionCount", std::to_string(task.response_count));
  request.headers.set("X-CloudTasks-TaskETA", eta_header(task.schedule_time));
  if (task.last_attempt) {
    if (task.last_attempt->http_status != 0) {
      request.headers.set("X-CloudTasks-TaskPreviousResponse",
                          std::to_string(task.last_attempt->http_status));
    }
    request.headers.set("X-CloudTasks-TaskRetryReason", task.last_attempt->error);
  }
  request.body = task.request.body;
  request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(task.dispatch_deadline);
  request.connect_timeout =
      std::min<std::chrono::milliseconds>(request.timeout, std::chrono::seconds(5));
  // The signature covers the target as the worker will see it in its request line.
  auto url = boost::urls::parse_uri(request.url);
  const std::string target =
      url ? std::string(url->encoded_target().empty() ? "/" : url->encoded_target()) : "/";
  signer.sign(request.method, target, request.body, std::chrono::system_clock::now(),
              request.headers);
  return request;
}

struct Dispatcher::Shared {
  DispatcherDeps deps;
  DispatcherOptions options;
  core::Family<core::Counter>& attempts;
  core::Family<core::Gauge>& in_flight;
  core::Family<core::Histogram>& lateness;
  core::Family<core::Histogram>& latency;
  core::Family<core::Gauge>& leader;
  core::Family<core::Counter>& leadership_changes;
  mutable std::mutex leading_mutex;
  std::set<std::string> leading;  // full names of the queues this node leads

  Shared(DispatcherDeps d, DispatcherOptions o)
      : deps(d),
        options(std::move(o)),
        attempts(deps.metrics.counter("mando_queue_attempts_total",
                                      "Dispatch attempts by queue and outcome "
                                      "(ok, retry, failed, stale, unreported)",
                                      {"queue", "outcome"})),
        in_flight(deps.metrics.gauge("mando_queue_in_flight_dispatches",
                                     "Dispatches waiting for their worker's answer", {"queue"})),
        lateness(deps.metrics.histogram("mando_queue_lateness_seconds",
                                        "Dispatch time minus schedule time",
                                        core::latency_buckets(), {"queue"})),
        latency(deps.metrics.histogram("mando_queue_attempt_seconds",
                                       "Time from dispatch to the worker's answer",
                                       core::latency_buckets(), {"queue"})),
        leader(deps.metrics.gauge("mando_queue_leader",
                                  "1 while this node leads the queue's dispatch, else 0",
                                  {"queue"})),
        leadership_changes(deps.metrics.counter(
            "mando_queue_leadership_changes_total",
            "Times this node took or lost the leadership of the queue's dispatch", {"queue"})) {}
};

class Dispatcher::QueueLoop : public std::enable_shared_from_this<QueueLoop> {
 public:
  // `release_leases`: hand back, at start, the leases an earlier run of this loop left.
  QueueLoop(std::shared_ptr<Shared> shared, Queue queue, bool release_leases)
      : shared_(std::move(shared)),
        release_leases_(release_leases),
        strand_(asio::make_strand(shared_->deps.io)),
        timer_(strand_),
        queue_(std::move(queue)),
        bucket_(queue_.rate_limits.max_dispatches_per_second, queue_.rate_limits.max_burst_size,
                std::chrono::steady_clock::now()),
        in_flight_gauge_(shared_->in_flight.labels({queue_.name.queue})),
        leader_gauge_(shared_->leader.labels({queue_.name.queue})) {}

  void start() {
    asio::co_spawn(strand_, run_leadership(shared_from_this()), asio::detached);
    asio::co_spawn(strand_, run(shared_from_this()), asio::detached);
  }

  void update(Queue queue) {
    asio::post(strand_, [self = shared_from_this(), queue = std::move(queue)]() mutable {
      self->queue_ = std::move(queue);
      self->wake();
    });
  }
  void notify() {
    asio::post(strand_, [self = shared_from_this()] { self->wake(); });
  }
  void stop() {
    asio::post(strand_, [self = shared_from_this()] {
      self->stopped_ = true;
      self->wake();
      self->lead_timer_.cancel();
    });
  }
  void dispatch(Task task) {
    asio::post(strand_, [self = shared_from_this(), task = std::move(task)]() mutable {
      self->start_attempt(std::move(task));
    });
  }

 private:
  static asio::awaitable<void> run(std::shared_ptr<QueueLoop> self) { co_await self->loop(); }
  static asio::awaitable<void> run_leadership(std::shared_ptr<QueueLoop> self) {
    co_await self->leadership();
  }
  static asio::awaitable<void> run_attempt(std::shared_ptr<QueueLoop> self, Task task) {
    co_await self->attempt(std::move(task));
  }
  static asio::awaitable<void> run_reporter(std::shared_ptr<QueueLoop> self) {
    co_await self->report_loop();
  }

  // Everything below runs on strand_.

  // The store's clock: what leases, schedule times and attempts are measured in.
  TimePoint now() const { return shared_->deps.store.now(); }

  void wake() {
    wake_ = true;
    timer_.cancel();
  }

  // Sleeps until `until`, or less if wake() was or is called.
  asio::awaitable<void> sleep_until(SteadyTime until) {
    if (!wake_) {
      timer_.expires_at(until);
      co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    wake_ = false;
  }

  // store_call() on the dispatcher's pool and store; resumes on strand_.
  template <typename Method, typename... Args>
  auto call(Method method, Args... args) {
    return store_call(shared_->deps.blocking, shared_->deps.store, method, std::move(args)...);
  }

  // Takes and keeps this node's term over the queue (task_store.hpp, "Dispatch leadership"),
  // renewing it every third of its ttl; the loop leases only while leading_. A new epoch means
  // the previous leader is gone (or this is the first term of this loop): its leases are
  // handed back at once. An embedded store's single term needs no renewal.
  asio::awaitable<void> leadership() {
    const auto& options = shared_->options;
    TaskStore& store = shared_->deps.store;
    auto log = core::logger("queue");
    const QueueName name = queue_.name;
    const auto renew_every = std::chrono::duration_cast<SteadyDuration>(options.leader_ttl / 3);
    while (!stopped_) {
      auto term =
          co_await call(&TaskStore::claim_leadership, name, options.node, options.leader_ttl);
      if (stopped_) break;
      const bool was_leading = leading_;
      if (!term) {
        log->warn("queue={} claiming the leadership failed: {}", name.full(), term.error().message);
      }
      const bool leads = term && *term;
      if (leads && (*term)->epoch != epoch_) {
        // Nothing is leased while the earlier leases go back: they would go back too.
        leading_ = false;
        epoch_ = (*term)->epoch;
        if (release_leases_ || store.elects_leaders()) co_await release_earlier_leases();
        if (store.elects_leaders()) {
          log->info("queue={} this node leads it (node={} epoch={})", name.full(), options.node,
                    epoch_);
        }
      }
      leading_ = leads && !stopped_;
      if (leading_ != was_leading) {
        leader_gauge_.set(leading_ ? 1 : 0);
        {
          std::lock_guard lock(shared_->leading_mutex);
          if (leading_) {
            shared_->leading.insert(name.full());
          } else {
            shared_->leading.erase(name.full());
          }
        }
        shared_->leadership_changes.labels({name.queue}).inc();
        if (!leading_ && was_leading) {
          log->warn("queue={} this node lost the leadership (node={})", name.full(), options.node);
        }
        wake();
      }
      if (!store.elects_leaders() && leading_) break;
      lead_timer_.expires_after(renew_every);
      co_await lead_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (stopped_) {
      std::lock_guard lock(shared_->leading_mutex);
      shared_->leading.erase(name.full());
    }
  }

  asio::awaitable<void> release_earlier_leases() {
    const QueueName name = queue_.name;
    auto released = co_await call(&TaskStore::release_leases, name, now());
    auto log = core::logger("queue");
    if (!released) {
      log->error("queue={} releasing earlier leases failed: {}", name.full(),
                 released.error().message);
    } else if (*released > 0) {
      log->info("queue={} released {} leases of an earlier run", name.full(), *released);
    }
  }

  asio::awaitable<void> loop() {
    const auto& options = shared_->options;
    auto log = core::logger("queue");
    const QueueName name = queue_.name;
    constexpr SteadyTime kForever = SteadyTime::max();
    while (!stopped_) {
      const SteadyTime steady_now = std::chrono::steady_clock::now();
      if (!leading_ || queue_.state != QueueState::kRunning) {
        co_await sleep_until(kForever);
        continue;
      }
      if (push_back_.hold_until() > steady_now) {
        co_await sleep_until(push_back_.hold_until());
        continue;
      }
      const int free_slots = queue_.rate_limits.max_concurrent_dispatches - in_flight_;
      if (free_slots <= 0) {
        co_await sleep_until(kForever);  // the end of an attempt wakes the loop
        continue;
      }
      bucket_.configure(queue_.rate_limits.max_dispatches_per_second * push_back_.scale(),
                        queue_.rate_limits.max_burst_size, steady_now);
      const int tokens = bucket_.take(std::min(free_slots, options.max_batch), steady_now);
      if (tokens == 0) {
        co_await sleep_until(bucket_.next_token(steady_now));
        continue;
      }
      auto leased = co_await call(&TaskStore::lease_due, name, now(), tokens, options.lease_margin);
      if (!leased) {
        log->error("queue={} leasing failed: {}", name.full(), leased.error().message);
        bucket_.give_back(tokens);
        co_await sleep_until(steady_now + kStoreErrorPause);
        continue;
      }
      const int got = static_cast<int>(leased->size());
      bucket_.give_back(tokens - got);
      for (Task& task : *leased) start_attempt(std::move(task));
      if (got < tokens) co_await sleep_until_due();
    }
  }

  // Step 4: nothing more is due now.
  asio::awaitable<void> sleep_until_due() {
    auto next = co_await call(&TaskStore::next_due, queue_.name);
    const SteadyTime steady_now = std::chrono::steady_clock::now();
    SteadyTime until = steady_now + shared_->options.poll_interval;
    if (next && *next) {
      until =
          std::min(until, steady_now + std::chrono::duration_cast<SteadyDuration>(**next - now()));
    }
    co_await sleep_until(until);
  }

  void start_attempt(Task task) {
    ++in_flight_;
    in_flight_gauge_.add(1);
    asio::co_spawn(strand_, run_attempt(shared_from_this(), std::move(task)), asio::detached);
  }

  asio::awaitable<void> attempt(Task task) {
    const Queue queue = queue_;  // the settings when the attempt started
    const Shared& shared = *shared_;
    const std::string& label = queue.name.queue;
    Attempt attempt;
    attempt.schedule_time = task.schedule_time;
    attempt.dispatch_time = now();
    shared.lateness.labels({label}).observe(
        std::chrono::duration<double>(*attempt.dispatch_time - task.schedule_time).count());

    auto response = co_await shared.deps.client.send(
        build_worker_request(queue, task, shared.options, shared.deps.signer));

    const SteadyTime steady_now = std::chrono::steady_clock::now();
    std::optional<Micros> retry_after;
    if (response) {
      attempt.response_time = now();
      attempt.http_status = response->status;
      if (!is_2xx(response->status)) attempt.error = fmt::format("HTTP {}", response->status);
      if (auto value = response->headers.get("Retry-After")) {
        retry_after = parse_retry_after(*value, kMaxRetryAfter, now());
      }
      shared.latency.labels({label}).observe(
          std::chrono::duration<double>(*attempt.response_time - *attempt.dispatch_time).count());
    } else {
      attempt.error = response.error().message;
    }
    if (attempt.http_status == 429 || attempt.http_status == 503) {
      push_back_.on_push_back(steady_now, retry_after);
    } else {
      push_back_.on_answer(steady_now);
    }

    // Step c: the report waits for the reporter, which stores every report that ended
    // meanwhile in one call. The attempt's slot stays taken until its report is stored.
    reports_.push_back(judge(queue.retry_config, task, attempt, retry_after, now()));
    if (!reporting_) {
      reporting_ = true;
      asio::co_spawn(strand_, run_reporter(shared_from_this()), asio::detached);
    }
  }

  asio::awaitable<void> report_loop() {
    const std::string& label = queue_.name.queue;
    while (!reports_.empty()) {
      std::vector<Report> batch;
      batch.swap(reports_);
      auto results = co_await call(&TaskStore::report_all, batch);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        std::string_view outcome = to_string(batch[i].kind);
        if (!results[i]) {
          if (results[i].error().kind == ErrorKind::kFailedPrecondition) {
            outcome = "stale";  // the lease expired and another dispatch took the task
          } else {
            core::logger("queue")->error(
                "task={} reporting the attempt failed, it will run again: {}", batch[i].name.full(),
                results[i].error().message);
            outcome = "unreported";
          }
        }
        shared_->attempts.labels({label, std::string(outcome)}).inc();
      }
      in_flight_ -= static_cast<int>(batch.size());
      in_flight_gauge_.add(-static_cast<std::int64_t>(batch.size()));
      wake();
    }
    reporting_ = false;
  }

  std::shared_ptr<Shared> shared_;
  const bool release_leases_;
  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer timer_;
  asio::steady_timer lead_timer_{strand_};
  bool leading_ = false;
  std::int64_t epoch_ = 0;  // of the last term this loop held
  Queue queue_;
  TokenBucket bucket_;
  PushBack push_back_;
  core::Gauge& in_flight_gauge_;
  core::Gauge& leader_gauge_;
  int in_flight_ = 0;            // attempts started and not yet reported to the store
  std::vector<Report> reports_;  // attempts ended, waiting for the reporter
  bool reporting_ = false;
  bool wake_ = false;
  bool stopped_ = false;
};

namespace {

// A name no other process has: host, process id and a random part, so that a restarted
// process is a new node (and takes a new epoch, handing back what its earlier run leased).
std::string unique_node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  std::random_device random;
  return fmt::format("{}:{}:{:08x}", host, ::getpid(), random());
}

DispatcherOptions with_node(DispatcherOptions options) {
  if (options.node.empty()) options.node = unique_node_name();
  return options;
}

}  // namespace

Dispatcher::Dispatcher(DispatcherDeps deps, DispatcherOptions options)
    : shared_(std::make_shared<Shared>(deps, with_node(std::move(options)))) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start(std::string default_worker_base_url) {
  std::lock_guard lock(mutex_);
  if (started_) return;
  // No loop runs yet, so nothing reads the options while they change.
  if (!default_worker_base_url.empty()) {
    shared_->options.default_worker_base_url = std::move(default_worker_base_url);
  }
  started_ = true;
  for (auto& [name, queue] : waiting_) {
    auto loop = std::make_shared<QueueLoop>(shared_, queue, /*release_leases=*/true);
    loops_.emplace(name, loop);
    loop->start();
  }
  waiting_.clear();
}

void Dispatcher::upsert_queue(const Queue& queue) {
  std::lock_guard lock(mutex_);
  if (!started_) {
    waiting_.insert_or_assign(queue.name.full(), queue);
    return;
  }
  auto& loop = loops_[queue.name.full()];
  if (loop) {
    loop->update(queue);
    return;
  }
  loop = std::make_shared<QueueLoop>(shared_, queue, /*release_leases=*/true);
  loop->start();
}

void Dispatcher::remove_queue(const QueueName& name) {
  std::lock_guard lock(mutex_);
  waiting_.erase(name.full());
  if (auto it = loops_.find(name.full()); it != loops_.end()) {
    it->second->stop();
    loops_.erase(it);
  }
}

void Dispatcher::notify(const QueueName& queue) {
  std::lock_guard lock(mutex_);
  if (auto it = loops_.find(queue.full()); it != loops_.end()) it->second->notify();
}

void Dispatcher::dispatch_leased(const Queue& queue, Task task) {
  std::lock_guard lock(mutex_);
  auto& loop = loops_[queue.name.full()];
  if (!loop) {
    // Releasing leases now would hand back the one just taken for this task.
    loop = std::make_shared<QueueLoop>(shared_, queue, /*release_leases=*/false);
    loop->start();
  }
  loop->dispatch(std::move(task));
}

std::vector<std::string> Dispatcher::leading() const {
  std::lock_guard lock(shared_->leading_mutex);
  return {shared_->leading.begin(), shared_->leading.end()};
}

void Dispatcher::stop() {
  std::lock_guard lock(mutex_);
  for (auto& [name, loop] : loops_) loop->stop();
  if (!loops_.empty()) shared_->deps.store.resign_leadership(shared_->options.node);
  loops_.clear();
}

}  // namespace mando::queue
