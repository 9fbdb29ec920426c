#pragma once
// The fake GPU provider (src/provider_emulator) on an io_context and thread of its own, for
// tests whose own io_context runs other things (or nothing) meanwhile.

#include <chrono>
#include <memory>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include "provider_emulator/fake_provider.hpp"

namespace mando::testing {

class FakeProviderThread {
 public:
  explicit FakeProviderThread(provider_emulator::FakeProviderOptions options = {})
      : work_(ioc_.get_executor()) {
    fake_ = provider_emulator::FakeProvider::start(ioc_, "127.0.0.1:0", std::move(options)).value();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  // Stops the fake (every wait ends), then lets its loop run dry: the fake's client is gone
  // before the io_context, as net::HttpClient asks.
  ~FakeProviderThread() {
    boost::asio::co_spawn(ioc_, fake_->shutdown(std::chrono::milliseconds(200)),
                          boost::asio::use_future)
        .get();
    boost::asio::post(ioc_, [this] { fake_.reset(); });
    work_.reset();
    thread_.join();
  }
  FakeProviderThread(const FakeProviderThread&) = delete;
  FakeProviderThread& operator=(const FakeProviderThread&) = delete;

  provider_emulator::FakeProvider& operator*() { return *fake_; }
  provider_emulator::FakeProvider* operator->() { return fake_.get(); }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<provider_emulator::FakeProvider> fake_;
  std::thread thread_;
};

}  // namespace mando::testing
