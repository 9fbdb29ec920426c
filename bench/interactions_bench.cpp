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
  discord::KeyPair keys = discord::generate_key_pair();
  std::string body = fixture("command_no_options.json");
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

void BM_VerifySignature(benchmark::State& state) {
  Signed s;
  auto verifier = discord::SignatureVerifier::from_hex(s.keys.public_key_hex).value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(verifier.verify(s.signature, s.timestamp, s.body));
  }
}
BENCHMARK(BM_VerifySignature);

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

void BM_HandleSignedCommand(benchmark::State& state) {
  Signed s;
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
BENCHMARK(BM_HandleSignedCommand);

}  // namespace

BENCHMARK_MAIN();
