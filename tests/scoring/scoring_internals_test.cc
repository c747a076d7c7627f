// The scorer's internal building blocks: SortKeys (radix_sort.h) and
// RowTable (scoring_context.h). The scorer's own tests cover them only
// through orders and scores; these pin down their contracts directly, at
// the sizes where their code paths switch.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "absl/base/casts.h"
#include "gtest/gtest.h"
#include "scoring/radix_sort.h"
#include "scoring/scoring_context.h"

namespace rerank::scoring_internal {
namespace {

std::vector<uint64_t> RandomKeys(size_t n, uint64_t mask, uint32_t seed) {
  std::mt19937_64 random(seed);
  std::vector<uint64_t> keys(n);
  for (uint64_t& k : keys) k = random() & mask;
  return keys;
}

void ExpectSortsLikeStdSort(std::vector<uint64_t> keys) {
  std::vector<uint64_t> expected = keys;
  std::sort(expected.begin(), expected.end());
  std::vector<uint64_t> scratch;
  SortKeys(&keys, &scratch);
  EXPECT_EQ(keys, expected);
}

TEST(SortKeysTest, SortsAroundTheRadixThreshold) {
  for (const size_t n : {size_t{0}, size_t{1}, size_t{2}, kRadixSortMinKeys - 1,
                         kRadixSortMinKeys, kRadixSortMinKeys + 1, size_t{1000},
                         size_t{10000}}) {
    SCOPED_TRACE(n);
    ExpectSortsLikeStdSort(
        RandomKeys(n, ~uint64_t{0}, static_cast<uint32_t>(n)));
  }
}

TEST(SortKeysTest, SortsKeysThatShareMostBytes) {
  // Bytes on which every key agrees skip their pass: an odd number of passes
  // leaves the result in the scratch buffer, which must come back.
  for (const uint64_t mask :
       {uint64_t{0xff}, uint64_t{0xff00}, uint64_t{0xffff},
        uint64_t{0xff00000000000000}, uint64_t{0x00ff00ff00ff0000}}) {
    SCOPED_TRACE(mask);
    std::vector<uint64_t> keys = RandomKeys(1000, mask, 7);
    for (uint64_t& k : keys) k |= uint64_t{0x1200000000000034} & ~mask;
    ExpectSortsLikeStdSort(keys);
  }
}

TEST(SortKeysTest, SortsDuplicatesAndExtremes) {
  std::vector<uint64_t> keys;
  for (int i = 0; i < 600; ++i) {
    keys.push_back(i % 3 == 0 ? 0 : i % 3 == 1 ? ~uint64_t{0} : uint64_t{42});
  }
  ExpectSortsLikeStdSort(keys);
  ExpectSortsLikeStdSort(std::vector<uint64_t>(500, 5));  // all equal
}

TEST(SortKeysTest, ReusesAScratchBufferAcrossCalls) {
  std::vector<uint64_t> scratch;
  for (uint32_t round = 0; round < 4; ++round) {
    std::vector<uint64_t> keys =
        RandomKeys(300 + 400 * round, ~uint64_t{0}, round);
    std::vector<uint64_t> expected = keys;
    std::sort(expected.begin(), expected.end());
    SortKeys(&keys, &scratch);
    EXPECT_EQ(keys, expected) << "round " << round;
  }
}

TEST(RowTableTest, FindsWhatWasInsertedAndNothingElse) {
  RowTable table;
  table.Reset(100);
  for (int32_t i = 0; i < 100; ++i) {
    bool inserted = false;
    EXPECT_EQ(table.FindOrInsert(i * 7919, i, &inserted), i);
    EXPECT_TRUE(inserted);
  }
  for (int32_t i = 0; i < 100; ++i) {
    bool inserted = true;
    EXPECT_EQ(table.FindOrInsert(i * 7919, 1000 + i, &inserted), i)
        << "a second insert returns the first index";
    EXPECT_FALSE(inserted);
    EXPECT_EQ(table.Find(i * 7919), i);
    EXPECT_EQ(table.Find(i * 7919 + 1), -1);
  }
  EXPECT_EQ(table.Find(std::numeric_limits<int32_t>::max()), -1);
}

TEST(RowTableTest, GrowsPastItsExpectedSize) {
  RowTable table;
  table.Reset(4);
  for (int32_t i = 0; i < 5000; ++i) {
    bool inserted = false;
    table.FindOrInsert(i, i, &inserted);
    ASSERT_TRUE(inserted) << i;
  }
  for (int32_t i = 0; i < 5000; ++i) ASSERT_EQ(table.Find(i), i);
  EXPECT_EQ(table.Find(5000), -1);
}

TEST(RowTableTest, ResetForgetsEverything) {
  RowTable table;
  table.Reset(10);
  bool inserted = false;
  table.FindOrInsert(3, 0, &inserted);
  table.Reset(10);
  EXPECT_EQ(table.Find(3), -1);
  EXPECT_EQ(table.FindOrInsert(3, 9, &inserted), 9);
  EXPECT_TRUE(inserted);
}

TEST(RowTableTest, RowsOneTableSizeApartAreAllFound) {
  // Rows that agree in their low bits (a stride of the table size) all land
  // in one home slot under a mask-only hash; the multiplier spreads them.
  RowTable table;
  table.Reset(512);  // 1024 entries
  for (int32_t i = 0; i < 512; ++i) {
    bool inserted = false;
    table.FindOrInsert(i * 1024, i, &inserted);
  }
  for (int32_t i = 0; i < 512; ++i) ASSERT_EQ(table.Find(i * 1024), i);
}

// The feature pass's column kernels: the vector path gives the portable
// path's bits, at every length around the vector widths and on the edge
// values (constant columns, zero and infinite norms, overflowing quotients).
std::vector<float> RandomColumn(int32_t rows, std::mt19937* rng) {
  std::normal_distribution<float> normal(3.0f, 10.0f);
  std::vector<float> column(rows);
  for (float& x : column) x = normal(*rng);
  return column;
}

// The bit patterns of `column`, for comparing floats exactly (NaN too).
std::vector<uint32_t> Bits(const std::vector<float>& column) {
  std::vector<uint32_t> bits;
  for (float x : column) bits.push_back(absl::bit_cast<uint32_t>(x));
  return bits;
}

TEST(ColumnKernelsTest, ZScoreVectorPathGivesThePortableBits) {
  std::mt19937 rng(7);
  for (int32_t rows : {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 200, 201}) {
    std::vector<std::vector<float>> inputs = {RandomColumn(rows, &rng),
                                              std::vector<float>(rows, 2.5f)};
    std::vector<float> huge = RandomColumn(rows, &rng);
    for (float& x : huge) x *= 1e36f;
    inputs.push_back(huge);
    for (const std::vector<float>& in : inputs) {
      std::vector<float> portable(rows, -1.0f), vector(rows, -1.0f);
      ZScoreColumn(in.data(), portable.data(), rows, false);
      ZScoreColumn(in.data(), vector.data(), rows, true);
      ASSERT_EQ(Bits(portable), Bits(vector)) << "rows=" << rows;
    }
  }
}

TEST(ColumnKernelsTest, ZScoreIsStandardisedAndZeroForAConstantColumn) {
  const std::vector<float> in = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  std::vector<float> out(5);
  ZScoreColumn(in.data(), out.data(), 5, true);
  // mean 3, population std sqrt(2)
  EXPECT_FLOAT_EQ(out[0], -2.0f / std::sqrt(2.0f));
  EXPECT_FLOAT_EQ(out[2], 0.0f);
  EXPECT_FLOAT_EQ(out[4], 2.0f / std::sqrt(2.0f));
  const std::vector<float> same(9, 4.0f);
  std::vector<float> zero(9, -1.0f);
  ZScoreColumn(same.data(), zero.data(), 9, true);
  EXPECT_EQ(zero, std::vector<float>(9, 0.0f));
}

TEST(ColumnKernelsTest, CosineVectorPathGivesThePortableBitsAndEdgeZeros) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  std::mt19937 rng(11);
  for (int32_t rows : {0, 1, 7, 8, 9, 16, 17, 200, 203}) {
    std::vector<float> dot = RandomColumn(rows, &rng);
    std::vector<float> norm2 = RandomColumn(rows, &rng);
    for (float& x : norm2) x = x * x;
    // Edge rows: no factor row, an infinite norm, an infinite dot, a
    // quotient that overflows.
    if (rows > 0) norm2[0] = 0.0f;
    if (rows > 3) norm2[3] = kInf;
    if (rows > 5) dot[5] = kInf;
    if (rows > 6) {
      dot[6] = 3e38f;
      norm2[6] = 1e-30f;
    }
    std::vector<float> portable = dot, vector = dot;
    CosineColumn(portable.data(), norm2.data(), rows, false);
    CosineColumn(vector.data(), norm2.data(), rows, true);
    ASSERT_EQ(Bits(portable), Bits(vector)) << "rows=" << rows;
    for (int32_t r = 0; r < rows; ++r) {
      ASSERT_TRUE(std::isfinite(vector[r])) << r;
    }
    if (rows > 6) {
      EXPECT_EQ(vector[0], 0.0f);
      EXPECT_EQ(vector[3], 0.0f);
      EXPECT_EQ(vector[5], 0.0f);
      EXPECT_EQ(vector[6], 0.0f);
      EXPECT_FLOAT_EQ(vector[1], dot[1] / std::sqrt(norm2[1]));
    }
  }
}

}  // namespace
}  // namespace rerank::scoring_internal
