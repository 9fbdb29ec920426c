// The mandala renderer against issue 4's targets: the default /mando picture (1024 px, four
// layers) rendered and encoded as PNG in <= 30 ms on one core, and a 48-frame 512 px animated
// WebP in <= 1.5 s. Render and encode are measured apart and together, per style and size, with
// the output sizes as counters. Figures and analysis: docs/BENCHMARKS.md, docs/RENDERER.md.

#include <cstdint>
#include <string>

#include <benchmark/benchmark.h>

#include "render/encode.hpp"
#include "render/mandala.hpp"
#include "render/render.hpp"
#include <spng.h>

namespace {

using namespace mando::render;

constexpr Style kStyles[] = {Style::kLine, Style::kFill, Style::kBezier, Style::kBezierFill,
                             Style::kRandom};
constexpr int kSeeds = 16;  // the default picture varies with the seed: cycle through these

MandalaSpec spec_for(const benchmark::State& state, std::uint64_t seed) {
  MandalaSpec spec;
  spec.seed = seed;
  spec.style = kStyles[state.range(0)];
  spec.size = static_cast<int>(state.range(1));
  return spec;
}

void label_style(benchmark::State& state) {
  state.SetLabel(std::string(to_string(kStyles[state.range(0)])));
}

void StyleSizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"style", "size"});
  for (int size : {512, 1024, 2048}) {
    for (int style = 0; style < 5; ++style) b->Args({style, size});
  }
  b->Unit(benchmark::kMillisecond);
}

void BM_Render(benchmark::State& state) {
  std::uint64_t seed = 0;
  for (auto _ : state) {
    auto image = render_mandala(spec_for(state, seed++ % kSeeds));
    benchmark::DoNotOptimize(image);
  }
  label_style(state);
}
BENCHMARK(BM_Render)->Apply(StyleSizes);

// Render + PNG encode with the shipped settings: what a /mando worker does.
void BM_RenderPng(benchmark::State& state) {
  std::uint64_t seed = 0;
  double bytes = 0;
  for (auto _ : state) {
    auto png = encode_png(render_mandala(spec_for(state, seed++ % kSeeds)).value());
    bytes += static_cast<double>(png->size());
  }
  state.counters["bytes"] = bytes / static_cast<double>(state.iterations());
  label_style(state);
}
BENCHMARK(BM_RenderPng)->Apply(StyleSizes);

// Encoders alone, on the default picture (random styles) of seeds 0..count-1, rendered once.
std::vector<Image> default_pictures(int size, int count) {
  MandalaSpec spec;
  spec.size = size;
  std::vector<Image> images;
  for (int seed = 0; seed < count; ++seed) {
    spec.seed = static_cast<std::uint64_t>(seed);
    images.push_back(render_mandala(spec).value());
  }
  return images;
}

// Encodes the pictures in turn and reports the mean output size.
template <typename Encode>
void encode_loop(benchmark::State& state, const std::vector<Image>& images, Encode encode) {
  std::size_t i = 0;
  double bytes = 0;
  for (auto _ : state) bytes += static_cast<double>(encode(images[i++ % images.size()])->size());
  state.counters["bytes"] = bytes / static_cast<double>(state.iterations());
}

// PNG: args are size, filter choice (spng bit set), zlib level and zlib strategy.
void BM_EncodePng(benchmark::State& state) {
  const PngOptions options{.level = static_cast<int>(state.range(2)),
                           .filters = static_cast<int>(state.range(1)),
                           .strategy = static_cast<int>(state.range(3))};
  encode_loop(state, default_pictures(static_cast<int>(state.range(0)), kSeeds),
              [&](const Image& image) { return encode_png(image, options); });
}
BENCHMARK(BM_EncodePng)
    ->ArgNames({"size", "filters", "level", "strategy"})
    ->ArgsProduct({{512, 1024, 2048}, {SPNG_FILTER_CHOICE_NONE}, {3}, {0}})
    ->ArgsProduct({{1024},
                   {SPNG_FILTER_CHOICE_NONE, SPNG_FILTER_CHOICE_SUB, SPNG_FILTER_CHOICE_UP,
                    SPNG_FILTER_CHOICE_PAETH, SPNG_FILTER_CHOICE_ALL},
                   {1, 3, 6, 9},
                   {0}})
    ->ArgsProduct({{1024}, {SPNG_FILTER_CHOICE_NONE, SPNG_FILTER_CHOICE_UP}, {1, 3}, {1, 3}})
    ->Unit(benchmark::kMillisecond);

// WebP: args are size, lossy (0/1) and method (lossless: the preset level).
void BM_EncodeWebp(benchmark::State& state) {
  const WebpOptions options{
      .lossy = state.range(1) != 0, .quality = 90, .method = static_cast<int>(state.range(2))};
  encode_loop(state, default_pictures(static_cast<int>(state.range(0)), 4),
              [&](const Image& image) { return encode_webp(image, options); });
}
BENCHMARK(BM_EncodeWebp)
    ->ArgNames({"size", "lossy", "method"})
    ->ArgsProduct({{512, 1024, 2048}, {0, 1}, {-1}})
    ->ArgsProduct({{1024}, {0}, {0, 1, 3, 6}})
    ->ArgsProduct({{1024}, {1}, {0, 2, 4, 6}})
    ->Unit(benchmark::kMillisecond);

// The conversion from Cairo's premultiplied ARGB to straight RGBA, part of every encode.
void BM_ToRgba(benchmark::State& state) {
  MandalaSpec spec;
  spec.size = static_cast<int>(state.range(0));
  spec.background = state.range(1) != 0 ? Background::kTransparent : Background::kRadial;
  const Image image = render_mandala(spec).value();
  for (auto _ : state) benchmark::DoNotOptimize(to_rgba(image));
}
BENCHMARK(BM_ToRgba)
    ->ArgNames({"size", "transparent"})
    ->ArgsProduct({{1024}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

// Parts of a render, to split its cost (docs/BENCHMARKS.md): the background alone, the layers
// alone on a transparent background, the default picture, and the default with glow.
void BM_RenderParts(benchmark::State& state) {
  std::uint64_t seed = 0;
  for (auto _ : state) {
    MandalaSpec spec;
    spec.seed = seed++ % kSeeds;
    if (state.range(0) == 0) spec.radii = {0.0001}, spec.layers = 1;  // next to nothing drawn
    if (state.range(0) == 1) spec.background = Background::kTransparent;
    if (state.range(0) == 3) spec.glow = true;
    auto image = render_mandala(spec);
    benchmark::DoNotOptimize(image);
  }
  constexpr const char* kLabels[] = {"background only", "layers only (transparent)", "default",
                                     "default with glow"};
  state.SetLabel(kLabels[state.range(0)]);
}
BENCHMARK(BM_RenderParts)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// The /mando animation: 48 frames at 512 px, animated WebP, as `mando render --animate` makes it
// (lossy q80, the shipped method) and with other encoder methods and lossless for comparison.
// Args: lossy, motion (0 turn, 1 bloom), method (-1 = the shipped default).
void BM_Animation(benchmark::State& state) {
  MandalaSpec spec;
  spec.size = 512;
  spec.format = Format::kWebp;
  spec.frames = 48;
  spec.lossy = state.range(0) != 0;
  spec.quality = 80;
  spec.motion = state.range(1) != 0 ? Motion::kBloom : Motion::kTurn;
  const int method = static_cast<int>(state.range(2));
  std::uint64_t seed = 0;
  double bytes = 0;
  for (auto _ : state) {
    spec.seed = seed++ % 4;
    mando::Result<Bytes> webp;
    if (method < 0) {
      webp = render_file(spec);
    } else {
      auto encoder = AnimationEncoder::create(
          512, 512, kFrameMs, {.lossy = spec.lossy, .quality = spec.quality, .method = method});
      for (int frame = 0; frame < spec.frames; ++frame) {
        (void)encoder->add(render_mandala(spec, frame).value());
      }
      webp = encoder->finish();
    }
    bytes += static_cast<double>(webp->size());
  }
  state.counters["bytes"] = bytes / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Animation)
    ->ArgNames({"lossy", "bloom", "method"})
    ->Args({1, 0, -1})
    ->Args({1, 1, -1})
    ->Args({0, 0, -1})
    ->ArgsProduct({{1}, {0}, {0, 1, 2, 4}})
    ->ArgsProduct({{0}, {0}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(4);

}  // namespace

BENCHMARK_MAIN();
