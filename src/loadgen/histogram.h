#pragma once

#include <cstdint>
#include <vector>

namespace rerank::loadgen {

// A log-linear latency histogram in the spirit of HdrHistogram, small enough
// to keep one per polling thread and merge at the end of a run.
//
// Buckets (values are nanoseconds):
//   [0, 1 ms)     1000 linear buckets, 1 us wide;
//   [1 ms, 60 s)  log buckets, each 1% wider than the previous one;
//   [60 s, inf)   one overflow bucket.
//
// Accuracy: Percentile() returns the midpoint of the bucket holding the
// requested rank, clamped to [Min(), Max()]. The error against the exact
// nearest-rank percentile is therefore at most max(0.5 us, 0.5% of the value)
// (+1 ns of integer rounding) below 60 s; in the overflow bucket it returns
// Max(). Min(), Max(), Mean() and Count() are exact.
//
// Recording is O(1): a division below 1 ms, one std::log plus at most a
// couple of comparisons above it. The bucket bounds are shared, immutable and
// built once.
//
// Thread-safety: none. Own one per thread and Merge() them afterwards; that
// keeps the hot path free of locks and shared cache lines.
class Histogram {
 public:
  // Upper bound of the linear range and of the tracked log range.
  static constexpr int64_t kLinearLimitNs = 1'000'000;        // 1 ms
  static constexpr int64_t kLinearBucketNs = 1'000;           // 1 us
  static constexpr int64_t kTrackedLimitNs = 60'000'000'000;  // 60 s
  // Ratio between consecutive log bucket bounds.
  static constexpr double kLogRatio = 1.01;

  Histogram();

  // Records one value. Negative values are recorded as 0.
  void Record(int64_t value_ns);

  // Adds every value recorded in `other` to this histogram.
  void Merge(const Histogram& other);

  int64_t Count() const { return count_; }
  // 0 when empty.
  int64_t Min() const { return count_ == 0 ? 0 : min_; }
  int64_t Max() const { return count_ == 0 ? 0 : max_; }
  double Mean() const;

  // Nearest-rank percentile, `percent` in [0, 100] (clamped). 0 when empty.
  int64_t Percentile(double percent) const;

  // Number of buckets; exposed for tests.
  static int NumBuckets();

 private:
  static int BucketIndex(int64_t value_ns);
  // Representative value of bucket `index` (its midpoint).
  int64_t BucketValue(int index) const;

  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  // Sum of all values; int64 ns overflows only after ~292 years of latency.
  int64_t sum_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
};

}  // namespace rerank::loadgen
