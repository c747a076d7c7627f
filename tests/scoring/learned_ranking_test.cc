// The learned-ranking path of Rerank: the feature vector (ranking/features.h
// is its definition, checked here by hand arithmetic), ranker selection, and
// the learned score with rules, explanations and errors.

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_snapshot.h"
#include "ranking/features.h"
#include "ranking/ranker.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kMinute = 60'000;
constexpr int64_t kDay = 86'400'000;

// A linear ranker over the named features with unit scales and zero means:
// score = sum weights[j] * x[f_j].
RankerSpec Linear(std::vector<std::string> names, std::vector<double> weights,
                  double bias = 0.0) {
  RankerSpec spec;
  spec.kind = RankerKind::kLinear;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = std::move(names);
  spec.linear.bias = bias;
  spec.linear.weights = std::move(weights);
  spec.linear.means.assign(spec.linear.weights.size(), 0.0);
  spec.linear.scales.assign(spec.linear.weights.size(), 1.0);
  return spec;
}

// One stump: x[feature] < threshold ? left : right.
RankerSpec Stump(const std::string& name, float threshold, double left,
                 double right) {
  RankerSpec spec;
  spec.kind = RankerKind::kGbdt;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = {name};
  TreeSpec tree;
  tree.left = {1, -1, -1};
  tree.right = {2, -1, -1};
  tree.feature = {0, 0, 0};
  tree.threshold = {threshold, 0, 0};
  tree.default_left = {1, 0, 0};
  tree.value = {0, left, right};
  tree.cover = {2, 1, 1};
  spec.gbdt.trees.push_back(tree);
  return spec;
}

// dim 2; items a..e with factors; neighbours a -> b 0.5, c 0.25; d -> e 1.
// Counts: a 9, b 3, c 0, d 1, e 0 (max 9). Categories: a, b "x"; c, d "y".
ModelData BaseData() {
  ModelData data;
  data.version = "learned-v1";
  data.dim = 2;
  data.user_ids = {"u"};
  data.user_factors = {1, 2};
  data.item_ids = {"a", "b", "c", "d", "e"};
  data.item_factors = {1, 0, 0, 1, 1, 1, 2, 0, 0, 3};
  data.neighbor_indptr = {0, 2, 2, 2, 3, 3};
  data.neighbor_indices = {1, 2, 4};
  data.neighbor_scores = {0.5f, 0.25f, 1.0f};
  data.item_categories = {"x", "x", "y", "y", ""};
  data.item_counts = {9, 3, 0, 1, 0};
  return data;
}

std::unique_ptr<const ModelSnapshot> Model(std::vector<RankerSpec> rankers,
                                           RankerKind default_ranker) {
  ModelData data = BaseData();
  data.rankers = std::move(rankers);
  data.default_ranker = default_ranker;
  auto model = ModelSnapshot::FromData(std::move(data));
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

v1::RerankRequest Request() {
  v1::RerankRequest request;
  request.set_user_id("u");
  request.set_now_ms(kNow);
  for (const char* id : {"b", "c", "e", "zz"}) {
    v1::Candidate* c = request.add_candidates();
    c->set_item_id(id);
  }
  request.mutable_candidates(0)->set_base_score(3);
  request.mutable_candidates(1)->set_base_score(1);
  request.mutable_candidates(2)->set_base_score(2);
  // Most recent first by time: a viewed 30 min ago (rank 0), d purchased a
  // day ago (rank 1), b clicked 7 days ago (rank 2).
  auto add = [&](const char* id, v1::EventType type, int64_t age) {
    v1::Event* e = request.add_events();
    e->set_item_id(id);
    e->set_type(type);
    e->set_timestamp_ms(kNow - age);
  };
  add("b", v1::EVENT_TYPE_CLICK, 7 * kDay);
  add("d", v1::EVENT_TYPE_PURCHASE, kDay);
  add("a", v1::EVENT_TYPE_VIEW, 30 * kMinute);
  return request;
}

float F(const std::vector<float>& rows, int candidate, Feature f) {
  return rows[static_cast<size_t>(candidate) * kNumFeatures + f];
}

TEST(ExtractFeaturesTest, RequestCategoryOverridesTheModelsInCategoryShare) {
  const auto model = Model({}, RankerKind::kFormula);
  v1::RerankRequest request = Request();
  // Events: a x, d y, b x. b (model "x") sent as "y"; c (model "y") sent as
  // "x"; e (no model category) sent as "x"; zz (unknown) sent as "nope".
  request.mutable_candidates(0)->set_category("y");
  request.mutable_candidates(1)->set_category("x");
  request.mutable_candidates(2)->set_category("x");
  request.mutable_candidates(3)->set_category("nope");
  std::vector<float> rows;
  ASSERT_TRUE(
      ExtractFeatures(*model, request, ScorerOptions(), kNow, &rows).ok());
  constexpr float kTol = 1e-5f;
  EXPECT_NEAR(F(rows, 0, kCategoryShare), 1.0 / 3, kTol);
  EXPECT_NEAR(F(rows, 1, kCategoryShare), 2.0 / 3, kTol);
  EXPECT_NEAR(F(rows, 2, kCategoryShare), 2.0 / 3, kTol);
  EXPECT_EQ(F(rows, 3, kCategoryShare), 0);
  // An empty request category matches nothing, not the events' "".
  request.mutable_candidates(0)->set_category("");
  ASSERT_TRUE(
      ExtractFeatures(*model, request, ScorerOptions(), kNow, &rows).ok());
  EXPECT_EQ(F(rows, 0, kCategoryShare), 0);
}

TEST(ExtractFeaturesTest, ComputesTheDocumentedDefinitions) {
  const auto model = Model({}, RankerKind::kFormula);
  std::vector<float> rows;
  ASSERT_TRUE(
      ExtractFeatures(*model, Request(), ScorerOptions(), kNow, &rows).ok());
  ASSERT_EQ(rows.size(), 4u * kNumFeatures);
  constexpr float kTol = 1e-5f;
  // Base: raw, rank (b 3 first, e 2, c 1, zz 0 last of four: 0, 2/3, 1/3,
  // 1), input position.
  EXPECT_FLOAT_EQ(F(rows, 0, kBaseScore), 3);
  EXPECT_NEAR(F(rows, 0, kBaseRank), 0.0, kTol);
  EXPECT_NEAR(F(rows, 1, kBaseRank), 2.0 / 3, kTol);
  EXPECT_NEAR(F(rows, 2, kBaseRank), 1.0 / 3, kTol);
  EXPECT_NEAR(F(rows, 3, kBaseRank), 1.0, kTol);
  EXPECT_NEAR(F(rows, 2, kInputPosition), 2.0 / 3, kTol);
  // base z: mean 1.5, sd sqrt(1.25).
  EXPECT_NEAR(F(rows, 0, kBaseScoreZ), 1.5 / std::sqrt(1.25), kTol);
  // <u, v>: u = [1, 2]; b [0, 1] -> 2, c [1, 1] -> 3, e [0, 3] -> 6.
  EXPECT_NEAR(F(rows, 0, kUserDot), 2, kTol);
  EXPECT_NEAR(F(rows, 1, kUserDot), 3, kTol);
  EXPECT_NEAR(F(rows, 2, kUserDot), 6, kTol);
  EXPECT_EQ(F(rows, 3, kUserDot), 0);
  // Session s = (1 * a + 0.5 * d + 0.25 * b) / 1.75 = [2, 0.25] / 1.75.
  EXPECT_NEAR(F(rows, 1, kSessionDot), 2.25 / 1.75, kTol);
  // Cosine sum on c = [1,1]/sqrt2: a -> 1/sqrt2, d -> 0.5/sqrt2, b ->
  // 0.25/sqrt2.
  EXPECT_NEAR(F(rows, 1, kSessionCosine), 1.75 / std::sqrt(2.0), kTol);
  // Direct evidence on b: one click 7 days old: short 2^-336, long 0.5.
  EXPECT_NEAR(F(rows, 0, kClickDirectLong), 0.5, kTol);
  EXPECT_NEAR(F(rows, 0, kClickDirectShort), 0.0, kTol);
  EXPECT_NEAR(F(rows, 0, kDirectRank), 0.25, kTol);
  EXPECT_NEAR(F(rows, 0, kLastEventRecency), 1.0 / (1.0 + 168.0), kTol);
  // Neighbours: the view of a (30 min: short 0.5, long 2^-(1/336)) reaches
  // b with 0.5 and c with 0.25; the purchase of d reaches e with 1.
  const double long_30min = std::exp2(-1800.0 / (7 * 86400.0));
  EXPECT_NEAR(F(rows, 0, kViewNeighborShort), 0.5 * 0.5, kTol);
  EXPECT_NEAR(F(rows, 0, kViewNeighborLong), 0.5 * long_30min, kTol);
  EXPECT_NEAR(F(rows, 1, kViewNeighborShort), 0.25 * 0.5, kTol);
  const double long_1day = std::exp2(-1.0 / 7);
  EXPECT_NEAR(F(rows, 2, kPurchaseNeighborLong), 1.0 * long_1day, kTol);
  EXPECT_NEAR(F(rows, 2, kNeighborRank), 0.5, kTol);  // d has rank 1
  EXPECT_NEAR(F(rows, 0, kNeighborRank), 0.5, kTol);  // a rank 0, sim 0.5
  EXPECT_EQ(F(rows, 0, kNeighborCount), 1);
  EXPECT_EQ(F(rows, 3, kNeighborCount), 0);
  // Popularity log1p(count) / log1p(9): b 3 -> log 4 / log 10; c 0.
  EXPECT_NEAR(F(rows, 0, kPopularity), std::log(4.0) / std::log(10.0), kTol);
  EXPECT_EQ(F(rows, 1, kPopularity), 0);
  // Categories of the events: a x, d y, b x -> x 2/3, y 1/3.
  EXPECT_NEAR(F(rows, 0, kCategoryShare), 2.0 / 3, kTol);
  EXPECT_NEAR(F(rows, 1, kCategoryShare), 1.0 / 3, kTol);
  EXPECT_EQ(F(rows, 2, kCategoryShare), 0);  // e has no category
  // Request-level.
  EXPECT_EQ(F(rows, 0, kUserKnown), 1);
  EXPECT_EQ(F(rows, 0, kItemKnown), 1);
  EXPECT_EQ(F(rows, 3, kItemKnown), 0);
  EXPECT_NEAR(F(rows, 3, kLogEvents), std::log(4.0), kTol);
  EXPECT_EQ(F(rows, 0, kPurchasedBefore), 0);
}

TEST(ExtractFeaturesTest, RequestUserVectorStandsInForTheModelsRow) {
  const auto model = Model({}, RankerKind::kFormula);
  std::vector<float> by_id;
  ASSERT_TRUE(
      ExtractFeatures(*model, Request(), ScorerOptions(), kNow, &by_id).ok());
  // The same vector from the caller, for a shopper the model does not know:
  // the features a ranker sees are the same, user_known included.
  v1::RerankRequest request = Request();
  request.set_user_id("");
  request.add_user_vector(1);
  request.add_user_vector(2);
  std::vector<float> by_vector;
  ASSERT_TRUE(
      ExtractFeatures(*model, request, ScorerOptions(), kNow, &by_vector).ok());
  EXPECT_EQ(by_vector, by_id);
  EXPECT_EQ(F(by_vector, 0, kUserKnown), 1.0f);
  // A different vector moves the user dot product.
  request.set_user_vector(1, 5);
  ASSERT_TRUE(
      ExtractFeatures(*model, request, ScorerOptions(), kNow, &by_vector).ok());
  EXPECT_NE(by_vector, by_id);
}

TEST(ExtractFeaturesTest, CompactFactorModelsGiveTheFloat32Features) {
  const auto model = Model({}, RankerKind::kFormula);
  std::vector<float> want;
  ASSERT_TRUE(
      ExtractFeatures(*model, Request(), ScorerOptions(), kNow, &want).ok());
  for (FactorDtype dtype : {FactorDtype::kFloat16, FactorDtype::kInt8}) {
    ModelData data = BaseData();
    data.factor_dtype = dtype;
    auto compact = ModelSnapshot::FromData(std::move(data));
    ASSERT_TRUE(compact.ok()) << compact.status();
    std::vector<float> got;
    ASSERT_TRUE(
        ExtractFeatures(**compact, Request(), ScorerOptions(), kNow, &got)
            .ok());
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      // BaseData's factors are exact in float16; int8 is within a level.
      EXPECT_NEAR(got[i], want[i], dtype == FactorDtype::kFloat16 ? 0 : 2e-2)
          << FactorDtypeName(dtype) << " candidate " << i / kNumFeatures
          << " feature " << FeatureNames()[i % kNumFeatures];
    }
  }
}

TEST(ExtractFeaturesTest, PurchasedCandidateAndDuplicatesAndDropped) {
  const auto model = Model({}, RankerKind::kFormula);
  v1::RerankRequest request = Request();
  request.add_candidates()->set_item_id("d");
  request.add_candidates()->set_item_id("b");  // duplicate of candidate 0
  v1::Candidate* gone = request.add_candidates();
  gone->set_item_id("a");
  gone->set_in_stock(false);
  std::vector<float> rows;
  ASSERT_TRUE(
      ExtractFeatures(*model, request, ScorerOptions(), kNow, &rows).ok());
  ASSERT_EQ(rows.size(), 7u * kNumFeatures);
  EXPECT_EQ(F(rows, 4, kPurchasedBefore), 1);
  EXPECT_GT(F(rows, 4, kPurchaseDirectLong), 0);
  for (int f = 0; f < kNumFeatures; ++f) {
    EXPECT_EQ(F(rows, 5, static_cast<Feature>(f)),
              F(rows, 0, static_cast<Feature>(f)))
        << FeatureNames()[f];
    EXPECT_EQ(F(rows, 6, static_cast<Feature>(f)), 0) << FeatureNames()[f];
  }
}

TEST(ExtractFeaturesTest, RefusesWhatRerankRefuses) {
  const auto model = Model({}, RankerKind::kFormula);
  v1::RerankRequest request = Request();
  request.mutable_candidates(1)->set_base_score(NAN);
  std::vector<float> rows;
  const absl::Status s =
      ExtractFeatures(*model, request, ScorerOptions(), kNow, &rows);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("candidates[1].base_score"));
}

std::vector<std::string> Order(const v1::RerankResponse& response) {
  std::vector<std::string> ids;
  for (const auto& item : response.items()) ids.push_back(item.item_id());
  return ids;
}

TEST(LearnedRankingTest, ModelDefaultLinearRankerOrdersByItsScore) {
  // score = 1 * user_dot: e 6, c 3, b 2, zz 0.
  const auto model =
      Model({Linear({"user_dot"}, {1.0}, 0.5)}, RankerKind::kLinear);
  v1::RerankResponse response;
  ASSERT_TRUE(Rerank(*model, Request(), ScorerOptions(), kNow, &response).ok());
  EXPECT_THAT(Order(response), ElementsAre("e", "c", "b", "zz"));
  EXPECT_EQ(response.ranker(), v1::RANKER_KIND_LINEAR);
  EXPECT_NEAR(response.items(0).score(), 6.5, 1e-6);
}

TEST(LearnedRankingTest, RequestOverridesTheModelDefault) {
  const auto model =
      Model({Linear({"user_dot"}, {1.0}), Stump("base_score", 2.5, 0, 1)},
            RankerKind::kLinear);
  v1::RerankRequest request = Request();
  request.set_ranker(v1::RANKER_KIND_GBDT);
  v1::RerankResponse response;
  ASSERT_TRUE(Rerank(*model, request, ScorerOptions(), kNow, &response).ok());
  EXPECT_EQ(response.ranker(), v1::RANKER_KIND_GBDT);
  EXPECT_EQ(Order(response)[0], "b");  // the only base_score >= 2.5
  request.set_ranker(v1::RANKER_KIND_FORMULA);
  ASSERT_TRUE(Rerank(*model, request, ScorerOptions(), kNow, &response).ok());
  EXPECT_EQ(response.ranker(), v1::RANKER_KIND_FORMULA);
}

TEST(LearnedRankingTest, RequestNamingAnAbsentRankerIsFailedPrecondition) {
  const auto model = Model({Linear({"user_dot"}, {1.0})}, RankerKind::kLinear);
  v1::RerankRequest request = Request();
  request.set_ranker(v1::RANKER_KIND_GBDT);
  v1::RerankResponse response;
  const absl::Status s =
      Rerank(*model, request, ScorerOptions(), kNow, &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("ranker=RANKER_KIND_GBDT"));
  EXPECT_THAT(s.message(), HasSubstr("learned-v1"));
  request.set_ranker(static_cast<v1::RankerKind>(42));
  EXPECT_EQ(Rerank(*model, request, ScorerOptions(), kNow, &response).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LearnedRankingTest, UnknownRankerNumberIsRefusedByValidationNamingIt) {
  v1::RerankRequest request = Request();
  request.set_ranker(static_cast<v1::RankerKind>(5));
  const absl::Status s = ValidateRequest(request, RequestLimits());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("ranker=5"));
}

// The null scorer is the floor the full one is measured against: it must
// refuse exactly what the full scorer refuses, ranker included, and never
// claim a learned ranker ordered its (input-order) list.
TEST(LearnedRankingTest, NullScorerRefusesRankersAsRerankDoes) {
  const auto model = Model({Linear({"user_dot"}, {1.0})}, RankerKind::kLinear);
  v1::RerankRequest request = Request();
  v1::RerankResponse response;
  for (const v1::RankerKind kind :
       {v1::RANKER_KIND_GBDT, static_cast<v1::RankerKind>(5)}) {
    request.set_ranker(kind);
    const absl::Status full =
        Rerank(*model, request, ScorerOptions(), kNow, &response);
    EXPECT_FALSE(full.ok());
    EXPECT_EQ(RerankNull(*model, request, ScorerOptions(), kNow, &response),
              full);
  }
  request.set_ranker(v1::RANKER_KIND_LINEAR);
  ASSERT_TRUE(
      RerankNull(*model, request, ScorerOptions(), kNow, &response).ok());
  EXPECT_EQ(response.ranker(), v1::RANKER_KIND_FORMULA);
}

TEST(LearnedRankingTest, ConfiguredRankerTheModelLacksFallsBackAndSaysSo) {
  const auto model = Model({Linear({"user_dot"}, {1.0})}, RankerKind::kLinear);
  ScorerOptions options;
  options.ranker = RankerKind::kGbdt;
  v1::RerankResponse response;
  ASSERT_TRUE(Rerank(*model, Request(), options, kNow, &response).ok());
  EXPECT_EQ(response.ranker(), v1::RANKER_KIND_LINEAR);
  EXPECT_THAT(response.fallbacks(), testing::Contains(v1::FALLBACK_NO_RANKER));
  options.ranker = RankerKind::kFormula;
  ASSERT_TRUE(Rerank(*model, Request(), options, kNow, &response).ok());
  EXPECT_EQ(response.ranker(), v1::RANKER_KIND_FORMULA);
  EXPECT_THAT(response.fallbacks(),
              testing::Not(testing::Contains(v1::FALLBACK_NO_RANKER)));
}

TEST(LearnedRankingTest, ExplanationPartsAddUpToTheScore) {
  for (RankerKind kind : {RankerKind::kLinear, RankerKind::kGbdt}) {
    const auto model =
        Model({Linear({"user_dot", "view_neighbor_short", "popularity"},
                      {0.5, 2.0, -1.0}, 0.25),
               Stump("user_dot", 2.5, -1, 1)},
              kind);
    v1::RerankRequest request = Request();
    request.set_explain(true);
    // A boost rule still adds on top of the learned score.
    auto* boost = request.mutable_rules()->add_boosts();
    boost->set_name("promo");
    boost->set_item_id("c");
    boost->set_mode(v1::BOOST_MODE_ADD);
    boost->set_value(10);
    v1::RerankResponse response;
    ASSERT_TRUE(Rerank(*model, request, ScorerOptions(), kNow, &response).ok())
        << RankerKindName(kind);
    EXPECT_EQ(response.items(0).item_id(), "c");
    for (const v1::RankedItem& item : response.items()) {
      const v1::Explanation& e = item.explanation();
      double sum = e.ranker_bias() + e.rules();
      for (const auto& f : e.features()) sum += f.contribution();
      EXPECT_NEAR(sum, item.score(), 1e-9) << item.item_id();
      EXPECT_EQ(e.base(), 0);
      EXPECT_EQ(e.boosts_size(), 0);
      EXPECT_GT(e.features_size(), 0);
    }
  }
}

// The scorer computes only the features a ranker reads; those must equal
// the full extraction's, for the default feature set and for one feature.
TEST(LearnedRankingTest, RankerOverASubsetSeesTheFullExtractionsValues) {
  std::vector<float> rows;
  const auto full = Model({}, RankerKind::kFormula);
  ASSERT_TRUE(
      ExtractFeatures(*full, Request(), ScorerOptions(), kNow, &rows).ok());
  std::vector<std::string> defaults(std::begin(kDefaultRankerFeatures),
                                    std::end(kDefaultRankerFeatures));
  for (const std::vector<std::string>& names :
       {defaults, std::vector<std::string>{"session_cosine"},
        std::vector<std::string>{"neighbor_rank_z", "popularity_z"}}) {
    const auto model =
        Model({Linear(names, std::vector<double>(names.size(), 1.0))},
              RankerKind::kLinear);
    v1::RerankRequest request = Request();
    request.set_explain(true);
    v1::RerankResponse response;
    ASSERT_TRUE(Rerank(*model, request, ScorerOptions(), kNow, &response).ok());
    ASSERT_GT(response.items_size(), 0);
    for (const v1::RankedItem& item : response.items()) {
      // Rows are in input order of the kept candidates; Request() keeps all.
      const int r = item.input_position();
      ASSERT_EQ(item.explanation().features_size(),
                static_cast<int>(names.size()));
      for (const v1::FeatureContribution& f : item.explanation().features()) {
        const int32_t index = FindFeature(f.name());
        ASSERT_GE(index, 0) << f.name();
        EXPECT_NEAR(f.value(), rows[r * kNumFeatures + index], 1e-6)
            << item.item_id() << " " << f.name();
      }
    }
  }
}

TEST(LearnedRankingTest, FormulaResponsesNameTheFormula) {
  const auto model = Model({}, RankerKind::kFormula);
  v1::RerankResponse response;
  ASSERT_TRUE(Rerank(*model, Request(), ScorerOptions(), kNow, &response).ok());
  EXPECT_EQ(response.ranker(), v1::RANKER_KIND_FORMULA);
  v1::RerankRequest request = Request();
  request.set_ranker(v1::RANKER_KIND_LINEAR);
  EXPECT_EQ(Rerank(*model, request, ScorerOptions(), kNow, &response).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace rerank
