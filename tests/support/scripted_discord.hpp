#pragma once
// A fake Discord on loopback for tests of what edits interaction responses (the bot's workers):
// it records every webhook request (and channel message post) and answers them from a script,
// in order, then 200 with a message object. `always()` answers every request alike, for an outage.
//
// Thread-safety: every method may be called from any thread (the server has its own).

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "net/http_message.hpp"
#include "support/loopback_server.hpp"

namespace mando::testing {

class ScriptedDiscord {
 public:
  struct Answer {
    int status = 200;
    std::string body = R"({"id":"1"})";
  };

  ScriptedDiscord();

  // The API base for discord::RestClientOptions::api_base_url.
  std::string api_base_url() const { return server_.url() + "/api/v10"; }

  void script(std::vector<Answer> answers);
  void always(std::optional<Answer> answer);  // nullopt: back to the script
  std::vector<net::Request> requests() const;

 private:
  static net::Router routes(ScriptedDiscord* self);
  static boost::asio::awaitable<net::Response> serve(ScriptedDiscord* self, net::Request request);

  mutable std::mutex mutex_;
  std::vector<Answer> script_;
  std::optional<Answer> always_;
  std::vector<net::Request> requests_;
  LoopbackServer server_;  // last: it calls next() until it is gone
};

}  // namespace mando::testing
