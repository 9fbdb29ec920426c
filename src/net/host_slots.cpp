#include "net/host_slots.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace mando::net {

namespace asio = boost::asio;

struct HostSlots::Ticket {
  Ticket(const asio::any_io_executor& executor, std::string h)
      : host(std::move(h)), wake(executor, 1), timer(executor) {}

  enum class State { kWaiting, kGranted, kTimedOut, kDone };

  const std::string host;
  State state = State::kWaiting;  // guarded by HostSlots::mutex_
  // Room for one message, so a wake-up sent before the coroutine waits is kept.
  asio::experimental::concurrent_channel<void(boost::system::error_code)> wake;
  asio::steady_timer timer;  // touched by the waiting coroutine only
};

HostSlots::Lease::Lease(HostSlots* slots, std::shared_ptr<Ticket> ticket)
    : slots_(slots), ticket_(std::move(ticket)) {}

HostSlots::Lease::Lease(Lease&& other) noexcept
    : slots_(std::exchange(other.slots_, nullptr)), ticket_(std::move(other.ticket_)) {}

HostSlots::Lease& HostSlots::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    reset();
    slots_ = std::exchange(other.slots_, nullptr);
    ticket_ = std::move(other.ticket_);
  }
  return *this;
}

HostSlots::Lease::~Lease() { reset(); }

void HostSlots::Lease::reset() {
  if (slots_ != nullptr && ticket_) slots_->leave(ticket_);
  slots_ = nullptr;
  ticket_.reset();
}

HostSlots::HostSlots(int max_per_host) : max_per_host_(max_per_host) {}

HostSlots::~HostSlots() = default;

int HostSlots::active(const std::string& host) const {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(host);
  return it == hosts_.end() ? 0 : it->second.active;
}

asio::awaitable<Result<HostSlots::Lease>> HostSlots::acquire(
    std::string host, std::chrono::steady_clock::time_point deadline) {
  if (max_per_host_ <= 0) co_return Lease();
  auto ticket = std::make_shared<Ticket>(co_await asio::this_coro::executor, host);
  // From here on the Lease's end gives back whatever the ticket holds: a slot, or its place in
  // the queue if this coroutine is destroyed while it waits.
  Lease lease(this, ticket);
  bool free = false;
  {
    std::lock_guard lock(mutex_);
    Host& h = hosts_[host];
    free = h.active < max_per_host_;
    if (free) {
      ++h.active;
      ticket->state = Ticket::State::kGranted;
    } else {
      h.waiting.push_back(ticket);
    }
  }
  if (free) co_return std::move(lease);

  // The handler holds the ticket weakly: a ticket still alive means its Lease or the queue still
  // holds it, so this HostSlots is still there.
  auto on_deadline = [this, weak = std::weak_ptr<Ticket>(ticket)](boost::system::error_code ec) {
    if (ec) return;
    if (auto t = weak.lock()) expire(t);
  };
  ticket->timer.expires_at(deadline);
  ticket->timer.async_wait(std::move(on_deadline));
  co_await ticket->wake.async_receive(asio::as_tuple(asio::use_awaitable));
  ticket->timer.cancel();
  bool granted = false;
  {
    std::lock_guard lock(mutex_);
    granted = ticket->state == Ticket::State::kGranted;
  }
  if (!granted) {
    co_return fail(ErrorKind::kDeadlineExceeded,
                   fmt::format("timed out waiting for a download slot for {}", host));
  }
  co_return std::move(lease);
}

void HostSlots::expire(const std::shared_ptr<Ticket>& ticket) {
  std::lock_guard lock(mutex_);
  if (ticket->state != Ticket::State::kWaiting) return;  // granted first: the slot stands
  auto& waiting = hosts_[ticket->host].waiting;
  waiting.erase(std::remove(waiting.begin(), waiting.end(), ticket), waiting.end());
  ticket->state = Ticket::State::kTimedOut;
  ticket->wake.try_send(boost::system::error_code{});
}

void HostSlots::leave(const std::shared_ptr<Ticket>& ticket) {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(ticket->host);
  const auto state = std::exchange(ticket->state, Ticket::State::kDone);
  if (it == hosts_.end()) return;
  Host& h = it->second;
  if (state == Ticket::State::kWaiting) {
    h.waiting.erase(std::remove(h.waiting.begin(), h.waiting.end(), ticket), h.waiting.end());
  } else if (state == Ticket::State::kGranted) {
    if (!h.waiting.empty()) {
      // Step 3: the slot passes on, the count stays.
      std::shared_ptr<Ticket> next = std::move(h.waiting.front());
      h.waiting.pop_front();
      next->state = Ticket::State::kGranted;
      next->wake.try_send(boost::system::error_code{});
    } else {
      --h.active;
    }
  }
  if (h.active == 0 && h.waiting.empty()) hosts_.erase(it);
}

}  // namespace mando::net
