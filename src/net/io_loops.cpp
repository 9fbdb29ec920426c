#include "net/io_loops.hpp"

#include <algorithm>

namespace mando::net {

IoLoops::IoLoops(std::size_t count) {
  count = std::max<std::size_t>(count, 1);
  loops_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto loop = std::make_unique<Loop>();
    loop->work.emplace(loop->context.get_executor());
    loop->thread = std::thread([context = &loop->context] { context->run(); });
    loops_.push_back(std::move(loop));
  }
}

IoLoops::~IoLoops() { stop(); }

boost::asio::io_context::executor_type IoLoops::next() {
  const auto i = next_.fetch_add(1, std::memory_order_relaxed) % loops_.size();
  return loops_[i]->context.get_executor();
}

void IoLoops::stop() {
  for (auto& loop : loops_) {
    loop->work.reset();
    loop->context.stop();
  }
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
  // Only once every thread is gone: a pending handler of one loop may own a socket of another.
  for (auto& loop : loops_) loop->context.shutdown();
}

}  // namespace mando::net
