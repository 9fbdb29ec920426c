#pragma once
// A stand-in for a GPU provider on loopback, for `mando dev`, the end-to-end tests and
// bench/imagine. It speaks the three API shapes mando knows, the way the real ones do, and
// "generates" by drawing a mandala seeded by a hash of the prompt:
//
//   Replicate-style (imagine/replicate.hpp), endpoint {url}/v1:
//   POST /v1/predictions, POST /v1/models/{owner}/{name}/predictions   201, a prediction
//   GET  /v1/predictions/{id}                                          200, the prediction
//   POST /v1/predictions/{id}/cancel                                   200, the prediction
//   fal-style queue (imagine/fal.hpp), endpoint {url}/fal, "Authorization: Key <token>":
//   POST /fal/{model}?fal_webhook=URL, GET /fal/{app}/requests/{id}[/status], PUT .../cancel,
//   GET /fal/.well-known/jwks.json (the key its completion webhooks are signed with)
//   OpenAI-compatible (imagine/openai_provider.hpp), endpoint {url}/openai/v1:
//   POST /openai/v1/images/generations                 after `generation`, b64_json or url
//
//   GET  /files/{id}/{n}.{png|mp4}                                     the outputs
//   POST /_fake/faults  {"duplicate_webhooks": true, ...}              sets Faults (below)
//   GET  /_fake/stats                                                  counts, for tests
//
// Every call needs "Authorization: Bearer <api_token>" (401 otherwise). A prediction starts,
// runs `generation` with tqdm lines in its logs, then succeeds with `num_outputs` PNGs, or, when
// the version names a video model ("...video..."), one stand-in MP4 (an ftyp and an mdat box
// around an animated WebP: typed as a video, not playable). Webhooks go to the
// prediction's `webhook` for the events in `webhook_events_filter`, signed per Standard
// Webhooks with `webhook_secret`, retried three times when they are not answered 2xx.
// A prompt containing "[fail]" fails ("the fake provider was asked to fail"); one containing
// "[nsfw]" fails with Replicate's safety message; one containing "[slow]" takes a minute,
// "[late]" 15 seconds.
// Cancel-After is honoured.
//
// The server, its client and its timers run on the caller's io_context; shut it down (or
// destroy it) before the io_context.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/error.hpp"
#include "net/http_server.hpp"

namespace mando::provider_emulator {

// Faults to inject, all off by default.
struct Faults {
  bool duplicate_webhooks = false;  // every webhook is sent twice
  bool shuffle_webhooks = false;    // a job's webhooks are held and sent in random order at its end
  bool drop_webhooks = false;       // no webhook is sent: only polling finds the result
  int submit_500 = 0;               // the next N submits answer 500
  int submit_429 = 0;               // the next N submits answer 429 with Retry-After: 1
  std::chrono::milliseconds output_ttl{0};  // outputs answer 404 this long after the job; 0: never
  bool ignore_cancel = false;               // cancels are answered as taken, and the job runs on
};

struct FakeProviderOptions {
  std::string api_token = "r8_fake_token";                                // every shape's token
  std::string webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";  // Standard Webhooks
  // The Ed25519 seed fal-style webhooks are signed with (64 hex digits); its public key is
  // served at /fal/.well-known/jwks.json.
  std::string fal_key_seed_hex = "4c0d3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6";
  std::chrono::milliseconds generation{std::chrono::seconds(2)};
  int progress_steps = 4;  // logs events while generating
  int image_size = 256;    // side of each output, in pixels
  Faults faults;
};

struct FakeStats {
  std::int64_t submitted = 0;  // predictions created
  std::int64_t refused = 0;    // submits answered 4xx/5xx (faults, bad token, bad body)
  std::int64_t polls = 0;
  std::int64_t canceled = 0;
  std::int64_t webhooks_sent = 0;    // deliveries answered 2xx
  std::int64_t webhooks_failed = 0;  // deliveries given up after the retries
  std::int64_t running = 0;          // predictions not yet terminal
};

// One prediction as the fake saw it, for bench/imagine and the tests: what it was asked and
// its moments (Unix ms, 0: not yet): when its completion was handed to the webhook sender, and
// when its outputs were first and last asked for.
struct FakeTimeline {
  std::string prompt;
  std::string version;
  std::string image;  // the input's "image" (Replicate-style) or "image_url" (fal), if any
  std::int64_t completed_ms = 0;
  std::int64_t first_file_ms = 0;
  std::int64_t last_file_ms = 0;
};

class FakeProvider {
 public:
  // Listens on `host_port` ("127.0.0.1:0": a free port) and starts serving.
  static Result<std::unique_ptr<FakeProvider>> start(boost::asio::io_context& ioc,
                                                     std::string_view host_port,
                                                     FakeProviderOptions options = {});
  ~FakeProvider();

  const std::string& url() const;                         // "http://127.0.0.1:PORT"
  std::string endpoint() const { return url() + "/v1"; }  // what [imagine.models.X] endpoint takes
  void set_faults(Faults faults);
  // How long the predictions submitted from now on take (FakeProviderOptions::generation).
  void set_generation(std::chrono::milliseconds generation);
  FakeStats stats() const;
  std::vector<FakeTimeline> timelines() const;

  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds deadline);

  class Impl;

 private:
  explicit FakeProvider(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<net::HttpServer> server_;
};

}  // namespace mando::provider_emulator
