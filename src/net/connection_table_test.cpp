#include "net/connection_table.hpp"

#include <gtest/gtest.h>

namespace mando::net {
namespace {

TEST(ConnectionTableTest, CountsOpenConnectionsAgainstTheLimit) {
  ConnectionTable table(2);
  ConnectionTable::Entry a, b;
  EXPECT_FALSE(table.full());
  table.add(a);
  table.add(b);
  EXPECT_TRUE(table.full());
  EXPECT_EQ(table.open(), 2u);
  table.remove(a);
  EXPECT_FALSE(table.full());
}

TEST(ConnectionTableTest, OldestIdleComesFirstAndWakingUpMovesToTheBack) {
  ConnectionTable table(10);
  ConnectionTable::Entry a, b, c;
  for (auto* e : {&a, &b, &c}) {
    table.add(*e);
    table.set_idle(*e);
  }
  table.set_busy(a);  // a request arrives on a, which then goes idle again: now the newest
  table.set_idle(a);
  EXPECT_EQ(table.idle(), 3u);
  EXPECT_EQ(table.pop_oldest_idle().entry, &b);
  EXPECT_EQ(table.pop_oldest_idle().entry, &c);
  EXPECT_EQ(table.pop_oldest_idle().entry, &a);
  EXPECT_EQ(table.pop_oldest_idle().entry, nullptr);
  EXPECT_EQ(table.idle(), 0u);
  EXPECT_EQ(table.open(), 3u);  // popping is not closing
}

TEST(ConnectionTableTest, BusyAndClosedConnectionsAreNotEvictionCandidates) {
  ConnectionTable table(10);
  ConnectionTable::Entry a, b, c;
  for (auto* e : {&a, &b, &c}) {
    table.add(*e);
    table.set_idle(*e);
  }
  table.set_busy(b);
  table.remove(a);
  EXPECT_EQ(table.pop_oldest_idle().entry, &c);
  EXPECT_EQ(table.pop_oldest_idle().entry, nullptr);
  table.set_busy(c);  // already unlinked by the pop: harmless
  table.remove(c);
  table.remove(b);
  EXPECT_EQ(table.open(), 0u);
}

TEST(ConnectionTableTest, EachIdlePeriodHasItsOwnEpoch) {
  ConnectionTable table(10);
  ConnectionTable::Entry a;
  table.add(a);
  const auto first = table.set_idle(a);
  table.set_busy(a);
  const auto second = table.set_idle(a);
  EXPECT_NE(first, second);
  auto oldest = table.pop_oldest_idle();
  EXPECT_EQ(oldest.entry, &a);
  EXPECT_EQ(oldest.epoch, second);  // an eviction decided in the first period would not match
}

}  // namespace
}  // namespace mando::net
