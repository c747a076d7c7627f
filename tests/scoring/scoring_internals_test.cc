// The scorer's internal building blocks: SortKeys (radix_sort.h) and
// RowTable (scoring_context.h). The scorer's own tests cover them only
// through orders and scores; these pin down their contracts directly, at
// the sizes where their code paths switch.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

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

}  // namespace
}  // namespace rerank::scoring_internal
