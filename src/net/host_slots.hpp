#pragma once
// At most N downloads per host at once, for net::Fetcher: a counting semaphore per host whose
// waiters are coroutines parked on a channel, so a wait blocks no thread and polls nothing.
//
// The life of one acquire():
//  1. A free slot: taken at once, the Lease owns it.
//  2. None: a ticket joins the host's FIFO and the coroutine waits on the ticket's channel,
//     with a timer for its deadline.
//  3. A Lease of that host ends: its slot passes straight to the first ticket (the count does
//     not drop, so nobody can jump the queue) and the ticket's channel wakes its coroutine.
//  4. The deadline passes first: the timer takes the ticket out of the FIFO and wakes the
//     coroutine, which answers kDeadlineExceeded.
// 3 and 4 decide under one mutex which of them happened, so a slot is never both handed over
// and refused. A Lease whose coroutine is destroyed while it waits leaves the FIFO.
//
// Thread-safety: acquire() from any coroutine on any executor; a Lease may end on any thread.
// Every Lease must end before the HostSlots does.

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "core/error.hpp"

namespace mando::net {

class HostSlots {
  struct Ticket;

 public:
  // max_per_host <= 0: no limit.
  explicit HostSlots(int max_per_host);
  ~HostSlots();
  HostSlots(const HostSlots&) = delete;
  HostSlots& operator=(const HostSlots&) = delete;

  // A slot for one host while it lives (or nothing, once moved from).
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

   private:
    friend class HostSlots;
    Lease(HostSlots* slots, std::shared_ptr<Ticket> ticket);
    void reset();
    HostSlots* slots_ = nullptr;
    std::shared_ptr<Ticket> ticket_;
  };

  // Waits for a slot of `host` until `deadline`; kDeadlineExceeded when none came in time.
  boost::asio::awaitable<Result<Lease>> acquire(std::string host,
                                                std::chrono::steady_clock::time_point deadline);

  // Slots in use for `host` (tests).
  int active(const std::string& host) const;

 private:
  struct Host {
    int active = 0;
    std::deque<std::shared_ptr<Ticket>> waiting;
  };

  void leave(const std::shared_ptr<Ticket>& ticket);
  void expire(const std::shared_ptr<Ticket>& ticket);

  const int max_per_host_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Host> hosts_;
};

}  // namespace mando::net
