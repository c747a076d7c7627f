// TrainRankers end to end on a synthetic log with structure a ranker can
// learn: shoppers buy baskets from their own cluster of items.

#include "learning/ranker_training.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/status_macros.h"
#include "ranking/ranker.h"
#include "training/interaction_matrix.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;

// `users` shoppers, 8 clusters of 12 items; each shopper buys `days`
// baskets of 3 items, one a day, 80% from their own cluster.
InteractionLog ClusteredLog(int users, int days, uint64_t seed = 5) {
  std::mt19937_64 rng(seed);
  InteractionLog log;
  constexpr int kClusters = 8, kPerCluster = 12;
  for (int u = 0; u < users; ++u) {
    const int home = u % kClusters;
    for (int d = 0; d < days; ++d) {
      const double t = 1.3e9 + 86400.0 * d + 60.0 * u;
      for (int k = 0; k < 3; ++k) {
        const int cluster =
            (rng() % 10) < 8 ? home : static_cast<int>(rng() % kClusters);
        const int item = cluster * kPerCluster +
                         static_cast<int>(rng() % kPerCluster);
        Interaction x;
        x.user_id = absl::StrCat("u", u);
        x.item_id = absl::StrCat("i", item);
        x.event_type = EventType::kPurchase;
        x.timestamp = t;
        log.interactions.push_back(x);
      }
    }
  }
  log.records = static_cast<int64_t>(log.interactions.size());
  return log;
}

TrainOptions SmallTrain() {
  TrainOptions t;
  t.als.factors = 8;
  t.als.iterations = 5;
  t.neighbors.num_neighbors = 10;
  t.neighbors.threads = 2;
  return t;
}

RankerTrainingOptions SmallRankers(RankerChoice choice) {
  RankerTrainingOptions o;
  o.choice = choice;
  o.holdout_fraction = 0.3;
  o.num_candidates = 20;
  o.retriever_neighbors = 40;
  o.gbdt.max_trees = 30;
  return o;
}

absl::StatusOr<ModelData> Inner(const InteractionLog& log) {
  ASSIGN_OR_RETURN(const InteractionMatrix matrix,
                   BuildInteractionMatrix(log.interactions));
  TrainOptions t = SmallTrain();
  t.model_version = "t";
  return TrainModelData(matrix, t, nullptr, nullptr);
}

TEST(TrainRankersTest, FitsBothOnRetrievedAndSessionListsAndLearns) {
  const InteractionLog log = ClusteredLog(400, 10);
  absl::StatusOr<ModelData> model = Inner(log);
  ASSERT_TRUE(model.ok()) << model.status();
  RankerTrainingReport report;
  ASSERT_TRUE(TrainRankers(log, SmallTrain(), nullptr,
                           SmallRankers(RankerChoice::kAuto), &*model, &report)
                  .ok());
  EXPECT_TRUE(report.fitted_linear);
  EXPECT_TRUE(report.fitted_gbdt);
  EXPECT_EQ(report.target_type, "purchase");
  EXPECT_GE(report.fit_lists, 50);
  // Baskets of 3: about half become session lists, the rest plain.
  const int64_t lists = report.fit_lists + report.validation_lists;
  EXPECT_GT(report.session_lists, lists / 5);
  EXPECT_LT(report.session_lists, lists);
  ASSERT_EQ(model->rankers.size(), 2u);
  EXPECT_NE(model->default_ranker, RankerKind::kFormula);
  // The clusters are learnable: better than the retrievers' own order.
  EXPECT_GT(report.linear.validation_ndcg,
            report.validation_ndcg_baseline + 0.05);
  // Default features only: none from the caller's retriever.
  for (const RankerSpec& spec : model->rankers) {
    for (const std::string& name : spec.feature_names) {
      EXPECT_NE(name, "base_score");
      EXPECT_NE(name, "base_rank");
      EXPECT_NE(name, "input_position");
    }
    EXPECT_TRUE(Ranker::Create(spec).ok());
  }
  EXPECT_THAT(FormatRankerTrainingReport(report), HasSubstr("gbdt - linear"));
}

TEST(TrainRankersTest, SameSeedSameRankers) {
  const InteractionLog log = ClusteredLog(300, 8);
  std::string json[2];
  for (std::string& out : json) {
    absl::StatusOr<ModelData> model = Inner(log);
    ASSERT_TRUE(model.ok());
    RankerTrainingReport report;
    ASSERT_TRUE(TrainRankers(log, SmallTrain(), nullptr,
                             SmallRankers(RankerChoice::kLinear), &*model,
                             &report)
                    .ok());
    ASSERT_EQ(model->rankers.size(), 1u);
    out = RankerSpecToJson(model->rankers[0]);
  }
  EXPECT_EQ(json[0], json[1]);
}

TEST(TrainRankersTest, TooSmallLogKeepsTheFormulaUnderAutoAndFailsExplicitly) {
  const InteractionLog log = ClusteredLog(10, 3);
  absl::StatusOr<ModelData> model = Inner(log);
  ASSERT_TRUE(model.ok());
  RankerTrainingReport report;
  ASSERT_TRUE(TrainRankers(log, SmallTrain(), nullptr,
                           SmallRankers(RankerChoice::kAuto), &*model, &report)
                  .ok());
  EXPECT_TRUE(model->rankers.empty());
  EXPECT_EQ(model->default_ranker, RankerKind::kFormula);
  EXPECT_THAT(report.skipped, HasSubstr("validation lists"));
  EXPECT_THAT(FormatRankerTrainingReport(report), HasSubstr("formula"));

  const absl::Status explicit_choice =
      TrainRankers(log, SmallTrain(), nullptr,
                   SmallRankers(RankerChoice::kGbdt), &*model, &report);
  EXPECT_EQ(explicit_choice.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(explicit_choice.message(), HasSubstr("--ranker=formula"));
}

TEST(TrainRankersTest, FormulaChoiceLeavesTheModelAlone) {
  const InteractionLog log = ClusteredLog(50, 4);
  absl::StatusOr<ModelData> model = Inner(log);
  ASSERT_TRUE(model.ok());
  RankerTrainingReport report;
  ASSERT_TRUE(TrainRankers(log, SmallTrain(), nullptr,
                           SmallRankers(RankerChoice::kFormula), &*model,
                           &report)
                  .ok());
  EXPECT_TRUE(model->rankers.empty());
  EXPECT_FALSE(report.fitted_linear || report.fitted_gbdt);
}

}  // namespace
}  // namespace rerank
