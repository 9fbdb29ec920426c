#pragma once
// The open connections of one HttpServer, counted against [server] max_connections, and the
// order in which the idle ones went idle, so that the server closes the oldest idle keep-alive
// connection first when it needs room for a new client.
//
// The life of one connection in the table:
//   1. add() when accepted (the server checked full() before accepting);
//   2. set_idle() each time it waits for the first byte of a request: it goes to the tail of the
//      idle list and gets a new idle epoch;
//   3. set_busy() when bytes arrive: it leaves the idle list;
//   4. pop_oldest_idle() takes the head of the idle list for eviction; the server closes that
//      connection only if it is still idle in that same epoch (it may have woken up meanwhile);
//   5. remove() when it closes.
// Pure bookkeeping: no sockets, no clock, so it is tested without a network.
//
// Thread-safety: every method may be called from any thread (one mutex). Entries are owned by
// the caller and must stay alive until remove(). No method fails or allocates.

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace mando::net {

class ConnectionTable {
 public:
  // Embedded in each connection (the server's Connection derives from it). Only the table
  // touches the links; `idle_epoch` is written under the table's lock.
  struct Entry {
    Entry* prev = nullptr;
    Entry* next = nullptr;
    bool linked = false;
    std::uint64_t idle_epoch = 0;
  };

  explicit ConnectionTable(std::size_t max_connections) : max_(max_connections) {}

  // Whether open() has reached max_connections: no new connection may be accepted.
  bool full() const;
  std::size_t open() const;
  std::size_t idle() const;

  void add(Entry& e);
  void remove(Entry& e);
  // Returns the entry's new idle epoch.
  std::uint64_t set_idle(Entry& e);
  void set_busy(Entry& e);

  struct Oldest {
    Entry* entry = nullptr;  // null when no connection is idle
    std::uint64_t epoch = 0;
  };
  Oldest pop_oldest_idle();

 private:
  void unlink(Entry& e);  // with mutex_ held

  const std::size_t max_;
  mutable std::mutex mutex_;
  std::size_t open_ = 0;
  std::size_t idle_ = 0;
  std::uint64_t epochs_ = 0;
  Entry* head_ = nullptr;  // oldest idle
  Entry* tail_ = nullptr;  // newest idle
};

}  // namespace mando::net
