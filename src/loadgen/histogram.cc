#include "loadgen/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rerank::loadgen {
namespace {

constexpr int kLinearBuckets =
    static_cast<int>(Histogram::kLinearLimitNs / Histogram::kLinearBucketNs);

// Lower bound (inclusive) of every bucket, ascending. The last entry is the
// overflow bucket starting at kTrackedLimitNs. Built once; immutable after,
// so concurrent readers need no synchronisation.
const std::vector<int64_t>& LowerBounds() {
  static const std::vector<int64_t>* const bounds = [] {
    auto* b = new std::vector<int64_t>();
    for (int i = 0; i < kLinearBuckets; ++i) {
      b->push_back(i * Histogram::kLinearBucketNs);
    }
    // Rounding to whole nanoseconds keeps the bounds exact integers, so the
    // index correction below and BucketValue() agree on every edge. Buckets
    // above 1 ms are >= 10 us wide, so rounding never collapses two bounds.
    for (int k = 0;; ++k) {
      const int64_t lo =
          std::llround(static_cast<double>(Histogram::kLinearLimitNs) *
                       std::pow(Histogram::kLogRatio, k));
      if (lo >= Histogram::kTrackedLimitNs) break;
      b->push_back(lo);
    }
    b->push_back(Histogram::kTrackedLimitNs);
    return b;
  }();
  return *bounds;
}

}  // namespace

Histogram::Histogram() : counts_(LowerBounds().size(), 0) {}

int Histogram::NumBuckets() { return static_cast<int>(LowerBounds().size()); }

int Histogram::BucketIndex(int64_t value_ns) {
  if (value_ns < kLinearLimitNs) {
    return static_cast<int>(value_ns / kLinearBucketNs);
  }
  const std::vector<int64_t>& lo = LowerBounds();
  const int last = static_cast<int>(lo.size()) - 1;
  if (value_ns >= kTrackedLimitNs) return last;
  static const double kInvLogRatio = 1.0 / std::log(kLogRatio);
  int index = kLinearBuckets +
              static_cast<int>(
                  std::log(static_cast<double>(value_ns) / kLinearLimitNs) *
                  kInvLogRatio);
  // std::log may land one bucket off near a bound; correct against the exact
  // integer bounds so recording and reporting use the same edges.
  index = std::clamp(index, kLinearBuckets, last - 1);
  while (index > kLinearBuckets && value_ns < lo[index]) --index;
  while (index + 1 < last && value_ns >= lo[index + 1]) ++index;
  return index;
}

void Histogram::Record(int64_t value_ns) {
  if (value_ns < 0) value_ns = 0;
  ++counts_[BucketIndex(value_ns)];
  if (count_ == 0) {
    min_ = max_ = value_ns;
  } else {
    min_ = std::min(min_, value_ns);
    max_ = std::max(max_, value_ns);
  }
  ++count_;
  sum_ += value_ns;
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  sum_ += other.sum_;
}

double Histogram::Mean() const {
  return count_ == 0 ? 0.0
                     : static_cast<double>(sum_) / static_cast<double>(count_);
}

int64_t Histogram::BucketValue(int index) const {
  const std::vector<int64_t>& lo = LowerBounds();
  const int last = static_cast<int>(lo.size()) - 1;
  // The overflow bucket has no upper bound: the exact maximum is the only
  // honest answer.
  if (index == last) return max_;
  const int64_t mid = lo[index] + (lo[index + 1] - lo[index]) / 2;
  return std::clamp(mid, min_, max_);
}

int64_t Histogram::Percentile(double percent) const {
  if (count_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  // Nearest rank: the smallest value with at least `percent`% of the values
  // at or below it. The epsilon keeps e.g. 99.9% of 1000 at rank 999 even
  // when the product rounds to 999.0000000000001.
  int64_t rank = static_cast<int64_t>(
      std::ceil(percent / 100.0 * static_cast<double>(count_) - 1e-9));
  rank = std::clamp<int64_t>(rank, 1, count_);
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return BucketValue(static_cast<int>(i));
  }
  return max_;  // Unreachable: the counts sum to count_.
}

}  // namespace rerank::loadgen
