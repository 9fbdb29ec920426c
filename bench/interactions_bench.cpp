// Where the time of one signed interaction goes: signature verification, JSON parsing,
// dispatch, and the whole endpoint handler, each measured in-process (no sockets).
//   cmake --preset bench && cmake --build --preset bench --target interactions_bench
//   build/bench/bench/interactions_bench

#include <fstream>
#include <iterator>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "bot/bot.hpp"
#include "discord/interactions_endpoint.hpp"
#include "discord/signature.hpp"

namespace {

namespace asio = boost::asio;
using namespace mando;

std::string fixture(const char* name) {
  std::ifstream in(std::string(MANDO_TEST_DATA_DIR) + "/discord/" + name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Signed {
  explicit Signed(const char* name = "command_no_options.json") : body(fixture(name)) {}
  discord::KeyPair keys = discord::generate_key_pair();
  std::string body;
  std::string timestamp = "1700000000";
  std::string signature = discord::sign_hex(keys.secret_key_hex, timestamp + body).value();

  net::Request request() const {
    net::Request r;
    r.method = "POST";
    r.target = "/interactions";
    r.headers.set("X-Signature-Ed25519", signature);
    r.headers.set("X-Signature-Timestamp", timestamp);
    r.headers.set("Content-Type", "application/json");
    r.body = body;
    return r;
  }
};

// libsodium's crypto_sign_verify_detached alone: what bench/interactions.sh's CPU per request
// is compared with ("CPU outside the verify", docs/BENCHMARKS.md).
void BM_VerifySignature(benchmark::State& state) {
  Signed s;
  auto verifier = discord::SignatureVerifier::from_hex(s.keys.public_key_hex).value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(verifier.verify(s.signature, s.timestamp, s.body));
  }
}
BENCHMARK(BM_VerifySignature);

void BM_VerifySignaturePing(benchmark::State& state) {
  Signed s("ping.json");
  auto verifier = discord::SignatureVerifier::from_hex(s.keys.public_key_hex).value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(verifier.verify(s.signature, s.timestamp, s.body));
  }
}
BENCHMARK(BM_VerifySignaturePing);

void BM_ParseInteraction(benchmark::State& state) {
  std::string body = fixture("command_mando_guild.json");
  for (auto _ : state) benchmark::DoNotOptimize(discord::parse_interaction(body));
}
BENCHMARK(BM_ParseInteraction);

asio::awaitable<void> handle_once(const discord::InteractionsEndpoint& endpoint,
                                  net::Request request, int* status) {
  auto response = co_await endpoint.handle(std::move(request));
  *status = response.status;
}

// The whole endpoint handler for `fixture`, without sockets or the HTTP server.
void handle_signed(benchmark::State& state, const char* name) {
  Signed s(name);
  auto registry = bot::build_commands(core::Config{}).value();
  discord::InteractionsEndpoint endpoint(
      discord::SignatureVerifier::from_hex(s.keys.public_key_hex).value(), registry);
  asio::io_context ioc;
  int status = 0;
  for (auto _ : state) {
    asio::co_spawn(ioc, handle_once(endpoint, s.request(), &status), asio::detached);
    ioc.restart();
    ioc.run();
  }
  if (status != 200) state.SkipWithError("handler did not answer 200");
}
void BM_HandleSignedCommand(benchmark::State& state) {
  handle_signed(state, "command_no_options.json");
}
BENCHMARK(BM_HandleSignedCommand);
void BM_HandleSignedPing(benchmark::State& state) { handle_signed(state, "ping.json"); }
BENCHMARK(BM_HandleSignedPing);

}  // namespace

BENCHMARK_MAIN();
