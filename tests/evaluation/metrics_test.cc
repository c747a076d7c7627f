#include "evaluation/metrics.h"

#include <cmath>
#include <vector>

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
