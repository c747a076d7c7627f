#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "learning/gbdt_fit_internal.h"
#include "learning/ranker_fit.h"
#include "ranking/features.h"
#include "ranking/ranker.h"
#include "synthetic.h"

namespace rerank {
namespace {

using ::rerank::learning_internal::FitGbdtWithModel;
using ::rerank::learning_internal::GbdtSpecFromXgboostJson;
using ::rerank::testing::FeatureScores;
using ::rerank::testing::MakeLists;
using ::rerank::testing::NonlinearUtility;
using ::rerank::testing::RandomScores;
using ::testing::HasSubstr;

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// The score of a row (feature-set layout) under `spec`, walking the trees
// exactly as ranker.h defines them; independent of Ranker.
double ReferenceScore(const RankerSpec& spec, const float* row) {
  std::vector<int32_t> index;
  for (const std::string& name : spec.feature_names) {
    index.push_back(FindFeature(name));
  }
  double score = spec.gbdt.base_score;
  for (const TreeSpec& t : spec.gbdt.trees) {
    int32_t node = 0;
    while (t.left[node] != -1) {
      const float x = row[index[t.feature[node]]];
      const bool left =
          std::isnan(x) ? t.default_left[node] != 0 : x < t.threshold[node];
      node = left ? t.left[node] : t.right[node];
    }
    score += t.value[node];
  }
  return score;
}

std::vector<double> ReferenceScores(const RankerSpec& spec,
                                    const RankingData& data) {
  std::vector<double> s(data.num_rows());
  for (int64_t r = 0; r < data.num_rows(); ++r) {
    s[r] = ReferenceScore(spec, &data.features[r * kNumFeatures]);
  }
  return s;
}

struct Data {
  RankingData train, valid, test;
};

const Data& Synthetic() {
  static const Data* data = new Data{
      MakeLists(1500, 40, 3, 2.0f, 21, NonlinearUtility),
      MakeLists(300, 40, 3, 2.0f, 22, NonlinearUtility),
      MakeLists(500, 40, 3, 2.0f, 23, NonlinearUtility)};
  return *data;
}

TEST(FitGbdtTest, BeatsRandomSingleFeatureAndLinearOnHeldOutLists) {
  const Data& d = Synthetic();
  GbdtFitOptions options;
  options.max_trees = 200;
  FitReport report;
  std::vector<std::string> lines;
  const absl::StatusOr<RankerSpec> spec = FitGbdt(
      d.train, d.valid, options,
      [&](const std::string& line) { lines.push_back(line); }, &report);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const double fitted = MeanNdcg(d.test, ReferenceScores(*spec, d.test), 10);
  const double random = MeanNdcg(d.test, RandomScores(d.test, 9), 10);
  const double single = MeanNdcg(d.test, FeatureScores(d.test, kBaseScore), 10);
  std::printf("gbdt: test ndcg@10 %.4f (random %.4f, base_score %.4f); "
              "train %.4f, validation %.4f, %d trees, %.2f s\n",
              fitted, random, single, report.train_ndcg,
              report.validation_ndcg, report.iterations, report.seconds);
  EXPECT_GT(fitted, random + 0.2);
  EXPECT_GT(fitted, single + 0.05);
  EXPECT_GE(report.iterations, 1);
  EXPECT_LE(report.iterations, options.max_trees);
  EXPECT_EQ(spec->gbdt.trees.size(), static_cast<size_t>(report.iterations));
  EXPECT_EQ(spec->kind, RankerKind::kGbdt);
  EXPECT_EQ(spec->feature_set, kFeatureSetName);
  // The report's validation figure is the kept trees' MeanNdcg.
  EXPECT_NEAR(report.validation_ndcg,
              MeanNdcg(d.valid, ReferenceScores(*spec, d.valid), 10), 1e-6);
  EXPECT_NEAR(report.train_ndcg,
              MeanNdcg(d.train, ReferenceScores(*spec, d.train), 10), 1e-6);
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr("gbdt: done"));
}

TEST(FitGbdtTest, EarlyStoppingKeepsTheBestTrees) {
  const Data& d = Synthetic();
  GbdtFitOptions options;
  options.max_trees = 400;
  options.learning_rate = 0.5;  // overfits quickly
  options.early_stopping_rounds = 10;
  FitReport report;
  const auto spec = FitGbdt(d.train, d.valid, options, nullptr, &report);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_LT(report.iterations, options.max_trees - 10);
  EXPECT_THAT(spec->description,
              HasSubstr(std::to_string(report.iterations + 10) + " fitted"));
}

TEST(FitGbdtTest, IsDeterministicForASeedAndThreads) {
  const Data& d = Synthetic();
  GbdtFitOptions options;
  options.max_trees = 30;
  options.subsample = 0.8;
  options.colsample_bytree = 0.8;
  const auto a = FitGbdt(d.train, d.valid, options, nullptr, nullptr);
  const auto b = FitGbdt(d.train, d.valid, options, nullptr, nullptr);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_EQ(RankerSpecToJson(*a), RankerSpecToJson(*b));
  ASSERT_EQ(a->gbdt.trees.size(), b->gbdt.trees.size());
  for (size_t i = 0; i < a->gbdt.trees.size(); ++i) {
    const TreeSpec& x = a->gbdt.trees[i];
    const TreeSpec& y = b->gbdt.trees[i];
    EXPECT_EQ(x.left, y.left) << i;
    EXPECT_EQ(x.feature, y.feature) << i;
    EXPECT_EQ(x.threshold, y.threshold) << i;
    EXPECT_EQ(x.value, y.value) << i;
    EXPECT_EQ(x.cover, y.cover) << i;
  }
  options.seed = 7;
  const auto c = FitGbdt(d.train, d.valid, options, nullptr, nullptr);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(RankerSpecToJson(*a), RankerSpecToJson(*c));
}

TEST(FitGbdtTest, RefusesBadInputs) {
  const Data& d = Synthetic();
  const auto refused = [&](const GbdtFitOptions& o, const RankingData& v,
                           const std::string& substr) {
    const auto spec = FitGbdt(d.train, v, o, nullptr, nullptr);
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument)
        << substr;
    EXPECT_THAT(spec.status().message(), HasSubstr(substr));
  };
  GbdtFitOptions o;
  refused(o, RankingData(), "validation lists");
  o.max_depth = kMaxTreeDepth + 1;
  refused(o, d.valid, "max_depth=17");
  o = GbdtFitOptions();
  o.max_trees = 0;
  refused(o, d.valid, "max_trees=0");
  o = GbdtFitOptions();
  o.subsample = 0;
  refused(o, d.valid, "subsample=0");
  o = GbdtFitOptions();
  o.features = {"nope"};
  refused(o, d.valid, "features[0]=\"nope\"");
}

// Conversion errors name the JSON path.
TEST(GbdtSpecFromXgboostJsonTest, RefusesMalformedModels) {
  EXPECT_THAT(GbdtSpecFromXgboostJson("{", 3).status().message(),
              HasSubstr("does not parse"));
  EXPECT_THAT(GbdtSpecFromXgboostJson("{}", 3).status().message(),
              HasSubstr(".learner is missing"));
  const std::string bad_child = R"({"learner": {
      "learner_model_param": {"base_score": "5E-1", "num_class": "0"},
      "gradient_booster": {"name": "gbtree", "model": {"trees": [{
        "tree_param": {"num_nodes": "3", "size_leaf_vector": "0"},
        "left_children": [1, -1, -1], "right_children": [7, -1, -1],
        "split_indices": [0, 0, 0], "split_conditions": [0.5, 1, 2],
        "default_left": [0, 0, 0], "sum_hessian": [2, 1, 1]}]}}}})";
  EXPECT_THAT(GbdtSpecFromXgboostJson(bad_child, 3).status().message(),
              HasSubstr("trees[0] node 0 has child 7"));
}

// ---- The trees, as converted, score as XGBoost does. ---------------------

struct DMatrixFree {
  void operator()(void* h) const { XGDMatrixFree(h); }
};
struct BoosterFree {
  void operator()(void* h) const { XGBoosterFree(h); }
};

// Random rows over the spec's features that hit the edges of the splits:
// values exactly at a threshold, just below one, outside the training range
// [0, 1], and missing (NaN); returned in feature-set layout (`full`) and as
// the spec's columns (`columns`).
void EdgeRows(const RankerSpec& spec, int rows, uint64_t seed,
              std::vector<float>* full, std::vector<float>* columns) {
  const size_t d = spec.feature_names.size();
  std::vector<std::vector<float>> thresholds(d);
  for (const TreeSpec& t : spec.gbdt.trees) {
    for (size_t i = 0; i < t.left.size(); ++i) {
      if (t.left[i] != -1) thresholds[t.feature[i]].push_back(t.threshold[i]);
    }
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::uniform_real_distribution<float> wide(-3.0f, 4.0f);
  full->assign(static_cast<size_t>(rows) * kNumFeatures, 0.0f);
  columns->assign(static_cast<size_t>(rows) * d, 0.0f);
  for (int r = 0; r < rows; ++r) {
    for (size_t j = 0; j < d; ++j) {
      const float p = uniform(rng);
      float x = uniform(rng);
      if (p < 0.45f && !thresholds[j].empty()) {
        x = thresholds[j][rng() % thresholds[j].size()];
        if (p < 0.15f) x = std::nextafter(x, -1e30f);
      } else if (p < 0.6f) {
        x = wide(rng);
      } else if (p < 0.63f) {
        x = kNan;
      }
      (*columns)[r * d + j] = x;
      (*full)[r * kNumFeatures + FindFeature(spec.feature_names[j])] = x;
    }
  }
}

TEST(FitGbdtTest, CompactTreesMatchXgboostPredictions) {
  const Data& d = Synthetic();
  GbdtFitOptions options;
  options.max_trees = 150;
  options.early_stopping_rounds = 1000;  // keep all 150
  options.max_depth = 6;
  options.min_child_weight = 0.1;
  std::string model_json;
  FitReport report;
  const auto spec = FitGbdtWithModel(d.train, d.valid, options, nullptr,
                                     &report, &model_json);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_GT(spec->gbdt.trees.size(), 100u);
  int64_t depth6 = 0;
  for (const TreeSpec& t : spec->gbdt.trees) depth6 += t.left.size() > 64;
  EXPECT_GT(depth6, 0) << "no tree reached depth 6";

  // XGBoost's own model of the same trees.
  BoosterHandle h = nullptr;
  ASSERT_EQ(XGBoosterCreate(nullptr, 0, &h), 0) << XGBGetLastError();
  std::unique_ptr<void, BoosterFree> booster(h);
  ASSERT_EQ(XGBoosterLoadModelFromBuffer(h, model_json.data(),
                                         model_json.size()),
            0)
      << XGBGetLastError();
  ASSERT_EQ(XGBoosterSetParam(h, "nthread", "1"), 0) << XGBGetLastError();

  constexpr int kRows = 6000;
  const size_t nf = spec->feature_names.size();
  std::vector<float> full, columns;
  EdgeRows(*spec, kRows, 31, &full, &columns);
  DMatrixHandle m = nullptr;
  ASSERT_EQ(XGDMatrixCreateFromMat(columns.data(), kRows, nf, kNan, &m), 0)
      << XGBGetLastError();
  std::unique_ptr<void, DMatrixFree> dmat(m);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  ASSERT_EQ(XGBoosterPredictFromDMatrix(
                h, m, R"({"type": 1, "training": false, "iteration_begin": 0,)"
                      R"( "iteration_end": 0, "strict_shape": false})",
                &shape, &dim, &out),
            0)
      << XGBGetLastError();
  ASSERT_EQ(dim, 1u);
  ASSERT_EQ(shape[0], static_cast<bst_ulong>(kRows));
  const std::vector<double> xgb_margin(out, out + kRows);

  // The definition of the spec (independent of Ranker).
  double max_diff = 0.0;
  for (int r = 0; r < kRows; ++r) {
    const double diff =
        std::abs(ReferenceScore(*spec, &full[r * kNumFeatures]) -
                 xgb_margin[r]);
    max_diff = std::max(max_diff, diff);
  }
  std::printf("spec vs XGBoost margin: max abs diff %.3g over %d rows\n",
              max_diff, kRows);
  EXPECT_LE(max_diff, 1e-5);

  // The serving-side Ranker.
  const auto ranker = Ranker::Create(*spec);
  ASSERT_TRUE(ranker.ok()) << ranker.status();
  std::vector<double> scores(kRows);
  (*ranker)->Score(full.data(), kRows, kNumFeatures, scores.data());
  max_diff = 0.0;
  for (int r = 0; r < kRows; ++r) {
    max_diff = std::max(max_diff, std::abs(scores[r] - xgb_margin[r]));
  }
  std::printf("Ranker vs XGBoost margin: max abs diff %.3g over %d rows\n",
              max_diff, kRows);
  EXPECT_LE(max_diff, 1e-5);

  // Explain: sums to the score, and is XGBoost's approx_contribs (Saabas).
  ASSERT_EQ(XGBoosterPredictFromDMatrix(
                h, m, R"({"type": 3, "training": false, "iteration_begin": 0,)"
                      R"( "iteration_end": 0, "strict_shape": false})",
                &shape, &dim, &out),
            0)
      << XGBGetLastError();
  ASSERT_EQ(dim, 2u);
  ASSERT_EQ(shape[1], nf + 1);
  double max_sum_diff = 0.0;
  double max_contrib_diff = 0.0;
  for (int r = 0; r < kRows; ++r) {
    double bias = 0.0;
    std::vector<double> contributions;
    (*ranker)->Explain(&full[r * kNumFeatures], &bias, &contributions);
    ASSERT_EQ(contributions.size(), nf);
    double sum = bias;
    for (size_t j = 0; j < nf; ++j) {
      sum += contributions[j];
      max_contrib_diff = std::max(
          max_contrib_diff, std::abs(contributions[j] - out[r * (nf + 1) + j]));
    }
    max_contrib_diff =
        std::max(max_contrib_diff, std::abs(bias - out[r * (nf + 1) + nf]));
    max_sum_diff = std::max(max_sum_diff, std::abs(sum - scores[r]));
  }
  std::printf("Explain: max |bias + sum - score| %.3g, max |contribution - "
              "XGBoost approx_contribs| %.3g\n",
              max_sum_diff, max_contrib_diff);
  EXPECT_LE(max_sum_diff, 1e-9);
  EXPECT_LE(max_contrib_diff, 1e-4);
}

}  // namespace
}  // namespace rerank
