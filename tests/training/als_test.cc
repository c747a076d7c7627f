#include "training/als.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "training/interaction_matrix.h"

namespace rerank {
namespace {

constexpr int kClusters = 3;
constexpr int kUsersPerCluster = 40;
constexpr int kItemsPerCluster = 25;
constexpr int kItemsPerUser = 8;

// Users of cluster c only touch items of cluster c: a planted block-diagonal
// (rank kClusters) structure. Ids carry the cluster ("c1_u07", "c1_i03").
std::vector<Interaction> PlantedLog(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Interaction> log;
  std::vector<int> items(kItemsPerCluster);
  for (int c = 0; c < kClusters; ++c) {
    for (int u = 0; u < kUsersPerCluster; ++u) {
      std::iota(items.begin(), items.end(), 0);
      std::shuffle(items.begin(), items.end(), rng);
      for (int k = 0; k < kItemsPerUser; ++k) {
        log.push_back(
            {"c" + std::to_string(c) + "_u" + std::to_string(u),
             "c" + std::to_string(c) + "_i" + std::to_string(items[k]),
             k % 2 ? EventType::kPurchase : EventType::kView, 1000.0 + k,
             1.0f});
      }
    }
  }
  return log;
}

int ClusterOf(const std::string& id) { return id[1] - '0'; }

AlsOptions TestOptions() {
  AlsOptions o;
  o.factors = 8;
  o.iterations = 10;
  o.regularization = 0.05f;
  o.alpha = 10;
  o.cg_steps = 3;
  o.threads = 2;
  o.seed = 7;
  return o;
}

TEST(AlsTest, RecoversPlantedClusters) {
  const auto m = BuildInteractionMatrix(PlantedLog(1));
  ASSERT_TRUE(m.ok()) << m.status();
  const auto result = TrainAls(*m, TestOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  const int d = result->dim;
  ASSERT_EQ(d, 8);
  ASSERT_EQ(result->user_factors.size(),
            static_cast<size_t>(m->num_users()) * d);
  ASSERT_EQ(result->item_factors.size(),
            static_cast<size_t>(m->num_items()) * d);

  // Each user's top-10 items by dot product should be from its own cluster.
  constexpr int kTop = 10;
  int hits = 0, total = 0;
  std::vector<std::pair<float, int>> scored(m->num_items());
  for (int u = 0; u < m->num_users(); ++u) {
    for (int i = 0; i < m->num_items(); ++i) {
      float s = 0;
      for (int f = 0; f < d; ++f) {
        s += result->user_factors[u * d + f] * result->item_factors[i * d + f];
      }
      scored[i] = {s, i};
    }
    std::partial_sort(scored.begin(), scored.begin() + kTop, scored.end(),
                      std::greater<>());
    for (int k = 0; k < kTop; ++k) {
      hits +=
          ClusterOf(m->item_ids[scored[k].second]) == ClusterOf(m->user_ids[u]);
      ++total;
    }
  }
  const double precision = static_cast<double>(hits) / total;
  EXPECT_GE(precision, 0.95) << hits << " / " << total;
}

TEST(AlsTest, LossDecreasesAndProgressIsReported) {
  const auto m = BuildInteractionMatrix(PlantedLog(2));
  ASSERT_TRUE(m.ok());
  std::vector<int> seen;
  const auto result = TrainAls(
      *m, TestOptions(),
      [&](const AlsIterationStats& s) { seen.push_back(s.iteration); });
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->iterations.size(), 10u);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  const auto& it = result->iterations;
  EXPECT_LT(it.back().loss, it.front().loss);
  for (const auto& s : it) {
    EXPECT_TRUE(std::isfinite(s.loss));
    EXPECT_GT(s.loss, 0);
    EXPECT_GT(s.normalized_loss, 0);
    EXPECT_LT(s.normalized_loss, 1);
    EXPECT_GE(s.seconds, 0);
  }
}

// The loss reported equals the objective computed the naive way, over every
// cell of the matrix.
TEST(AlsTest, ReportedLossMatchesBruteForceObjective) {
  const auto m = BuildInteractionMatrix(PlantedLog(3));
  ASSERT_TRUE(m.ok());
  AlsOptions o = TestOptions();
  o.iterations = 2;
  const auto result = TrainAls(*m, o);
  ASSERT_TRUE(result.ok());
  const int d = result->dim;
  double loss = 0;
  for (int u = 0; u < m->num_users(); ++u) {
    std::vector<double> conf(m->num_items(), 1.0), pref(m->num_items(), 0.0);
    for (int64_t k = m->user_indptr[u]; k < m->user_indptr[u + 1]; ++k) {
      conf[m->item_index[k]] = 1.0 + o.alpha * m->user_weight[k];
      pref[m->item_index[k]] = 1.0;
    }
    for (int i = 0; i < m->num_items(); ++i) {
      double s = 0;
      for (int f = 0; f < d; ++f) {
        s += double{result->user_factors[u * d + f]} *
             result->item_factors[i * d + f];
      }
      loss += conf[i] * (pref[i] - s) * (pref[i] - s);
    }
  }
  double reg = 0;
  for (float v : result->user_factors) reg += double{v} * v;
  for (float v : result->item_factors) reg += double{v} * v;
  loss += o.regularization * reg;
  EXPECT_NEAR(result->iterations.back().loss, loss, 1e-4 * loss);
}

TEST(AlsTest, DeterministicForSeedAndIndependentOfThreads) {
  const auto m = BuildInteractionMatrix(PlantedLog(4));
  ASSERT_TRUE(m.ok());
  AlsOptions o = TestOptions();
  const auto a = TrainAls(*m, o);
  const auto b = TrainAls(*m, o);
  o.threads = 1;
  const auto c = TrainAls(*m, o);
  o.threads = 5;
  const auto e = TrainAls(*m, o);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && e.ok());
  // Bitwise: compare the float vectors exactly.
  EXPECT_EQ(a->user_factors, b->user_factors);
  EXPECT_EQ(a->item_factors, b->item_factors);
  EXPECT_EQ(a->user_factors, c->user_factors);
  EXPECT_EQ(a->item_factors, c->item_factors);
  EXPECT_EQ(a->user_factors, e->user_factors);
  EXPECT_EQ(a->item_factors, e->item_factors);
  EXPECT_EQ(a->iterations.back().loss, c->iterations.back().loss);

  o.threads = 2;
  o.seed = 8;
  const auto other = TrainAls(*m, o);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(a->user_factors, other->user_factors);
}

TEST(AlsTest, LogScalingAndZeroIterations) {
  const auto m = BuildInteractionMatrix(PlantedLog(5));
  ASSERT_TRUE(m.ok());
  AlsOptions o = TestOptions();
  o.scaling = ConfidenceScaling::kLog;
  auto result = TrainAls(*m, o);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LT(result->iterations.back().loss, result->iterations.front().loss);
  o.iterations = 0;
  result = TrainAls(*m, o);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->iterations.empty());
  // The small random initialisation.
  for (float v : result->user_factors) EXPECT_LT(std::abs(v), 0.1f);
}

TEST(AlsTest, RejectsBadOptions) {
  const auto m = BuildInteractionMatrix(PlantedLog(6));
  ASSERT_TRUE(m.ok());
  const auto bad = [&](auto mutate) {
    AlsOptions o = TestOptions();
    mutate(o);
    const auto r = TrainAls(*m, o);
    return !r.ok() && r.status().code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(bad([](AlsOptions& o) { o.factors = 0; }));
  EXPECT_TRUE(bad([](AlsOptions& o) { o.iterations = -1; }));
  EXPECT_TRUE(bad([](AlsOptions& o) { o.regularization = -1; }));
  EXPECT_TRUE(bad([](AlsOptions& o) { o.alpha = NAN; }));
  EXPECT_TRUE(bad([](AlsOptions& o) { o.cg_steps = 0; }));
  EXPECT_TRUE(bad([](AlsOptions& o) { o.threads = 0; }));
  EXPECT_TRUE(ParseConfidenceScaling("log").ok());
  EXPECT_FALSE(ParseConfidenceScaling("exp").ok());
}

}  // namespace
}  // namespace rerank
