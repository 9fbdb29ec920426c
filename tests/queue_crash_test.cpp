// kill -9 tests of the task queue (issue 3), against the real `mando serve`: an acknowledged task
// survives any crash, delivery is at-least-once, and the only duplicates are the dispatches that
// were in flight when the process died.
//
// KilledWhileDispatching:
//   1. a RecordingWorker counts the deliveries of each X-CloudTasks-TaskName and answers 200;
//      its kHoldAt-th delivery waits at a gate, so the worker, and every dispatch behind it, is
//      stuck there when the test kills mando (the dispatch of the held task is then certainly in
//      flight, and so are up to max_concurrent_dispatches - 1 others);
//   2. mando starts with [queues.crash] declared; the test pauses the queue, creates kTasks named
//      tasks through the REST API (every create must answer 200), and resumes it;
//   3. once the worker holds at the gate, SIGKILL; then the gate opens (the worker also gets to
//      answer what the dead process had already sent);
//   4. mando restarts on the same data directory: it hands the leases of the dead run back and
//      dispatches the rest;
//   5. checks: every task delivered (bounded wait) and the queue empty (every task completed);
//      then each task delivered at most twice, the held one exactly twice, no more tasks
//      delivered twice than max_concurrent_dispatches; and mando still stops cleanly.
// KilledWhileEnqueueing: the queue is declared paused; SIGKILL while kCreators creates are in
// flight; after a restart every create that was answered 200 is listed, the unanswered ones
// are either listed or absent, and creating those again answers 200 or 409 (ALREADY_EXISTS).

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "net/http_client.hpp"
#include "support/process.hpp"
#include "support/recording_worker.hpp"
#include "support/temp_dir.hpp"
#include <signal.h>

namespace mando::testing {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kQueue = "projects/mando/locations/local/queues/crash";
constexpr std::string_view kSigningKey = "queue-crash-test-signing-key-0123456789abcdef";
constexpr std::string_view kApiToken = "queue-crash-test-api-token";
constexpr int kMaxConcurrentDispatches = 50;
constexpr int kCreators = 32;  // creates in flight at once
// The worker of tasks that are never dispatched (their queue stays paused).
constexpr std::string_view kNoWorker = "http://127.0.0.1:9";
// Bounds that only stop a broken run from hanging; a passing run takes a fraction of them.
constexpr auto kStartLimit = 60s;
constexpr auto kDeliveryLimit = 120s;

std::string task_id(int i) { return fmt::format("t{:05}", i); }

// The body of a create: a named task that POSTs to `worker_url`/work.
std::string create_body(std::string_view id, std::string_view worker_url) {
  return fmt::format(
      R"({{"task":{{"name":"{}/tasks/{}","httpRequest":{{"url":"{}/work","httpMethod":"POST"}}}}}})",
      kQueue, id, worker_url);
}

std::vector<std::string> task_ids(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(task_id(i));
  return ids;
}

// A config that declares the queue; small backoffs, though the worker never fails.
fs::path write_config(const fs::path& dir, bool paused) {
  const fs::path path = dir / "mando.toml";
  std::ofstream(path) << fmt::format(
      "[queues.crash]\n"
      "max_dispatches_per_second = 500\n"
      "max_concurrent_dispatches = {}\n"
      "min_backoff = \"10ms\"\n"
      "max_backoff = \"100ms\"\n"
      "paused = {}\n",
      kMaxConcurrentDispatches, paused);
  return path;
}

// `mando serve` on one config and data directory, started again after each kill.
class MandoServer {
 public:
  MandoServer(fs::path config, fs::path data_dir)
      : config_(std::move(config)), data_dir_(std::move(data_dir)) {}

  // Starts mando and answers the base URL of its queue API (the internal listener,
  // "http://127.0.0.1:PORT"), or nullopt when it did not come up (the failure is added to the
  // test).
  std::optional<std::string> start() {
    process_.reset();  // the previous run, reaped already after a kill
    process_ = std::make_unique<Process>(
        std::vector<std::string>{MANDO_BINARY, "serve", "--config", config_.string(), "--listen",
                                 "127.0.0.1:0", "--data-dir", data_dir_.string()},
        std::map<std::string, std::string>{{"MANDO_QUEUE_SIGNING_KEY", std::string(kSigningKey)},
                                           // Quiet: nobody reads the pipes while tasks flow.
                                           {"MANDO_LOG_LEVEL", "warn"},
                                           {"MANDO_QUEUE_API_TOKEN", std::string(kApiToken)},
                                           {"MANDO_QUEUE_DATABASE", ""}});
    auto urls = wait_for_serve_urls(*process_, kStartLimit);
    if (!urls) {
      ADD_FAILURE() << "mando did not print its addresses: " << process_->wait(5s).err;
      return std::nullopt;
    }
    return urls->internal_url;
  }

  // Sends `sig` without waiting (safe from any thread: it is only kill(2)).
  void signal(int sig) { process_->signal(sig); }

  // Waits for the process to end, after signal().
  ProcessResult wait() { return process_->wait(30s); }

  // Whether the process was reaped: no process of its pid is left, not even a zombie. The worker
  // is let go only once this holds: a mando still alive would get its 2xx and complete the task.
  bool gone() const { return ::kill(process_->pid(), 0) != 0 && errno == ESRCH; }

 private:
  fs::path config_;
  fs::path data_dir_;
  std::unique_ptr<Process> process_;  // its destructor kills a process still running
};

// What the worker saw: how many times each task id was delivered. The `hold_at`-th delivery
// (1-based arrival index; 0: none) waits until release(), holding the worker's only thread.
class DeliveryLog {
 public:
  explicit DeliveryLog(std::size_t hold_at) : hold_at_(hold_at) {}

  net::Response answer(const net::Request& request, int index) {
    std::unique_lock lock(mutex_);
    const std::string id(request.headers.get("X-CloudTasks-TaskName").value_or("<none>"));
    ++counts_[id];
    if (static_cast<std::size_t>(index) + 1 == hold_at_) {
      held_ = id;
      changed_.notify_all();
      // Bounded: a test that fails before release() must not wedge the worker for good.
      changed_.wait_for(lock, kDeliveryLimit, [this] { return released_; });
    }
    changed_.notify_all();
    return net::Response::text(200, "ok");
  }

  // The id of the held delivery once it arrived; nullopt after `timeout`.
  std::optional<std::string> wait_for_hold(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [this] { return held_.has_value(); });
    return held_;
  }

  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

  // Waits until `distinct` task ids were delivered; false after `timeout`.
  bool wait_for_distinct(std::size_t distinct, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return counts_.size() >= distinct; });
  }

  std::map<std::string, int> counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  const std::size_t hold_at_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, int> counts_;
  std::optional<std::string> held_;
  bool released_ = false;
};

// The outcome of creating a batch of tasks.
struct Enqueue {
  std::vector<std::string> ids;  // to create, in this order
  std::size_t next = 0;
  std::set<std::string> acked;       // answered 200: must be durable
  std::set<std::string> unknown;     // no answer (transport error): may or may not exist
  std::vector<std::string> refused;  // answered with another status: "id: status body"
  std::function<void(std::size_t acked)> on_ack;
};

// The Cloud Tasks REST API of one mando, driven with mando's own HTTP client on this thread.
class QueueApi {
 public:
  QueueApi() : client_(std::make_unique<net::HttpClient>(ioc_.get_executor())) {}
  ~QueueApi() {
    client_.reset();
    ioc_.restart();
    ioc_.run();  // the client's posted cleanup
  }

  // mando listens on a new port after each restart.
  void set_base_url(std::string url) { base_url_ = std::move(url); }

  Result<net::ClientResponse> call(std::string method, std::string path, std::string body = {}) {
    Result<net::ClientResponse> out = fail(ErrorKind::kInternal, "not run");
    asio::co_spawn(ioc_, send(client_.get(), request(method, path, std::move(body)), &out),
                   asio::detached);
    ioc_.restart();
    ioc_.run();
    return out;
  }

  // POST .../queues/crash:pause or :resume; true on 200.
  bool set_paused(bool paused) {
    auto r = call("POST", fmt::format("{}:{}", kQueue, paused ? "pause" : "resume"));
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : r.error().message);
    return r && r->status == 200;
  }

  // Creates `batch.ids` as tasks for `worker_url`, kCreators at a time, until every id was
  // tried or each creator met a transport error (mando died).
  void create_tasks(Enqueue& batch, const std::string& worker_url) {
    for (int i = 0; i < kCreators; ++i) {
      asio::co_spawn(ioc_, creator(this, &batch, worker_url), asio::detached);
    }
    ioc_.restart();
    ioc_.run();
  }

  // Every task id of the queue, page by page.
  Result<std::set<std::string>> list_task_ids() {
    std::set<std::string> ids;
    std::string token;
    do {
      auto r = call("GET", fmt::format("{}/tasks?pageSize=1000&pageToken={}", kQueue, token));
      if (!r) return tl::unexpected(r.error());
      if (r->status != 200) return fail(ErrorKind::kInternal, fmt::format("list: {}", r->body));
      const json::object page = json::parse(r->body).as_object();
      if (const auto* tasks = page.if_contains("tasks")) {
        for (const auto& task : tasks->as_array()) {
          const std::string name(task.at("name").as_string());
          ids.insert(name.substr(name.rfind('/') + 1));
        }
      }
      const auto* next = page.if_contains("nextPageToken");
      token = next != nullptr ? std::string(next->as_string()) : "";
    } while (!token.empty());
    return ids;
  }

 private:
  net::ClientRequest request(std::string method, std::string path, std::string body) const {
    net::ClientRequest r;
    r.method = std::move(method);
    r.url = fmt::format("{}/v2/{}", base_url_, path);
    r.headers.set("Authorization", fmt::format("Bearer {}", kApiToken));
    r.body = std::move(body);
    if (!r.body.empty()) r.headers.set("Content-Type", "application/json");
    r.timeout = 30s;
    return r;
  }

  static asio::awaitable<void> send(net::HttpClient* client, net::ClientRequest request,
                                    Result<net::ClientResponse>* out) {
    *out = co_await client->send(std::move(request));
  }

  // Everything runs on this thread's io_context, so `batch` needs no lock.
  static asio::awaitable<void> creator(QueueApi* api, Enqueue* batch, std::string worker_url) {
    while (batch->next < batch->ids.size()) {
      const std::string id = batch->ids[batch->next++];
      auto r = co_await api->client_->send(
          api->request("POST", fmt::format("{}/tasks", kQueue), create_body(id, worker_url)));
      if (!r) {
        batch->unknown.insert(id);
        co_return;
      }
      if (r->status != 200) {
        batch->refused.push_back(fmt::format("{}: {} {}", id, r->status, r->body));
        continue;
      }
      batch->acked.insert(id);
      if (batch->on_ack) batch->on_ack(batch->acked.size());
    }
  }

  asio::io_context ioc_;
  std::unique_ptr<net::HttpClient> client_;
  std::string base_url_;
};

TEST(QueueCrashTest, KilledWhileDispatchingEveryTaskIsDeliveredAndOnlyInFlightOnesTwice) {
  constexpr int kTasks = 10'000;
  constexpr std::size_t kHoldAt = kTasks * 3 / 10;  // the kill lands at 30% delivered

  TempDir dir;
  DeliveryLog log(kHoldAt);
  RecordingWorker worker;
  worker.set_answer([&log](const net::Request& r, int index) { return log.answer(r, index); });
  // Opens the gate on every path before the worker (declared earlier) is destroyed.
  struct Release {
    DeliveryLog& log;
    ~Release() { log.release(); }
  } release{log};

  MandoServer mando(write_config(dir.path(), /*paused=*/false), dir.path() / "data");
  QueueApi api;
  auto url = mando.start();
  ASSERT_TRUE(url);
  api.set_base_url(*url);

  // 2. All tasks in the store before any dispatch, so each was acknowledged before the kill.
  ASSERT_TRUE(api.set_paused(true));
  Enqueue batch;
  batch.ids = task_ids(kTasks);
  api.create_tasks(batch, worker.url());
  ASSERT_EQ(batch.acked.size(), static_cast<std::size_t>(kTasks))
      << "unanswered: " << batch.unknown.size() << ", refused: " << batch.refused.size()
      << (batch.refused.empty() ? "" : " first: " + batch.refused.front());
  ASSERT_TRUE(api.set_paused(false));

  // 3.
  const auto held = log.wait_for_hold(kDeliveryLimit);
  ASSERT_TRUE(held) << "the worker got only " << log.counts().size() << " tasks";
  mando.signal(SIGKILL);
  EXPECT_EQ(mando.wait().exit_code, -1);
  ASSERT_TRUE(mando.gone());
  const std::size_t delivered_at_kill = log.counts().size();
  log.release();

  // 4.
  url = mando.start();
  ASSERT_TRUE(url);
  api.set_base_url(*url);

  // 5.
  ASSERT_TRUE(log.wait_for_distinct(kTasks, kDeliveryLimit))
      << "delivered " << log.counts().size() << " of " << kTasks;
  // Released leases are due at the restart, behind the tasks due before it, so repeats may
  // still follow the last first delivery. The worker records a delivery before answering it,
  // and a task leaves the queue only once its 2xx is committed: when the queue is empty, the
  // log is complete. Poll, bounded, until then.
  const auto deadline = std::chrono::steady_clock::now() + kDeliveryLimit;
  auto left = api.list_task_ids();
  while (left && !left->empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    left = api.list_task_ids();
  }
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_TRUE(left->empty()) << left->size() << " tasks left, first " << *left->begin();

  const auto counts = log.counts();
  const auto expected = task_ids(kTasks);
  EXPECT_EQ(counts.size(), expected.size());  // no task the test did not create
  std::vector<std::string> twice;
  for (const auto& id : expected) {
    ASSERT_TRUE(counts.contains(id)) << id << " was never delivered";
    EXPECT_LE(counts.at(id), 2) << id << ": one kill can cause one repeat at most";
    if (counts.at(id) > 1) twice.push_back(id);
  }
  // The held dispatch never got its 2xx, so its lease was still in the store at the kill.
  EXPECT_EQ(counts.at(*held), 2) << *held;
  // A task is delivered again only if its lease was still in the store at the kill. The
  // dispatcher takes a lease only for a free slot of max_concurrent_dispatches and frees the
  // slot only once complete() has committed, so no more than that many leases exist at any
  // time: in flight to the worker, or answered with the 2xx not yet committed.
  EXPECT_LE(twice.size(), static_cast<std::size_t>(kMaxConcurrentDispatches))
      << fmt::format("{}", fmt::join(twice, " "));
  RecordProperty("delivered_at_kill", static_cast<int>(delivered_at_kill));
  RecordProperty("delivered_twice", static_cast<int>(twice.size()));

  mando.signal(SIGTERM);
  const auto stopped = mando.wait();
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

TEST(QueueCrashTest, KilledWhileEnqueueingEveryAcknowledgedTaskIsKept) {
  constexpr int kTasks = 4'000;
  constexpr std::size_t kKillAt = 1'000;  // acknowledged creates before the kill

  TempDir dir;
  // Paused: no task is dispatched, so each one that exists stays listed.
  MandoServer mando(write_config(dir.path(), /*paused=*/true), dir.path() / "data");
  QueueApi api;
  auto url = mando.start();
  ASSERT_TRUE(url);
  api.set_base_url(*url);

  Enqueue batch;
  batch.ids = task_ids(kTasks);
  // Runs on the creators' thread, with kCreators creates in flight.
  batch.on_ack = [&mando](std::size_t acked) {
    if (acked == kKillAt) mando.signal(SIGKILL);
  };
  api.create_tasks(batch, std::string(kNoWorker));
  EXPECT_EQ(mando.wait().exit_code, -1);
  ASSERT_TRUE(mando.gone());
  EXPECT_TRUE(batch.refused.empty()) << batch.refused.front();
  ASSERT_GE(batch.acked.size(), kKillAt);
  ASSERT_LT(batch.acked.size(), static_cast<std::size_t>(kTasks)) << "the kill came too late";
  // Each creator stops at its first unanswered create.
  EXPECT_LE(batch.unknown.size(), static_cast<std::size_t>(kCreators));

  url = mando.start();
  ASSERT_TRUE(url);
  api.set_base_url(*url);
  auto listed = api.list_task_ids();
  ASSERT_TRUE(listed) << listed.error().message;
  for (const auto& id : batch.acked) EXPECT_TRUE(listed->contains(id)) << id << " was lost";
  // Anything else listed is a create that was committed but whose answer the kill cut off.
  for (const auto& id : *listed) {
    EXPECT_TRUE(batch.acked.contains(id) || batch.unknown.contains(id)) << id;
  }
  RecordProperty("acknowledged", static_cast<int>(batch.acked.size()));
  RecordProperty("unanswered", static_cast<int>(batch.unknown.size()));

  // A client retries the creates it got no answer for: each is new (200) or was already
  // committed (409 ALREADY_EXISTS), and then every one of them exists.
  std::set<std::string> expected = batch.acked;
  for (const auto& id : batch.unknown) {
    auto r = api.call("POST", fmt::format("{}/tasks", kQueue), create_body(id, kNoWorker));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, listed->contains(id) ? 409 : 200) << id << ": " << r->body;
    expected.insert(id);
  }
  listed = api.list_task_ids();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(*listed, expected);
}

}  // namespace
}  // namespace mando::testing
