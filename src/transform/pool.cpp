// WorkerPool: see the walkthrough in pool.hpp. Everything below runs on the pool's strand, except
// spawn_process() in the constructor (before the pool is shared) and ~Worker's last-resort reap.
//
// One job's life on the strand:
//   run() -> acquire(): an idle worker, a new one while fewer than `workers` live, or a place in
//            the FIFO (a Waiter: a timer that never expires, cancelled to wake it with a worker
//            or an error in hand);
//         -> exchange(): the worker's kReady first if it has not said it yet, the request, the
//            answer; a deadline timer kills the process when job_timeout passes;
//         -> release() the worker to the next waiter or the idle list, or bury() it: SIGKILL,
//            wait for its pidfd to become readable, reap it, describe how it died, and start a
//            replacement if jobs are waiting.

#include "transform/pool.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "transform/framing.hpp"
#include "transform/probe.hpp"
#include <poll.h>
#include <spawn.h>
// glibc 2.36's <sys/pidfd.h> lacks the extern "C" block of its other headers (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mando::transform {
namespace {

namespace asio = boost::asio;
using Strand = asio::strand<asio::any_io_executor>;
using Socket = asio::local::stream_protocol::socket;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

tl::unexpected<Error> unavailable(std::string message) {
  return fail(ErrorKind::kUnavailable, std::move(message));
}

// The environment a worker starts with: mando's, plus under ASan the allocation budget that
// stands in for RLIMIT_AS (see pool.hpp).
std::vector<std::string> worker_environment(const PoolOptions& options) {
  std::vector<std::string> env;
  std::string asan_options;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with("ASAN_OPTIONS=")) {
      asan_options = entry.substr(13);
    } else {
      env.emplace_back(entry);
    }
  }
  if (!kAddressSpaceLimited) {
    asan_options += fmt::format("{}max_allocation_size_mb={}:allocator_may_return_null=1",
                                asan_options.empty() ? "" : ":",
                                std::max<std::uint64_t>(1, options.address_space_bytes >> 20));
  }
  if (!asan_options.empty()) env.push_back("ASAN_OPTIONS=" + asan_options);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

struct Spawned {
  pid_t pid = -1;
  int socket = -1;
  int pidfd = -1;
};

// posix_spawn of the worker with one end of a socketpair as its stdin and stdout. Synchronous
// but short: glibc's posix_spawn returns once the child has exec'd (CLONE_VFORK), well under a
// millisecond; the worker's own start (libvips) happens after, in the child.
Result<Spawned> spawn_process(const PoolOptions& options) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return unavailable(fmt::format("transform worker: socketpair: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  // Nothing else of mando's crosses into the worker, CLOEXEC or not (Asio's sockets are not).
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Blocked and ignored signals survive exec; a worker must take SIGXCPU and SIGPIPE as the
  // kernel means them whatever mando does with them.
  sigset_t none, all;
  sigemptyset(&none);
  sigemptyset(&all);
  for (int sig = 1; sig < SIGRTMIN; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&all, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  const std::string executable =
      options.executable.empty() ? std::string("/proc/self/exe") : options.executable;
  std::vector<std::string> argv_strings{executable};
  argv_strings.insert(argv_strings.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env_strings = worker_environment(options);
  const auto argv = pointers(argv_strings);
  const auto envp = pointers(env_strings);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, executable.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return unavailable(
        fmt::format("transform worker: cannot start {}: {}", executable, std::strerror(rc)));
  }
  // The child is ours and not reaped, so its pid cannot be reused: the pidfd names it.
  const int pidfd = ::pidfd_open(pid, 0);
  const rlimit memory{options.address_space_bytes, options.address_space_bytes};
  const bool limited = !kAddressSpaceLimited || ::prlimit(pid, RLIMIT_AS, &memory, nullptr) == 0;
  if (pidfd < 0 || !limited) {
    const int error = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(fds[0]);
    if (pidfd >= 0) ::close(pidfd);
    return unavailable(fmt::format("transform worker: {}: {}", pidfd < 0 ? "pidfd_open" : "prlimit",
                                   std::strerror(error)));
  }
  return Spawned{pid, fds[0], pidfd};
}

// How a reaped worker ended, for the job's error and the log.
std::string describe_exit(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return fmt::format("exited with status {}", info.si_status);
  return fmt::format("was killed by signal {} ({})", info.si_status, strsignal(info.si_status));
}

struct Worker {
  Worker(const Strand& strand, const Spawned& process)
      : pid(process.pid), socket(strand), pidfd(strand, process.pidfd), deadline(strand) {
    socket.assign(asio::local::stream_protocol(), process.socket);
  }
  // A worker dropped without bury() (the pool shutting down, its io_context gone) is killed and
  // reaped here, synchronously: after SIGKILL that takes about a millisecond, and leaving a
  // zombie behind is worse.
  ~Worker() {
    if (reaped) return;
    kill();
    siginfo_t info{};
    ::waitid(P_PIDFD, pidfd.native_handle(), &info, WEXITED);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void kill() { ::pidfd_send_signal(pidfd.native_handle(), SIGKILL, nullptr, 0); }
  // Whether the process has exited (its pidfd is readable), without waiting.
  bool exited() {
    pollfd poll_fd{pidfd.native_handle(), POLLIN, 0};
    return ::poll(&poll_fd, 1, 0) == 1;
  }

  pid_t pid;
  Socket socket;
  asio::posix::stream_descriptor pidfd;  // readable once the process has exited
  asio::steady_timer deadline;
  bool ready = false;  // kReady received
  bool reaped = false;
  bool timed_out = false;
  std::uint64_t job = 0;   // serial of the job in progress, 0 when idle
  std::uint64_t jobs = 0;  // jobs started so far
};

using WorkerPtr = std::shared_ptr<Worker>;

struct Waiter {
  explicit Waiter(const Strand& strand) : wake(strand) {}
  asio::steady_timer wake;
  WorkerPtr worker;
  std::optional<Error> error;
};

// A framed request: `head` (header and fixed fields) then `tail` (a thumbnail's input, moved in
// from the caller and written from there).
struct Request {
  std::string head;
  std::string tail;
};

// What an exchange ended with: the job's answer from a healthy worker, or why the worker must go.
struct Exchange {
  std::optional<Result<std::string>> answer;  // set: the worker is healthy
  bool before_ready = false;                  // died or misbehaved before kReady
  std::string protocol_error;                 // the worker sent something malformed
};

}  // namespace

class WorkerPool::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor executor, PoolOptions options)
      : strand_(asio::make_strand(executor)), options_(std::move(options)) {
    options_.workers = std::max(1, options_.workers);
    for (int i = 0; i < options_.workers; ++i) {
      auto worker = start_worker();
      if (!worker) {
        log_->error("{}", worker.error().message);
        break;
      }
      idle_.push_back(std::move(*worker));
    }
  }

  const Strand& strand() const { return strand_; }
  const PoolOptions& options() const { return options_; }

  // Runs one job on the strand (co_spawn'ed there by submit()); `self` keeps the pool alive
  // while the job is suspended.
  static asio::awaitable<Result<std::string>> run(std::shared_ptr<Impl> self, Request request) {
    auto worker = co_await self->acquire();
    if (!worker) co_return tl::unexpected(worker.error());
    Exchange exchange = co_await self->exchange(*worker, request);
    if (exchange.answer) {
      self->release(std::move(*worker));
      co_return std::move(*exchange.answer);
    }
    Error error = co_await self->bury(std::move(*worker), std::move(exchange));
    co_return tl::unexpected(std::move(error));
  }

  static asio::awaitable<std::vector<pid_t>> pids(std::shared_ptr<Impl> self) {
    std::vector<pid_t> out;
    for (const auto& worker : self->workers_) out.push_back(worker->pid);
    co_return out;
  }

  asio::awaitable<Result<std::string>> submit(Request request) {
    return asio::co_spawn(strand_, run(shared_from_this(), std::move(request)),
                          asio::use_awaitable);
  }

  void stop() {
    stopping_ = true;
    for (auto& worker : workers_) {
      worker->kill();
      boost::system::error_code ignored;
      worker->socket.close(ignored);
    }
    std::erase_if(workers_, [&](const WorkerPtr& w) {
      return std::find(idle_.begin(), idle_.end(), w) != idle_.end();
    });
    idle_.clear();  // their destructors reap them
    for (auto& waiter : waiters_) {
      waiter->error = Error{ErrorKind::kUnavailable, "the transform pool is shutting down"};
      waiter->wake.cancel();
    }
    waiters_.clear();
  }

 private:
  Result<WorkerPtr> start_worker() {
    auto process = spawn_process(options_);
    if (!process) return tl::unexpected(process.error());
    auto worker = std::make_shared<Worker>(strand_, *process);
    workers_.push_back(worker);
    return worker;
  }

  asio::awaitable<Result<WorkerPtr>> acquire() {
    if (stopping_) co_return unavailable("the transform pool is shutting down");
    if (waiters_.empty()) {
      while (!idle_.empty()) {
        WorkerPtr worker = std::move(idle_.back());
        idle_.pop_back();
        if (!worker->exited()) co_return worker;
        reap_idle(std::move(worker));
      }
      if (static_cast<int>(workers_.size()) < options_.workers) {
        auto worker = start_worker();
        // With no worker at all nobody would wake a waiter: fail now.
        if (worker || workers_.empty()) co_return worker;
        log_->error("{}", worker.error().message);
      }
    }
    auto waiter = std::make_shared<Waiter>(strand_);
    waiter->wake.expires_at(asio::steady_timer::time_point::max());
    waiters_.push_back(waiter);
    co_await waiter->wake.async_wait(kTuple);
    if (waiter->worker) co_return std::move(waiter->worker);
    if (waiter->error) co_return tl::unexpected(std::move(*waiter->error));
    // Woken by neither: the caller's cancellation.
    std::erase(waiters_, waiter);
    co_return unavailable("the transform job was cancelled");
  }

  // An idle worker that died (the OOM killer, an operator's kill) is found when it is next
  // needed, before a job is handed to it: the job goes to a live worker instead.
  void reap_idle(WorkerPtr worker) {
    siginfo_t info{};
    if (::waitid(P_PIDFD, worker->pidfd.native_handle(), &info, WEXITED | WNOHANG) == 0) {
      worker->reaped = true;
      log_->warn("idle transform worker died pid={} how=\"{}\"", worker->pid, describe_exit(info));
    }
    std::erase(workers_, worker);
  }

  void hand_to_first_waiter(WorkerPtr worker) {
    auto waiter = std::move(waiters_.front());
    waiters_.pop_front();
    waiter->worker = std::move(worker);
    waiter->wake.cancel();
  }

  void release(WorkerPtr worker) {
    if (stopping_) {
      std::erase(workers_, worker);
      return;
    }
    if (!waiters_.empty()) {
      hand_to_first_waiter(std::move(worker));
    } else {
      idle_.push_back(std::move(worker));
    }
  }

  // After a death: start replacements for the jobs waiting, as far as `workers` allows.
  void fill_vacancies() {
    while (!stopping_ && !waiters_.empty() &&
           static_cast<int>(workers_.size()) < options_.workers) {
      auto worker = start_worker();
      if (!worker) {
        log_->error("{}", worker.error().message);
        if (workers_.empty()) {
          for (auto& waiter : waiters_) {
            waiter->error = worker.error();
            waiter->wake.cancel();
          }
          waiters_.clear();
        }
        return;
      }
      hand_to_first_waiter(std::move(*worker));
    }
  }

  template <typename Buffers>
  static asio::awaitable<bool> read(Socket& socket, Buffers buffers) {
    auto [ec, n] = co_await asio::async_read(socket, buffers, kTuple);
    co_return !ec;
  }

  // Kills the worker if `budget` passes before disarm().
  void arm(const WorkerPtr& worker, std::chrono::milliseconds budget) {
    const std::uint64_t serial = ++worker->jobs;
    worker->job = serial;
    worker->deadline.expires_after(budget);
    worker->deadline.async_wait(
        [weak = std::weak_ptr<Worker>(worker), serial](boost::system::error_code ec) {
          auto w = weak.lock();
          if (ec || !w || w->job != serial) return;
          w->timed_out = true;
          w->kill();
        });
  }

  static void disarm(Worker& worker) {
    worker.job = 0;
    worker.deadline.cancel();
  }

  // A new worker's kReady within startup_timeout, then the job within job_timeout: a slow start
  // (a loaded machine, the sanitizers) does not eat into the job's time.
  asio::awaitable<Exchange> exchange(const WorkerPtr& worker, const Request& request) {
    Exchange out;
    wire::HeaderBytes header;
    if (!worker->ready) {
      out.before_ready = true;
      arm(worker, options_.startup_timeout);
      const bool read_ok = co_await read(worker->socket, asio::buffer(header));
      disarm(*worker);
      if (!read_ok) co_return out;
      auto ready = wire::parse_answer_header(header);
      if (!ready || ready->type != wire::Type::kReady) {
        out.protocol_error = ready ? "no ready frame" : ready.error().message;
        co_return out;
      }
      worker->ready = true;
      out.before_ready = false;
    }
    arm(worker, options_.job_timeout);
    co_await converse(*worker, request, header, out);
    disarm(*worker);
    co_return out;
  }

  // The bytes of one job: the request, the answer's header and body.
  asio::awaitable<void> converse(Worker& worker, const Request& request, wire::HeaderBytes& header,
                                 Exchange& out) {
    const std::array<asio::const_buffer, 2> parts{asio::buffer(request.head),
                                                  asio::buffer(request.tail)};
    auto [write_error, written] = co_await asio::async_write(worker.socket, parts, kTuple);
    if (write_error) co_return;
    const auto header_buffer = asio::buffer(header);
    if (!co_await read(worker.socket, header_buffer)) co_return;
    auto answer_header = wire::parse_answer_header(header);
    if (!answer_header || answer_header->type == wire::Type::kReady) {
      out.protocol_error = answer_header ? "a second ready frame" : answer_header.error().message;
      co_return;
    }
    std::string body(answer_header->length, '\0');
    const auto body_buffer = asio::buffer(body);
    if (!co_await read(worker.socket, body_buffer)) co_return;
    auto answer = wire::parse_answer(answer_header->type, std::move(body));
    if (!answer) {
      out.protocol_error = answer.error().message;
      co_return;
    }
    out.answer = std::move(*answer);
  }

  // Kills and reaps a worker that failed its job, and says what the job's caller is told.
  asio::awaitable<Error> bury(WorkerPtr worker, Exchange exchange) {
    worker->kill();
    boost::system::error_code ignored;
    worker->socket.close(ignored);
    auto [ec] = co_await worker->pidfd.async_wait(asio::posix::descriptor_base::wait_read, kTuple);
    siginfo_t info{};
    std::string how = "vanished";
    if (!ec && ::waitid(P_PIDFD, worker->pidfd.native_handle(), &info, WEXITED) == 0) {
      worker->reaped = true;
      how = describe_exit(info);
    }
    std::erase(workers_, worker);
    const bool cpu = info.si_code != CLD_EXITED && info.si_status == SIGXCPU;
    std::string reason;
    if (worker->timed_out) {
      reason = fmt::format("the decoder took longer than {:g} s",
                           static_cast<double>(options_.job_timeout.count()) / 1000);
    } else if (cpu) {
      reason = fmt::format("the decoder used more than {} s of CPU", options_.cpu_seconds.count());
    } else if (!exchange.protocol_error.empty()) {
      reason = "the decoder broke the worker protocol";
    } else {
      reason = "the decoder " + how;
    }
    log_->warn(
        "transform worker died pid={} how=\"{}\" reason=\"{}\"{}", worker->pid, how, reason,
        exchange.protocol_error.empty() ? "" : " protocol=\"" + exchange.protocol_error + "\"");
    fill_vacancies();
    if (stopping_) co_return Error{ErrorKind::kUnavailable, "the transform pool is shutting down"};
    if (exchange.before_ready) {
      const std::string what =
          worker->timed_out
              ? fmt::format("took longer than {:g} s",
                            static_cast<double>(options_.startup_timeout.count()) / 1000)
              : how;
      co_return Error{ErrorKind::kUnavailable,
                      fmt::format("the transform worker did not start (it {})", what)};
    }
    co_return Error{ErrorKind::kInternal, fmt::format("could not be read ({})", reason)};
  }

  Strand strand_;
  PoolOptions options_;
  std::shared_ptr<spdlog::logger> log_ = core::logger("transform");
  std::vector<WorkerPtr> workers_;  // every live worker, busy or idle
  std::vector<WorkerPtr> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  bool stopping_ = false;
};

WorkerPool::WorkerPool(asio::any_io_executor executor, PoolOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

// As with HttpClient: the destructor may run on any thread while a job of ours runs on the
// strand, so it only hands stop() to the strand. If the executor never runs again, the handler
// and every suspended job are destroyed with the io_context, and the last of them destroys the
// Impl, whose workers are killed and reaped by ~Worker.
WorkerPool::~WorkerPool() {
  auto impl = std::move(impl_);
  const Strand strand = impl->strand();
  asio::dispatch(strand, [impl = std::move(impl)] { impl->stop(); });
}

asio::awaitable<Result<std::string>> WorkerPool::thumbnail(std::string input, TransformSpec spec,
                                                           DecodeLimits limits) {
  auto impl = impl_;
  if (auto ok = check_input_size(input.size(), limits); !ok) co_return tl::unexpected(ok.error());
  const wire::ThumbnailRequest fields{
      static_cast<std::uint32_t>(impl->options().cpu_seconds.count()), spec, limits, input};
  auto head = wire::thumbnail_prefix(fields);
  if (!head) co_return tl::unexpected(head.error());
  auto job = impl->submit(Request{std::move(*head), std::move(input)});
  co_return co_await std::move(job);
}

asio::awaitable<Result<std::string>> WorkerPool::sheet(std::vector<std::string> tiles,
                                                       SheetSpec spec) {
  auto impl = impl_;
  const wire::SheetRequest fields{static_cast<std::uint32_t>(impl->options().cpu_seconds.count()),
                                  spec, std::move(tiles)};
  auto frame = wire::encode_sheet(fields);
  if (!frame) co_return tl::unexpected(frame.error());
  auto job = impl->submit(Request{std::move(*frame), {}});
  co_return co_await std::move(job);
}

asio::awaitable<std::vector<pid_t>> WorkerPool::worker_pids() {
  auto impl = impl_;
  co_return co_await asio::co_spawn(impl->strand(), Impl::pids(impl), asio::use_awaitable);
}

}  // namespace mando::transform
