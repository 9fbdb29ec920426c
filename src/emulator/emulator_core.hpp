#pragma once
// The emulator's shared state and the flows that span its parts (internal to src/emulator):
// the message model, the rate limits and faults, the REST counters, the signer, and the
// sending of interactions (1. to 3. in discord_emulator.hpp). The REST routes (rest_api.hpp)
// and the control API (control_api.hpp) are functions over it; DiscordEmulator is its facade.
//
// Thread-safety: `mutex` guards every mutable member below it; it is never held across a
// co_await. Waits (long polls, the @original race) use a timer and a concurrent channel per
// waiter, so no thread blocks; changed() wakes them all, stop() ends them for good. The
// HttpClient must outlive the core; the core lives as long as its last shared_ptr (the
// routers' handlers hold one).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/json/object.hpp>

#include "emulator/emulator_types.hpp"
#include "emulator/interaction_sender.hpp"
#include "emulator/message_model.hpp"
#include "emulator/rate_limits.hpp"
#include "net/http_client.hpp"
#include "net/http_message.hpp"

namespace mando::emulator {

// What the REST routes count, for stats().
struct RestCounters {
  std::int64_t requests = 0;
  std::int64_t bad_user_agent = 0;
  std::map<std::string, std::int64_t> by_route;
  std::map<int, std::int64_t> by_status;
};

class EmulatorCore : public std::enable_shared_from_this<EmulatorCore> {
 public:
  using Steady = std::chrono::steady_clock;

  EmulatorCore(boost::asio::any_io_executor executor, net::HttpClient& client,
               EmulatorOptions options);

  const EmulatorOptions& options() const { return options_; }
  const InteractionSigner& signer() const { return signer_; }

  // Wakes every waiter: call after a change, without the mutex.
  void changed();
  // Waits until `ready` (called under the mutex) holds, `deadline` passes or stop() was
  // called; answers ready(). Registration and the check share the mutex, and the channel keeps
  // one signal, so a change between the check and the wait is never lost.
  boost::asio::awaitable<bool> wait_until(std::function<bool()> ready, Steady::time_point deadline);
  // Ends every wait now and every later one at once (shutdown: long polls answer).
  void stop();

  // Without an explicit public URL, attachment URLs follow the Host of the latest request.
  void learn_host(const net::Request& request);

  // The in-process API of DiscordEmulator (see there for the errors).
  boost::asio::awaitable<Result<SentInteraction>> send_command(CommandInvocation invocation);
  boost::asio::awaitable<Result<SentInteraction>> click(std::string message_id,
                                                        std::string custom_id, std::string user_id);
  Result<CommandInvocation> parse_command_text(std::string_view text) const;
  boost::json::object upload(FormPart file);
  boost::asio::awaitable<std::optional<boost::json::object>> wait_message(
      std::string id, std::int64_t after_version, std::chrono::milliseconds timeout);
  boost::asio::awaitable<bool> wait_completed(std::size_t count, std::chrono::milliseconds timeout);
  // The changes after `cursor` (at most `limit`), as soon as there is one, or none at `timeout`.
  boost::asio::awaitable<Changes> wait_changes(std::uint64_t cursor, std::size_t limit,
                                               std::chrono::milliseconds timeout);

  boost::json::object stats_locked() const;

  mutable std::mutex mutex;
  MessageModel model;
  RateLimits limits;
  RestCounters rest;
  std::string bot_url;
  std::int64_t attachment_size_limit;

 private:
  using Channel = boost::asio::experimental::concurrent_channel<void(boost::system::error_code)>;

  // 1.: the interaction's data of a command (its uploads or target message resolved), under
  // the mutex.
  Result<boost::json::object> command_data(const CommandInvocation& invocation);
  // 2. and 3.: signs and POSTs `body`, then applies the bot's answer.
  boost::asio::awaitable<Result<SentInteraction>> deliver(std::string interaction_id,
                                                          std::string token, std::string body);
  void finish_failed(const std::string& interaction_id, std::string reason);

  const boost::asio::any_io_executor executor_;
  net::HttpClient& client_;
  const EmulatorOptions options_;
  const InteractionSigner signer_;
  // Guarded by `mutex` too.
  std::vector<std::shared_ptr<Channel>> waiters_;
  bool stopped_ = false;
};

}  // namespace mando::emulator
