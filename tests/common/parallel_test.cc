// BalancedChunks / EvenChunks / RunChunks: the work split of training and
// evaluation, which must be reproducible and cover every row exactly once.

#include "common/parallel.h"

#include <atomic>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace rerank {
namespace {

TEST(ParallelTest, EvenChunksCoverEveryRowOnceInOrder) {
  for (int64_t n : {0, 1, 7, 100}) {
    for (int chunks : {1, 3, 8}) {
      const std::vector<int64_t> b = EvenChunks(n, chunks);
      ASSERT_EQ(b.front(), 0);
      ASSERT_EQ(b.back(), n);
      for (size_t i = 1; i < b.size(); ++i) ASSERT_LE(b[i - 1], b[i]);
    }
  }
  const std::vector<int64_t> b = EvenChunks(100, 4);
  EXPECT_EQ(b, (std::vector<int64_t>{0, 25, 50, 75, 100}));
}

TEST(ParallelTest, BalancedChunksSplitByCostNotByRows) {
  // Row 0 holds 90 of the 100 non-zeros: with no per-row cost, it is a
  // chunk of its own and the other nine rows share the second.
  std::vector<int64_t> indptr = {0, 90};
  for (int r = 1; r <= 9; ++r) indptr.push_back(90 + r);
  const std::vector<int64_t> b = BalancedChunks(indptr, 2, 0);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.front(), 0);
  EXPECT_EQ(b[1], 1);
  EXPECT_EQ(b.back(), 10);
  // The same arguments give the same split (reproducible training).
  EXPECT_EQ(BalancedChunks(indptr, 2, 0), b);
}

TEST(ParallelTest, RunChunksRunsEveryRangeOnceAndWaits) {
  const std::vector<int64_t> bounds = EvenChunks(1000, 4);
  std::vector<std::atomic<int>> seen(1000);
  std::atomic<int> chunks_run{0};
  RunChunks(bounds, [&](int, int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) seen[r].fetch_add(1);
    chunks_run.fetch_add(1);
  });
  EXPECT_EQ(chunks_run.load(), 4);
  for (int r = 0; r < 1000; ++r) ASSERT_EQ(seen[r].load(), 1) << r;
}

}  // namespace
}  // namespace rerank
