#include "common/parallel.h"

#include <algorithm>
#include <thread>

namespace rerank {

std::vector<int64_t> BalancedChunks(absl::Span<const int64_t> indptr,
                                    int chunks, int64_t base_cost) {
  const int64_t n = static_cast<int64_t>(indptr.size()) - 1;
  chunks = std::max(1, chunks);
  std::vector<int64_t> bounds(chunks + 1, n);
  bounds[0] = 0;
  const int64_t total = (indptr[n] - indptr[0]) + base_cost * n;
  int64_t row = 0;
  for (int c = 1; c < chunks; ++c) {
    // First row whose cumulative cost reaches c/chunks of the total.
    const int64_t target = total * c / chunks;
    while (row < n && (indptr[row] - indptr[0]) + base_cost * row < target) {
      ++row;
    }
    bounds[c] = row;
  }
  return bounds;
}

std::vector<int64_t> EvenChunks(int64_t n, int chunks) {
  chunks = std::max(1, chunks);
  std::vector<int64_t> bounds(chunks + 1);
  for (int c = 0; c <= chunks; ++c) bounds[c] = n * c / chunks;
  return bounds;
}

void RunChunks(absl::Span<const int64_t> boundaries,
               const std::function<void(int, int64_t, int64_t)>& fn) {
  const int chunks = static_cast<int>(boundaries.size()) - 1;
  if (chunks <= 0) return;
  std::vector<std::thread> workers;
  workers.reserve(chunks - 1);
  for (int c = 1; c < chunks; ++c) {
    if (boundaries[c] == boundaries[c + 1]) continue;
    workers.emplace_back(fn, c, boundaries[c], boundaries[c + 1]);
  }
  if (boundaries[0] < boundaries[1]) fn(0, boundaries[0], boundaries[1]);
  for (std::thread& t : workers) t.join();
}

}  // namespace rerank
