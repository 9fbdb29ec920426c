#include "support/recording_worker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

namespace mando::testing {

namespace asio = boost::asio;

namespace {

asio::awaitable<net::Response> serve(RecordingWorker* worker, net::Request request) {
  co_return worker->handle(request);
}

}  // namespace

RecordingWorker::RecordingWorker() : work_(ioc_.get_executor()) {
  answer_ = [](const net::Request&, int) { return net::Response::text(200, "ok"); };
  net::Router router;
  for (const char* method : {"POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    router.add(method, "/*",
               [this](net::Request request) { return serve(this, std::move(request)); });
  }
  server_ =
      std::make_unique<net::HttpServer>(ioc_, std::move(router), net::ServerOptions{}, metrics_);
  url_ = server_->listen("127.0.0.1:0").value().url();
  server_->start();
  thread_ = std::thread([this] { ioc_.run(); });
}

RecordingWorker::~RecordingWorker() {
  asio::co_spawn(ioc_, server_->shutdown(std::chrono::milliseconds(100)), asio::use_future).get();
  work_.reset();
  ioc_.stop();
  thread_.join();
}

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
