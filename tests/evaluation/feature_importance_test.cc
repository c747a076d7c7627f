#include "evaluation/feature_importance.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ranking/features.h"
#include "ranking/ranker.h"

namespace rerank {
namespace {

std::unique_ptr<const Ranker> MustCreate(const RankerSpec& spec) {
  absl::StatusOr<std::unique_ptr<const Ranker>> r = Ranker::Create(spec);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : nullptr;
}

std::vector<std::string> Names(const std::vector<FeatureImportance>& fs) {
  std::vector<std::string> out;
  for (const FeatureImportance& f : fs) out.push_back(f.feature);
  return out;
}

RankerSpec LinearSpec(std::vector<std::string> names,
                      std::vector<double> weights) {
  RankerSpec spec;
  spec.kind = RankerKind::kLinear;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = std::move(names);
  spec.linear.bias = 0.5;
  spec.linear.weights = std::move(weights);
  spec.linear.means.assign(spec.linear.weights.size(), 0.25);
  // Scales differ on purpose: importance is |weight| on the standardised
  // feature, not weight / scale.
  for (size_t j = 0; j < spec.linear.weights.size(); ++j) {
    spec.linear.scales.push_back(1.0 + 3.0 * static_cast<double>(j));
  }
  return spec;
}

TEST(FeatureImportanceTest, LinearIsAbsoluteWeightNormalisedAndSorted) {
  const auto ranker = MustCreate(
      LinearSpec({"user_dot_z", "popularity_z", "session_dot_z", "item_known"},
                 {1.0, -3.0, 0.0, 4.0}));
  ASSERT_NE(ranker, nullptr);
  const std::vector<FeatureImportance> fi = RankerFeatureImportance(*ranker);
  EXPECT_THAT(Names(fi), ::testing::ElementsAre("item_known", "popularity_z",
                                                "user_dot_z", "session_dot_z"));
  ASSERT_EQ(fi.size(), 4u);
  EXPECT_DOUBLE_EQ(fi[0].importance, 4.0 / 8.0);
  EXPECT_DOUBLE_EQ(fi[1].importance, 3.0 / 8.0);
  EXPECT_DOUBLE_EQ(fi[2].importance, 1.0 / 8.0);
  EXPECT_EQ(fi[3].importance, 0.0);
}

TEST(FeatureImportanceTest, AllZeroWeightsGiveZeroImportanceInSpecOrder) {
  const auto ranker =
      MustCreate(LinearSpec({"user_dot_z", "popularity_z"}, {0.0, 0.0}));
  ASSERT_NE(ranker, nullptr);
  const std::vector<FeatureImportance> fi = RankerFeatureImportance(*ranker);
  EXPECT_THAT(Names(fi), ::testing::ElementsAre("user_dot_z", "popularity_z"));
  for (const FeatureImportance& f : fi) EXPECT_EQ(f.importance, 0.0);
}

void AddNode(TreeSpec* t, int32_t left, int32_t right, int32_t feature,
             double value, double cover) {
  t->left.push_back(left);
  t->right.push_back(right);
  t->feature.push_back(feature);
  t->threshold.push_back(0.5f);
  t->default_left.push_back(0);
  t->value.push_back(value);
  t->cover.push_back(cover);
}

// A stump: a root splitting on spec feature `feature` with cover `cover`,
// and two leaves sharing it.
TreeSpec Stump(int32_t feature, double cover) {
  TreeSpec t;
  AddNode(&t, 1, 2, feature, 0.0, cover);
  AddNode(&t, -1, -1, 0, -1.0, cover / 2);
  AddNode(&t, -1, -1, 0, 1.0, cover / 2);
  return t;
}

TEST(FeatureImportanceTest, GbdtIsSplitCoverSummedPerFeature) {
  RankerSpec spec;
  spec.kind = RankerKind::kGbdt;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = {"popularity_z", "user_dot_z", "item_known"};
  spec.gbdt.base_score = 0.1;
  spec.gbdt.trees.push_back(Stump(/*feature=*/0, /*cover=*/1.0));
  spec.gbdt.trees.push_back(Stump(/*feature=*/1, /*cover=*/3.0));
  // A tree of one leaf splits on nothing: it adds no importance.
  TreeSpec leaf;
  AddNode(&leaf, -1, -1, 2, 0.25, 100.0);
  spec.gbdt.trees.push_back(leaf);
  const auto ranker = MustCreate(spec);
  ASSERT_NE(ranker, nullptr);
  const std::vector<FeatureImportance> fi = RankerFeatureImportance(*ranker);
  EXPECT_THAT(Names(fi), ::testing::ElementsAre("user_dot_z", "popularity_z",
                                                "item_known"));
  ASSERT_EQ(fi.size(), 3u);
  EXPECT_DOUBLE_EQ(fi[0].importance, 0.75);
  EXPECT_DOUBLE_EQ(fi[1].importance, 0.25);
  EXPECT_EQ(fi[2].importance, 0.0);
}

TEST(FeatureImportanceTest, GbdtSumsEverySplitOfAFeatureAcrossTrees) {
  RankerSpec spec;
  spec.kind = RankerKind::kGbdt;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = {"popularity_z", "user_dot_z"};
  // Tree 0: root on user_dot_z (cover 4), its left child on popularity_z
  // (cover 2); tree 1: a stump on popularity_z (cover 2).
  TreeSpec t;
  AddNode(&t, 1, 2, 1, 0.0, 4.0);
  AddNode(&t, 3, 4, 0, 0.0, 2.0);
  AddNode(&t, -1, -1, 0, 1.0, 2.0);
  AddNode(&t, -1, -1, 0, 2.0, 1.0);
  AddNode(&t, -1, -1, 0, 3.0, 1.0);
  spec.gbdt.trees.push_back(t);
  spec.gbdt.trees.push_back(Stump(/*feature=*/0, /*cover=*/2.0));
  const auto ranker = MustCreate(spec);
  ASSERT_NE(ranker, nullptr);
  const std::vector<FeatureImportance> fi = RankerFeatureImportance(*ranker);
  ASSERT_EQ(fi.size(), 2u);
  // Ties keep the spec order: popularity_z (2 + 2) before user_dot_z (4).
  EXPECT_THAT(Names(fi), ::testing::ElementsAre("popularity_z", "user_dot_z"));
  EXPECT_DOUBLE_EQ(fi[0].importance, 0.5);
  EXPECT_DOUBLE_EQ(fi[1].importance, 0.5);
}

}  // namespace
}  // namespace rerank
