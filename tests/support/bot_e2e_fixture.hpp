#pragma once
// Test fixture of the end-to-end tests of the bot: the Discord emulator (src/emulator) in this
// process on its own I/O thread, and the real `mando serve` as child processes on loopback with
// a fresh data directory, pointed at it. The emulator signs interactions as Discord does and
// answers the REST calls with Discord's shapes; every wait is bounded (the emulator's long
// polls wake on the event itself).

#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/object.hpp>
#include <gtest/gtest.h>

#include "emulator/emulator_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace mando::testing {

// The emulator's signing key, fixed so that a test can sign a replayed interaction itself.
inline constexpr std::string_view kEmulatorKeySeed =
    "8f1a3c5e7092b4d6f8e0a2c4e6089b1d3f5a7c9e0b2d4f6a8c0e1f3a5b7d9c2e";
inline constexpr std::string_view kE2eSigningKey = "discord-e2e-test-queue-signing-key-0123456789";
inline constexpr std::string_view kE2eApiToken = "discord-e2e-test-queue-api-token";

class BotE2eFixture : public ::testing::Test {
 protected:
  static constexpr auto kStartLimit = std::chrono::seconds(60);
  static constexpr auto kReplyLimit = std::chrono::seconds(60);

  // `config`: the text of mando.toml in the test's directory.
  explicit BotE2eFixture(std::string_view config);
  ~BotE2eFixture() override;

  emulator::DiscordEmulator& emulator() { return server_->emulator(); }
  // Replaces mando.toml (read by the next start).
  void write_config(std::string_view config);

  // Starts (or restarts, on the same data directory) mando with `args`; answers its two base
  // URLs (empty when it did not start).
  ServeUrls start_mando(std::vector<std::string> args = {"serve"},
                        std::map<std::string, std::string> extra_env = {});
  // Starts mando and points the emulator at its interactions endpoint.
  void start_bot(std::map<std::string, std::string> extra_env = {});

  // Runs `awaitable` on the emulator's I/O thread and waits for it (at most `limit`).
  template <typename T>
  T call(boost::asio::awaitable<T> awaitable,
         std::chrono::seconds limit = std::chrono::seconds(90)) {
    auto future = boost::asio::co_spawn(ioc_, std::move(awaitable), boost::asio::use_future);
    if (future.wait_for(limit) != std::future_status::ready) {
      ADD_FAILURE() << "no answer within " << limit.count() << " s";
      std::abort();  // the coroutine still refers to this test's state
    }
    return future.get();
  }

  // Types `text` ("/mando size:64") as a user and expects a deferred answer.
  emulator::SentInteraction command(std::string text);
  // The message once its version passes `after` (1: the deferred "thinking" state).
  boost::json::object next_version(const std::string& message_id, std::int64_t after = 1);
  // `message` once it has an attachment: progress lines may come first (at most 10).
  boost::json::object with_attachment(boost::json::object message);
  // The message once it holds its attachment.
  boost::json::object finished(const std::string& message_id);
  // The body of the message's first attachment ("" when it has none).
  std::string attachment(const boost::json::object& message);
  // GET `url`: the body of a 200, "" otherwise.
  std::string http_get(std::string url);
  std::string metrics();
  // Waits, under a deadline, until mando's /metrics contains `series`.
  bool wait_for_metric(const std::string& series);
  // Runs the mando CLI against the internal listener; expects it to succeed.
  int cli(std::vector<std::string> args);

  TempDir dir_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::unique_ptr<emulator::EmulatorServer> server_;
  std::thread thread_;
  std::vector<std::unique_ptr<Process>> processes_;
  ServeUrls urls_;
};

}  // namespace mando::testing
