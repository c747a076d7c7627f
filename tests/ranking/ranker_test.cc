#include "ranking/ranker.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ranking/features.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

std::unique_ptr<const Ranker> MustCreate(const RankerSpec& spec) {
  absl::StatusOr<std::unique_ptr<const Ranker>> r = Ranker::Create(spec);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : nullptr;
}

std::vector<float> Row() { return std::vector<float>(kNumFeatures, 0.0f); }

double ScoreOne(const Ranker& r, const std::vector<float>& row) {
  double s = 0.0;
  r.Score(row.data(), 1, kNumFeatures, &s);
  return s;
}

// ---- Linear -----------------------------------------------------------------

RankerSpec LinearSpec2() {
  RankerSpec spec;
  spec.kind = RankerKind::kLinear;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = {"user_dot", "popularity"};
  spec.linear.bias = 0.25;
  spec.linear.weights = {2.0, -1.0};
  spec.linear.means = {0.5, 0.2};
  spec.linear.scales = {0.5, 2.0};
  return spec;
}

double LinearByHand(float user_dot, float popularity) {
  return 0.25 + 2.0 * (static_cast<double>(user_dot) - 0.5) / 0.5 -
         1.0 * (static_cast<double>(popularity) - 0.2) / 2.0;
}

TEST(RankerTest, LinearScoresStandardisedFeaturesWithAStride) {
  const auto ranker = MustCreate(LinearSpec2());
  ASSERT_NE(ranker, nullptr);
  EXPECT_EQ(ranker->kind(), RankerKind::kLinear);
  EXPECT_THAT(ranker->feature_index(),
              ::testing::ElementsAre(kUserDot, kPopularity));
  // Rows wider than the feature set: the stride is honoured.
  constexpr int32_t kStride = kNumFeatures + 3;
  constexpr int32_t kRows = 5;
  std::vector<float> rows(kRows * kStride, 7.0f);  // other features: noise
  for (int32_t r = 0; r < kRows; ++r) {
    rows[r * kStride + kUserDot] = 0.1f * r;
    rows[r * kStride + kPopularity] = 1.0f - 0.3f * r;
  }
  std::vector<double> scores(kRows);
  ranker->Score(rows.data(), kRows, kStride, scores.data());
  for (int32_t r = 0; r < kRows; ++r) {
    EXPECT_NEAR(scores[r], LinearByHand(0.1f * r, 1.0f - 0.3f * r), 1e-12)
        << r;
  }
}

TEST(RankerTest, LinearExplainIsWeightTimesStandardisedFeature) {
  const auto ranker = MustCreate(LinearSpec2());
  ASSERT_NE(ranker, nullptr);
  std::vector<float> row = Row();
  row[kUserDot] = 1.5f;
  row[kPopularity] = 0.6f;
  double bias = 0.0;
  std::vector<double> c;
  ranker->Explain(row.data(), &bias, &c);
  EXPECT_EQ(bias, 0.25);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0], 2.0 * (1.5 - 0.5) / 0.5, 1e-12);
  EXPECT_NEAR(c[1], -1.0 * (static_cast<double>(0.6f) - 0.2) / 2.0, 1e-12);
  EXPECT_EQ(bias + c[0] + c[1], ScoreOne(*ranker, row));
}

// A missing feature counts as its mean, so one NaN does not make the whole
// list's order undefined.
TEST(RankerTest, LinearNanFeatureContributesNothing) {
  const auto ranker = MustCreate(LinearSpec2());
  ASSERT_NE(ranker, nullptr);
  std::vector<float> row = Row();
  row[kUserDot] = kNan;
  row[kPopularity] = 0.6f;
  const double s = ScoreOne(*ranker, row);
  EXPECT_NEAR(s, 0.25 - (static_cast<double>(0.6f) - 0.2) / 2.0, 1e-12);
  double bias = 0.0;
  std::vector<double> c;
  ranker->Explain(row.data(), &bias, &c);
  EXPECT_EQ(c[0], 0.0);
  EXPECT_EQ(bias + c[0] + c[1], s);
}

// ---- Trees ------------------------------------------------------------------

void AddNode(TreeSpec* t, int32_t left, int32_t right, int32_t feature,
             float threshold, bool default_left, double value, double cover) {
  t->left.push_back(left);
  t->right.push_back(right);
  t->feature.push_back(feature);
  t->threshold.push_back(threshold);
  t->default_left.push_back(default_left ? 1 : 0);
  t->value.push_back(value);
  t->cover.push_back(cover);
}

void AddLeaf(TreeSpec* t, double value, double cover) {
  AddNode(t, -1, -1, 0, 0.0f, false, value, cover);
}

// Tree 0, in a deliberately non-breadth-first node order:
//   0: base_rank < 0.5 ? 3 : 1     (NaN -> left)
//   1: popularity < 0.1f ? 4 : 2   (NaN -> right)
//   2: leaf -1.0 (cover 4)   3: leaf 1.0 (cover 4)   4: leaf 3.0 (cover 2)
// Tree 1: a single leaf 0.5.
// Features: {"popularity", "base_rank"}: spec index 0 = popularity.
RankerSpec GbdtSpec2() {
  RankerSpec spec;
  spec.kind = RankerKind::kGbdt;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = {"popularity", "base_rank"};
  spec.gbdt.base_score = 0.125;
  TreeSpec t;
  AddNode(&t, 3, 1, 1, 0.5f, true, 0.0, 10.0);
  AddNode(&t, 4, 2, 0, 0.1f, false, 0.0, 6.0);
  AddLeaf(&t, -1.0, 4.0);
  AddLeaf(&t, 1.0, 4.0);
  AddLeaf(&t, 3.0, 2.0);
  spec.gbdt.trees.push_back(t);
  TreeSpec leaf;
  AddLeaf(&leaf, 0.5, 10.0);
  spec.gbdt.trees.push_back(leaf);
  return spec;
}

std::vector<float> GbdtRow(float popularity, float base_rank) {
  std::vector<float> row = Row();
  row[kPopularity] = popularity;
  row[kBaseRank] = base_rank;
  return row;
}

TEST(RankerTest, GbdtScoresBaseScorePlusTheLeavesReached) {
  const auto ranker = MustCreate(GbdtSpec2());
  ASSERT_NE(ranker, nullptr);
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.0f, 0.2f)), 0.125 + 1.0 + 0.5);
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.0f, 0.7f)), 0.125 + 3.0 + 0.5);
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.9f, 0.7f)), 0.125 - 1.0 + 0.5);
}

// x < threshold in float, as XGBoost: equal goes right, the float just
// below goes left.
TEST(RankerTest, GbdtComparesInFloatAndEqualGoesRight) {
  const auto ranker = MustCreate(GbdtSpec2());
  ASSERT_NE(ranker, nullptr);
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.1f, 0.7f)), 0.125 - 1.0 + 0.5);
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(std::nextafter(0.1f, 0.0f), 0.7f)),
            0.125 + 3.0 + 0.5);
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.0f, 0.5f)), 0.125 + 3.0 + 0.5);
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.0f, std::nextafter(0.5f, 0.0f))),
            0.125 + 1.0 + 0.5);
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.0f, -std::numeric_limits<float>::infinity())),
            0.125 + 1.0 + 0.5);
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.0f, std::numeric_limits<float>::infinity())),
            0.125 + 3.0 + 0.5);
}

TEST(RankerTest, GbdtNanFollowsDefaultLeft) {
  const auto ranker = MustCreate(GbdtSpec2());
  ASSERT_NE(ranker, nullptr);
  // Root: default left -> leaf 1.0.
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.9f, kNan)), 0.125 + 1.0 + 0.5);
  // Node 1: default right -> leaf -1.0.
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(kNan, 0.7f)), 0.125 - 1.0 + 0.5);
  // Flip both defaults.
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.trees[0].default_left = {0, 1, 0, 0, 0};
  const auto flipped = MustCreate(spec);
  ASSERT_NE(flipped, nullptr);
  EXPECT_EQ(ScoreOne(*flipped, GbdtRow(kNan, kNan)), 0.125 + 3.0 + 0.5);
  EXPECT_EQ(ScoreOne(*flipped, GbdtRow(0.9f, kNan)), 0.125 - 1.0 + 0.5);
}

// Node means: node 1 = (2 * 3 + 4 * -1) / 6 = 1/3; root = (4 * 1 + 6 * 1/3)
// / 10 = 0.6; the leaf tree's mean is its value.
TEST(RankerTest, GbdtExplainIsSaabasAttribution) {
  const auto ranker = MustCreate(GbdtSpec2());
  ASSERT_NE(ranker, nullptr);
  double bias = 0.0;
  std::vector<double> c;
  const std::vector<float> row = GbdtRow(0.0f, 0.7f);  // root right, node 1 left
  ranker->Explain(row.data(), &bias, &c);
  EXPECT_NEAR(bias, 0.125 + 0.6 + 0.5, 1e-12);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[1], 1.0 / 3.0 - 0.6, 1e-12);  // base_rank, at the root
  EXPECT_NEAR(c[0], 3.0 - 1.0 / 3.0, 1e-12);  // popularity, at node 1
  EXPECT_NEAR(bias + c[0] + c[1], ScoreOne(*ranker, row), 1e-12);

  const std::vector<float> left = GbdtRow(0.9f, 0.2f);  // root left: leaf 1
  ranker->Explain(left.data(), &bias, &c);
  EXPECT_NEAR(c[1], 1.0 - 0.6, 1e-12);
  EXPECT_EQ(c[0], 0.0);
}

// ---- Random trees: Score against a walk of the spec, Explain's sum ----------

// A random tree over `d` spec features, at most `max_depth` deep, with its
// nodes in a random order (node 0 stays the root).
TreeSpec RandomTree(std::mt19937_64& rng, int32_t d, int32_t max_depth) {
  struct Proto {
    int32_t left = -1, right = -1, feature = 0;
    float threshold = 0.0f;
    bool default_left = false;
    double value = 0.0;
  };
  std::vector<Proto> nodes(1);
  std::vector<int32_t> depth = {0};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (depth[i] < max_depth && u(rng) < (i == 0 ? 0.95 : 0.7)) {
      nodes[i].left = static_cast<int32_t>(nodes.size());
      nodes[i].right = nodes[i].left + 1;
      nodes[i].feature = static_cast<int32_t>(rng() % d);
      nodes[i].threshold = static_cast<float>(u(rng));
      nodes[i].default_left = rng() % 2;
      nodes.resize(nodes.size() + 2);
      depth.push_back(depth[i] + 1);
      depth.push_back(depth[i] + 1);
    } else {
      nodes[i].value = u(rng) * 2.0 - 1.0;
    }
  }
  // Shuffle all but the root.
  std::vector<int32_t> perm(nodes.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin() + 1, perm.end(), rng);  // perm[old] = new
  std::vector<int32_t> inverse(nodes.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = i;
  TreeSpec t;
  for (size_t k = 0; k < nodes.size(); ++k) {
    const Proto& p = nodes[inverse[k]];
    AddNode(&t, p.left < 0 ? -1 : perm[p.left], p.right < 0 ? -1 : perm[p.right],
            p.feature, p.threshold, p.default_left, p.value,
            0.01 + u(rng) * 100.0);
  }
  return t;
}

double ReferenceScore(const RankerSpec& spec, const float* row) {
  double s = spec.gbdt.base_score;
  for (const TreeSpec& t : spec.gbdt.trees) {
    int32_t n = 0;
    while (t.left[n] != -1) {
      const float x = row[FindFeature(spec.feature_names[t.feature[n]])];
      const bool left =
          std::isnan(x) ? t.default_left[n] != 0 : x < t.threshold[n];
      n = left ? t.left[n] : t.right[n];
    }
    s += t.value[n];
  }
  return s;
}

TEST(RankerTest, RandomTreesScoreAsTheSpecAndExplainSumsToTheScore) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(-0.2f, 1.2f);
  for (int trial = 0; trial < 20; ++trial) {
    RankerSpec spec;
    spec.kind = RankerKind::kGbdt;
    spec.feature_set = kFeatureSetName;
    const int32_t d = 1 + trial % 7;
    for (int32_t j = 0; j < d; ++j) {
      spec.feature_names.emplace_back(FeatureNames()[(j * 5 + trial) % kNumFeatures]);
    }
    spec.gbdt.base_score = trial * 0.1 - 1.0;
    const int trees = 1 + trial * 3;
    for (int i = 0; i < trees; ++i) {
      spec.gbdt.trees.push_back(RandomTree(rng, d, 1 + (i + trial) % 9));
    }
    const auto ranker = MustCreate(spec);
    ASSERT_NE(ranker, nullptr);
    // Not a multiple of Score's block of rows.
    const int32_t rows = 37 + trial;
    std::vector<float> x(static_cast<size_t>(rows) * kNumFeatures);
    for (float& v : x) v = (rng() % 10 == 0) ? kNan : u(rng);
    std::vector<double> scores(rows);
    ranker->Score(x.data(), rows, kNumFeatures, scores.data());
    for (int32_t r = 0; r < rows; ++r) {
      const float* row = &x[static_cast<size_t>(r) * kNumFeatures];
      // The same additions in the same order: equal, not just close.
      ASSERT_EQ(scores[r], ReferenceScore(spec, row))
          << "trial " << trial << " row " << r;
      double bias = 0.0;
      std::vector<double> c;
      ranker->Explain(row, &bias, &c);
      ASSERT_EQ(c.size(), static_cast<size_t>(d));
      double sum = bias;
      for (const double v : c) sum += v;
      ASSERT_NEAR(sum, scores[r], 1e-9 * std::max(1.0, std::abs(scores[r])))
          << "trial " << trial << " row " << r;
    }
  }
}

// The scorer stores features by feature (one contiguous column each);
// ScoreByFeature over that layout must give Score's results to the bit, for
// both kinds, with NaNs, row counts around the vector widths and a plane
// wider than the rows.
TEST(RankerTest, ScoreByFeatureEqualsScoreBitForBit) {
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<RankerSpec> specs;
  RankerSpec linear;
  linear.kind = RankerKind::kLinear;
  linear.feature_set = kFeatureSetName;
  for (int32_t j = 0; j < kNumFeatures; j += 3) {
    linear.feature_names.emplace_back(FeatureNames()[j]);
    linear.linear.weights.push_back(u(rng));
    linear.linear.means.push_back(0.1 * u(rng));
    linear.linear.scales.push_back(0.5 + std::abs(u(rng)));
  }
  linear.linear.bias = 0.3;
  specs.push_back(linear);
  RankerSpec trees;
  trees.kind = RankerKind::kGbdt;
  trees.feature_set = kFeatureSetName;
  for (int32_t j = 1; j < kNumFeatures; j += 4) {
    trees.feature_names.emplace_back(FeatureNames()[j]);
  }
  for (int i = 0; i < 25; ++i) {
    trees.gbdt.trees.push_back(RandomTree(
        rng, static_cast<int32_t>(trees.feature_names.size()), 1 + i % 7));
  }
  specs.push_back(trees);
  for (const RankerSpec& spec : specs) {
    const auto ranker = MustCreate(spec);
    ASSERT_NE(ranker, nullptr);
    for (const int32_t rows : {1, 3, 4, 5, 8, 17, 200}) {
      const int32_t plane = rows + rows % 3;
      std::vector<float> by_row(static_cast<size_t>(rows) * kNumFeatures);
      std::vector<float> by_feature(static_cast<size_t>(plane) * kNumFeatures,
                                    99.0f);
      for (int32_t r = 0; r < rows; ++r) {
        for (int32_t f = 0; f < kNumFeatures; ++f) {
          const float v = (rng() % 8 == 0) ? kNan : u(rng);
          by_row[static_cast<size_t>(r) * kNumFeatures + f] = v;
          by_feature[static_cast<size_t>(f) * plane + r] = v;
        }
      }
      std::vector<double> a(rows), b(rows, -1.0);
      ranker->Score(by_row.data(), rows, kNumFeatures, a.data());
      std::vector<int32_t> column(kNumFeatures);
      for (int32_t f = 0; f < kNumFeatures; ++f) column[f] = f * plane;
      ranker->ScoreByFeature(by_feature.data(), column.data(), rows, b.data());
      for (int32_t r = 0; r < rows; ++r) {
        ASSERT_EQ(a[r], b[r]) << RankerKindName(spec.kind) << " rows "
                              << rows << " row " << r;
      }
    }
  }
}

TEST(RankerTest, ZeroRowsWritesNothing) {
  const auto ranker = MustCreate(GbdtSpec2());
  ASSERT_NE(ranker, nullptr);
  double untouched = 42.0;
  ranker->Score(nullptr, 0, kNumFeatures, &untouched);
  EXPECT_EQ(untouched, 42.0);
}

// ---- Validation -------------------------------------------------------------

void ExpectRefused(const RankerSpec& spec, const std::string& substr) {
  const absl::StatusOr<std::unique_ptr<const Ranker>> r = Ranker::Create(spec);
  ASSERT_FALSE(r.ok()) << "accepted; want an error with: " << substr;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(substr));
}

TEST(RankerCreateTest, AcceptsTheValidSpecs) {
  EXPECT_NE(MustCreate(LinearSpec2()), nullptr);
  EXPECT_NE(MustCreate(GbdtSpec2()), nullptr);
}

TEST(RankerCreateTest, RefusesTheFormulaKind) {
  RankerSpec spec = LinearSpec2();
  spec.kind = RankerKind::kFormula;
  ExpectRefused(spec, "kind \"formula\" is not a learned ranker");
}

TEST(RankerCreateTest, RefusesAnotherFeatureSet) {
  RankerSpec spec = LinearSpec2();
  spec.feature_set = "rerank.features.v2";
  ExpectRefused(spec, "feature_set \"rerank.features.v2\" is not \"rerank.features.v1\"");
}

TEST(RankerCreateTest, RefusesNoFeatures) {
  RankerSpec spec = LinearSpec2();
  spec.feature_names.clear();
  spec.linear = {};
  ExpectRefused(spec, "features is empty");
}

TEST(RankerCreateTest, RefusesUnknownFeature) {
  RankerSpec spec = LinearSpec2();
  spec.feature_names[1] = "nope";
  ExpectRefused(spec, "features[1]=\"nope\" is not a feature of rerank.features.v1");
}

TEST(RankerCreateTest, RefusesRepeatedFeature) {
  RankerSpec spec = LinearSpec2();
  spec.feature_names = {"user_dot", "popularity", "user_dot"};
  ExpectRefused(spec, "features[2]=\"user_dot\" repeats features[0]");
}

TEST(RankerCreateTest, RefusesLinearSizesThatDisagree) {
  RankerSpec spec = LinearSpec2();
  spec.linear.weights.pop_back();
  ExpectRefused(spec, "linear.weights has 1 entries, features has 2");
  spec = LinearSpec2();
  spec.linear.means.push_back(0.0);
  ExpectRefused(spec, "linear.means has 3 entries, features has 2");
  spec = LinearSpec2();
  spec.linear.scales.clear();
  ExpectRefused(spec, "linear.scales has 0 entries, features has 2");
}

TEST(RankerCreateTest, RefusesNonFiniteLinearNumbers) {
  RankerSpec spec = LinearSpec2();
  spec.linear.weights[1] = std::nan("");
  ExpectRefused(spec, "linear.weights[1]=nan is not finite");
  spec = LinearSpec2();
  spec.linear.means[0] = -INFINITY;
  ExpectRefused(spec, "linear.means[0]=-inf is not finite");
  spec = LinearSpec2();
  spec.linear.scales[1] = INFINITY;
  ExpectRefused(spec, "linear.scales[1]=inf is not finite");
  spec = LinearSpec2();
  spec.linear.bias = std::nan("");
  ExpectRefused(spec, "linear.bias=nan is not finite");
}

TEST(RankerCreateTest, RefusesScaleNotPositive) {
  RankerSpec spec = LinearSpec2();
  spec.linear.scales[1] = 0.0;
  ExpectRefused(spec, "linear.scales[1]=0 is not > 0");
  spec.linear.scales[1] = -2.0;
  ExpectRefused(spec, "linear.scales[1]=-2 is not > 0");
}

TEST(RankerCreateTest, RefusesTheOtherKindsSection) {
  RankerSpec spec = LinearSpec2();
  spec.gbdt = GbdtSpec2().gbdt;
  ExpectRefused(spec, "gbdt is set but kind is \"linear\"");
  spec = GbdtSpec2();
  spec.linear.bias = 1.0;
  ExpectRefused(spec, "linear is set but kind is \"gbdt\"");
}

TEST(RankerCreateTest, RefusesBadBaseScoreOrNoTrees) {
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.base_score = INFINITY;
  ExpectRefused(spec, "gbdt.base_score=inf is not finite");
  spec = GbdtSpec2();
  spec.gbdt.trees.clear();
  ExpectRefused(spec, "gbdt.trees is empty");
  spec = GbdtSpec2();
  spec.gbdt.trees[1] = TreeSpec();
  ExpectRefused(spec, "gbdt.trees[1] has no nodes");
}

TEST(RankerCreateTest, RefusesTreeSizesThatDisagree) {
  const std::vector<std::pair<std::function<void(TreeSpec*)>, std::string>>
      cases = {
          {[](TreeSpec* t) { t->right.pop_back(); },
           "gbdt.trees[0].right has 4 entries, gbdt.trees[0].left has 5"},
          {[](TreeSpec* t) { t->feature.push_back(0); },
           "gbdt.trees[0].feature has 6 entries"},
          {[](TreeSpec* t) { t->threshold.pop_back(); },
           "gbdt.trees[0].threshold has 4 entries"},
          {[](TreeSpec* t) { t->default_left.clear(); },
           "gbdt.trees[0].default_left has 0 entries"},
          {[](TreeSpec* t) { t->value.pop_back(); },
           "gbdt.trees[0].value has 4 entries"},
          {[](TreeSpec* t) { t->cover.pop_back(); },
           "gbdt.trees[0].cover has 4 entries"},
      };
  for (const auto& [mutate, message] : cases) {
    RankerSpec spec = GbdtSpec2();
    mutate(&spec.gbdt.trees[0]);
    ExpectRefused(spec, message);
  }
}

TEST(RankerCreateTest, RefusesChildOutOfRange) {
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.trees[0].left[1] = 99;
  ExpectRefused(spec, "gbdt.trees[0].left[1]=99 is out of range [0, 5)");
  spec = GbdtSpec2();
  spec.gbdt.trees[0].right[0] = -3;
  ExpectRefused(spec, "gbdt.trees[0].right[0]=-3 is out of range [0, 5)");
  spec = GbdtSpec2();
  spec.gbdt.trees[0].right[1] = 5;
  ExpectRefused(spec, "gbdt.trees[0].right[1]=5 is out of range [0, 5)");
}

TEST(RankerCreateTest, RefusesNodeWithOneChild) {
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.trees[0].left[1] = -1;
  ExpectRefused(spec,
                "gbdt.trees[0].left[1]=-1 and gbdt.trees[0].right[1]=2: a node "
                "has two children or none");
  spec = GbdtSpec2();
  spec.gbdt.trees[0].right[3] = 4;  // a leaf with a right child
  ExpectRefused(spec, "gbdt.trees[0].left[3]=-1 and gbdt.trees[0].right[3]=4");
}

TEST(RankerCreateTest, RefusesCyclesAndSharedChildren) {
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.trees[0].right[1] = 0;  // back to the root
  ExpectRefused(spec,
                "gbdt.trees[0].right[1]=0: node 0 is reached twice (a cycle or "
                "a shared child)");
  spec = GbdtSpec2();
  spec.gbdt.trees[0].right[1] = 4;  // both children the same node
  ExpectRefused(spec, "gbdt.trees[0].right[1]=4: node 4 is reached twice");
  spec = GbdtSpec2();
  spec.gbdt.trees[0].left[1] = 1;  // itself
  ExpectRefused(spec, "gbdt.trees[0].left[1]=1: node 1 is reached twice");
}

TEST(RankerCreateTest, RefusesUnreachableNode) {
  RankerSpec spec = GbdtSpec2();
  AddLeaf(&spec.gbdt.trees[0], 2.0, 1.0);
  ExpectRefused(spec, "gbdt.trees[0] node 5 is unreachable from the root");
  // A detached cycle is unreachable too, not an endless walk.
  spec = GbdtSpec2();
  AddNode(&spec.gbdt.trees[0], 6, 6, 0, 0.0f, false, 0.0, 1.0);
  AddNode(&spec.gbdt.trees[0], 5, 5, 0, 0.0f, false, 0.0, 1.0);
  ExpectRefused(spec, "gbdt.trees[0] node 5 is unreachable from the root");
}

TEST(RankerCreateTest, RefusesFeatureIndexOutOfRange) {
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.trees[0].feature[1] = 2;
  ExpectRefused(spec, "gbdt.trees[0].feature[1]=2 is out of range [0, 2)");
  spec.gbdt.trees[0].feature[1] = -1;
  ExpectRefused(spec, "gbdt.trees[0].feature[1]=-1 is out of range [0, 2)");
  // A leaf's feature is not used.
  spec = GbdtSpec2();
  spec.gbdt.trees[0].feature[2] = 77;
  EXPECT_NE(MustCreate(spec), nullptr);
}

TEST(RankerCreateTest, RefusesNonFiniteTreeNumbers) {
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.trees[0].threshold[1] = kNan;
  ExpectRefused(spec, "gbdt.trees[0].threshold[1]=nan is not finite");
  spec = GbdtSpec2();
  spec.gbdt.trees[1].value[0] = -INFINITY;
  ExpectRefused(spec, "gbdt.trees[1].value[0]=-inf is not finite");
}

TEST(RankerCreateTest, RefusesCoverNotPositiveOrNotFinite) {
  for (const double bad : {0.0, -1.0, std::nan(""), HUGE_VAL}) {
    RankerSpec spec = GbdtSpec2();
    spec.gbdt.trees[0].cover[3] = bad;
    ExpectRefused(spec, "gbdt.trees[0].cover[3]=");
    ExpectRefused(spec, "is not finite and > 0");
  }
}

TEST(RankerCreateTest, RefusesDefaultLeftNotABool) {
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.trees[0].default_left[1] = 2;
  ExpectRefused(spec, "gbdt.trees[0].default_left[1]=2 is not 0 or 1");
}

// A chain: node 2k splits into 2k+1 (leaf) and 2k+2.
TreeSpec Chain(int32_t depth) {
  TreeSpec t;
  for (int32_t k = 0; k < depth; ++k) {
    AddNode(&t, 2 * k + 1, 2 * k + 2, 0, 0.5f, false, 0.0, 2.0);
    AddLeaf(&t, 1.0, 1.0);
  }
  AddLeaf(&t, -1.0, 1.0);
  return t;
}

TEST(RankerCreateTest, AcceptsTheDepthLimitAndRefusesDeeper) {
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.trees.push_back(Chain(kMaxTreeDepth));
  const auto ranker = MustCreate(spec);
  ASSERT_NE(ranker, nullptr);
  // Popularity 0.9 >= 0.5: right at every split, down to the deepest leaf.
  EXPECT_EQ(ScoreOne(*ranker, GbdtRow(0.9f, 0.7f)), 0.125 - 1.0 + 0.5 - 1.0);
  spec.gbdt.trees.back() = Chain(kMaxTreeDepth + 1);
  ExpectRefused(spec, "gbdt.trees[2] is deeper than kMaxTreeDepth=16");
}

TEST(RankerCreateTest, RefusesTooManyTrees) {
  RankerSpec spec = GbdtSpec2();
  spec.gbdt.trees.resize(kMaxRankerTrees, spec.gbdt.trees[1]);
  EXPECT_NE(MustCreate(spec), nullptr);
  spec.gbdt.trees.push_back(spec.gbdt.trees[1]);
  ExpectRefused(spec, "gbdt.trees has 5001 trees, above kMaxRankerTrees=5000");
}

TEST(RankerCreateTest, RefusesTooManyNodes) {
  RankerSpec spec = GbdtSpec2();
  // The total is checked before any tree, so the other arrays can stay
  // empty.
  TreeSpec big;
  big.left.assign(kMaxRankerNodes / 2, -1);
  spec.gbdt.trees.push_back(big);
  spec.gbdt.trees.push_back(big);
  ExpectRefused(spec, "gbdt.trees have 4194310 nodes together, above "
                      "kMaxRankerNodes=4194304");
}

}  // namespace
}  // namespace rerank
