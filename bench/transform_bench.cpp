// The transform pipeline against issue 12's budget: twenty 12-megapixel JPEGs to 512 x 512
// attention crops plus their contact sheet in <= 1.0 s wall on 2 cores, with <= 300 MB peak RSS
// over all mando processes.
//
//   BM_Thumbnail   one 12 MP JPEG to a 512 px crop in this process: one worker job's CPU
//                  (attention, and centre to show what the attention search costs).
//   BM_VipsThumbnailBuffer  the same with vips_thumbnail_buffer's own shrink-on-load choice.
//   BM_LibjpegDecode        libjpeg alone decoding it at 1/4 and 1/8 scale: the floor.
//   BM_Sheet       the contact sheet of twenty 512 px tiles.
//   BM_Batch       the whole batch through a WorkerPool of 2 workers (this binary re-executed
//                  as `transform_bench transform-worker`, as mando re-executes itself), then the
//                  sheet; wall time, with counters for the input size and the peak RSS of this
//                  process plus every worker.
//
// The input is synthetic but photo-like for the decoder, whose cost is mostly entropy decoding
// and so follows the file size: 4000 x 3000, smooth gradients under Gaussian noise, JPEG
// quality 90, in two weights (see photo(); the size is printed as the input_mb counter). Run
// BM_Batch on its own (--benchmark_filter=Batch) for its RSS counters: this process's peak
// includes whatever ran before it.

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/c_handle.hpp"
#include "transform/pipeline.hpp"
#include "transform/pool.hpp"
#include "transform/worker.hpp"
#include <dirent.h>
#include <jpeglib.h>
#include <unistd.h>
#include <vips/vips.h>

namespace {

namespace asio = boost::asio;
using namespace mando;
using namespace mando::transform;
using ImagePtr = core::CHandle<VipsImage, g_object_unref>;

constexpr int kBatch = 20;
constexpr TransformSpec kSpec{512, Crop::kAttention, Format::kJpeg};

std::string make_photo(double sigma) {
  init_vips();
  VipsImage *xy = nullptr, *noise = nullptr, *sum = nullptr, *rgb = nullptr, *out = nullptr;
  vips_xyz(&xy, 4000, 3000, nullptr);
  ImagePtr xy_owner(xy);
  const double scale[] = {255.0 / 4000, 255.0 / 3000};
  const double offset[] = {0, 0};
  VipsImage* scaled = nullptr;
  vips_linear(xy, &scaled, scale, offset, 2, nullptr);
  ImagePtr scaled_owner(scaled);
  VipsImage* bands[] = {scaled, nullptr};
  vips_extract_band(scaled, &bands[1], 0, nullptr);  // a third band: the x gradient again
  ImagePtr band_owner(bands[1]);
  vips_bandjoin(bands, &rgb, 2, nullptr);
  ImagePtr rgb_owner(rgb);
  vips_gaussnoise(&noise, 4000, 3000, "sigma", sigma, "mean", 0.0, nullptr);
  ImagePtr noise_owner(noise);
  vips_add(rgb, noise, &sum, nullptr);
  ImagePtr sum_owner(sum);
  vips_cast_uchar(sum, &out, nullptr);
  ImagePtr out_owner(out);
  VipsImage* srgb = nullptr;
  vips_copy(out, &srgb, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr);
  ImagePtr srgb_owner(srgb);
  void* buffer = nullptr;
  std::size_t length = 0;
  vips_jpegsave_buffer(srgb, &buffer, &length, "Q", 90, nullptr);
  std::string jpeg(static_cast<const char*>(buffer), length);
  g_free(buffer);
  return jpeg;
}

// Two weights of photo: range(0) == 0 is "typical" (noise sigma 5, about 3 MB, what phones
// write at 12 MP), 1 is "heavy" (sigma 12, about 5 MB: grainy low-light shots, Q 95 exports).
const std::string& photo(int weight = 0) {
  static const std::string typical = make_photo(5);
  static const std::string heavy = make_photo(12);
  return weight == 0 ? typical : heavy;
}

void BM_Thumbnail(benchmark::State& state) {
  const std::string& input = photo(static_cast<int>(state.range(0)));
  TransformSpec spec = kSpec;
  spec.crop = static_cast<Crop>(state.range(1));
  state.SetLabel(std::string(to_string(spec.crop)));
  for (auto _ : state) {
    auto out = thumbnail(input, spec, {});
    if (!out) state.SkipWithError(out.error().message.c_str());
    benchmark::DoNotOptimize(out);
  }
  state.counters["input_mb"] = static_cast<double>(input.size()) / 1e6;
}
BENCHMARK(BM_Thumbnail)
    ->ArgNames({"heavy", "crop"})
    ->Args({0, static_cast<int>(Crop::kAttention)})
    ->Args({1, static_cast<int>(Crop::kAttention)})
    ->Args({0, static_cast<int>(Crop::kCentre)})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// The same picture through vips_thumbnail_buffer as it is, which decodes a JPEG one scale larger
// than thumbnail() does (see jpeg_shrink() in pipeline.cpp): the cost of that choice.
void BM_VipsThumbnailBuffer(benchmark::State& state) {
  const std::string& input = photo(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    VipsImage* out = nullptr;
    void* buffer = nullptr;
    std::size_t length = 0;
    if (vips_thumbnail_buffer(const_cast<char*>(input.data()), input.size(), &out, kSpec.size,
                              "height", kSpec.size, "crop", VIPS_INTERESTING_ATTENTION,
                              nullptr) != 0 ||
        vips_jpegsave_buffer(out, &buffer, &length, "Q", 85, "strip", TRUE, nullptr) != 0) {
      state.SkipWithError(vips_error_buffer());
    }
    g_free(buffer);
    if (out != nullptr) g_object_unref(out);
  }
}
BENCHMARK(BM_VipsThumbnailBuffer)
    ->ArgName("heavy")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// The floor: libjpeg alone decoding the picture at 1/scale, no libvips. Entropy decoding reads
// every bit whatever the scale, so this is most of what a thumbnail costs.
void BM_LibjpegDecode(benchmark::State& state) {
  const std::string& input = photo(static_cast<int>(state.range(0)));
  std::vector<unsigned char> row;
  for (auto _ : state) {
    jpeg_decompress_struct cinfo{};
    jpeg_error_mgr errors{};
    cinfo.err = jpeg_std_error(&errors);  // the input is our own: libjpeg's exit() on error is fine
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    jpeg_read_header(&cinfo, TRUE);
    cinfo.scale_num = 1;
    cinfo.scale_denom = static_cast<unsigned>(state.range(1));
    jpeg_start_decompress(&cinfo);
    row.resize(static_cast<std::size_t>(cinfo.output_width) * cinfo.output_components);
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW rows[1] = {row.data()};
      jpeg_read_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
  }
}
BENCHMARK(BM_LibjpegDecode)
    ->ArgNames({"heavy", "scale"})
    ->Args({0, 4})
    ->Args({1, 4})
    ->Args({1, 8})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

std::vector<std::string> tiles() {
  auto tile = thumbnail(photo(), kSpec, {}).value();
  return std::vector<std::string>(kBatch, tile);
}

void BM_Sheet(benchmark::State& state) {
  const auto inputs = tiles();
  for (auto _ : state) {
    auto sheet = contact_sheet(inputs, {});
    if (!sheet) state.SkipWithError(sheet.error().message.c_str());
    benchmark::DoNotOptimize(sheet);
  }
}
BENCHMARK(BM_Sheet)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

// A /proc/<pid>/status figure in MB: VmHWM (peak resident set), VmPeak (peak address space).
double status_mb(pid_t pid, std::string_view field = "VmHWM:") {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == field) {
      double kb = 0;
      status >> kb;
      return kb / 1024;
    }
  }
  return 0;
}

// This process's children (the workers), from /proc/<pid>/task/<tid>/children of every thread.
std::vector<pid_t> children() {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(::getpid()) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return out;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream list(tasks + "/" + entry->d_name + "/children");
    pid_t pid = 0;
    while (list >> pid) out.push_back(pid);
  }
  ::closedir(dir);
  return out;
}

// CPU time (user + system) the workers have used so far, in milliseconds.
double workers_cpu_ms() {
  double ticks = 0;
  for (pid_t child : children()) {
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the command name, which is in parentheses and may hold spaces.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 13; ++i) rest >> field;  // state .. cmajflt
    double utime = 0, stime = 0;
    rest >> utime >> stime;
    ticks += utime + stime;
  }
  return ticks * 1000 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

asio::awaitable<void> batch(WorkerPool& pool, std::vector<std::string> inputs, bool& ok) {
  const auto executor = co_await asio::this_coro::executor;
  std::vector<std::optional<Result<std::string>>> results(inputs.size());
  std::size_t left = inputs.size();
  asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
  auto one = [](WorkerPool& pool, std::string input, std::optional<Result<std::string>>& out,
                std::size_t& left, asio::steady_timer& all_done) -> asio::awaitable<void> {
    out = co_await pool.thumbnail(std::move(input), kSpec, {});
    if (--left == 0) all_done.cancel();
  };
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    asio::co_spawn(executor, one(pool, std::move(inputs[i]), results[i], left, all_done),
                   asio::detached);
  }
  co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
  std::vector<std::string> tiles;
  for (auto& r : results) tiles.push_back(r && *r ? std::move(**r) : std::string());
  auto sheet = co_await pool.sheet(std::move(tiles), {});
  ok = sheet.has_value();
}

void BM_Batch(benchmark::State& state) {
  asio::io_context ioc;
  PoolOptions options;  // two workers: /proc/self/exe transform-worker
  auto pool = std::make_unique<WorkerPool>(ioc.get_executor(), options);
  const std::string& input = photo(static_cast<int>(state.range(0)));
  // Warm-up: both workers started and ready, as in a running mando.
  bool ok = false;
  asio::co_spawn(ioc, batch(*pool, std::vector<std::string>(2, input), ok), asio::detached);
  ioc.run();
  const double cpu_before = workers_cpu_ms();
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<std::string> inputs(kBatch, input);  // the downloads, already in memory
    ioc.restart();
    state.ResumeTiming();
    asio::co_spawn(ioc, batch(*pool, std::move(inputs), ok), asio::detached);
    ioc.run();
    if (!ok) state.SkipWithError("a job failed");
  }
  // What the batch costs the two cores, whatever else the machine runs: half of this is the
  // wall time with both cores to ourselves.
  state.counters["workers_cpu_ms"] =
      (workers_cpu_ms() - cpu_before) / static_cast<double>(state.iterations());
  // This process holds the twenty downloads, as the bot would; the workers hold one each.
  const double parent = status_mb(::getpid());
  double workers = 0, address_space = 0;
  for (pid_t child : children()) {
    workers += status_mb(child);
    address_space = std::max(address_space, status_mb(child, "VmPeak:"));
  }
  // What RLIMIT_AS (PoolOptions::address_space_bytes) must leave room for.
  state.counters["worker_vm_peak_mb"] = address_space;
  state.counters["peak_rss_mb_parent"] = parent;
  state.counters["peak_rss_mb_workers"] = workers;
  state.counters["peak_rss_mb_all"] = parent + workers;
  state.counters["input_mb"] = static_cast<double>(input.size()) / 1e6;
  pool.reset();
  ioc.restart();
  ioc.run();
}
BENCHMARK(BM_Batch)
    ->ArgName("heavy")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(5);

}  // namespace

int main(int argc, char** argv) {
  // Re-executed by the pool as a worker, like `mando transform-worker`.
  if (argc > 1 && std::string_view(argv[1]) == "transform-worker") {
    return worker_main(STDIN_FILENO, STDOUT_FILENO);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
