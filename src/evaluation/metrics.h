#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rerank {

// The cut-off of HR@k and NDCG@k.
inline constexpr int kDefaultMetricCutoff = 10;

// Per-test-case ranking metrics for a single relevant item (leave-one-out):
//   hit              1 if rank <= cutoff, else 0             (HR@cutoff)
//   ndcg             1 / log2(rank + 1) if rank <= cutoff    (NDCG@cutoff;
//                    the ideal DCG of one relevant item is 1)
//   reciprocal_rank  1 / rank, not cut off                    (MRR)
// `rank` is 1-based; rank <= 0 means the true item is not in the list, and
// every metric is 0.
struct RankMetrics {
  double hit = 0;
  double ndcg = 0;
  double reciprocal_rank = 0;
};
RankMetrics MetricsForRank(int rank, int cutoff = kDefaultMetricCutoff);

// Beyond-accuracy metrics of one list (the caller passes its first k items).
//
// Intra-list diversity: the mean, over all unordered pairs of items that
// have factors, of the cosine distance 1 - cos(v_i, v_j). `vectors` holds
// one pointer per item to its `dim` factors, or nullptr for an item without
// factors; an all-zero vector also counts as "without factors" (its cosine
// is undefined). Such items are skipped. nullopt when fewer than two items
// have factors. The value is in [0, 2]: 0 for parallel vectors, 1 for
// orthogonal ones.
std::optional<double> IntraListDiversity(absl::Span<const float* const> vectors,
                                         int dim);

// Category coverage: distinct categories among the items / the number of
// items, in (0, 1]; nullopt for an empty list. An empty category (an item
// without one) is one more value, "none", shared by every such item: ten
// uncategorised items cover 1 category, not 10.
std::optional<double> CategoryCoverage(
    absl::Span<const absl::string_view> categories);

// A point estimate with a two-sided confidence interval.
struct Interval {
  double point = 0;
  double lo = 0;
  double hi = 0;
};

struct BootstrapOptions {
  int resamples = 1000;
  uint64_t seed = 42;
  int threads = 1;
};

// What one bootstrap draw picks.
enum class BootstrapUnit {
  kCase,  // a test case (the textbook leave-one-out bootstrap)
  kUser,  // a user with all their test cases (a cluster bootstrap: one
          // shopper's purchases are correlated, so this gives wider and
          // more honest intervals)
};
absl::StatusOr<BootstrapUnit> ParseBootstrapUnit(absl::string_view name);
absl::string_view BootstrapUnitName(BootstrapUnit unit);

// Non-parametric bootstrap of means over test cases. `values` holds
// `num_series` values per test case, case-major: values[i * num_series + s]
// is series s (e.g. "HR@10 of strategy full") on case i. Each resample draws
// n cases with replacement and takes every series' mean over the SAME draw,
// so differences between series computed from one resample are paired.
//
// Returns resamples x num_series means, resample-major:
// out[b * num_series + s]. Resample b uses its own seeded stream, so the
// result depends on (values, resamples, seed) and not on `threads`.
// INVALID_ARGUMENT for num_series < 1, a size that is not a multiple of it,
// no cases, resamples < 1 or threads < 1.
//
// With `clusters` (one id per case, ids dense in [0, C) with every id used),
// each resample draws C clusters with replacement instead and takes the
// means over all cases of the drawn clusters (weighted by how often each
// was drawn).
absl::StatusOr<std::vector<double>> BootstrapMeans(
    absl::Span<const double> values, int num_series,
    const BootstrapOptions& options, absl::Span<const int32_t> clusters = {});

// The mean of series `s` (case-major layout as above).
double SeriesMean(absl::Span<const double> values, int num_series, int s);

// Percentile interval of `samples` at `confidence` (e.g. 0.95: the 2.5% and
// 97.5% quantiles, linearly interpolated between order statistics), around
// `point`. `samples` is taken by value because it is sorted.
Interval PercentileInterval(std::vector<double> samples, double point,
                            double confidence);

}  // namespace rerank
