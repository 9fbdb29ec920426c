// The /mando load benchmark (issue 6): open-loop /mando interactions at a fixed rate through the
// Discord emulator into the real `mando serve`, measuring what a Discord user sees.
//
// Method:
//   - This process hosts the Discord emulator (src/emulator/emulator_server.hpp) on its own
//     io_context (--emulator-threads, default 1) and starts `mando serve` (--mando, or
//     BENCH_MANDO_BIN) as a child with a fresh data dir, MANDO_SERVER_LISTEN=127.0.0.1:0 and the
//     emulator's public key, application id and REST base; mando's stdout gives its URL, its
//     stderr goes to a file whose lines are summarised at the end. The commands are registered
//     with the emulator as `mando commands sync` does (bot::build_commands).
//   - Warm-up: --warmup interactions (size 64) at 20/s, waited for and left out of the figures.
//   - Send phase, open loop: interaction i is due at start + i / rate, from one steady_timer
//     schedule computed from the start time (a late send never shifts the later ones; how late
//     they were is reported as "send lateness"). Each is a coroutine of its own calling
//     DiscordEmulator::send_command() with options size (--size) and seed (i, so runs are
//     reproducible), from user 1190000000000000000 + i % --users (10,000 by default: each user
//     has at most a job or two in flight, within the default per-user limits of 3 running and
//     7 waiting, which therefore refuse nothing).
//   - Acknowledgement latency is the steady-clock time around send_command(): the emulator
//     builds the interaction JSON, signs it (Ed25519, about 20-50 µs of CPU), POSTs it over a
//     pooled loopback connection and parses mando's answer. The emulator has no timing of the
//     POST alone, so the figure includes that small client-side cost. An interaction counts as
//     acknowledged when mando answered type 5 (deferred) and the emulator did not fail it.
//   - Images: after the send phase, messages() is polled once a second (bounded by --drain)
//     until every acknowledged interaction's message carries an attachment (or an embed image
//     with [bot] reply = url). Interaction-to-image latency is the message's last edit time
//     (edited_timestamp: the progress lines "Waiting in line" are earlier edits, and mando never
//     lands one after the finished message) minus the emulator's created_ms (the interaction's
//     registration, just before its POST); both are the emulator's wall clock, in ms.
//     Images per second = images / (last image - first send).
//   - Once a second during the run, mando's /metrics gives the CPU pool's busy threads and queued
//     jobs, and /proc/PID/stat its CPU time: the evidence that the pool was (or was not)
//     saturated. /proc/loadavg is read at the start, the end of the send phase and the end.
//   - Lost = acknowledged but no image by the end of the drain. Every figure is printed as a
//     table and as one JSON line ("json: {...}").
//
//   mando_load --mando build/load/src/app/mando --rate 100 --duration 60 --size 1024
// Flags: --rate N/s, --duration S, --size PX, --users N, --warmup N, --drain S (max wait for
// images after the send phase), --emulator-threads N, --env NAME=VALUE (repeatable, given to
// mando), --label TEXT (copied into the JSON).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "bench/load_support.hpp"
#include "bot/bot.hpp"
#include "core/config.hpp"
#include "emulator/emulator_server.hpp"
#include "net/http_client.hpp"
#include <unistd.h>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace mando;
using namespace mando::bench;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Flags {
  std::string mando;
  double rate = 100;
  double duration = 60;
  int size = 1024;
  int users = 10000;
  int warmup = 40;
  double drain = 600;
  int emulator_threads = 1;
  std::vector<std::string> env;
  std::string label;
};

constexpr std::string_view kUsage =
    "[--mando PATH] [--rate N] [--duration S] [--size PX] [--users N] [--warmup N] [--drain S] "
    "[--emulator-threads N] [--env NAME=VALUE]... [--label TEXT]";

Flags parse_flags(int argc, char** argv) {
  Flags f;
  if (const char* bin = std::getenv("BENCH_MANDO_BIN")) f.mando = bin;
  const auto usage = [](std::string_view why) { fail_usage("mando_load", kUsage, why); };
  bench::parse_flags(
      argc, argv, "mando_load", kUsage,
      {{"--mando", [&](const std::string& v) { f.mando = v; }},
       {"--rate", [&](const std::string& v) { f.rate = std::stod(v); }},
       {"--duration", [&](const std::string& v) { f.duration = std::stod(v); }},
       {"--size", [&](const std::string& v) { f.size = std::stoi(v); }},
       {"--users", [&](const std::string& v) { f.users = std::stoi(v); }},
       {"--warmup", [&](const std::string& v) { f.warmup = std::stoi(v); }},
       {"--drain", [&](const std::string& v) { f.drain = std::stod(v); }},
       {"--emulator-threads", [&](const std::string& v) { f.emulator_threads = std::stoi(v); }},
       {"--env",
        [&](const std::string& v) {
          if (v.find('=') == std::string::npos) usage("--env wants NAME=VALUE");
          f.env.push_back(v);
        }},
       {"--label", [&](const std::string& v) { f.label = v; }}});
  if (f.mando.empty()) usage("no mando binary: --mando PATH or BENCH_MANDO_BIN");
  if (f.rate <= 0 || f.duration <= 0 || f.users <= 0 || f.emulator_threads <= 0) {
    usage("rate, duration, users and emulator threads must be positive");
  }
  return f;
}

// --- the benchmark ------------------------------------------------------------------------------

struct Sent {
  std::int64_t scheduled_us = 0;  // from the start of the send phase
  std::int64_t lateness_us = 0;   // actual call of send_command() minus its schedule
  std::int64_t ack_us = -1;       // steady time around send_command()
  int status = 0;
  int response_type = 0;
  bool failed = false;
  bool error = false;  // send_command() returned an error (no answer, timeout)
  std::string interaction_id;
  std::string failure;
};

struct Sample {
  double t = 0;  // seconds since the send phase began
  double busy = -1, threads = -1, queued = -1;
};

struct Results {
  std::vector<Sent> sent;
  std::vector<Sample> samples;
  json::array messages;
  std::int64_t first_send_ms = 0;
  double send_seconds = 0;     // wall time of the send phase (last answer included)
  double drain_seconds = 0;    // from the end of the send phase to the last image seen
  double mando_cpu_send = 0;   // mando's CPU seconds during the send phase
  double mando_cpu_total = 0;  // ... from the send phase's start to the end of the drain
  double self_cpu_send = 0;    // this process's
  std::string load_start, load_send_end, load_end;
  json::object emulator_stats;
  std::string metrics_text;  // mando's /metrics at the end
  // mando's own /interactions durations during the send phase: cumulative buckets (seconds).
  std::map<double, double> server_buckets;
  std::string error;
};

// The cumulative buckets (le -> count) of mando's request-duration histogram for /interactions.
std::map<double, double> interaction_buckets(const std::string& text) {
  std::map<double, double> buckets;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("mando_http_request_duration_seconds_bucket{") ||
        line.find(R"(route="/interactions")") == std::string::npos) {
      continue;
    }
    const auto le = line.find("le=\"");
    if (le == std::string::npos) continue;
    const auto end = line.find('"', le + 4);
    const std::string bound = line.substr(le + 4, end - le - 4);
    const double upper = bound == "+Inf" ? 1e9 : std::stod(bound);
    buckets[upper] += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return buckets;
}

json::array size_options(int size, std::int64_t seed) {
  json::object size_option{{"name", "size"}, {"type", 4}, {"value", size}};
  json::object seed_option{{"name", "seed"}, {"type", 4}, {"value", seed}};
  return json::array{size_option, seed_option};
}

std::string user_of(std::int64_t i, int users) {
  return std::to_string(1190000000000000000LL + i % users);
}

// Whether a message shows the finished image: an attachment, or an embed's image.
bool has_image(const json::object& m) {
  if (const auto* a = m.if_contains("attachments"); a && a->is_array() && !a->as_array().empty()) {
    return true;
  }
  if (const auto* e = m.if_contains("embeds"); e && e->is_array()) {
    for (const auto& embed : e->as_array()) {
      if (embed.is_object() && embed.as_object().contains("image")) return true;
    }
  }
  return false;
}

class Bench {
 public:
  // `mando_url`: the public listener (/interactions); `internal_url`: the internal one (/metrics).
  Bench(const Flags& flags, emulator::EmulatorServer& host, net::HttpClient& client, Child& mando,
        std::string mando_url, std::string internal_url)
      : flags_(flags),
        host_(host),
        client_(client),
        mando_(mando),
        url_(std::move(mando_url)),
        internal_url_(std::move(internal_url)) {}

  asio::awaitable<Results> run() {
    Results r;
    auto commands = bot::build_commands(core::Config{});
    if (!commands) {
      r.error = "build_commands: " + commands.error().message;
      co_return r;
    }
    json::array commands_json = commands->commands_json();
    std::string interactions_url = url_ + "/interactions";
    auto connected =
        co_await host_.connect_bot(std::move(interactions_url), std::move(commands_json));
    if (!connected) {
      r.error = "connect_bot: " + connected.error().message;
      co_return r;
    }

    // Warm-up: connections, caches, the first pages of the database; not measured.
    if (flags_.warmup > 0) {
      for (int i = 0; i < flags_.warmup; ++i) {
        emulator::CommandInvocation inv;
        inv.name = "mando";
        inv.options = size_options(64, 1000000 + i);
        inv.user_id = user_of(i, flags_.users);
        auto sent = co_await host_.emulator().send_command(std::move(inv));
        if (sent && !sent->failed) ++warm_acked_;
        co_await sleep_for(50ms);
      }
      for (int i = 0; i < 600 && !warm_done(); ++i) co_await sleep_for(100ms);
    }

    const auto n = static_cast<std::size_t>(flags_.rate * flags_.duration);
    r.sent.resize(n);
    auto ex = co_await asio::this_coro::executor;
    const std::string metrics_before = co_await get_metrics(client_, internal_url_);
    r.load_start = loadavg();
    const double mando_cpu0 = cpu_seconds(mando_.pid());
    const double self_cpu0 = cpu_seconds(getpid());
    start_ = Steady::now();
    r.first_send_ms = unix_ms();
    sampling_ = true;
    asio::co_spawn(ex, sampler(r.samples), asio::detached);

    // The schedule: send i is due at start + i / rate, whatever happened to the ones before.
    asio::steady_timer timer(ex);
    for (std::size_t i = 0; i < n; ++i) {
      const auto due =
          start_ + std::chrono::duration_cast<Steady::duration>(
                       std::chrono::duration<double>(static_cast<double>(i) / flags_.rate));
      timer.expires_at(due);
      co_await timer.async_wait(asio::use_awaitable);
      r.sent[i].scheduled_us =
          std::chrono::duration_cast<std::chrono::microseconds>(due - start_).count();
      asio::co_spawn(ex, send_one(r.sent[i], i), asio::detached);
    }
    while (returned_.load(std::memory_order_acquire) < n) co_await sleep_for(5ms);
    const auto send_end = Steady::now();
    r.send_seconds = std::chrono::duration<double>(send_end - start_).count();
    r.mando_cpu_send = cpu_seconds(mando_.pid()) - mando_cpu0;
    r.self_cpu_send = cpu_seconds(getpid()) - self_cpu0;
    r.load_send_end = loadavg();
    {
      const std::string metrics_after = co_await get_metrics(client_, internal_url_);
      auto before = interaction_buckets(metrics_before);
      r.server_buckets = interaction_buckets(metrics_after);
      for (auto& [le, count] : r.server_buckets) count -= before[le];
    }

    // Drain: until every acknowledged interaction of the send phase shows its image.
    std::set<std::string> ids;
    for (const auto& s : r.sent) {
      if (!s.failed && !s.error && s.response_type == 5) ids.insert(s.interaction_id);
    }
    const auto drain_deadline = send_end + std::chrono::duration_cast<Steady::duration>(
                                               std::chrono::duration<double>(flags_.drain));
    for (;;) {
      std::size_t done = 0;
      json::array all = host_.emulator().messages();
      for (const auto& v : all) {
        const auto& m = v.as_object();
        const auto* id = m.if_contains("interaction_id");
        if (id && id->is_string() && ids.contains(std::string(id->as_string())) && has_image(m)) {
          ++done;
        }
      }
      if (done >= ids.size() || Steady::now() >= drain_deadline || mando_.exited()) {
        r.messages = std::move(all);
        break;
      }
      co_await sleep_for(1000ms);
    }
    r.drain_seconds = std::chrono::duration<double>(Steady::now() - send_end).count();
    sampling_ = false;
    r.mando_cpu_total = cpu_seconds(mando_.pid()) - mando_cpu0;
    r.load_end = loadavg();
    r.emulator_stats = host_.emulator().stats();
    r.metrics_text = co_await get_metrics(client_, internal_url_);
    while (!sampler_done_.load(std::memory_order_acquire)) co_await sleep_for(50ms);
    co_return r;
  }

 private:
  bool warm_done() const {
    std::size_t images = 0;
    for (const auto& v : host_.emulator().messages()) {
      if (has_image(v.as_object())) ++images;
    }
    return images >= warm_acked_;
  }

  asio::awaitable<void> send_one(Sent& out, std::size_t i) {
    emulator::CommandInvocation inv;
    inv.name = "mando";
    inv.options = size_options(flags_.size, static_cast<std::int64_t>(i));
    inv.user_id = user_of(static_cast<std::int64_t>(i), flags_.users);
    const auto t0 = Steady::now();
    out.lateness_us = std::chrono::duration_cast<std::chrono::microseconds>(t0 - start_).count() -
                      out.scheduled_us;
    auto sent = co_await host_.emulator().send_command(std::move(inv));
    out.ack_us = std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - t0).count();
    if (!sent) {
      out.error = true;
      out.failure = sent.error().message;
    } else {
      out.interaction_id = sent->interaction_id;
      out.status = sent->response_status;
      out.failed = sent->failed;
      out.failure = sent->failure;
      if (sent->response.is_object()) {
        if (const auto* t = sent->response.as_object().if_contains("type"); t && t->is_int64()) {
          out.response_type = static_cast<int>(t->as_int64());
        }
      }
    }
    returned_.fetch_add(1, std::memory_order_release);
  }

  asio::awaitable<void> sampler(std::vector<Sample>& samples) {
    while (sampling_) {
      Sample s;
      s.t = std::chrono::duration<double>(Steady::now() - start_).count();
      const std::string text = co_await get_metrics(client_, internal_url_);
      if (!text.empty()) {
        s.busy = metric_sum(text, "mando_cpu_pool_busy_threads");
        s.threads = metric_sum(text, "mando_cpu_pool_threads");
        s.queued = metric_sum(text, "mando_cpu_pool_queued_jobs");
      }
      samples.push_back(s);
      co_await sleep_for(1000ms);
    }
    sampler_done_.store(true, std::memory_order_release);
  }

  const Flags& flags_;
  emulator::EmulatorServer& host_;
  net::HttpClient& client_;
  Child& mando_;
  std::string url_;
  std::string internal_url_;
  Steady::time_point start_;
  std::atomic<std::size_t> returned_{0};
  std::atomic<bool> sampling_{false};
  std::atomic<bool> sampler_done_{false};
  std::size_t warm_acked_ = 0;
};

int report(const Flags& flags, const Results& r, const std::string& mando_exit, long mando_hwm_kib,
           const std::vector<std::string>& stderr_lines) {
  std::size_t acked = 0, failed = 0, errors = 0, refused = 0;
  std::vector<double> ack_ms, late_ms;
  std::map<std::string, std::size_t> failures;
  std::set<std::string> ids;
  for (const auto& s : r.sent) {
    if (s.ack_us >= 0) ack_ms.push_back(static_cast<double>(s.ack_us) / 1000.0);
    late_ms.push_back(static_cast<double>(s.lateness_us) / 1000.0);
    if (s.error) {
      ++errors;
      ++failures[s.failure];
    } else if (s.failed) {
      ++failed;
      ++failures[s.failure];
    } else if (s.response_type == 5) {
      ++acked;
      ids.insert(s.interaction_id);
    } else {
      ++refused;  // an immediate answer (type 4): a refusal by the per-user limits
    }
  }
  std::sort(ack_ms.begin(), ack_ms.end());
  std::sort(late_ms.begin(), late_ms.end());

  std::vector<double> image_ms;
  std::int64_t last_image = 0;
  std::size_t with_progress = 0, finished_without_image = 0, still_loading = 0;
  std::map<std::string, std::size_t> other_endings;
  for (const auto& v : r.messages) {
    const auto& m = v.as_object();
    const auto* id = m.if_contains("interaction_id");
    if (!id || !id->is_string() || !ids.contains(std::string(id->as_string()))) continue;
    if (!has_image(m)) {
      if (!m.contains("completed_ms")) {
        ++still_loading;
      } else {
        // Done with something else than an image, or only a progress line so far.
        ++finished_without_image;
        const auto* content = m.if_contains("content");
        std::string text = content && content->is_string()
                               ? std::string(content->as_string()).substr(0, 80)
                               : std::string("(no content)");
        // "Waiting in line: 12 of 1949…" and its like, counted as one.
        std::replace_if(
            text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }, '#');
        text.erase(std::unique(text.begin(), text.end(),
                               [](char a, char b) { return a == '#' && b == '#'; }),
                   text.end());
        ++other_endings[text];
      }
      continue;
    }
    const std::int64_t created = m.at("created_ms").to_number<std::int64_t>();
    std::int64_t image = m.at("completed_ms").to_number<std::int64_t>();
    if (const auto* edited = m.if_contains("edited_timestamp"); edited && edited->is_string()) {
      if (auto parsed = parse_iso_ms(edited->as_string())) image = *parsed;
    }
    if (m.at("version").to_number<std::int64_t>() > 2) ++with_progress;
    image_ms.push_back(static_cast<double>(image - created));
    last_image = std::max(last_image, image);
  }
  std::sort(image_ms.begin(), image_ms.end());
  const std::size_t images = image_ms.size();
  const std::size_t lost = acked - std::min(acked, images);
  const double image_span = static_cast<double>(last_image - r.first_send_ms) / 1000.0;
  const double images_per_s = images > 0 && image_span > 0 ? images / image_span : 0;

  double busy_sum = 0, threads = 0, queued_max = 0;
  std::size_t busy_n = 0;
  for (const auto& s : r.samples) {
    if (s.busy < 0 || s.t > r.send_seconds) continue;
    busy_sum += s.busy;
    threads = s.threads;
    queued_max = std::max(queued_max, s.queued);
    ++busy_n;
  }
  const double busy_avg = busy_n > 0 ? busy_sum / static_cast<double>(busy_n) : -1;
  const double render_sum = metric_sum(r.metrics_text, "mando_render_seconds_sum");
  const double render_count = metric_sum(r.metrics_text, "mando_render_seconds_count");
  const double render_mean_ms = render_count > 0 ? render_sum / render_count * 1000.0 : -1;
  const auto& rl = r.emulator_stats.at("rate_limits").as_object();
  const auto responses_429 = rl.at("responses_429").to_number<std::int64_t>();
  const auto consecutive_429 = rl.at("consecutive_429").to_number<std::int64_t>();
  const auto& rest = r.emulator_stats.at("rest").as_object();
  const auto rest_requests = rest.at("requests").to_number<std::int64_t>();
  const double send_cpu_pct = r.mando_cpu_send / r.send_seconds * 100.0;

  auto ms = [](double v) { return fmt::format("{:.2f} ms", v); };
  fmt::print("\n/mando load: {} /s for {} s, size {} px, {} users{}\n", flags.rate, flags.duration,
             flags.size, flags.users, flags.label.empty() ? "" : " (" + flags.label + ")");
  fmt::print("load average: start {}, end of sends {}, end {}\n", r.load_start, r.load_send_end,
             r.load_end);
  fmt::print("{:<44} {}\n", "measure", "result");
  fmt::print("{:<44} {}\n", "sent", r.sent.size());
  fmt::print("{:<44} {}\n", "acknowledged (type 5)", acked);
  fmt::print("{:<44} {}\n", "refused (immediate answer)", refused);
  fmt::print("{:<44} {} failed + {} no answer\n", "failed", failed, errors);
  for (const auto& [why, count] : failures) fmt::print("    {} x {}\n", count, why);
  fmt::print("{:<44} {}\n", "images", images);
  fmt::print("{:<44} {}\n", "lost (acknowledged, no image)", lost);
  fmt::print("{:<44} {}\n", "  of which still loading (\"is thinking\")", still_loading);
  fmt::print("{:<44} {}\n", "  of which showing a text instead", finished_without_image);
  for (const auto& [text, count] : other_endings) fmt::print("    {} x \"{}\"\n", count, text);
  fmt::print("{:<44} p50 {}, p90 {}, p99 {}, p99.9 {}, max {}\n", "ack latency",
             ms(percentile(ack_ms, 50)), ms(percentile(ack_ms, 90)), ms(percentile(ack_ms, 99)),
             ms(percentile(ack_ms, 99.9)), ms(ack_ms.empty() ? 0 : ack_ms.back()));
  // Server side: the bucket bounds p50 and p99 fall in, and the share within 5 ms.
  const double server_total = r.server_buckets.empty() ? 0 : r.server_buckets.rbegin()->second;
  auto server_quantile = [&](double q) {
    for (const auto& [le, count] : r.server_buckets) {
      if (count >= q * server_total) return le * 1000.0;
    }
    return -1.0;
  };
  const double server_within_5ms = server_total > 0 && r.server_buckets.contains(0.005)
                                       ? r.server_buckets.at(0.005) / server_total * 100.0
                                       : -1;
  fmt::print("{:<44} p50 <= {} ms, p99 <= {} ms, {:.2f} % within 5 ms ({:.0f} requests)\n",
             "ack, mando's own /interactions histogram", server_quantile(0.5),
             server_quantile(0.99), server_within_5ms, server_total);
  fmt::print("{:<44} p50 {}, p99 {}, max {}\n", "send lateness (open-loop schedule)",
             ms(percentile(late_ms, 50)), ms(percentile(late_ms, 99)),
             ms(late_ms.empty() ? 0 : late_ms.back()));
  fmt::print("{:<44} p50 {:.0f} ms, p90 {:.0f} ms, p99 {:.0f} ms, max {:.0f} ms\n",
             "interaction-to-image latency", percentile(image_ms, 50), percentile(image_ms, 90),
             percentile(image_ms, 99), image_ms.empty() ? 0.0 : image_ms.back());
  fmt::print("{:<44} {:.1f} /s ({} in {:.1f} s)\n", "images per second", images_per_s, images,
             image_span);
  fmt::print("{:<44} {:.1f} s, drain {:.1f} s\n", "send phase", r.send_seconds, r.drain_seconds);
  fmt::print("{:<44} {:.2f} of {:.0f} threads (max queued jobs {:.0f})\n",
             "CPU pool busy during sends (1 s samples)", busy_avg, threads, queued_max);
  fmt::print("{:<44} {:.0f} % during sends ({:.1f} s CPU), {:.1f} s CPU in all\n", "mando CPU",
             send_cpu_pct, r.mando_cpu_send, r.mando_cpu_total);
  fmt::print("{:<44} {:.0f} % during sends\n", "load generator + emulator CPU",
             r.self_cpu_send / r.send_seconds * 100.0);
  fmt::print("{:<44} {:.2f} ms\n", "mean render + encode (mando_render_seconds)", render_mean_ms);
  fmt::print("{:<44} {} messages were edited before their image\n", "progress lines",
             with_progress);
  fmt::print("{:<44} {} REST requests ({:.0f}/s), {} answered 429, {} consecutive 429\n",
             "emulator REST", rest_requests,
             static_cast<double>(rest_requests) / (r.send_seconds + r.drain_seconds), responses_429,
             consecutive_429);
  fmt::print("{:<44} {} MiB\n", "mando peak RSS (VmHWM)", mando_hwm_kib / 1024);
  fmt::print("{:<44} {}\n", "mando at the end", mando_exit);
  fmt::print("{:<44} {}\n", "mando stderr lines (warn and above)", stderr_lines.size());
  for (std::size_t i = 0; i < std::min<std::size_t>(stderr_lines.size(), 5); ++i) {
    fmt::print("    {}\n", stderr_lines[i].substr(0, 200));
  }

  json::object out{
      {"label", flags.label},
      {"rate", flags.rate},
      {"duration_s", flags.duration},
      {"size", flags.size},
      {"users", flags.users},
      {"sent", r.sent.size()},
      {"acked", acked},
      {"refused", refused},
      {"failed", failed + errors},
      {"images", images},
      {"lost", lost},
      {"lost_still_loading", still_loading},
      {"lost_showing_text", finished_without_image},
      {"ack_ms",
       {{"p50", percentile(ack_ms, 50)},
        {"p90", percentile(ack_ms, 90)},
        {"p99", percentile(ack_ms, 99)},
        {"p999", percentile(ack_ms, 99.9)},
        {"max", ack_ms.empty() ? 0.0 : ack_ms.back()}}},
      {"server_ack_ms",
       {{"p50_bucket", server_quantile(0.5)},
        {"p99_bucket", server_quantile(0.99)},
        {"pct_within_5ms", server_within_5ms}}},
      {"lateness_ms",
       {{"p99", percentile(late_ms, 99)}, {"max", late_ms.empty() ? 0.0 : late_ms.back()}}},
      {"image_ms",
       {{"p50", percentile(image_ms, 50)},
        {"p90", percentile(image_ms, 90)},
        {"p99", percentile(image_ms, 99)},
        {"max", image_ms.empty() ? 0.0 : image_ms.back()}}},
      {"images_per_s", images_per_s},
      {"pool_busy_avg", busy_avg},
      {"pool_threads", threads},
      {"pool_queued_max", queued_max},
      {"mando_cpu_pct_send", send_cpu_pct},
      {"render_mean_ms", render_mean_ms},
      {"progress_messages", with_progress},
      {"rest_requests", rest_requests},
      {"responses_429", responses_429},
      {"consecutive_429", consecutive_429},
      {"mando_hwm_mib", mando_hwm_kib / 1024},
      {"load_start", r.load_start},
      {"load_send_end", r.load_send_end},
      {"load_end", r.load_end},
      {"mando_exit", mando_exit},
  };
  fmt::print("json: {}\n", json::serialize(out));
  std::fflush(stdout);
  return lost == 0 && failed + errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = parse_flags(argc, argv);
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr ? tmp : "/tmp") + "/mando_load.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    std::perror("mkdtemp");
    return 2;
  }
  const std::filesystem::path work(templ);

  asio::io_context ioc;
  auto guard = asio::make_work_guard(ioc);
  auto started = emulator::EmulatorServer::start(ioc, "127.0.0.1:0");
  if (!started) {
    fmt::print(stderr, "mando_load: emulator: {}\n", started.error().message);
    return 2;
  }
  std::unique_ptr<emulator::EmulatorServer> host = std::move(*started);
  auto client = std::make_unique<net::HttpClient>(ioc.get_executor());

  std::vector<std::string> env{
      "MANDO_SERVER_LISTEN=127.0.0.1:0",
      "MANDO_DATA_DIR=" + (work / "data").string(),
      "MANDO_DISCORD_PUBLIC_KEY=" + host->emulator().public_key_hex(),
      "MANDO_DISCORD_APPLICATION_ID=" + host->emulator().application_id(),
      "MANDO_DISCORD_API_BASE_URL=" + host->api_base_url(),
      "MANDO_LOG_LEVEL=warn",
  };
  env.insert(env.end(), flags.env.begin(), flags.env.end());
  const std::string stderr_path = (work / "mando.stderr").string();
  auto mando =
      std::make_unique<Child>(flags.mando, std::vector<std::string>{"serve"}, env, stderr_path);
  auto line = mando->wait_for_line("listening on ", 30s);
  if (!line) {
    fmt::print(stderr, "mando_load: mando did not start ({}); its stderr is in {}\n",
               mando->stop(2s), stderr_path);
    return 2;
  }
  const std::string url = line->substr(std::string("listening on ").size());
  auto internal_line = mando->wait_for_line("internal listener on ", 30s);
  if (!internal_line) {
    fmt::print(stderr, "mando_load: mando did not print its internal listener ({})\n",
               mando->stop(2s));
    return 2;
  }
  std::string internal_url = internal_line->substr(std::string("internal listener on ").size());
  internal_url = internal_url.substr(0, internal_url.find(' '));
  fmt::print("mando {} (pid {}) at {}, emulator at {}, {} emulator thread(s), {} cores\n",
             flags.mando, mando->pid(), url, host->url(), flags.emulator_threads,
             std::thread::hardware_concurrency());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (int i = 0; i < flags.emulator_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });

  Bench bench(flags, *host, *client, *mando, url, internal_url);
  auto future = asio::co_spawn(ioc, bench.run(), asio::use_future);
  Results results = future.get();
  const long hwm = vm_hwm_kib(mando->pid());
  const std::string exit_text = mando->stop(20s);

  std::vector<std::string> stderr_lines;
  {
    std::ifstream in(stderr_path);
    for (std::string l; std::getline(in, l);) stderr_lines.push_back(l);
  }
  int status = 2;
  if (!results.error.empty()) {
    fmt::print(stderr, "mando_load: {}\n", results.error);
  } else {
    status = report(flags, results, exit_text, hwm, stderr_lines);
  }

  guard.reset();
  ioc.stop();
  for (auto& t : threads) t.join();
  client.reset();
  host.reset();
  mando.reset();
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  return status;
}
