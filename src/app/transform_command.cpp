// `mando transform`: what /transform does to a batch of image links, from the command line, for
// trying a configuration and for measuring (bench/transform.sh).
//
//   1. The configuration is the bot's (--config, then MANDO_*): TransformService opens the same
//      fetcher, with the [fetch] policy, and the same decoder processes, from [transform].
//   2. Every URL goes through transform_image() (bot/commands/transform_image.hpp), the worker
//      route's own steps, [transform] downloads_per_job at a time (core::fan_out), each handed
//      to a decoder as soon as it has arrived.
//   3. Then the contact sheet of them all, tile 256 like the bot's, within --sheet-bytes.
//   4. DIR/1.jpg ... (one per image that worked, numbered as given) and DIR/sheet.jpg; a line
//      "image N: reason" on stderr for each that did not. Unlike the bot, which hides a dead
//      decoder's detail from users, the whole message is printed: this is the operator.
//   5. --stats: one JSON line on stdout, the wall time from the first request to the encoded
//      sheet and the peak resident memory of this process plus each decoder process.
//   6. Exit status: 0 when at least one image was made and everything was written; 1 when none
//      was, or the sheet or a file could not be made; 2 for bad options or configuration.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>

#include "app/cli.hpp"
#include "app/transform_service.hpp"
#include "bot/commands/transform_image.hpp"
#include "core/fan_out.hpp"
#include "transform/spec.hpp"
#include <unistd.h>

namespace mando::app {
namespace {

namespace asio = boost::asio;

constexpr int kFailed = 1;
constexpr int kUsageError = 2;
constexpr int kSheetTile = 256;  // the bot's (bot/commands/transform.cpp)

struct TransformFlags {
  std::string config;
  int size = 512;
  std::string crop = "attention";
  std::string format = "jpeg";
  std::string out = ".";
  std::uint64_t sheet_bytes = 10ull << 20;
  bool stats = false;
  std::vector<std::string> urls;
};

// One run's inputs and what became of them; each work item writes only its own slots.
struct Batch {
  std::vector<std::string> urls;
  transform::TransformSpec spec;
  core::TransformConfig limits;
  std::vector<std::string> outputs;  // encoded results; empty where the input failed
  std::vector<std::string> errors;   // the reason per failed input; empty where it worked
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<int> downloaded{0};
};

struct Report {
  std::ptrdiff_t made = 0;                   // inputs that became an image
  std::optional<Result<std::string>> sheet;  // unset when none did
  double wall_seconds = 0;
  std::uint64_t peak_rss_bytes = 0;
};

// VmHWM (the peak resident set) of `pid` from /proc; 0 when it cannot be read.
std::uint64_t peak_rss_bytes(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string key;
  std::uint64_t kib = 0;
  while (status >> key) {
    if (key == "VmHWM:" && status >> kib) return kib * 1024;
  }
  return 0;
}

asio::awaitable<void> process(TransformService& service, Batch& batch, std::size_t index) {
  auto result = co_await bot::commands::transform_image(service.fetcher(), service.decoders(),
                                                        batch.limits, batch.urls[index], batch.spec,
                                                        batch.bytes, batch.downloaded);
  if (!result) {
    batch.errors[index] = result.error().error.message;
    co_return;
  }
  batch.outputs[index] = std::move(*result);
}

asio::awaitable<Report> run(TransformService& service, Batch& batch, transform::SheetSpec sheet) {
  const auto started = std::chrono::steady_clock::now();
  const std::size_t inputs = batch.urls.size();
  batch.outputs.resize(inputs);
  batch.errors.assign(inputs, "could not be read");  // what a work item that throws leaves
  auto work = [&service, &batch](std::size_t i) {
    batch.errors[i].clear();
    return process(service, batch, i);
  };
  co_await core::fan_out(inputs, batch.limits.downloads_per_job, work);
  Report report;
  report.made = std::count_if(batch.outputs.begin(), batch.outputs.end(),
                              [](const std::string& out) { return !out.empty(); });
  if (report.made > 0) {
    // A copy (a few hundred kilobytes): the results are written to files after the sheet.
    report.sheet = co_await service.decoders().sheet(batch.outputs, sheet);
  }
  report.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // Before the pool stops its workers, while their /proc entries still exist.
  report.peak_rss_bytes = peak_rss_bytes(::getpid());
  for (pid_t pid : co_await service.decoders().worker_pids()) {
    report.peak_rss_bytes += peak_rss_bytes(pid);
  }
  co_return report;
}

bool write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fmt::print(stderr, "mando: cannot write {}\n", path.string());
  return static_cast<bool>(out);
}

int transform_urls(const TransformFlags& flags) {
  auto config = load_config_or_exit(
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config));
  if (flags.urls.size() > static_cast<std::size_t>(config.transform.max_inputs)) {
    exit_with(kUsageError, fmt::format("at most {} URLs ([transform] max_inputs), got {}",
                                       config.transform.max_inputs, flags.urls.size()));
  }
  // CLI11 has checked the names; the parses cannot fail.
  const transform::TransformSpec spec{flags.size, transform::parse_crop(flags.crop).value(),
                                      transform::parse_format(flags.format).value()};
  const transform::SheetSpec sheet_spec{kSheetTile, spec.format, flags.sheet_bytes};
  if (auto valid = transform::validate(sheet_spec); !valid) {
    exit_with(kUsageError, "--sheet-bytes: " + valid.error().message);
  }
  const std::filesystem::path dir(flags.out);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    exit_with(kUsageError, fmt::format("--out: cannot create {}: {}", flags.out, ec.message()));
  }

  asio::io_context ioc;
  auto service = TransformService::open(config, ioc.get_executor());
  if (!service) exit_with(kUsageError, service.error().message);
  Batch batch;
  batch.urls = flags.urls;
  batch.spec = spec;
  batch.limits = config.transform;
  auto future = asio::co_spawn(ioc, run(**service, batch, sheet_spec), asio::use_future);
  ioc.run();
  const Report report = future.get();

  for (std::size_t i = 0; i < batch.errors.size(); ++i) {
    if (!batch.errors[i].empty()) fmt::print(stderr, "image {}: {}\n", i + 1, batch.errors[i]);
  }
  if (flags.stats) {
    fmt::print("{{\"wall_seconds\": {:.3f}, \"peak_rss_bytes\": {}, \"inputs\": {}, \"ok\": {}}}\n",
               report.wall_seconds, report.peak_rss_bytes, batch.urls.size(), report.made);
  }
  if (!report.sheet) {
    fmt::print(stderr, "mando: no image could be used\n");
    return kFailed;
  }
  if (!*report.sheet) {
    fmt::print(stderr, "mando: the contact sheet failed: {}\n", report.sheet->error().message);
    return kFailed;
  }
  const std::string extension(transform::file_extension(spec.format));
  bool written = true;
  for (std::size_t i = 0; i < batch.outputs.size(); ++i) {
    if (!batch.outputs[i].empty()) {
      written &= write_file(dir / fmt::format("{}.{}", i + 1, extension), batch.outputs[i]);
    }
  }
  const auto sheet_path = dir / fmt::format("sheet.{}", extension);
  written &= write_file(sheet_path, **report.sheet);
  fmt::print(stderr, "wrote {} of {} images and {} ({} bytes) in {}\n", report.made,
             batch.urls.size(), sheet_path.filename().string(), report.sheet->value().size(),
             dir.string());
  return written ? 0 : kFailed;
}

}  // namespace

void add_transform_command(CLI::App& app) {
  auto flags = std::make_shared<TransformFlags>();
  auto* cmd = app.add_subcommand(
      "transform",
      "Fetch images, crop each to a square and lay them out on a numbered contact sheet, as "
      "/transform does, with the same [fetch] policy and [transform] limits");
  auto& f = *flags;
  cmd->add_option("--config,-c", f.config, "TOML config file (see mando.example.toml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--size", f.size, "The side of each square result, in pixels (default 512)")
      ->check(CLI::Range(transform::kMinSize, transform::kMaxSize));
  cmd->add_option("--crop", f.crop,
                  "Which part to keep: attention (default) finds the subject; none fits the "
                  "whole image inside")
      ->check(CLI::IsMember({"attention", "entropy", "centre", "none"}));
  cmd->add_option("--format", f.format, "The file format of the results (default jpeg)")
      ->check(CLI::IsMember({"jpeg", "png", "webp"}));
  cmd->add_option("--out,-o", f.out,
                  "Directory for 1.jpg, 2.jpg, ... and sheet.jpg (default: the current one; "
                  "created if missing)");
  cmd->add_option("--sheet-bytes", f.sheet_bytes,
                  "Largest encoded contact sheet in bytes (default 10 MiB, Discord's upload "
                  "limit for bots)");
  cmd->add_flag("--stats", f.stats,
                "Print a JSON line: wall_seconds from the first request to the encoded sheet, "
                "peak_rss_bytes of mando and its decoder processes, inputs, ok");
  cmd->add_option("urls", f.urls, "Image URLs, at most [transform] max_inputs (default 20)")
      ->required();

  cmd->callback([flags] {
    const int status = transform_urls(*flags);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace mando::app
