#include "support/recording_worker.hpp"

namespace mando::testing {

namespace asio = boost::asio;

namespace {

asio::awaitable<net::Response> serve(RecordingWorker* worker, net::Request request) {
  co_return worker->handle(request);
}

}  // namespace

RecordingWorker::RecordingWorker() {
  answer_ = [](const net::Request&, int) { return net::Response::text(200, "ok"); };
  net::Router router;
  for (const char* method : {"POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    router.add(method, "/*",
               [this](net::Request request) { return serve(this, std::move(request)); });
  }
  server_ = std::make_unique<LoopbackServer>(std::move(router));
}

RecordingWorker::~RecordingWorker() = default;

void RecordingWorker::set_answer(Answer answer) {
  std::lock_guard lock(mutex_);
  answer_ = std::move(answer);
}

net::Response RecordingWorker::handle(const net::Request& request) {
  std::lock_guard lock(mutex_);
  const int index = static_cast<int>(deliveries_.size());
  deliveries_.push_back({request, std::chrono::system_clock::now()});
  arrived_.notify_all();
  return answer_(request, index);
}

bool RecordingWorker::wait_for(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return arrived_.wait_for(lock, timeout, [&] { return deliveries_.size() >= count; });
}

std::vector<Delivery> RecordingWorker::deliveries() const {
  std::lock_guard lock(mutex_);
  return deliveries_;
}

std::size_t RecordingWorker::count() const {
  std::lock_guard lock(mutex_);
  return deliveries_.size();
}

}  // namespace mando::testing
