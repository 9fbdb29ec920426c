#pragma once
// A one-shot event: one coroutine waits for it, any thread sets it, before or after the wait
// began. The rate limiter's queues and the manual clock park coroutines on it.
//
// Built on Asio's concurrent_channel with room for one value, so a set() that comes first is
// kept and the wait completes at once; the channel's header stays out of this one.
// Thread-safety: set() from any thread; wait() from one coroutine at a time, which resumes on
// the executor the Wakeup was made with. set() never resumes the waiter inline (the channel
// posts its completion), so it may be called under the caller's lock. The Wakeup must outlive
// a pending wait() (share it), and must not outlive its executor's io_context: the channel's
// service lives there.

#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace mando::discord {

class Wakeup {
 public:
  explicit Wakeup(boost::asio::any_io_executor executor);
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  void set();
  boost::asio::awaitable<void> wait();

 private:
  struct Channel;
  std::unique_ptr<Channel> channel_;
};

}  // namespace mando::discord
