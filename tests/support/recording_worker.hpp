#pragma once
// A loopback HTTP worker for queue tests: serves every path on 127.0.0.1:0 from its own
// thread, records each request with the time it arrived, and answers what the test tells it
// to. Waiting for deliveries is bounded, so a dispatcher that never delivers fails the test
// instead of hanging it.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/http_message.hpp"
#include "support/loopback_server.hpp"

namespace mando::testing {

struct Delivery {
  net::Request request;
  std::chrono::system_clock::time_point received;
};

class RecordingWorker {
 public:
  // `answer` gets each request and its 0-based arrival index; the default answers 200.
  using Answer = std::function<net::Response(const net::Request&, int index)>;

  RecordingWorker();
  ~RecordingWorker();

  void set_answer(Answer answer);
  std::string url() const { return server_->url(); }  // "http://127.0.0.1:PORT"

  // Waits until at least `count` requests arrived; false after `timeout`.
  bool wait_for(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::vector<Delivery> deliveries() const;
  std::size_t count() const;

  // Records `request` and answers it (what the server's handler calls).
  net::Response handle(const net::Request& request);

 private:
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<Delivery> deliveries_;
  Answer answer_;
  std::unique_ptr<LoopbackServer> server_;  // last: it stops before the state it uses goes
};

}  // namespace mando::testing
