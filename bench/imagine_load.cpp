// The /imagine benchmark (issue 13): jobs through the fake GPU provider into the real
// `mando serve`, measuring what happens after the provider is done.
//
// Method:
//   - This process hosts the Discord emulator and the fake provider (src/provider_emulator,
//     Replicate-style, every prediction --generation-ms long, --image-size px PNGs) on one
//     io_context with two threads, and starts `mando serve` (--mando, or BENCH_MANDO_BIN) as a
//     child with a fresh data dir and a config whose one model points at the fake. mando's
//     public listener is on a port picked free here, so the fake's webhooks reach it directly
//     ([imagine] public_url); poll_after is 60 s, so every delivery below came by webhook.
//   - Warm-up: 10 jobs, waited for and left out of the figures. mando's RSS then is the
//     baseline.
//   - Send phase, open loop: job i is due at start + i / --rate, each from its own user
//     (no fairness limit refuses anything), prompt "bench job i". At 100/s and 2 s of
//     generation, about 200 are in flight at the provider.
//   - Every 250 ms: the fake's running predictions and mando's VmRSS. RSS per in-flight job =
//     (RSS at the sample with the most running - baseline) / that many.
//   - Per job, "webhook → edit" = the emulator's time of the message's last edit (the finished
//     message: progress lines come before) minus the fake's time of handing the completion to
//     its webhook sender. The output download inside it (the fake's first to last serve of
//     that job's files, loopback) is reported apart and subtracted for "excluding download".
//   - --hold N (0: skipped): afterwards, N more jobs of 10 minutes each at --hold-rate; once the
//     fake has them all running, mando's RSS per job in flight, then the run ends.
//   - Lost = acknowledged but no finished message by the end of the drain.
//
//   imagine_load --mando build/bench/src/app/mando --jobs 1000 --rate 100
// Flags: --jobs N, --rate N/s, --generation-ms MS, --image-size PX, --drain S, --hold N,
// --hold-rate N/s, --env NAME=VALUE (repeatable), --label TEXT.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "bench/load_support.hpp"
#include "bot/bot.hpp"
#include "emulator/emulator_server.hpp"
#include "provider_emulator/fake_provider.hpp"
#include <unistd.h>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace mando;
using namespace mando::bench;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

struct Flags {
  std::string mando;
  int jobs = 1000;
  double rate = 100;
  int generation_ms = 2000;
  int image_size = 128;
  double drain = 300;
  int hold = 0;
  double hold_rate = 500;
  std::vector<std::string> env;
  std::string label;
};

constexpr std::string_view kUsage =
    "[--mando PATH] [--jobs N] [--rate N] [--generation-ms MS] [--image-size PX] [--drain S] "
    "[--hold N] [--hold-rate N] [--env NAME=VALUE]... [--label TEXT]";

Flags parse_flags(int argc, char** argv) {
  Flags f;
  if (const char* bin = std::getenv("BENCH_MANDO_BIN")) f.mando = bin;
  bench::parse_flags(
      argc, argv, "imagine_load", kUsage,
      {{"--mando", [&](const std::string& v) { f.mando = v; }},
       {"--jobs", [&](const std::string& v) { f.jobs = std::stoi(v); }},
       {"--rate", [&](const std::string& v) { f.rate = std::stod(v); }},
       {"--generation-ms", [&](const std::string& v) { f.generation_ms = std::stoi(v); }},
       {"--image-size", [&](const std::string& v) { f.image_size = std::stoi(v); }},
       {"--drain", [&](const std::string& v) { f.drain = std::stod(v); }},
       {"--hold", [&](const std::string& v) { f.hold = std::stoi(v); }},
       {"--hold-rate", [&](const std::string& v) { f.hold_rate = std::stod(v); }},
       {"--env", [&](const std::string& v) { f.env.push_back(v); }},
       {"--label", [&](const std::string& v) { f.label = v; }}});
  if (f.mando.empty())
    fail_usage("imagine_load", kUsage, "--mando (or BENCH_MANDO_BIN) is required");
  if (f.jobs < 1 || f.rate <= 0 || f.hold < 0 || f.hold_rate <= 0) {
    fail_usage("imagine_load", kUsage, "--jobs, --rate and --hold-rate must be positive");
  }
  return f;
}

std::uint16_t free_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

std::string prompt_of(int i) { return fmt::format("bench job {}", i); }

struct Sent {
  std::string message_id;
  bool acked = false;
  std::string why;  // when not acknowledged: the answer or the failure
};

class Bench {
 public:
  explicit Bench(const Flags& flags) : flags_(flags) {}

  int run() {
    provider_emulator::FakeProviderOptions options;
    options.generation = std::chrono::milliseconds(flags_.generation_ms);
    options.progress_steps = 2;
    options.image_size = flags_.image_size;
    emulator_ = emulator::EmulatorServer::start(ioc_, "127.0.0.1:0").value();
    fake_ = provider_emulator::FakeProvider::start(ioc_, "127.0.0.1:0", options).value();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });

    dir_ = fs::temp_directory_path() / fmt::format("mando-imagine-bench-{}", getpid());
    fs::create_directories(dir_);
    const std::uint16_t port = free_port();
    write_config(port, options);
    std::vector<std::string> env{
        "MANDO_DATA_DIR=" + (dir_ / "data").string(),
        "MANDO_DISCORD_PUBLIC_KEY=" + emulator_->emulator().public_key_hex(),
        "MANDO_DISCORD_APPLICATION_ID=" + emulator_->emulator().application_id(),
        "MANDO_DISCORD_API_BASE_URL=" + emulator_->api_base_url(),
        "MANDO_IMAGINE_MODELS_BENCH_API_TOKEN=" + options.api_token,
        "MANDO_IMAGINE_MODELS_BENCH_WEBHOOK_SECRET=" + options.webhook_secret,
        "MANDO_LOG_LEVEL=warn"};
    env.insert(env.end(), flags_.env.begin(), flags_.env.end());
    Child mando(flags_.mando, {"serve", "--config", (dir_ / "mando.toml").string()}, env,
                (dir_ / "mando.stderr").string());
    const auto listening = mando.wait_for_line("listening on ", 60s);
    if (!listening) {
      fmt::print(stderr, "mando did not start: {}\n", mando.stop(5s));
      return 1;
    }
    const std::string url = listening->substr(std::string("listening on ").size());
    auto commands = bot::build_commands(core::Config{});
    auto connected = call(emulator_->connect_bot(url + "/interactions", commands->commands_json()));
    if (!connected) {
      fmt::print(stderr, "commands not registered: {}\n", connected.error().message);
      return 1;
    }

    // Warm-up, then the baseline.
    send_phase(10, 50, 9'000'000);
    wait_delivered(10, 60s);
    const long baseline_kib = vm_rss_kib(mando.pid());
    warm_ = sent_.size();

    const auto start = Steady::now();
    const double cpu_before = cpu_seconds(mando.pid());
    const double self_before = cpu_seconds(getpid());
    std::atomic<bool> sampling{true};
    std::thread sampler([&] {
      while (sampling) {
        const auto running = fake_->stats().running;
        const long rss = vm_rss_kib(mando.pid());
        if (running > peak_running_) {
          peak_running_ = running;
          rss_at_peak_kib_ = rss;
        }
        std::this_thread::sleep_for(250ms);
      }
    });
    send_phase(flags_.jobs, flags_.rate, 0);
    const bool drained =
        wait_delivered(warm_ + flags_.jobs, std::chrono::seconds(static_cast<int>(flags_.drain)));
    const double seconds = std::chrono::duration<double>(Steady::now() - start).count();
    const double cpu = cpu_seconds(mando.pid()) - cpu_before;
    const double self_cpu = cpu_seconds(getpid()) - self_before;
    sampling = false;
    sampler.join();

    long hold_kib = 0;
    std::int64_t held = 0;
    if (flags_.hold > 0) {
      fake_->set_generation(10min);
      const std::int64_t before = fake_->stats().running;
      send_phase(flags_.hold, flags_.hold_rate, 5'000'000);
      for (auto deadline = Steady::now() + 300s; Steady::now() < deadline;) {
        held = fake_->stats().running - before;
        if (held >= flags_.hold) break;
        std::this_thread::sleep_for(500ms);
      }
      hold_kib = vm_rss_kib(mando.pid());
    }
    const long hwm_kib = vm_hwm_kib(mando.pid());
    const std::string exit = mando.stop(20s);
    fmt::print(
        "mando CPU during the send and drain: {:.1f} s of {:.1f} s; this process: {:.1f} s\n", cpu,
        seconds, self_cpu);
    report(drained, seconds, baseline_kib, hold_kib, held, hwm_kib, exit);
    for (auto& t : threads_) t.detach();  // the process ends here; the loops need not unwind
    std::error_code ec;
    fs::remove_all(dir_, ec);
    return 0;
  }

 private:
  template <typename T>
  T call(asio::awaitable<T> awaitable) {
    return asio::co_spawn(ioc_, std::move(awaitable), asio::use_future).get();
  }

  void write_config(std::uint16_t port, const provider_emulator::FakeProviderOptions&) {
    const std::string fake = fake_->url();
    std::ofstream(dir_ / "mando.toml") << fmt::format(R"([server]
listen = "127.0.0.1:{0}"
internal_listen = "127.0.0.1:0"
[fetch]
allow_http = true
allow = ["{1}"]
[imagine]
public_url = "http://127.0.0.1:{0}"
poll_after = "60s"
daily_per_user = 0
[imagine.models.bench]
provider = "replicate"
endpoint = "{2}/v1"
version = "fake-bench-1"
)",
                                                      port, fake.substr(7), fake);
  }

  // `count` jobs at `rate` per second, users from `user_base`; waits for every answer.
  void send_phase(int count, double rate, std::int64_t user_base) {
    const std::size_t first = sent_.size();
    sent_.resize(first + static_cast<std::size_t>(count));
    std::vector<std::future<void>> done;
    const auto start = Steady::now();
    for (int i = 0; i < count; ++i) {
      const auto due = start + std::chrono::duration_cast<Steady::duration>(
                                   std::chrono::duration<double>(i / rate));
      std::this_thread::sleep_until(due);
      const std::size_t slot = first + static_cast<std::size_t>(i);
      auto one = [this, slot, user_base]() -> asio::awaitable<void> {
        emulator::CommandInvocation invocation;
        invocation.name = "imagine";
        invocation.options = json::array{json::object{
            {"name", "prompt"}, {"type", 3}, {"value", prompt_of(static_cast<int>(slot))}}};
        invocation.user_id =
            std::to_string(1190000000000000000LL + user_base + static_cast<std::int64_t>(slot));
        auto sent = co_await emulator_->emulator().send_command(std::move(invocation));
        if (sent && !sent->failed && sent->message_id &&
            sent->response.at("type").as_int64() == 5) {
          sent_[slot] = {*sent->message_id, true, {}};
        } else {
          sent_[slot].why = !sent          ? sent.error().message
                            : sent->failed ? sent->failure
                                           : json::serialize(sent->response).substr(0, 120);
        }
      };
      done.push_back(asio::co_spawn(ioc_, one(), asio::use_future));
    }
    for (auto& d : done) d.get();
  }

  static bool finished(const json::object& m) {
    const auto* a = m.if_contains("attachments");
    return a != nullptr && a->is_array() && !a->as_array().empty();
  }

  bool wait_delivered(std::size_t count, std::chrono::seconds limit) {
    for (auto deadline = Steady::now() + limit; Steady::now() < deadline;) {
      std::size_t n = 0;
      for (const auto& m : emulator_->emulator().messages()) n += finished(m.as_object());
      if (n >= count) return true;
      std::this_thread::sleep_for(500ms);
    }
    return false;
  }

  void report(bool drained, double seconds, long baseline_kib, long hold_kib, std::int64_t held,
              long hwm_kib, const std::string& exit) {
    std::map<std::string, std::int64_t> edited;  // message id -> last edit, ms
    for (const auto& v : emulator_->emulator().messages()) {
      const auto& m = v.as_object();
      if (!finished(m)) continue;
      const auto* e = m.if_contains("edited_timestamp");
      if (e == nullptr || !e->is_string()) continue;
      if (auto ms = parse_iso_ms(e->as_string())) edited[std::string(m.at("id").as_string())] = *ms;
    }
    std::map<std::string, provider_emulator::FakeTimeline> by_prompt;
    for (auto& t : fake_->timelines()) by_prompt[t.prompt] = t;
    std::vector<double> total, download, rest;
    std::size_t acked = 0, lost = 0;
    for (std::size_t i = warm_; i < warm_ + static_cast<std::size_t>(flags_.jobs); ++i) {
      if (!sent_[i].acked) continue;
      ++acked;
      const auto edit = edited.find(sent_[i].message_id);
      const auto t = by_prompt.find(prompt_of(static_cast<int>(i)));
      if (edit == edited.end() || t == by_prompt.end() || t->second.completed_ms == 0) {
        ++lost;
        continue;
      }
      const double whole = static_cast<double>(edit->second - t->second.completed_ms);
      const double fetch = static_cast<double>(t->second.last_file_ms - t->second.first_file_ms);
      total.push_back(whole);
      download.push_back(fetch);
      rest.push_back(whole - fetch);
    }
    for (auto* v : {&total, &download, &rest}) std::sort(v->begin(), v->end());
    auto line = [](const std::vector<double>& v) {
      return fmt::format("p50 {:.1f} ms, p90 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms",
                         percentile(v, 50), percentile(v, 90), percentile(v, 99),
                         v.empty() ? 0.0 : v.back());
    };
    const double per_job_kib = peak_running_ > 0
                                   ? static_cast<double>(rss_at_peak_kib_ - baseline_kib) /
                                         static_cast<double>(peak_running_)
                                   : 0;
    const double hold_per_job_kib =
        held > 0 ? static_cast<double>(hold_kib - baseline_kib) / static_cast<double>(held) : 0;
    fmt::print("\n/imagine: {} jobs at {}/s, {} ms generation, {} px outputs{}\n", flags_.jobs,
               flags_.rate, flags_.generation_ms, flags_.image_size,
               flags_.label.empty() ? "" : " (" + flags_.label + ")");
    fmt::print("{:<40} {}\n", "acknowledged", acked);
    std::map<std::string, int> refusals;
    for (std::size_t i = warm_; i < warm_ + static_cast<std::size_t>(flags_.jobs); ++i) {
      if (!sent_[i].acked) ++refusals[sent_[i].why];
    }
    for (const auto& [why, n] : refusals) fmt::print("    not acknowledged {} x: {}\n", n, why);
    fmt::print("{:<40} {}{}\n", "lost (no finished message)", lost,
               drained ? "" : " (drain timed out)");
    fmt::print("{:<40} {:.1f} s\n", "send + drain", seconds);
    fmt::print("{:<40} {}\n", "webhook -> edit", line(total));
    fmt::print("{:<40} {}\n", "  of which output download", line(download));
    fmt::print("{:<40} {}\n", "webhook -> edit, excluding download", line(rest));
    fmt::print("{:<40} {} KiB baseline, {} KiB with {} in flight: {:.1f} KiB per job\n",
               "mando RSS", baseline_kib, rss_at_peak_kib_, peak_running_, per_job_kib);
    if (held > 0) {
      fmt::print("{:<40} {} KiB with {} held: {:.1f} KiB per job ({:.1f} MB for 10,000)\n",
                 "mando RSS, long jobs", hold_kib, held, hold_per_job_kib,
                 hold_per_job_kib * 10000 / 1024);
    }
    fmt::print("{:<40} {} KiB; mando {}\n", "mando peak RSS (VmHWM)", hwm_kib, exit);
    json::object out{{"jobs", flags_.jobs},
                     {"rate", flags_.rate},
                     {"acked", acked},
                     {"lost", lost},
                     {"p50_ms", percentile(total, 50)},
                     {"p99_ms", percentile(total, 99)},
                     {"p99_excl_download_ms", percentile(rest, 99)},
                     {"p99_download_ms", percentile(download, 99)},
                     {"rss_per_job_kib", per_job_kib},
                     {"held", held},
                     {"rss_per_held_job_kib", hold_per_job_kib},
                     {"label", flags_.label}};
    fmt::print("json: {}\n", json::serialize(out));
  }

  const Flags& flags_;
  asio::io_context ioc_{2};
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::unique_ptr<emulator::EmulatorServer> emulator_;
  std::unique_ptr<provider_emulator::FakeProvider> fake_;
  std::vector<std::thread> threads_;
  fs::path dir_;
  std::vector<Sent> sent_;
  std::size_t warm_ = 0;
  std::atomic<std::int64_t> peak_running_{0};
  std::atomic<long> rss_at_peak_kib_{0};
};

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = parse_flags(argc, argv);
  Bench bench(flags);
  const int status = bench.run();
  std::fflush(stdout);
  std::_Exit(status);  // the in-process servers' loops are left running: nothing to flush
}
