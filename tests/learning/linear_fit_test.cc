#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "learning/ranker_fit.h"
#include "ranking/features.h"
#include "ranking/ranker.h"
#include "synthetic.h"

namespace rerank {
namespace {

using ::rerank::testing::FeatureScores;
using ::rerank::testing::MakeLists;
using ::rerank::testing::NonlinearUtility;
using ::rerank::testing::RandomScores;
using ::rerank::testing::VaryingFeatures;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// score of row r of `data` under a linear spec, from the spec's definition.
std::vector<double> LinearScores(const RankerSpec& spec,
                                 const RankingData& data) {
  std::vector<double> s(data.num_rows(), spec.linear.bias);
  for (size_t j = 0; j < spec.feature_names.size(); ++j) {
    const int32_t f = FindFeature(spec.feature_names[j]);
    for (int64_t r = 0; r < data.num_rows(); ++r) {
      s[r] += spec.linear.weights[j] *
              (data.features[r * kNumFeatures + f] - spec.linear.means[j]) /
              spec.linear.scales[j];
    }
  }
  return s;
}

double WeightOf(const RankerSpec& spec, Feature f) {
  for (size_t j = 0; j < spec.feature_names.size(); ++j) {
    if (spec.feature_names[j] == FeatureNames()[f]) {
      return spec.linear.weights[j];
    }
  }
  ADD_FAILURE() << "no weight for " << FeatureNames()[f];
  return 0.0;
}

std::vector<std::string> VaryingNames() {
  std::vector<std::string> names;
  for (const int32_t f : VaryingFeatures()) {
    names.emplace_back(FeatureNames()[f]);
  }
  return names;
}

TEST(FitLinearTest, BeatsRandomAndSingleFeatureOnHeldOutLists) {
  const RankingData train = MakeLists(2000, 40, 3, 2.0f, 1, NonlinearUtility);
  const RankingData valid = MakeLists(300, 40, 3, 2.0f, 2, NonlinearUtility);
  const RankingData test = MakeLists(500, 40, 3, 2.0f, 3, NonlinearUtility);
  FitReport report;
  std::vector<std::string> lines;
  const absl::StatusOr<RankerSpec> spec = FitLinear(
      train, valid, LinearFitOptions(),
      [&](const std::string& line) { lines.push_back(line); }, &report);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const double fitted = MeanNdcg(test, LinearScores(*spec, test), 10);
  const double random = MeanNdcg(test, RandomScores(test, 9), 10);
  const double single = MeanNdcg(test, FeatureScores(test, kBaseScore), 10);
  std::printf("linear: test ndcg@10 %.4f (random %.4f, base_score %.4f); "
              "train %.4f, validation %.4f, epoch %d, %.2f s\n",
              fitted, random, single, report.train_ndcg,
              report.validation_ndcg, report.iterations, report.seconds);
  EXPECT_GT(fitted, random + 0.2);
  EXPECT_GT(fitted, single + 0.05);
  EXPECT_GT(report.validation_ndcg, single);
  EXPECT_GE(report.iterations, 1);
  EXPECT_LE(report.iterations, LinearFitOptions().epochs);
  // One line per epoch and a summary.
  EXPECT_EQ(lines.size(), static_cast<size_t>(LinearFitOptions().epochs + 1));
  EXPECT_THAT(lines.front(), HasSubstr("validation ndcg@10"));
  EXPECT_EQ(spec->kind, RankerKind::kLinear);
  EXPECT_EQ(spec->feature_set, kFeatureSetName);
  EXPECT_THAT(spec->description, HasSubstr("validation ndcg@10"));
}

TEST(FitLinearTest, WeightsHaveTheSignsOfALinearUtility) {
  const auto utility = [](const float* x) {
    return 2.0 * x[kBaseScore] - 1.5 * x[kUserDot] + 0.7 * x[kPopularity];
  };
  const RankingData train = MakeLists(1500, 30, 2, 1.0f, 4, utility);
  for (const bool lambda : {true, false}) {
    LinearFitOptions options;
    options.lambda_weights = lambda;
    const absl::StatusOr<RankerSpec> spec =
        FitLinear(train, RankingData(), options, nullptr, nullptr);
    ASSERT_TRUE(spec.ok()) << spec.status();
    const double base = WeightOf(*spec, kBaseScore);
    const double user = WeightOf(*spec, kUserDot);
    const double pop = WeightOf(*spec, kPopularity);
    const double noise = WeightOf(*spec, kCategoryShare);
    EXPECT_GT(base, 0.0) << "lambda " << lambda;
    EXPECT_LT(user, 0.0) << "lambda " << lambda;
    EXPECT_GT(pop, 0.0) << "lambda " << lambda;
    // Ordered like the utility's coefficients, the noise far below.
    EXPECT_GT(base, -user) << "lambda " << lambda;
    EXPECT_GT(-user, pop) << "lambda " << lambda;
    EXPECT_LT(std::abs(noise), pop / 3) << "lambda " << lambda;
  }
}

TEST(FitLinearTest, WithoutValidationReportsNanAndKeepsTheLastEpoch) {
  const RankingData train = MakeLists(200, 20, 2, 1.0f, 5, NonlinearUtility);
  LinearFitOptions options;
  options.epochs = 4;
  FitReport report;
  ASSERT_TRUE(FitLinear(train, RankingData(), options, nullptr, &report).ok());
  EXPECT_TRUE(std::isnan(report.validation_ndcg));
  EXPECT_EQ(report.iterations, 4);
  EXPECT_GT(report.train_ndcg, 0.0);
}

TEST(FitLinearTest, DropsConstantFeaturesAndStandardisesTheRest) {
  const RankingData train = MakeLists(300, 20, 2, 1.0f, 6, NonlinearUtility);
  const absl::StatusOr<RankerSpec> spec =
      FitLinear(train, RankingData(), LinearFitOptions(), nullptr, nullptr);
  ASSERT_TRUE(spec.ok()) << spec.status();
  // Exactly the varying features, in feature-set order.
  EXPECT_THAT(spec->feature_names, ElementsAreArray(VaryingNames()));
  for (size_t j = 0; j < spec->feature_names.size(); ++j) {
    // Uniform [0, 1]: mean 1/2, std 1/sqrt(12).
    EXPECT_NEAR(spec->linear.means[j], 0.5, 0.02);
    EXPECT_NEAR(spec->linear.scales[j], 1.0 / std::sqrt(12.0), 0.01);
  }
}

TEST(FitLinearTest, KeepsANamedConstantFeatureWithScaleOne) {
  const RankingData train = MakeLists(300, 20, 2, 1.0f, 7, NonlinearUtility);
  LinearFitOptions options;
  options.features = {std::string(FeatureNames()[kUserKnown]),
                      std::string(FeatureNames()[kBaseScore])};
  const absl::StatusOr<RankerSpec> spec =
      FitLinear(train, RankingData(), options, nullptr, nullptr);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->feature_names, ElementsAreArray(options.features));
  EXPECT_EQ(spec->linear.scales[0], 1.0);
  EXPECT_EQ(spec->linear.means[0], 0.0);
  EXPECT_EQ(spec->linear.weights[0], 0.0);  // its gradient is always 0
  EXPECT_GT(spec->linear.weights[1], 0.0);
}

TEST(FitLinearTest, IsDeterministicForASeed) {
  const RankingData train = MakeLists(300, 30, 2, 2.0f, 8, NonlinearUtility);
  const RankingData valid = MakeLists(100, 30, 2, 2.0f, 9, NonlinearUtility);
  LinearFitOptions options;
  options.epochs = 5;
  const auto a = FitLinear(train, valid, options, nullptr, nullptr);
  const auto b = FitLinear(train, valid, options, nullptr, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->feature_names, b->feature_names);
  EXPECT_EQ(a->linear.weights, b->linear.weights);
  EXPECT_EQ(a->linear.means, b->linear.means);
  EXPECT_EQ(a->linear.scales, b->linear.scales);
  EXPECT_EQ(a->description, b->description);
  options.seed = 43;
  const auto c = FitLinear(train, valid, options, nullptr, nullptr);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->linear.weights, c->linear.weights);
}

TEST(FitLinearTest, RefusesBadInputs) {
  const RankingData train = MakeLists(50, 10, 1, 1.0f, 10, NonlinearUtility);
  const auto refused = [&](const LinearFitOptions& o, const RankingData& t,
                           const RankingData& v, const std::string& substr) {
    const auto spec = FitLinear(t, v, o, nullptr, nullptr);
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument)
        << substr;
    EXPECT_THAT(spec.status().message(), HasSubstr(substr));
  };
  LinearFitOptions o;
  o.epochs = 0;
  refused(o, train, RankingData(), "epochs=0");
  o = LinearFitOptions();
  o.learning_rate = -1;
  refused(o, train, RankingData(), "learning_rate=-1");
  o = LinearFitOptions();
  o.features = {"no_such_feature"};
  refused(o, train, RankingData(), "features[0]=\"no_such_feature\"");
  o.features = {"base_score", "base_score"};
  refused(o, train, RankingData(), "features[1]=\"base_score\" is named twice");
  RankingData no_relevant = train;
  for (float& l : no_relevant.labels) l = 0.0f;
  refused(LinearFitOptions(), no_relevant, RankingData(), "no pair");
  refused(LinearFitOptions(), train, no_relevant, "validation lists");
  RankingData bad = train;
  bad.offsets.back() += 1;
  refused(LinearFitOptions(), bad, RankingData(), "training lists:");
}

// The spec is valid for the serving side, which scores as the definition
// says.
TEST(FitLinearTest, SpecBuildsARankerThatScoresLikeTheDefinition) {
  const RankingData train = MakeLists(300, 20, 2, 1.0f, 11, NonlinearUtility);
  const absl::StatusOr<RankerSpec> spec =
      FitLinear(train, RankingData(), LinearFitOptions(), nullptr, nullptr);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const auto ranker = Ranker::Create(*spec);
  ASSERT_TRUE(ranker.ok()) << ranker.status();
  std::vector<double> scores(train.num_rows());
  (*ranker)->Score(train.features.data(),
                   static_cast<int32_t>(train.num_rows()), kNumFeatures,
                   scores.data());
  const std::vector<double> want = LinearScores(*spec, train);
  for (int64_t r = 0; r < train.num_rows(); ++r) {
    ASSERT_NEAR(scores[r], want[r], 1e-9) << "row " << r;
    double bias = 0.0;
    std::vector<double> contributions;
    (*ranker)->Explain(&train.features[r * kNumFeatures], &bias,
                       &contributions);
    double sum = bias;
    for (const double c : contributions) sum += c;
    ASSERT_NEAR(sum, scores[r], 1e-9) << "row " << r;
  }
}

}  // namespace
}  // namespace rerank
