#pragma once
// The renderer's own pseudo-random generator: xoshiro256** seeded through splitmix64 (Blackman
// and Vigna, https://prng.di.unimi.it/). Written here rather than taken from <random> because
// std::uniform_*_distribution is implementation-defined: libstdc++ and libc++ turn the same engine
// output into different numbers, and a mandala's seed must give the same picture everywhere.
// Every draw below is plain integer arithmetic or one exact scaling to double.
//
// Not thread-safe; each render owns its generators.

#include <cstdint>

namespace mando::render {

// One splitmix64 step: also the way to derive an independent seed from a seed and an index.
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A seed for sub-stream `index` of `seed` (grid cells, layers): different indices give unrelated
// streams.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t state = seed ^ (index * 0xd1b54a32d192ed03ULL);
  splitmix64(state);
  return splitmix64(state);
}

class Random {
 public:
  explicit constexpr Random(std::uint64_t seed) {
    for (auto& word : s_) word = splitmix64(seed);
  }

  constexpr std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1): the top 53 bits, scaled exactly.
  constexpr double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  constexpr double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform in [0, n) for n >= 1 (Lemire's multiply-shift; the bias is below 2^-60 for small n).
  constexpr std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  constexpr bool coin() { return (next() >> 63) != 0; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4] = {};
};

}  // namespace mando::render
