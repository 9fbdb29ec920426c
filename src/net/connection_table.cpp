#include "net/connection_table.hpp"

namespace mando::net {

bool ConnectionTable::full() const {
  std::lock_guard lock(mutex_);
  return open_ >= max_;
}

std::size_t ConnectionTable::open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

std::size_t ConnectionTable::idle() const {
  std::lock_guard lock(mutex_);
  return idle_;
}

void ConnectionTable::add(Entry&) {
  std::lock_guard lock(mutex_);
  ++open_;
}

void ConnectionTable::remove(Entry& e) {
  std::lock_guard lock(mutex_);
  unlink(e);
  --open_;
}

std::uint64_t ConnectionTable::set_idle(Entry& e) {
  std::lock_guard lock(mutex_);
  unlink(e);
  e.prev = tail_;
  e.next = nullptr;
  (tail_ != nullptr ? tail_->next : head_) = &e;
  tail_ = &e;
  e.linked = true;
  ++idle_;
  e.idle_epoch = ++epochs_;
  return e.idle_epoch;
}

void ConnectionTable::set_busy(Entry& e) {
  std::lock_guard lock(mutex_);
  unlink(e);
}

ConnectionTable::Oldest ConnectionTable::pop_oldest_idle() {
  std::lock_guard lock(mutex_);
  if (head_ == nullptr) return {};
  Entry* e = head_;
  unlink(*e);
  return {e, e->idle_epoch};
}

void ConnectionTable::unlink(Entry& e) {
  if (!e.linked) return;
  (e.prev != nullptr ? e.prev->next : head_) = e.next;
  (e.next != nullptr ? e.next->prev : tail_) = e.prev;
  e.prev = e.next = nullptr;
  e.linked = false;
  --idle_;
}

}  // namespace mando::net
