#include "evaluation/metrics.h"

#include <cmath>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

TEST(MetricsForRankTest, RankOneIsPerfect) {
  const RankMetrics m = MetricsForRank(1);
  EXPECT_DOUBLE_EQ(m.hit, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 1.0);
  EXPECT_DOUBLE_EQ(m.reciprocal_rank, 1.0);
}

TEST(MetricsForRankTest, RankThree) {
  const RankMetrics m = MetricsForRank(3);
  EXPECT_DOUBLE_EQ(m.hit, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 0.5);  // 1 / log2(4)
  EXPECT_DOUBLE_EQ(m.reciprocal_rank, 1.0 / 3.0);
}

TEST(MetricsForRankTest, RankTenIsTheLastHit) {
  const RankMetrics m = MetricsForRank(10);
  EXPECT_DOUBLE_EQ(m.hit, 1.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 1.0 / std::log2(11.0));
}

TEST(MetricsForRankTest, RankElevenOnlyCountsForMrr) {
  const RankMetrics m = MetricsForRank(11);
  EXPECT_DOUBLE_EQ(m.hit, 0.0);
  EXPECT_DOUBLE_EQ(m.ndcg, 0.0);
  EXPECT_DOUBLE_EQ(m.reciprocal_rank, 1.0 / 11.0);
}

TEST(MetricsForRankTest, MissingItemScoresZero) {
  for (int rank : {0, -1}) {
    const RankMetrics m = MetricsForRank(rank);
    EXPECT_EQ(m.hit, 0.0);
    EXPECT_EQ(m.ndcg, 0.0);
    EXPECT_EQ(m.reciprocal_rank, 0.0);
  }
}

TEST(MetricsForRankTest, CustomCutoff) {
  EXPECT_DOUBLE_EQ(MetricsForRank(3, 2).hit, 0.0);
  EXPECT_DOUBLE_EQ(MetricsForRank(2, 2).ndcg, 1.0 / std::log2(3.0));
}

TEST(IntraListDiversityTest, MeanPairwiseCosineDistance) {
  // a=(1,0), b=(0,1), c=(2,2): d(a,b) = 1, d(a,c) = d(b,c) = 1 - 1/sqrt(2).
  const float a[] = {1, 0}, b[] = {0, 1}, c[] = {2, 2};
  const float* list[] = {a, b, c};
  const std::optional<double> ild = IntraListDiversity(list, 2);
  ASSERT_TRUE(ild.has_value());
  EXPECT_NEAR(*ild, (1.0 + 2.0 * (1.0 - 1.0 / std::sqrt(2.0))) / 3.0, 1e-12);
}

TEST(IntraListDiversityTest, ParallelIsZeroAndOppositeIsTwo) {
  const float a[] = {1, 0, 0}, a3[] = {3, 0, 0}, minus_a[] = {-2, 0, 0};
  const float* same[] = {a, a3};
  EXPECT_NEAR(*IntraListDiversity(same, 3), 0.0, 1e-12);
  const float* opposite[] = {a, minus_a};
  EXPECT_NEAR(*IntraListDiversity(opposite, 3), 2.0, 1e-12);
}

TEST(IntraListDiversityTest, SkipsItemsWithoutOrWithZeroFactors) {
  const float a[] = {1, 0}, b[] = {0, 1}, zero[] = {0, 0};
  // Only the pair (a, b) counts.
  const float* list[] = {a, nullptr, zero, b};
  EXPECT_NEAR(*IntraListDiversity(list, 2), 1.0, 1e-12);
}

TEST(IntraListDiversityTest, UndefinedBelowTwoItemsWithFactors) {
  const float a[] = {1, 0}, zero[] = {0, 0};
  const float* one[] = {a, nullptr, zero};
  EXPECT_FALSE(IntraListDiversity(one, 2).has_value());
  EXPECT_FALSE(IntraListDiversity({}, 2).has_value());
}

TEST(CategoryCoverageTest, DistinctCategoriesOverListLength) {
  const absl::string_view list[] = {"mug", "bag", "mug", "candle"};
  EXPECT_DOUBLE_EQ(*CategoryCoverage(list), 3.0 / 4.0);
  const absl::string_view distinct[] = {"mug", "bag"};
  EXPECT_DOUBLE_EQ(*CategoryCoverage(distinct), 1.0);
}

TEST(CategoryCoverageTest, ItemsWithoutCategoryShareOneValue) {
  const absl::string_view none[] = {"", "", ""};
  EXPECT_DOUBLE_EQ(*CategoryCoverage(none), 1.0 / 3.0);
  // mug, none, bag: 3 values over 5 items.
  const absl::string_view mixed[] = {"mug", "", "bag", "", "mug"};
  EXPECT_DOUBLE_EQ(*CategoryCoverage(mixed), 3.0 / 5.0);
}

TEST(CategoryCoverageTest, UndefinedForAnEmptyList) {
  EXPECT_FALSE(CategoryCoverage({}).has_value());
}

TEST(PercentileIntervalTest, InterpolatesOrderStatistics) {
  std::vector<double> v;
  for (int i = 100; i >= 0; --i) v.push_back(i);  // unsorted on purpose
  const Interval ci = PercentileInterval(v, 50.0, 0.95);
  EXPECT_DOUBLE_EQ(ci.point, 50.0);
  EXPECT_NEAR(ci.lo, 2.5, 1e-9);
  EXPECT_NEAR(ci.hi, 97.5, 1e-9);
}

// Two series over 500 cases: a hit rate around 0.3 and one around 0.4 that
// is the first plus extra hits (so the paired difference is >= 0 in every
// resample).
std::vector<double> TwoSeries() {
  std::vector<double> values;
  for (int i = 0; i < 500; ++i) {
    const double a = (i * 7919) % 10 < 3 ? 1.0 : 0.0;
    const double b = a == 1.0 || i % 10 == 5 ? 1.0 : 0.0;
    values.push_back(a);
    values.push_back(b);
  }
  return values;
}

TEST(BootstrapTest, IntervalContainsThePointEstimate) {
  const std::vector<double> values = TwoSeries();
  BootstrapOptions o;
  o.resamples = 400;
  o.seed = 7;
  auto means = BootstrapMeans(values, 2, o);
  ASSERT_TRUE(means.ok()) << means.status();
  ASSERT_EQ(means->size(), 800u);
  for (int s = 0; s < 2; ++s) {
    std::vector<double> samples;
    for (int b = 0; b < o.resamples; ++b)
      samples.push_back((*means)[b * 2 + s]);
    const double point = SeriesMean(values, 2, s);
    const Interval ci = PercentileInterval(samples, point, 0.95);
    EXPECT_LE(ci.lo, point);
    EXPECT_GE(ci.hi, point);
    EXPECT_LT(ci.lo, ci.hi);
    // Roughly +-2 standard errors of a proportion over 500 cases.
    EXPECT_LT(ci.hi - ci.lo, 0.12);
  }
  // Paired: the second series dominates case by case, so every resampled
  // difference is >= 0 and the interval excludes 0.
  std::vector<double> diffs;
  for (int b = 0; b < o.resamples; ++b) {
    diffs.push_back((*means)[b * 2 + 1] - (*means)[b * 2]);
  }
  const Interval d = PercentileInterval(
      diffs, SeriesMean(values, 2, 1) - SeriesMean(values, 2, 0), 0.95);
  EXPECT_GT(d.lo, 0.0);
  EXPECT_LE(d.lo, d.point);
  EXPECT_GE(d.hi, d.point);
}

TEST(BootstrapTest, ReproducibleForASeedAndIndependentOfThreads) {
  const std::vector<double> values = TwoSeries();
  BootstrapOptions o;
  o.resamples = 200;
  o.seed = 11;
  o.threads = 1;
  auto a = BootstrapMeans(values, 2, o);
  auto b = BootstrapMeans(values, 2, o);
  o.threads = 3;
  auto c = BootstrapMeans(values, 2, o);
  o.seed = 12;
  auto d = BootstrapMeans(values, 2, o);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_NE(*a, *d);
}

TEST(BootstrapTest, ConstantSeriesHasADegenerateInterval) {
  const std::vector<double> values(100, 0.25);
  BootstrapOptions o;
  o.resamples = 50;
  auto means = BootstrapMeans(values, 1, o);
  ASSERT_TRUE(means.ok());
  const Interval ci = PercentileInterval(*means, 0.25, 0.95);
  EXPECT_DOUBLE_EQ(ci.lo, 0.25);
  EXPECT_DOUBLE_EQ(ci.hi, 0.25);
}

TEST(BootstrapTest, UserClustersWidenCorrelatedIntervals) {
  // 40 users with 10 identical cases each: the effective sample is 40, not
  // 400, which only the cluster bootstrap sees.
  std::vector<double> values;
  std::vector<int32_t> clusters;
  for (int u = 0; u < 40; ++u) {
    for (int k = 0; k < 10; ++k) {
      values.push_back(u % 3 == 0 ? 1.0 : 0.0);
      clusters.push_back(u);
    }
  }
  BootstrapOptions o;
  o.resamples = 500;
  const double point = SeriesMean(values, 1, 0);
  auto by_case = BootstrapMeans(values, 1, o);
  auto by_user = BootstrapMeans(values, 1, o, clusters);
  auto again = BootstrapMeans(values, 1, o, clusters);
  ASSERT_TRUE(by_case.ok() && by_user.ok() && again.ok());
  EXPECT_EQ(*by_user, *again);
  const Interval c = PercentileInterval(*by_case, point, 0.95);
  const Interval u = PercentileInterval(*by_user, point, 0.95);
  EXPECT_LE(u.lo, point);
  EXPECT_GE(u.hi, point);
  EXPECT_GT(u.hi - u.lo, 2.0 * (c.hi - c.lo));
  // Ids must be dense and one per case.
  EXPECT_FALSE(
      BootstrapMeans({1.0, 2.0}, 1, o, std::vector<int32_t>{0, 2}).ok());
  EXPECT_FALSE(BootstrapMeans({1.0, 2.0}, 1, o, std::vector<int32_t>{0}).ok());
}

TEST(BootstrapTest, RefusesBadInput) {
  BootstrapOptions o;
  EXPECT_FALSE(BootstrapMeans({}, 1, o).ok());
  EXPECT_FALSE(BootstrapMeans({1.0, 2.0, 3.0}, 2, o).ok());
  EXPECT_FALSE(BootstrapMeans({1.0}, 0, o).ok());
  o.resamples = 0;
  EXPECT_FALSE(BootstrapMeans({1.0}, 1, o).ok());
}

}  // namespace
}  // namespace rerank
