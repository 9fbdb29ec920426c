#pragma once
// A fixed set of event loops, one thread each, that the HTTP servers spread their connections
// over: a connection lives on one loop for its whole life, so reading, parsing, the handler and
// the write of each request run on one thread, with no strand and no handoff between threads
// (the shape of nginx's workers or Seastar's shards). One io_context run by several threads
// instead takes a lock and often wakes another thread for each operation; on 2 cores that was
// more than half of the CPU spent outside the signature check of a signed PING (see
// docs/BENCHMARKS.md, "Ingress CPU per request").
//
// The loops run until stop() (or the destructor): stop() joins their threads and destroys what
// was still pending on them (suspended sessions), the way an io_context's destructor destroys
// the handlers it never ran, while every other object is still alive. The servers' acceptors
// run on another io_context, which may hold a connection accepted onto a loop until it is
// destroyed: declare the IoLoops before that io_context, so that it dies after it.

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace mando::net {

class IoLoops {
 public:
  // Starts `count` loops (at least one), each on a thread of its own.
  explicit IoLoops(std::size_t count);
  ~IoLoops();
  IoLoops(const IoLoops&) = delete;
  IoLoops& operator=(const IoLoops&) = delete;

  // The loop for the next connection, round robin. Safe from any thread.
  boost::asio::io_context::executor_type next();

  std::size_t size() const { return loops_.size(); }

  // Stops every loop and joins its thread. Idempotent; not from a loop's own thread.
  void stop();

 private:
  // An io_context whose pending handlers stop() can destroy before the context itself dies.
  struct Context : boost::asio::io_context {
    // Concurrency hint 1: asio keeps completions on the running thread's private queue and
    // never wakes another thread for them.
    Context() : io_context(1) {}
    using boost::asio::execution_context::shutdown;
  };
  struct Loop {
    Context context;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace mando::net
