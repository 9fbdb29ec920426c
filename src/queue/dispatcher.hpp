#pragma once
// The dispatcher: pushes due tasks to their workers over HTTP, within each queue's rate limits,
// and records what happened in the TaskStore.
//
// One loop per queue, on its own strand of the I/O executor:
//   0. lead the queue: a second coroutine claims and renews this node's term
//      (TaskStore::claim_leadership); while another node leads, the loop waits (an embedded
//      store's only dispatcher always leads);
//   1. wait while the queue is paused or disabled, or held by a worker's Retry-After;
//   2. wait for a free dispatch slot (maxConcurrentDispatches) and a token (the token bucket of
//      maxDispatchesPerSecond and maxBurstSize, scaled down after 429 and 503 answers);
//   3. lease up to that many due tasks from the store (on the blocking pool, never on an I/O
//      thread) and start one attempt per task; unused tokens go back to the bucket;
//   4. when nothing is due, sleep until the store's next due time, a notify() or a settings
//      change, whichever comes first (and at most `poll_interval`, for tasks that other
//      processes add to a shared store).
// One attempt:
//   a. build the request: the task's method, URL (appEngineHttpRequest's relative URI resolved
//      against the queue's worker base URL), headers and body; Cloud Tasks' X-CloudTasks-*
//      headers and User-Agent; a signature (signing.hpp); the dispatch deadline as timeout;
//   b. send it with the shared outbound client;
//   c. 2xx: complete the task. Anything else, a transport error or the deadline: retry it
//      after backoff() (at least the worker's Retry-After), or fail it into the dead letters
//      when may_retry() says its attempts are used up (retry.hpp). The reports of every attempt
//      that ended meanwhile go to the store in one report_all() call (one thread hop, one
//      commit); an attempt's dispatch slot is free again only once its report is stored, so at
//      most maxConcurrentDispatches tasks of a queue are ever leased;
//   d. a store error while reporting leaves the lease to expire (or to be handed back at the
//      next start): the task is dispatched again (delivery is at-least-once).
//
// Thread-safety: every public method may be called from any thread.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "core/cpu_pool.hpp"
#include "core/metrics.hpp"
#include "net/http_client.hpp"
#include "queue/model.hpp"
#include "queue/signing.hpp"
#include "queue/task_store.hpp"

namespace mando::queue {

struct DispatcherOptions {
  // How long a lease outlives its task's dispatch deadline before another dispatch may take it.
  Micros lease_margin = std::chrono::seconds(30);
  int max_batch = 100;  // tasks leased per store call
  Micros poll_interval = std::chrono::seconds(5);
  // The worker base URL for appEngineHttpRequest tasks of queues that set none: the server's
  // own address in `mando serve`.
  std::string default_worker_base_url;
  // Where several dispatchers share a store: this one's name in the leadership rows (empty:
  // host, pid and a random part), and how long a term lasts without renewal. A leader that
  // dies is replaced within the ttl plus a third of it.
  std::string node;
  Micros leader_ttl = std::chrono::seconds(3);
};

// What the dispatcher works with; all of it must outlive the dispatcher.
struct DispatcherDeps {
  boost::asio::any_io_executor io;
  core::CpuPool& blocking;  // runs the store's blocking calls
  TaskStore& store;
  net::HttpClient& client;
  const RequestSigner& signer;
  core::MetricsRegistry& metrics;
};

// The HTTP request of one attempt of `task` (step a), signed by `signer`.
net::ClientRequest build_worker_request(const Queue& queue, const Task& task,
                                        const DispatcherOptions& options,
                                        const RequestSigner& signer);

class Dispatcher {
 public:
  Dispatcher(DispatcherDeps deps, DispatcherOptions options);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts dispatching: the loops of the queues upserted so far, and of every later one. Until
  // then upsert_queue() only records queues, because the server's own address (the default
  // worker base URL) is known only once it listens. An empty URL keeps the options' one.
  void start(std::string default_worker_base_url);
  // Starts the loop of `queue`, or gives a running loop the queue's new settings. The first
  // start of a loop hands back the leases a crashed earlier run left (release_leases()): call
  // it only where this dispatcher is the queue's only one.
  void upsert_queue(const Queue& queue);
  void remove_queue(const QueueName& name);
  // A task of `queue` may have become due earlier than the loop planned: look again.
  void notify(const QueueName& queue);
  // Starts an attempt of a task that run_task() leased, outside the queue's rate limits.
  void dispatch_leased(const Queue& queue, Task task);
  // Stops every loop; attempts in flight finish on their own (or their leases expire).
  void stop();
  // The queues (full names) this node leads now.
  std::vector<std::string> leading() const;

  struct Shared;
  class QueueLoop;

 private:
  std::shared_ptr<Shared> shared_;
  std::mutex mutex_;
  bool started_ = false;
  std::map<std::string, Queue> waiting_;  // upserted before start(), by full queue name
  std::map<std::string, std::shared_ptr<QueueLoop>> loops_;  // by full queue name
};

}  // namespace mando::queue
