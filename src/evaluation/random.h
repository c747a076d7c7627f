#pragma once

// Small deterministic random helpers for the evaluation. Every random choice
// rerank-eval makes (test-case sample, insertion position of an unretrieved
// true item, bootstrap resamples) goes through these so that one --seed
// gives the same report on every machine and for every thread count:
// std::mt19937_64's output is fixed by the standard, but the std::*
// distributions are not, so they are not used.

#include <cstdint>
#include <random>

namespace rerank {

// SplitMix64 finaliser: turns (seed, index) pairs into well-mixed,
// independent-looking seeds, so each test case / resample gets its own
// stream whichever thread runs it.
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A seed derived from a base seed and a stream index (and a purpose tag, so
// that e.g. resample 3 and test case 3 do not share a stream).
inline uint64_t DeriveSeed(uint64_t seed, uint64_t tag, uint64_t index) {
  return SplitMix64(SplitMix64(seed ^ SplitMix64(tag)) + index);
}

class EvalRng {
 public:
  explicit EvalRng(uint64_t seed) : engine_(seed) {}

  uint64_t Next() { return engine_(); }

  // Uniform in [0, n), n > 0, without modulo bias: Lemire's multiply-shift
  // with rejection ("Fast random integer generation in an interval", 2019),
  // which needs a division only in the rare rejection branch -- the
  // bootstrap draws hundreds of millions of these.
  uint64_t Uniform(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(engine_()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(engine_()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [0, 1), 53 random bits.
  double UniformDouble() {
    return static_cast<double>(engine_() >> 11) * 0x1p-53;
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace rerank
