#pragma once
// The interactions endpoint: what Discord POSTs to the bot's Interactions Endpoint URL.
//
//   1. Verify X-Signature-Ed25519 over X-Signature-Timestamp + the raw body, before anything
//      reads the body. Missing, malformed or wrong: 401 (Discord sends such probes on purpose
//      and disables endpoints that accept them).
//   2. Optionally refuse timestamps outside a window around now (replay protection): 401.
//   3. Parse the interaction: malformed JSON or a wrong shape is 400 with the parser's message.
//   4. PING (1) answers {"type":1}; everything else goes to CommandRegistry::dispatch() and
//      its InteractionResponse is the 200 JSON body.
// Every answer is JSON (Content-Type: application/json); errors have the shape
// {"error":{"code":N,"message":"..."}}. The token and the signature are never logged.
//
// handle() is a plain function from Request to Response; the app adapts it to a net::Handler
// with a small lambda. Thread-safety: handle() is const and may run concurrently; the endpoint
// and the registry must outlive every handle() started.

#include <chrono>
#include <functional>
#include <optional>

#include <boost/asio/awaitable.hpp>

#include "discord/command_registry.hpp"
#include "discord/signature.hpp"
#include "net/http_message.hpp"

namespace mando::discord {

struct InteractionsEndpointOptions {
  // When set, |now - X-Signature-Timestamp| must not exceed it. Off by default: Discord's
  // documentation does not ask for it, and a skewed clock would refuse every interaction.
  std::optional<std::chrono::seconds> timestamp_window;
  // The clock for the timestamp window (tests pass a fixed one); system_clock::now when empty.
  std::function<std::chrono::system_clock::time_point()> clock;
};

class InteractionsEndpoint {
 public:
  InteractionsEndpoint(SignatureVerifier verifier, const CommandRegistry& registry,
                       InteractionsEndpointOptions options = {});

  boost::asio::awaitable<net::Response> handle(net::Request request) const;

 private:
  bool timestamp_in_window(std::string_view timestamp) const;

  SignatureVerifier verifier_;
  const CommandRegistry& registry_;
  InteractionsEndpointOptions options_;
};

}  // namespace mando::discord
