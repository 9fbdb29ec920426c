#pragma once
// The emulator on a port of its own: what `mando dev`, the end-to-end tests and the load
// benchmark run. It owns the emulator's outbound client (to the bot), its HTTP server and
// that server's metrics, all on the caller's io_context; destroy it before the io_context.
// Its long polls (the page's update stream among them) end when it is shut down or destroyed.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/array.hpp>

#include "core/metrics.hpp"
#include "emulator/discord_emulator.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"

namespace mando::emulator {

// Attachments of up to 25 MiB, Discord's own upload limit for bots.
inline constexpr std::size_t kMaxUploadBytes = 25 * 1024 * 1024;

class EmulatorServer {
 public:
  // Listens on `host_port` ("127.0.0.1:0": a free port) and starts serving.
  static Result<std::unique_ptr<EmulatorServer>> start(boost::asio::io_context& ioc,
                                                       std::string_view host_port,
                                                       EmulatorOptions options = {});

  ~EmulatorServer();

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
  // The REST base a bot configures as [discord] api_base_url.
  std::string api_base_url() const;
  DiscordEmulator& emulator() { return emulator_; }

  // Points the emulator at the bot's interactions URL and registers `commands` the way
  // `mando commands sync` does (PUT /applications/{id}/commands through the REST API).
  boost::asio::awaitable<Result<void>> connect_bot(std::string interactions_url,
                                                   boost::json::array commands);

  // Ends the emulator's waits (long polls answer at once), then shuts the server down
  // gracefully (net::HttpServer::shutdown).
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds deadline);

 private:
  EmulatorServer(boost::asio::io_context& ioc, EmulatorOptions options);

  // Owned by the io_context (see emulator_server.cpp): it must outlive the io_context, as
  // HttpServer asks, and this object dies first.
  core::MetricsRegistry& metrics_;
  net::HttpClient client_;
  DiscordEmulator emulator_;
  std::unique_ptr<net::HttpServer> server_;
  std::string url_;
  std::string api_prefix_;
};

}  // namespace mando::emulator
