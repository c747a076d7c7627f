#include <cmath>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "learning/ranker_fit.h"
#include "ranking/features.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;

// Lists with the given labels (features all 0).
RankingData ListsOf(const std::vector<std::vector<float>>& labels) {
  RankingData data;
  for (const auto& list : labels) {
    for (const float l : list) {
      data.labels.push_back(l);
      data.features.insert(data.features.end(), kNumFeatures, 0.0f);
    }
    data.offsets.push_back(static_cast<int64_t>(data.labels.size()));
  }
  return data;
}

double D(int position) { return 1.0 / std::log2(position + 2.0); }

TEST(MeanNdcgTest, BinaryLabelsByHand) {
  // One relevant row, ranked third of four: NDCG = D(2) / D(0).
  const RankingData data = ListsOf({{0, 1, 0, 0}});
  EXPECT_DOUBLE_EQ(MeanNdcg(data, {0.9, 0.5, 0.7, 0.1}, 10), D(2));
  EXPECT_DOUBLE_EQ(MeanNdcg(data, {0.1, 0.9, 0.7, 0.2}, 10), 1.0);
}

TEST(MeanNdcgTest, GradedLabelsUseExponentialGain) {
  // Labels 2 and 1; the score order puts the 1 first.
  const RankingData data = ListsOf({{2, 0, 1}});
  const double dcg = 1.0 * D(0) + 3.0 * D(1);
  const double idcg = 3.0 * D(0) + 1.0 * D(1);
  EXPECT_DOUBLE_EQ(MeanNdcg(data, {0.5, 0.1, 0.9}, 10), dcg / idcg);
}

TEST(MeanNdcgTest, CutoffIgnoresRowsBelowIt) {
  const RankingData data = ListsOf({{1, 0, 0, 0}});
  EXPECT_DOUBLE_EQ(MeanNdcg(data, {0.1, 0.9, 0.8, 0.7}, 3), 0.0);
  EXPECT_DOUBLE_EQ(MeanNdcg(data, {0.1, 0.9, 0.8, 0.7}, 4), D(3));
}

TEST(MeanNdcgTest, TiesCountAgainstTheRelevantRow) {
  const RankingData data = ListsOf({{0, 1, 0}});
  // All tied: the relevant row goes last.
  EXPECT_DOUBLE_EQ(MeanNdcg(data, {0.5, 0.5, 0.5}, 10), D(2));
  // Tied with one row only: second.
  EXPECT_DOUBLE_EQ(MeanNdcg(data, {0.5, 0.5, 0.1}, 10), D(1));
}

TEST(MeanNdcgTest, AveragesListsAndSkipsListsWithoutRelevantRows) {
  const RankingData data = ListsOf({{1, 0}, {0, 0, 0}, {0, 1}, {}});
  // List 0: perfect (1); list 1 skipped; list 2: relevant second (D(1)).
  EXPECT_DOUBLE_EQ(
      MeanNdcg(data, {0.9, 0.1, 1, 2, 3, 0.9, 0.1}, 10), (1.0 + D(1)) / 2);
}

TEST(MeanNdcgTest, NoRelevantListOrWrongScoreCountIsNan) {
  EXPECT_TRUE(std::isnan(MeanNdcg(ListsOf({{0, 0}}), {1, 2}, 10)));
  EXPECT_TRUE(std::isnan(MeanNdcg(ListsOf({{1, 0}}), {1}, 10)));
  EXPECT_TRUE(std::isnan(MeanNdcg(
      ListsOf({{1, 0}}), {1, std::numeric_limits<double>::quiet_NaN()}, 10)));
}

TEST(ValidateRankingDataTest, AcceptsWellFormedDataIncludingEmptyLists) {
  EXPECT_TRUE(ValidateRankingData(ListsOf({{1, 0}, {}, {0}}), "x").ok());
  EXPECT_TRUE(ValidateRankingData(RankingData(), "x").ok());
}

void ExpectRefused(const RankingData& data, const std::string& substr) {
  const absl::Status s = ValidateRankingData(data, "training lists");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("training lists: ")) << s;
  EXPECT_THAT(s.message(), HasSubstr(substr)) << s;
}

TEST(ValidateRankingDataTest, RefusesBadOffsets) {
  RankingData data = ListsOf({{1, 0}, {0, 1}});
  data.offsets.clear();
  ExpectRefused(data, "offsets is empty");
  data = ListsOf({{1, 0}, {0, 1}});
  data.offsets[0] = 1;
  ExpectRefused(data, "offsets[0]=1 is not 0");
  data = ListsOf({{1, 0}, {0, 1}});
  data.offsets = {0, 3, 2, 4};
  ExpectRefused(data, "offsets[2]=2 is below offsets[1]=3");
  data = ListsOf({{1, 0}, {0, 1}});
  data.offsets.back() = 3;
  ExpectRefused(data, "is not the number of rows (4 labels)");
}

TEST(ValidateRankingDataTest, RefusesFeatureCountMismatch) {
  RankingData data = ListsOf({{1, 0}});
  data.features.pop_back();
  ExpectRefused(data, "want " + std::to_string(2 * kNumFeatures));
}

TEST(ValidateRankingDataTest, RefusesNonFiniteFeatures) {
  RankingData data = ListsOf({{1, 0}});
  data.features[kNumFeatures + kUserDot] =
      std::numeric_limits<float>::infinity();
  ExpectRefused(data, "row 1 feature " +
                          std::string(FeatureNames()[kUserDot]) + " (" +
                          std::to_string(kUserDot) + ") is inf");
  data.features[kNumFeatures + kUserDot] =
      std::numeric_limits<float>::quiet_NaN();
  ExpectRefused(data, "is nan");
}

TEST(ValidateRankingDataTest, RefusesBadLabels) {
  RankingData data = ListsOf({{1, -1}});
  ExpectRefused(data, "labels[1]=-1 is not a relevance grade in [0, 31]");
  data = ListsOf({{32, 0}});
  ExpectRefused(data, "labels[0]=32");
  data = ListsOf({{std::numeric_limits<float>::quiet_NaN(), 0}});
  ExpectRefused(data, "labels[0]=nan");
}

}  // namespace
}  // namespace rerank
