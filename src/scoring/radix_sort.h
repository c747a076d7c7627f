#pragma once

// Sorting the scorer's packed 64-bit order keys (OrderCandidates).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace rerank::scoring_internal {

// Below this many keys std::sort wins (less work than eight 256-bucket
// prefix sums); above it the radix sort does: no comparisons, hence none of
// the branch mispredictions that are most of a comparison sort's time on
// fresh keys. bench/micro BM_SortKeys, fresh keys per call: radix/std::sort
// 2.9x at 50 keys, 0.75x at 150, 0.86x at 200, 0.40x at 1000, 0.25x at
// 10000 (docs/performance.md, round 3).
inline constexpr size_t kRadixSortMinKeys = 128;

// Sorts `keys` ascending with an LSD radix sort over their eight bytes.
// `scratch` is a buffer reused across calls (resized as needed). One pass
// over the keys counts all eight bytes; a byte on which every key agrees
// (the high bytes of similar scores' exponents, say) costs no pass. The
// passes are stable, so equal keys keep their order, though for the scorer
// keys are unique.
inline void RadixSortKeys(std::vector<uint64_t>* keys,
                          std::vector<uint64_t>* scratch) {
  const size_t n = keys->size();
  if (n == 0) return;
  uint32_t counts[8][256];
  std::memset(counts, 0, sizeof(counts));
  for (const uint64_t k : *keys) {
    ++counts[0][k & 0xff];
    ++counts[1][(k >> 8) & 0xff];
    ++counts[2][(k >> 16) & 0xff];
    ++counts[3][(k >> 24) & 0xff];
    ++counts[4][(k >> 32) & 0xff];
    ++counts[5][(k >> 40) & 0xff];
    ++counts[6][(k >> 48) & 0xff];
    ++counts[7][k >> 56];
  }
  scratch->resize(n);
  uint64_t* from = keys->data();
  uint64_t* to = scratch->data();
  for (int b = 0; b < 8; ++b) {
    uint32_t* count = counts[b];
    const int shift = 8 * b;
    // Every key has the same byte here: the pass would copy them in order.
    if (count[(from[0] >> shift) & 0xff] == n) continue;
    uint32_t sum = 0;
    for (int d = 0; d < 256; ++d) {
      const uint32_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (const uint64_t* k = from; k != from + n; ++k) {
      to[count[(*k >> shift) & 0xff]++] = *k;
    }
    std::swap(from, to);
  }
  if (from != keys->data()) keys->swap(*scratch);
}

// Sorts `keys` ascending: RadixSortKeys from kRadixSortMinKeys keys on,
// std::sort below.
inline void SortKeys(std::vector<uint64_t>* keys,
                     std::vector<uint64_t>* scratch) {
  if (keys->size() < kRadixSortMinKeys) {
    std::sort(keys->begin(), keys->end());
  } else {
    RadixSortKeys(keys, scratch);
  }
}

}  // namespace rerank::scoring_internal
