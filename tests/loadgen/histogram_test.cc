#include "loadgen/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace rerank::loadgen {
namespace {

// Nearest-rank percentile of `values` (the definition Histogram documents).
int64_t ExactPercentile(std::vector<int64_t> values, double percent) {
  std::sort(values.begin(), values.end());
  const double n = static_cast<double>(values.size());
  int64_t rank = static_cast<int64_t>(std::ceil(percent / 100.0 * n - 1e-9));
  rank = std::clamp<int64_t>(rank, 1, static_cast<int64_t>(values.size()));
  return values[rank - 1];
}

// The documented bound: max(0.5 us, 0.5% of the value), +1 ns rounding.
double AllowedError(int64_t exact) {
  return std::max(500.0, 0.005 * static_cast<double>(exact)) + 1.0;
}

void ExpectPercentilesWithinBound(const std::vector<int64_t>& values) {
  Histogram h;
  for (int64_t v : values) h.Record(v);
  for (double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9,
                   99.99, 100.0}) {
    const int64_t exact = ExactPercentile(values, p);
    EXPECT_LE(std::abs(static_cast<double>(h.Percentile(p) - exact)),
              AllowedError(exact))
        << "p" << p << " exact=" << exact << " got=" << h.Percentile(p);
  }
}

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.Count(), 0);
  EXPECT_EQ(h.Min(), 0);
  EXPECT_EQ(h.Max(), 0);
  EXPECT_EQ(h.Mean(), 0.0);
  EXPECT_EQ(h.Percentile(50), 0);
  EXPECT_EQ(h.Percentile(100), 0);
}

TEST(HistogramTest, SingleValueIsExactEverywhere) {
  Histogram h;
  h.Record(123'456);
  EXPECT_EQ(h.Count(), 1);
  EXPECT_EQ(h.Min(), 123'456);
  EXPECT_EQ(h.Max(), 123'456);
  EXPECT_EQ(h.Mean(), 123'456.0);
  // Clamping to [min, max] makes a single value exact.
  EXPECT_EQ(h.Percentile(0), 123'456);
  EXPECT_EQ(h.Percentile(50), 123'456);
  EXPECT_EQ(h.Percentile(99.9), 123'456);
}

TEST(HistogramTest, MinMaxMeanCountAreExact) {
  Histogram h;
  const std::vector<int64_t> values = {3'000, 1'500'000, 250, 42'000'000,
                                       999'999};
  int64_t sum = 0;
  for (int64_t v : values) {
    h.Record(v);
    sum += v;
  }
  EXPECT_EQ(h.Count(), 5);
  EXPECT_EQ(h.Min(), 250);
  EXPECT_EQ(h.Max(), 42'000'000);
  EXPECT_DOUBLE_EQ(h.Mean(), static_cast<double>(sum) / 5);
}

TEST(HistogramTest, UniformMicrosecondsAreExactToHalfAMicrosecond) {
  // 1..1000 us: the linear range, one value per bucket.
  std::vector<int64_t> values;
  for (int us = 1; us <= 1000; ++us) values.push_back(us * 1000);
  ExpectPercentilesWithinBound(values);
  Histogram h;
  for (int64_t v : values) h.Record(v);
  // Nearest rank 500 is 500 us; bucket [500, 501) us reports its midpoint.
  EXPECT_EQ(h.Percentile(50), 500'500);
}

TEST(HistogramTest, UniformOverLogRangeWithinRelativeError) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> dist(1'000'000, 5'000'000'000);
  std::vector<int64_t> values(100'000);
  for (auto& v : values) v = dist(rng);
  ExpectPercentilesWithinBound(values);
}

TEST(HistogramTest, LogNormalLatenciesWithinDocumentedError) {
  // Typical service shape: ~200 us median with a long tail into seconds.
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> dist(std::log(200'000.0), 1.5);
  std::vector<int64_t> values(200'000);
  for (auto& v : values) v = static_cast<int64_t>(dist(rng));
  ExpectPercentilesWithinBound(values);
}

TEST(HistogramTest, ValuesOnBucketBoundsStayWithinError) {
  // Exercises the std::log index correction at exact bucket edges.
  std::vector<int64_t> values;
  double bound = 1e6;
  for (int k = 0; k < 1000; ++k, bound *= Histogram::kLogRatio) {
    const int64_t b = std::llround(bound);
    values.push_back(b - 1);
    values.push_back(b);
    values.push_back(b + 1);
  }
  ExpectPercentilesWithinBound(values);
}

TEST(HistogramTest, OverflowBeyondSixtySecondsReportsMax) {
  Histogram h;
  h.Record(1'000);
  h.Record(90'000'000'000);  // 90 s
  EXPECT_EQ(h.Percentile(100), 90'000'000'000);
  EXPECT_EQ(h.Max(), 90'000'000'000);
}

TEST(HistogramTest, NegativeValuesRecordAsZero) {
  Histogram h;
  h.Record(-5);
  EXPECT_EQ(h.Min(), 0);
  EXPECT_EQ(h.Percentile(50), 0);
}

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> dist(std::log(300'000.0), 1.0);
  Histogram all;
  Histogram parts[3];
  for (int i = 0; i < 30'000; ++i) {
    const int64_t v = static_cast<int64_t>(dist(rng));
    all.Record(v);
    parts[i % 3].Record(v);
  }
  Histogram merged;
  for (const Histogram& p : parts) merged.Merge(p);
  EXPECT_EQ(merged.Count(), all.Count());
  EXPECT_EQ(merged.Min(), all.Min());
  EXPECT_EQ(merged.Max(), all.Max());
  EXPECT_DOUBLE_EQ(merged.Mean(), all.Mean());
  for (double p = 0; p <= 100; p += 0.5) {
    EXPECT_EQ(merged.Percentile(p), all.Percentile(p)) << "p" << p;
  }
  EXPECT_EQ(merged.Percentile(99.9), all.Percentile(99.9));
}

TEST(HistogramTest, MergingEmptyChangesNothingAndIntoEmptyCopies) {
  Histogram a;
  a.Record(5'000);
  a.Record(7'000);
  Histogram empty;
  a.Merge(empty);
  EXPECT_EQ(a.Count(), 2);
  EXPECT_EQ(a.Min(), 5'000);

  Histogram b;
  b.Merge(a);
  EXPECT_EQ(b.Count(), 2);
  EXPECT_EQ(b.Min(), 5'000);
  EXPECT_EQ(b.Max(), 7'000);
  EXPECT_EQ(b.Percentile(50), a.Percentile(50));
}

TEST(HistogramTest, BucketCountIsSmallEnoughForPerThreadCopies) {
  // 1000 linear + ~1100 log buckets + overflow: ~17 KB of counters.
  EXPECT_GT(Histogram::NumBuckets(), 2000);
  EXPECT_LT(Histogram::NumBuckets(), 2200);
}

}  // namespace
}  // namespace rerank::loadgen
