#include "net/host_slots.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace mando::net {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Slot = std::optional<Result<HostSlots::Lease>>;

asio::awaitable<void> take(HostSlots* slots, std::string host, Clock::time_point deadline,
                           Slot* out) {
  auto lease = co_await slots->acquire(std::move(host), deadline);
  out->emplace(std::move(lease));
}

void start(asio::io_context& ioc, HostSlots& slots, const std::string& host, Slot& out,
           Clock::time_point deadline = Clock::now() + std::chrono::hours(1)) {
  asio::co_spawn(ioc, take(&slots, host, deadline, &out), asio::detached);
}

// Runs what is ready, without waiting for anything: what is still pending stays pending.
void settle(asio::io_context& ioc) {
  ioc.restart();
  ioc.poll();
}

TEST(HostSlots, AThirdDownloadWaitsUntilOneOfTwoEnds) {
  asio::io_context ioc;
  HostSlots slots(2);
  Slot a1, a2, a3, b1;
  start(ioc, slots, "a.example", a1);
  start(ioc, slots, "a.example", a2);
  start(ioc, slots, "a.example", a3);
  start(ioc, slots, "b.example", b1);
  settle(ioc);
  ASSERT_TRUE(a1 && *a1);
  ASSERT_TRUE(a2 && *a2);
  EXPECT_FALSE(a3);
  ASSERT_TRUE(b1 && *b1);  // another host has slots of its own
  EXPECT_EQ(slots.active("a.example"), 2);
  EXPECT_EQ(slots.active("b.example"), 1);

  a1.reset();  // the lease ends: its slot passes to the waiter
  settle(ioc);
  ASSERT_TRUE(a3 && *a3);
  EXPECT_EQ(slots.active("a.example"), 2);
  a2.reset();
  a3.reset();
  b1.reset();
  EXPECT_EQ(slots.active("a.example"), 0);
  EXPECT_EQ(slots.active("b.example"), 0);
}

TEST(HostSlots, WaitersAreServedInArrivalOrder) {
  asio::io_context ioc;
  HostSlots slots(1);
  Slot first, second, third;
  start(ioc, slots, "h", first);
  settle(ioc);
  start(ioc, slots, "h", second);
  settle(ioc);
  start(ioc, slots, "h", third);
  settle(ioc);
  ASSERT_TRUE(first);
  EXPECT_FALSE(second);
  EXPECT_FALSE(third);
  first.reset();
  settle(ioc);
  EXPECT_TRUE(second);
  EXPECT_FALSE(third);
  second.reset();
  settle(ioc);
  EXPECT_TRUE(third);
}

TEST(HostSlots, AWaitPastItsDeadlineIsDeadlineExceededAndGivesUpItsPlace) {
  asio::io_context ioc;
  HostSlots slots(1);
  Slot holder, late, next;
  start(ioc, slots, "h", holder);
  start(ioc, slots, "h", late, Clock::now());  // already due: the timer fires at once
  start(ioc, slots, "h", next);
  for (int i = 0; i < 1000 && !late; ++i) ioc.run_one_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(late);
  ASSERT_FALSE(*late);
  EXPECT_EQ(late->error().kind, ErrorKind::kDeadlineExceeded);
  holder.reset();  // the slot skips the one that gave up
  settle(ioc);
  ASSERT_TRUE(next && *next);
  EXPECT_EQ(slots.active("h"), 1);
}

TEST(HostSlots, AWaiterWhoseCoroutineIsDestroyedLeavesTheQueue) {
  asio::io_context ioc;
  HostSlots slots(1);
  Slot holder;
  start(ioc, slots, "h", holder);
  settle(ioc);
  {
    asio::io_context other;
    Slot gone;
    start(other, slots, "h", gone);
    settle(other);
    EXPECT_FALSE(gone);
  }  // `other` destroys the suspended coroutine, whose lease takes the ticket out of the queue
  holder.reset();
  EXPECT_EQ(slots.active("h"), 0);
}

TEST(HostSlots, NoLimitNeverWaits) {
  asio::io_context ioc;
  HostSlots slots(0);
  Slot s[5];
  for (auto& slot : s) start(ioc, slots, "h", slot);
  settle(ioc);
  for (auto& slot : s) EXPECT_TRUE(slot && *slot);
  EXPECT_EQ(slots.active("h"), 0);
}

}  // namespace
}  // namespace mando::net
