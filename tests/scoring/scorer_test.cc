#include "scoring/scorer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_snapshot.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scoring_params.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kNow = 1'700'000'000'000;  // ms since the epoch
constexpr int64_t kHalfLifeMs = 1'800'000;   // 1800 s, set in Options()
constexpr double kFloatTol = 1e-6;           // factor terms are float math

// The test model: dim 2, 3 users, 5 items, a few neighbours. Every value is
// exact in float, so hand arithmetic matches.
//
//   users                 items                    neighbours (desc)
//   alice [1, 0]          shoe [1,   0  ] footwear  shoe -> sock 0.5, hat 0.25
//   bob   [0, 1]          sock [0,   1  ] socks     sock -> shoe 0.5
//   carol [1, 1]          hat  [0.5, 0.5] hats      hat  -> (none)
//                         bag  [2,   0  ] bags      bag  -> belt 0.75
//                         belt [0,   2  ] belts     belt -> (none)
std::unique_ptr<const ModelSnapshot> MakeModel(
    FactorDtype dtype = FactorDtype::kFloat32) {
  ModelData data;
  data.factor_dtype = dtype;
  data.version = "test-v1";
  data.dim = 2;
  data.user_ids = {"alice", "bob", "carol"};
  data.user_factors = {1, 0, 0, 1, 1, 1};
  data.item_ids = {"shoe", "sock", "hat", "bag", "belt"};
  data.item_factors = {1, 0, 0, 1, 0.5, 0.5, 2, 0, 0, 2};
  data.neighbor_indptr = {0, 2, 3, 3, 4, 4};
  data.neighbor_indices = {1, 2, 0, 4};
  data.neighbor_scores = {0.5f, 0.25f, 0.5f, 0.75f};
  data.item_categories = {"footwear", "socks", "hats", "bags", "belts"};
  auto model = ModelSnapshot::FromData(std::move(data));
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

// Every weight spelled out, so that the hand arithmetic below does not
// depend on ScoringWeights' defaults.
ScorerOptions Options() {
  ScorerOptions o;
  o.weights.base_weight = 1.0;
  o.weights.factor_weight = 1.0;
  o.weights.neighbor_weight = 0.5;
  o.weights.half_life_seconds = 1800.0;
  o.weights.session_blend = 0.5;
  o.weights.view_weight = 0.1;
  o.weights.click_weight = 0.2;
  o.weights.add_to_cart_weight = 0.5;
  o.weights.purchase_weight = 0.3;
  o.weights.wishlist_weight = 0.3;
  o.weights.purchase_demotion = 5.0;
  o.weights.max_event_age_seconds = 30.0 * 86400.0;
  o.weights.keep_out_of_stock = false;
  o.limits.max_candidates = 10000;
  o.limits.max_events = 1000;
  o.limits.max_id_bytes = 256;
  return o;
}

v1::Candidate* AddCandidate(v1::RerankRequest* request, const std::string& id) {
  v1::Candidate* c = request->add_candidates();
  c->set_item_id(id);
  return c;
}

v1::Candidate* AddCandidate(v1::RerankRequest* request, const std::string& id,
                            double base) {
  v1::Candidate* c = AddCandidate(request, id);
  c->set_base_score(base);
  return c;
}

void AddEvent(v1::RerankRequest* request, const std::string& id,
              v1::EventType type, int64_t timestamp_ms) {
  v1::Event* e = request->add_events();
  e->set_item_id(id);
  e->set_type(type);
  e->set_timestamp_ms(timestamp_ms);
}

class ScorerTest : public ::testing::Test {
 protected:
  // Reranks at kNow and expects success.
  v1::RerankResponse Run(const v1::RerankRequest& request,
                         const ScorerOptions& options = Options()) {
    v1::RerankResponse response;
    absl::Status status = Rerank(*model_, request, options, kNow, &response);
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }

  absl::Status RunStatus(const v1::RerankRequest& request,
                         const ScorerOptions& options = Options()) {
    v1::RerankResponse response;
    return Rerank(*model_, request, options, kNow, &response);
  }

  static std::vector<std::string> Ids(const v1::RerankResponse& response) {
    std::vector<std::string> ids;
    for (const v1::RankedItem& item : response.items()) {
      ids.push_back(item.item_id());
    }
    return ids;
  }

  static const v1::RankedItem& Item(const v1::RerankResponse& response,
                                    const std::string& id) {
    for (const v1::RankedItem& item : response.items()) {
      if (item.item_id() == id) return item;
    }
    ADD_FAILURE() << id << " not in the response";
    static const v1::RankedItem kMissing;
    return kMissing;
  }

  static double Score(const v1::RerankResponse& response,
                      const std::string& id) {
    return Item(response, id).score();
  }

  std::unique_ptr<const ModelSnapshot> model_ = MakeModel();
};

// ---------------------------------------------------------------------------
// The score formula.
// ---------------------------------------------------------------------------

TEST_F(ScorerTest, KnownUserWithoutEventsScoresBasePlusFactorTerm) {
  ScorerOptions options = Options();
  options.weights.base_weight = 2.0;
  options.weights.factor_weight = 3.0;
  v1::RerankRequest request;
  request.set_user_id("alice");  // u = [1, 0]
  AddCandidate(&request, "sock", 1.0);
  AddCandidate(&request, "shoe", 0.5);
  AddCandidate(&request, "hat");  // base absent: 0

  v1::RerankResponse response = Run(request, options);

  EXPECT_THAT(Ids(response), ElementsAre("shoe", "sock", "hat"));
  // shoe: 2*0.5 + 3*<[1,0],[1,0]>     = 1 + 3   = 4
  // sock: 2*1   + 3*<[1,0],[0,1]>     = 2 + 0   = 2
  // hat:  2*0   + 3*<[1,0],[0.5,0.5]> = 0 + 1.5 = 1.5
  EXPECT_DOUBLE_EQ(Score(response, "shoe"), 4.0);
  EXPECT_DOUBLE_EQ(Score(response, "sock"), 2.0);
  EXPECT_DOUBLE_EQ(Score(response, "hat"), 1.5);
  EXPECT_EQ(Item(response, "shoe").input_position(), 1u);
  EXPECT_TRUE(response.user_known());
  EXPECT_THAT(response.fallbacks(), IsEmpty());
  EXPECT_FALSE(response.items(0).has_explanation());
}

TEST_F(ScorerTest, DecayIsOneAtAgeZeroAndHalvesEveryHalfLife) {
  // Unknown items and an anonymous user: only the direct event terms count.
  v1::RerankRequest request;
  request.set_explain(true);
  AddCandidate(&request, "a");
  AddCandidate(&request, "b");
  AddCandidate(&request, "c");
  AddEvent(&request, "a", v1::EVENT_TYPE_CLICK, kNow);
  AddEvent(&request, "b", v1::EVENT_TYPE_CLICK, kNow - kHalfLifeMs);
  AddEvent(&request, "c", v1::EVENT_TYPE_CLICK, kNow - 2 * kHalfLifeMs);

  v1::RerankResponse response = Run(request);

  EXPECT_THAT(Ids(response), ElementsAre("a", "b", "c"));
  // w_click = 0.2; decay = 0.5^(age / 1800 s).
  EXPECT_DOUBLE_EQ(Score(response, "a"), 0.2);   // 0.2 * 0.5^0 = 0.2
  EXPECT_DOUBLE_EQ(Score(response, "b"), 0.1);   // 0.2 * 0.5^1 = 0.1
  EXPECT_DOUBLE_EQ(Score(response, "c"), 0.05);  // 0.2 * 0.5^2 = 0.05
  const v1::Boost& a = Item(response, "a").explanation().boosts(0);
  const v1::Boost& b = Item(response, "b").explanation().boosts(0);
  const v1::Boost& c = Item(response, "c").explanation().boosts(0);
  EXPECT_EQ(a.decay(), 1.0);
  EXPECT_EQ(b.decay(), 0.5);
  EXPECT_EQ(c.decay(), 0.25);
  EXPECT_EQ(a.age_ms(), 0);
  EXPECT_EQ(b.age_ms(), kHalfLifeMs);
  EXPECT_EQ(c.age_ms(), 2 * kHalfLifeMs);
  EXPECT_EQ(c.event_index(), 2);
  EXPECT_EQ(c.direct(), 1.0);
  EXPECT_EQ(c.type_weight(), 0.2);
}

TEST_F(ScorerTest, SessionVectorBlendsWithKnownUserVector) {
  ScorerOptions options = Options();
  options.weights.neighbor_weight = 0.0;  // isolate the factor term
  options.weights.session_blend = 0.25;
  options.weights.view_weight = 1.0;
  options.weights.click_weight = -3.0;  // the session uses |w_type|
  v1::RerankRequest request;
  request.set_user_id("alice");                           // u = [1, 0]
  AddEvent(&request, "sock", v1::EVENT_TYPE_VIEW, kNow);  // weight 1*1 = 1
  // decay 0.5, |w| 3: weight 1.5
  AddEvent(&request, "belt", v1::EVENT_TYPE_CLICK, kNow - kHalfLifeMs);
  AddCandidate(&request, "shoe");
  AddCandidate(&request, "bag");
  AddCandidate(&request, "hat");

  v1::RerankResponse response = Run(request, options);

  // s     = (1 * [0,1] + 1.5 * [0,2]) / (1 + 1.5) = [0, 4 / 2.5] = [0, 1.6]
  // u_eff = 0.75 * [1,0] + 0.25 * [0,1.6]                       = [0.75, 0.4]
  // bag  [2,0]:     1.5
  // shoe [1,0]:     0.75
  // hat  [.5,.5]:   0.375 + 0.2 = 0.575
  EXPECT_THAT(Ids(response), ElementsAre("bag", "shoe", "hat"));
  EXPECT_NEAR(Score(response, "bag"), 1.5, kFloatTol);
  EXPECT_NEAR(Score(response, "shoe"), 0.75, kFloatTol);
  EXPECT_NEAR(Score(response, "hat"), 0.575, kFloatTol);
  EXPECT_TRUE(response.user_known());
  EXPECT_THAT(response.fallbacks(), IsEmpty());
}

TEST_F(ScorerTest, AnonymousUserWithEventsIsRankedBySessionVector) {
  ScorerOptions options = Options();
  options.weights.neighbor_weight = 0.0;
  v1::RerankRequest request;
  AddEvent(&request, "bag", v1::EVENT_TYPE_VIEW, kNow);  // s = [2, 0]
  AddCandidate(&request, "sock");
  AddCandidate(&request, "hat");
  AddCandidate(&request, "shoe");

  v1::RerankResponse response = Run(request, options);

  // u_eff = s = [2, 0]. sock [0,1]: 0; hat [.5,.5]: 1; shoe [1,0]: 2.
  EXPECT_THAT(Ids(response), ElementsAre("shoe", "hat", "sock"));
  EXPECT_NEAR(Score(response, "shoe"), 2.0, kFloatTol);
  EXPECT_NEAR(Score(response, "hat"), 1.0, kFloatTol);
  EXPECT_NEAR(Score(response, "sock"), 0.0, kFloatTol);
  EXPECT_FALSE(response.user_known());
  EXPECT_THAT(response.fallbacks(), ElementsAre(v1::FALLBACK_ANONYMOUS_USER));
}

TEST_F(ScorerTest, UnknownUserWithEventsIsRankedBySessionVector) {
  ScorerOptions options = Options();
  options.weights.neighbor_weight = 0.0;
  v1::RerankRequest request;
  request.set_user_id("mallory");
  AddEvent(&request, "belt", v1::EVENT_TYPE_VIEW, kNow);  // s = [0, 2]
  AddCandidate(&request, "shoe");
  AddCandidate(&request, "sock");

  v1::RerankResponse response = Run(request, options);

  // shoe: <[0,2],[1,0]> = 0; sock: <[0,2],[0,1]> = 2.
  EXPECT_THAT(Ids(response), ElementsAre("sock", "shoe"));
  EXPECT_NEAR(Score(response, "sock"), 2.0, kFloatTol);
  EXPECT_FALSE(response.user_known());
  EXPECT_THAT(response.fallbacks(), ElementsAre(v1::FALLBACK_UNKNOWN_USER));
}

TEST_F(ScorerTest, RequestUserVectorReplacesTheModelsRow) {
  v1::RerankRequest request;
  request.set_user_id("alice");  // model row [1, 0]: shoe would be first
  request.add_user_vector(0);
  request.add_user_vector(1);
  AddCandidate(&request, "shoe");
  AddCandidate(&request, "sock");
  AddCandidate(&request, "hat");

  v1::RerankResponse response = Run(request);

  // u = [0, 1]: sock 1, hat 0.5, shoe 0.
  EXPECT_THAT(Ids(response), ElementsAre("sock", "hat", "shoe"));
  EXPECT_NEAR(Score(response, "sock"), 1.0, kFloatTol);
  EXPECT_NEAR(Score(response, "hat"), 0.5, kFloatTol);
  EXPECT_TRUE(response.user_known());  // alice is in the model
  EXPECT_EQ(response.user_vector_source(), v1::USER_VECTOR_SOURCE_REQUEST);
  EXPECT_THAT(response.fallbacks(), IsEmpty());
}

TEST_F(ScorerTest, RequestUserVectorPersonalisesAnAnonymousShopperAndBlends) {
  ScorerOptions options = Options();
  options.weights.neighbor_weight = 0.0;
  options.weights.session_blend = 0.5;
  options.weights.view_weight = 0.0;  // the event only moves the session
  v1::RerankRequest request;
  request.add_user_vector(0);
  request.add_user_vector(1);
  AddEvent(&request, "bag", v1::EVENT_TYPE_VIEW, kNow);  // s = [2, 0]
  AddCandidate(&request, "sock");
  AddCandidate(&request, "hat");
  AddCandidate(&request, "shoe");

  v1::RerankResponse response = Run(request, options);

  // |w_view| is 0, so the session has no weight: u_eff = u = [0, 1].
  EXPECT_THAT(Ids(response), ElementsAre("sock", "hat", "shoe"));
  options.weights.view_weight = 1.0;
  response = Run(request, options);
  // u_eff = 0.5 * [0, 1] + 0.5 * [2, 0] = [1, 0.5], plus the direct view on
  // nothing (bag is not a candidate): shoe 1, hat 0.75, sock 0.5.
  EXPECT_THAT(Ids(response), ElementsAre("shoe", "hat", "sock"));
  EXPECT_NEAR(Score(response, "shoe"), 1.0, kFloatTol);
  EXPECT_NEAR(Score(response, "hat"), 0.75, kFloatTol);
  EXPECT_NEAR(Score(response, "sock"), 0.5, kFloatTol);
  EXPECT_FALSE(response.user_known());
  EXPECT_EQ(response.user_vector_source(), v1::USER_VECTOR_SOURCE_REQUEST);
  EXPECT_THAT(response.fallbacks(), IsEmpty());
}

TEST_F(ScorerTest, UserVectorSourceSaysWhichVectorWasUsed) {
  v1::RerankRequest request;
  AddCandidate(&request, "shoe");
  EXPECT_EQ(Run(request).user_vector_source(), v1::USER_VECTOR_SOURCE_NONE);
  request.set_user_id("mallory");
  EXPECT_EQ(Run(request).user_vector_source(), v1::USER_VECTOR_SOURCE_NONE);
  request.set_user_id("bob");
  EXPECT_EQ(Run(request).user_vector_source(), v1::USER_VECTOR_SOURCE_MODEL);
  v1::RerankResponse null_response;
  ASSERT_TRUE(
      RerankNull(*model_, request, Options(), kNow, &null_response).ok());
  EXPECT_EQ(null_response.user_vector_source(), v1::USER_VECTOR_SOURCE_MODEL);
}

TEST_F(ScorerTest, BadUserVectorIsRefusedNamingTheFieldAndTheDim) {
  v1::RerankRequest request;
  request.set_user_id("alice");
  AddCandidate(&request, "shoe");
  for (float v : {1.0f, 2.0f, 3.0f}) request.add_user_vector(v);
  absl::Status status = RunStatus(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("user_vector: 3 values"));
  EXPECT_THAT(status.message(), HasSubstr("dim is 2"));

  request.clear_user_vector();
  request.add_user_vector(1);
  EXPECT_THAT(RunStatus(request).message(), HasSubstr("user_vector: 1 values"));

  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    request.clear_user_vector();
    request.add_user_vector(1);
    request.add_user_vector(bad);
    status = RunStatus(request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("user_vector[1]="));
    EXPECT_THAT(status.message(), HasSubstr("is not finite"));
    v1::RerankResponse response;
    EXPECT_EQ(RerankNull(*model_, request, Options(), kNow, &response).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(ScorerTest, ItemsOnlyModelIsPersonalisedByTheRequestVector) {
  ModelData data;
  data.version = "items-only";
  data.dim = 2;
  data.item_ids = {"shoe", "sock"};
  data.item_factors = {1, 0, 0, 1};
  data.neighbor_indptr = {0, 0, 0};
  absl::StatusOr<std::unique_ptr<const ModelSnapshot>> items_only =
      ModelSnapshot::FromData(std::move(data));
  ASSERT_TRUE(items_only.ok()) << items_only.status();
  EXPECT_EQ((*items_only)->num_users(), 0);
  v1::RerankRequest request;
  request.set_user_id("alice");
  AddCandidate(&request, "shoe");
  AddCandidate(&request, "sock");
  v1::RerankResponse response;
  ASSERT_TRUE(Rerank(**items_only, request, Options(), kNow, &response).ok());
  EXPECT_THAT(
      response.fallbacks(),
      ElementsAre(v1::FALLBACK_UNKNOWN_USER, v1::FALLBACK_NO_PERSONALIZATION));
  request.add_user_vector(0);
  request.add_user_vector(3);
  ASSERT_TRUE(Rerank(**items_only, request, Options(), kNow, &response).ok());
  EXPECT_THAT(Ids(response), ElementsAre("sock", "shoe"));
  EXPECT_NEAR(Score(response, "sock"), 3.0, kFloatTol);
  EXPECT_EQ(response.user_vector_source(), v1::USER_VECTOR_SOURCE_REQUEST);
  EXPECT_THAT(response.fallbacks(), IsEmpty());
}

// The same requests on the model stored as float16 and int8 (every test
// value is exact in float16; int8 is within a level): same order, scores
// within the encoding error, through the user row, the session vector,
// neighbours, diversity and explanations.
TEST_F(ScorerTest, CompactFactorModelsRankLikeTheFloat32Model) {
  v1::RerankRequest request;
  request.set_user_id("carol");
  request.set_explain(true);
  for (const char* id : {"shoe", "sock", "hat", "bag", "belt", "ghost"}) {
    AddCandidate(&request, id, 0.1);
  }
  AddEvent(&request, "bag", v1::EVENT_TYPE_VIEW, kNow - kHalfLifeMs);
  AddEvent(&request, "sock", v1::EVENT_TYPE_ADD_TO_CART, kNow);
  request.mutable_rules()->mutable_diversity()->set_lambda(0.7);
  request.mutable_rules()->mutable_diversity()->set_top(3);
  const v1::RerankResponse want = Run(request);
  for (FactorDtype dtype : {FactorDtype::kFloat16, FactorDtype::kInt8}) {
    const auto compact = MakeModel(dtype);
    v1::RerankResponse got;
    ASSERT_TRUE(Rerank(*compact, request, Options(), kNow, &got).ok());
    ASSERT_EQ(Ids(got), Ids(want)) << FactorDtypeName(dtype);
    for (int i = 0; i < want.items_size(); ++i) {
      const double tol = dtype == FactorDtype::kFloat16 ? 1e-9 : 1e-5;
      EXPECT_NEAR(got.items(i).score(), want.items(i).score(), tol)
          << FactorDtypeName(dtype) << " " << want.items(i).item_id();
      EXPECT_NEAR(got.items(i).explanation().factor(),
                  want.items(i).explanation().factor(), tol);
    }
    EXPECT_EQ(got.user_vector_source(), v1::USER_VECTOR_SOURCE_MODEL);
  }
}

TEST_F(ScorerTest, AnonymousUserWithoutEventsKeepsBaseOrderWithFallback) {
  v1::RerankRequest request;
  AddCandidate(&request, "sock", 1.0);
  AddCandidate(&request, "shoe", 3.0);
  AddCandidate(&request, "hat", 2.0);

  v1::RerankResponse response = Run(request);

  EXPECT_THAT(Ids(response), ElementsAre("shoe", "hat", "sock"));
  EXPECT_EQ(Score(response, "shoe"), 3.0);  // 1 * base, no other term
  EXPECT_EQ(Score(response, "hat"), 2.0);
  EXPECT_EQ(Score(response, "sock"), 1.0);
  EXPECT_FALSE(response.user_known());
  EXPECT_THAT(response.fallbacks(),
              ElementsAre(v1::FALLBACK_ANONYMOUS_USER,
                          v1::FALLBACK_NO_PERSONALIZATION));
}

TEST_F(ScorerTest, EventsOnlyOnUnknownItemsGiveNoPersonalization) {
  v1::RerankRequest request;
  request.set_user_id("mallory");
  AddEvent(&request, "ghost", v1::EVENT_TYPE_VIEW, kNow);
  AddCandidate(&request, "shoe", 1.0);

  v1::RerankResponse response = Run(request);

  EXPECT_EQ(Score(response, "shoe"), 1.0);
  EXPECT_THAT(
      response.fallbacks(),
      ElementsAre(v1::FALLBACK_UNKNOWN_USER, v1::FALLBACK_NO_PERSONALIZATION));
  EXPECT_EQ(response.stats().unknown_events(), 1u);
}

TEST_F(ScorerTest, UnknownCandidatesKeepBaseScoreAndDirectBoostsAndStay) {
  v1::RerankRequest request;
  request.set_user_id("alice");  // u = [1, 0]; ghost is unknown: u_eff = u
  request.set_explain(true);
  AddCandidate(&request, "ghost");
  AddCandidate(&request, "shoe", 0.0);
  AddCandidate(&request, "mystery", 2.5);
  AddEvent(&request, "ghost", v1::EVENT_TYPE_CLICK, kNow);

  v1::RerankResponse response = Run(request);

  // mystery: 2.5 (base only); shoe: 0 + <[1,0],[1,0]> = 1;
  // ghost: 0 + direct click 0.2 * 1 = 0.2.
  EXPECT_THAT(Ids(response), ElementsAre("mystery", "shoe", "ghost"));
  EXPECT_DOUBLE_EQ(Score(response, "mystery"), 2.5);
  EXPECT_DOUBLE_EQ(Score(response, "shoe"), 1.0);
  EXPECT_DOUBLE_EQ(Score(response, "ghost"), 0.2);
  EXPECT_FALSE(Item(response, "mystery").explanation().known_item());
  EXPECT_EQ(Item(response, "mystery").explanation().factor(), 0.0);
  EXPECT_TRUE(Item(response, "shoe").explanation().known_item());
  EXPECT_EQ(response.stats().unknown_candidates(), 2u);
  EXPECT_EQ(response.stats().unknown_events(), 1u);
  EXPECT_THAT(response.fallbacks(),
              ElementsAre(v1::FALLBACK_UNKNOWN_CANDIDATES));
}

TEST_F(ScorerTest, DuplicateCandidatesCollapseIntoFirstOccurrence) {
  v1::RerankRequest request;
  AddCandidate(&request, "shoe", 1.0);    // 0: kept
  AddCandidate(&request, "sock", 0.0);    // 1: kept
  AddCandidate(&request, "shoe", 100.0);  // 2: duplicate, base ignored
  AddCandidate(&request, "x", 0.5);       // 3: kept (unknown item)
  AddCandidate(&request, "sock", 50.0);   // 4: duplicate
  AddCandidate(&request, "x", 9.0);       // 5: duplicate (unknown item)
  AddCandidate(&request, "shoe");         // 6: duplicate

  v1::RerankResponse response = Run(request);

  EXPECT_THAT(Ids(response), ElementsAre("shoe", "x", "sock"));
  EXPECT_EQ(Score(response, "shoe"), 1.0);
  EXPECT_EQ(Item(response, "shoe").input_position(), 0u);
  EXPECT_EQ(Item(response, "x").input_position(), 3u);
  EXPECT_EQ(Item(response, "sock").input_position(), 1u);
  EXPECT_EQ(response.stats().candidates_received(), 7u);
  EXPECT_EQ(response.stats().duplicate_candidates(), 4u);
  EXPECT_EQ(response.stats().unknown_candidates(), 1u);
}

TEST_F(ScorerTest, TiesKeepInputOrder) {
  v1::RerankRequest request;
  AddCandidate(&request, "d", 1.0);
  AddCandidate(&request, "a", 2.0);
  AddCandidate(&request, "c", 1.0);
  AddCandidate(&request, "b", 2.0);
  AddCandidate(&request, "e", 1.0);

  EXPECT_THAT(Ids(Run(request)), ElementsAre("a", "b", "d", "c", "e"));
}

TEST_F(ScorerTest, TiesKeepInputOrderWithSmallTopK) {
  // 64 candidates, base i % 3: top_k 5 takes the partial-sort path and must
  // return the first five with base 2: positions 2, 5, 8, 11, 14.
  v1::RerankRequest request;
  for (int i = 0; i < 64; ++i)
    AddCandidate(&request, absl::StrCat("c", i), i % 3);
  request.set_top_k(5);

  EXPECT_THAT(Ids(Run(request)), ElementsAre("c2", "c5", "c8", "c11", "c14"));
}

TEST_F(ScorerTest, PurchaseDemotionSinksPurchasedItemAndBoostsItsNeighbour) {
  ScorerOptions options = Options();
  options.weights.factor_weight = 0.0;  // keep to base + boosts
  v1::RerankRequest request;
  request.set_user_id("alice");
  request.set_explain(true);
  AddCandidate(&request, "bag", 1.05);
  AddCandidate(&request, "shoe", 1.0);
  AddCandidate(&request, "sock", 1.0);
  AddEvent(&request, "shoe", v1::EVENT_TYPE_PURCHASE, kNow);

  v1::RerankResponse response = Run(request, options);

  // sock: 1 + 1 * 0.3 * (0 + 0.5 * sim(shoe, sock) 0.5) = 1 + 0.075 = 1.075
  // bag:  1.05 (not a neighbour of shoe)
  // shoe: 1 + 0 (a purchase has no direct term) - 5 = -4
  EXPECT_THAT(Ids(response), ElementsAre("sock", "bag", "shoe"));
  EXPECT_DOUBLE_EQ(Score(response, "sock"), 1.075);
  EXPECT_DOUBLE_EQ(Score(response, "bag"), 1.05);
  EXPECT_DOUBLE_EQ(Score(response, "shoe"), -4.0);

  const v1::Explanation& shoe = Item(response, "shoe").explanation();
  EXPECT_EQ(shoe.purchase_demotion(), -5.0);
  EXPECT_THAT(shoe.boosts(), IsEmpty());
  EXPECT_EQ(shoe.boost_total(), 0.0);

  const v1::Explanation& sock = Item(response, "sock").explanation();
  ASSERT_EQ(sock.boosts_size(), 1);
  EXPECT_EQ(sock.boosts(0).event_index(), 0);
  EXPECT_EQ(sock.boosts(0).event_item_id(), "shoe");
  EXPECT_EQ(sock.boosts(0).event_type(), v1::EVENT_TYPE_PURCHASE);
  EXPECT_EQ(sock.boosts(0).direct(), 0.0);
  EXPECT_EQ(sock.boosts(0).similarity(), 0.5);
  EXPECT_EQ(sock.boosts(0).neighbor_weight(), 0.5);
  EXPECT_DOUBLE_EQ(sock.boosts(0).contribution(), 0.075);
  EXPECT_EQ(sock.purchase_demotion(), 0.0);
  EXPECT_FALSE(std::signbit(sock.purchase_demotion()));  // 0, not -0
}

TEST_F(ScorerTest, RepeatedEventsOnOneItemBoostItAndItsNeighbours) {
  ScorerOptions options = Options();
  options.weights.factor_weight = 0.0;
  v1::RerankRequest request;
  request.set_explain(true);
  AddCandidate(&request, "hat");
  AddCandidate(&request, "belt");
  AddCandidate(&request, "bag");
  AddEvent(&request, "bag", v1::EVENT_TYPE_VIEW, kNow);                // 1.0
  AddEvent(&request, "bag", v1::EVENT_TYPE_VIEW, kNow - kHalfLifeMs);  // 0.5

  v1::RerankResponse response = Run(request, options);

  // bag (direct):  0.1 * 1 + 0.1 * 0.5                    = 0.15
  // belt (sim .75): (0.1 * 1 + 0.1 * 0.5) * 0.5 * 0.75    = 0.05625
  // hat: 0
  EXPECT_THAT(Ids(response), ElementsAre("bag", "belt", "hat"));
  EXPECT_DOUBLE_EQ(Score(response, "bag"), 0.15);
  EXPECT_DOUBLE_EQ(Score(response, "belt"), 0.05625);
  EXPECT_EQ(Score(response, "hat"), 0.0);
  // One boost per event: 0.1 * 1 * 0.5 * 0.75 = 0.0375 and half of that.
  const v1::Explanation& belt = Item(response, "belt").explanation();
  ASSERT_EQ(belt.boosts_size(), 2);
  EXPECT_DOUBLE_EQ(belt.boosts(0).contribution(), 0.0375);
  EXPECT_DOUBLE_EQ(belt.boosts(1).contribution(), 0.01875);
  EXPECT_EQ(belt.boosts(1).event_index(), 1);
  EXPECT_EQ(belt.boosts(1).similarity(), 0.75);
  EXPECT_THAT(Item(response, "hat").explanation().boosts(), IsEmpty());
}

// ---------------------------------------------------------------------------
// Event edge cases.
// ---------------------------------------------------------------------------

TEST_F(ScorerTest, FutureEventsAreClampedToNowAndCounted) {
  v1::RerankRequest request;
  request.set_explain(true);
  AddCandidate(&request, "x");
  AddEvent(&request, "x", v1::EVENT_TYPE_CLICK, kNow + 60'000);

  v1::RerankResponse response = Run(request);

  EXPECT_DOUBLE_EQ(Score(response, "x"), 0.2);  // 0.2 * 0.5^0
  EXPECT_EQ(response.stats().future_events_clamped(), 1u);
  EXPECT_EQ(Item(response, "x").explanation().boosts(0).age_ms(), 0);
  EXPECT_EQ(Item(response, "x").explanation().boosts(0).decay(), 1.0);
}

TEST_F(ScorerTest, EventsOlderThanMaxAgeAreDroppedAndCounted) {
  ScorerOptions options = Options();
  options.weights.max_event_age_seconds = 3600.0;
  v1::RerankRequest request;
  AddCandidate(&request, "shoe", 1.0);
  AddCandidate(&request, "x");
  AddCandidate(&request, "y");
  AddEvent(&request, "x", v1::EVENT_TYPE_CLICK, kNow - 3'600'000);  // kept
  AddEvent(&request, "y", v1::EVENT_TYPE_CLICK, kNow - 3'600'001);  // dropped
  // Dropped, so shoe is neither demoted nor a source of a session vector.
  AddEvent(&request, "shoe", v1::EVENT_TYPE_PURCHASE, kNow - 7'200'000);

  v1::RerankResponse response = Run(request, options);

  // shoe: base 1; x: 0.2 * 0.5^(3600 / 1800) = 0.05; y: 0.
  EXPECT_THAT(Ids(response), ElementsAre("shoe", "x", "y"));
  EXPECT_EQ(Score(response, "shoe"), 1.0);
  EXPECT_DOUBLE_EQ(Score(response, "x"), 0.05);
  EXPECT_EQ(Score(response, "y"), 0.0);
  EXPECT_EQ(response.stats().events_received(), 3u);
  EXPECT_EQ(response.stats().dropped_events(), 2u);
  EXPECT_THAT(
      response.fallbacks(),
      ElementsAre(v1::FALLBACK_ANONYMOUS_USER, v1::FALLBACK_NO_PERSONALIZATION,
                  v1::FALLBACK_UNKNOWN_CANDIDATES));
}

TEST_F(ScorerTest, RequestNowOverridesCallerClock) {
  v1::RerankRequest request;
  request.set_now_ms(kNow - 100 * kHalfLifeMs);
  AddCandidate(&request, "x");
  AddEvent(&request, "x", v1::EVENT_TYPE_CLICK,
           kNow - 101 * kHalfLifeMs);  // one half-life before request.now_ms

  v1::RerankResponse response = Run(request);

  EXPECT_DOUBLE_EQ(Score(response, "x"), 0.1);  // 0.2 * 0.5^1
  EXPECT_EQ(response.now_ms(), kNow - 100 * kHalfLifeMs);
  EXPECT_EQ(Run(v1::RerankRequest()).now_ms(), kNow);
}

// ---------------------------------------------------------------------------
// Candidate handling and output.
// ---------------------------------------------------------------------------

TEST_F(ScorerTest, OutOfStockCandidatesAreDroppedUnlessKept) {
  v1::RerankRequest request;
  AddCandidate(&request, "a", 3.0);
  request.mutable_candidates(0)->set_in_stock(false);
  AddCandidate(&request, "b", 2.0);  // in_stock absent: in stock
  AddCandidate(&request, "c", 1.0);
  request.mutable_candidates(2)->set_in_stock(true);

  v1::RerankResponse dropped = Run(request);
  EXPECT_THAT(Ids(dropped), ElementsAre("b", "c"));
  EXPECT_EQ(dropped.stats().dropped_candidates(), 1u);

  ScorerOptions keep = Options();
  keep.weights.keep_out_of_stock = true;
  v1::RerankResponse kept = Run(request, keep);
  EXPECT_THAT(Ids(kept), ElementsAre("a", "b", "c"));
  EXPECT_EQ(kept.stats().dropped_candidates(), 0u);

  request.mutable_overrides()->set_keep_out_of_stock(true);
  EXPECT_THAT(Ids(Run(request)), ElementsAre("a", "b", "c"));
}

TEST_F(ScorerTest, TopKReturnsTheBestK) {
  v1::RerankRequest request;
  AddCandidate(&request, "e1", 3.0);
  AddCandidate(&request, "e2", 5.0);
  AddCandidate(&request, "e3", 1.0);
  AddCandidate(&request, "e4", 4.0);
  AddCandidate(&request, "e5", 2.0);

  request.set_top_k(2);
  EXPECT_THAT(Ids(Run(request)), ElementsAre("e2", "e4"));
  request.set_top_k(0);  // all
  EXPECT_THAT(Ids(Run(request)), ElementsAre("e2", "e4", "e1", "e5", "e3"));
  request.set_top_k(10);  // more than there are
  EXPECT_EQ(Run(request).items_size(), 5);
}

TEST_F(ScorerTest, TopKIsAPrefixOfTheFullOrder) {
  // Many ties (10 distinct bases), both the partial-sort and sort paths.
  std::mt19937 rng(7);
  v1::RerankRequest request;
  for (int i = 0; i < 200; ++i) {
    AddCandidate(&request, absl::StrCat("c", i),
                 static_cast<double>(rng() % 10));
  }
  const std::vector<std::string> full = Ids(Run(request));
  ASSERT_EQ(full.size(), 200u);
  for (uint32_t k : {1u, 7u, 49u, 50u, 51u, 150u, 199u, 200u}) {
    request.set_top_k(k);
    EXPECT_EQ(Ids(Run(request)),
              std::vector<std::string>(full.begin(), full.begin() + k))
        << "top_k=" << k;
  }
}

TEST_F(ScorerTest, EmptyCandidatesAreOkAndEmpty) {
  v1::RerankRequest request;
  request.set_request_id("req-1");
  request.set_user_id("bob");
  AddEvent(&request, "shoe", v1::EVENT_TYPE_VIEW, kNow);
  AddEvent(&request, "ghost", v1::EVENT_TYPE_VIEW, kNow + 1);

  v1::RerankResponse response = Run(request);

  EXPECT_THAT(response.items(), IsEmpty());
  EXPECT_EQ(response.request_id(), "req-1");
  EXPECT_EQ(response.model_version(), "test-v1");
  EXPECT_EQ(response.now_ms(), kNow);
  EXPECT_TRUE(response.user_known());
  EXPECT_EQ(response.stats().candidates_received(), 0u);
  EXPECT_EQ(response.stats().events_received(), 2u);
  EXPECT_EQ(response.stats().unknown_events(), 1u);
  EXPECT_EQ(response.stats().future_events_clamped(), 1u);
}

TEST_F(ScorerTest, EchoesRequestIdAndModelVersion) {
  v1::RerankRequest request;
  request.set_request_id("abc");
  AddCandidate(&request, "shoe");
  v1::RerankResponse response = Run(request);
  EXPECT_EQ(response.request_id(), "abc");
  EXPECT_EQ(response.model_version(), "test-v1");
}

// ---------------------------------------------------------------------------
// Overrides.
// ---------------------------------------------------------------------------

TEST_F(ScorerTest, OverridesReplaceConfiguredWeightsForThisRequest) {
  v1::RerankRequest request;
  request.set_user_id("alice");  // u = [1, 0]
  AddCandidate(&request, "shoe", 1.0);
  AddCandidate(&request, "sock", 2.0);

  // Configured: shoe 1 + 1*1 = 2, sock 2 + 0 = 2: a tie, input order.
  v1::RerankResponse configured = Run(request);
  EXPECT_THAT(Ids(configured), ElementsAre("shoe", "sock"));
  EXPECT_DOUBLE_EQ(Score(configured, "shoe"), 2.0);

  // base_weight 3: shoe 3*1 + 1 = 4, sock 3*2 + 0 = 6.
  request.mutable_overrides()->set_base_weight(3.0);
  v1::RerankResponse overridden = Run(request);
  EXPECT_THAT(Ids(overridden), ElementsAre("sock", "shoe"));
  EXPECT_DOUBLE_EQ(Score(overridden, "shoe"), 4.0);
  EXPECT_DOUBLE_EQ(Score(overridden, "sock"), 6.0);
}

TEST_F(ScorerTest, OutOfBoundsOverridesAreRefusedNamingTheField) {
  struct Case {
    void (*set)(v1::ScoringParams*);
    std::string message;
  };
  const Case cases[] = {
      {[](v1::ScoringParams* p) { p->set_half_life_seconds(0); },
       "overrides.half_life_seconds=0 is out of bounds [1, 31536000]"},
      {[](v1::ScoringParams* p) { p->set_session_blend(1.5); },
       "overrides.session_blend=1.5 is out of bounds [0, 1]"},
      {[](v1::ScoringParams* p) { p->set_view_weight(-101); },
       "overrides.view_weight=-101 is out of bounds [-100, 100]"},
      {[](v1::ScoringParams* p) { p->set_purchase_demotion(2e6); },
       "overrides.purchase_demotion=2000000 is out of bounds [0, 1000000]"},
      {[](v1::ScoringParams* p) { p->set_max_event_age_seconds(0.5); },
       "overrides.max_event_age_seconds=0.5 is out of bounds [1, 315360000]"},
      {[](v1::ScoringParams* p) { p->set_base_weight(std::nan("")); },
       "overrides.base_weight=nan is not a finite number"},
      {[](v1::ScoringParams* p) {
         p->set_factor_weight(std::numeric_limits<double>::infinity());
       },
       "overrides.factor_weight=inf is not a finite number"},
  };
  for (const Case& c : cases) {
    v1::RerankRequest request;
    AddCandidate(&request, "shoe");
    c.set(request.mutable_overrides());
    absl::Status status = RunStatus(request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_EQ(status.message(), c.message);
  }
}

// ---------------------------------------------------------------------------
// Validation: every refusal names the field or the limit.
// ---------------------------------------------------------------------------

TEST_F(ScorerTest, EveryValidationRefusalNamesTheFieldOrLimit) {
  ScorerOptions options = Options();
  options.limits.max_candidates = 3;
  options.limits.max_events = 2;
  options.limits.max_id_bytes = 8;
  const std::string long_id(9, 'z');
  struct Case {
    std::string name;
    void (*mutate)(v1::RerankRequest*, const std::string& long_id);
    std::string message;
  };
  const Case cases[] = {
      {"too many candidates",
       [](v1::RerankRequest* r, const std::string&) { AddCandidate(r, "d"); },
       "candidates: 4 exceeds limits.max_candidates=3"},
      {"too many events",
       [](v1::RerankRequest* r, const std::string&) {
         AddEvent(r, "shoe", v1::EVENT_TYPE_VIEW, kNow);
       },
       "events: 3 exceeds limits.max_events=2"},
      {"empty candidate id",
       [](v1::RerankRequest* r, const std::string&) {
         r->mutable_candidates(1)->clear_item_id();
       },
       "candidates[1].item_id is empty"},
      {"long candidate id",
       [](v1::RerankRequest* r, const std::string& id) {
         r->mutable_candidates(2)->set_item_id(id);
       },
       "candidates[2].item_id: 9 bytes exceeds limits.max_id_bytes=8"},
      {"nan base score",
       [](v1::RerankRequest* r, const std::string&) {
         r->mutable_candidates(1)->set_base_score(std::nan(""));
       },
       "candidates[1].base_score=nan is not finite"},
      {"infinite base score",
       [](v1::RerankRequest* r, const std::string&) {
         r->mutable_candidates(0)->set_base_score(
             -std::numeric_limits<double>::infinity());
       },
       "candidates[0].base_score=-inf is not finite"},
      {"long user id",
       [](v1::RerankRequest* r, const std::string& id) { r->set_user_id(id); },
       "user_id: 9 bytes exceeds limits.max_id_bytes=8"},
      {"long request id",
       [](v1::RerankRequest* r, const std::string& id) {
         r->set_request_id(id);
       },
       "request_id: 9 bytes exceeds limits.max_id_bytes=8"},
      {"empty event id",
       [](v1::RerankRequest* r, const std::string&) {
         r->mutable_events(1)->clear_item_id();
       },
       "events[1].item_id is empty"},
      {"long event id",
       [](v1::RerankRequest* r, const std::string& id) {
         r->mutable_events(0)->set_item_id(id);
       },
       "events[0].item_id: 9 bytes exceeds limits.max_id_bytes=8"},
      {"unspecified event type",
       [](v1::RerankRequest* r, const std::string&) {
         r->mutable_events(1)->set_type(v1::EVENT_TYPE_UNSPECIFIED);
       },
       "events[1].type=0 is not a valid EventType"},
      {"unknown event type",
       [](v1::RerankRequest* r, const std::string&) {
         r->mutable_events(0)->set_type(static_cast<v1::EventType>(99));
       },
       "events[0].type=99 is not a valid EventType"},
      {"negative timestamp",
       [](v1::RerankRequest* r, const std::string&) {
         r->mutable_events(1)->set_timestamp_ms(-1);
       },
       "events[1].timestamp_ms=-1 is negative"},
      {"negative now",
       [](v1::RerankRequest* r, const std::string&) { r->set_now_ms(-5); },
       "now_ms=-5 is negative"},
      {"bad override",
       [](v1::RerankRequest* r, const std::string&) {
         r->mutable_overrides()->set_neighbor_weight(101);
       },
       "overrides.neighbor_weight=101 is out of bounds [0, 100]"},
  };

  // A valid request exactly at every limit.
  v1::RerankRequest valid;
  valid.set_request_id("12345678");
  valid.set_user_id("alice");
  AddCandidate(&valid, "shoe");
  AddCandidate(&valid, "12345678");
  AddCandidate(&valid, "hat");
  AddEvent(&valid, "sock", v1::EVENT_TYPE_VIEW, kNow);
  AddEvent(&valid, "hat", v1::EVENT_TYPE_ADD_TO_WISHLIST, 0);
  ASSERT_TRUE(ValidateRequest(valid, options.limits).ok());
  ASSERT_TRUE(RunStatus(valid, options).ok());

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::RerankRequest request = valid;
    c.mutate(&request, long_id);
    absl::Status validated = ValidateRequest(request, options.limits);
    EXPECT_EQ(validated.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(validated.message(), c.message);
    absl::Status reranked = RunStatus(request, options);
    EXPECT_EQ(reranked, validated);
  }
}

// ---------------------------------------------------------------------------
// Explanations.
// ---------------------------------------------------------------------------

TEST_F(ScorerTest, ExplanationPartsAddUpToTheScore) {
  v1::RerankRequest request;
  request.set_user_id("carol");
  request.set_explain(true);
  AddCandidate(&request, "shoe", 0.3)->set_category("footwear-sale");
  AddCandidate(&request, "sock");
  AddCandidate(&request, "hat", 1.0);
  AddCandidate(&request, "bag");
  AddCandidate(&request, "belt", 2.0);
  AddCandidate(&request, "ghost", 0.1);
  AddCandidate(&request, "mystery");
  AddEvent(&request, "shoe", v1::EVENT_TYPE_VIEW, kNow - 600'000);
  AddEvent(&request, "sock", v1::EVENT_TYPE_CLICK, kNow - 3'600'000);
  AddEvent(&request, "bag", v1::EVENT_TYPE_ADD_TO_CART, kNow);
  AddEvent(&request, "hat", v1::EVENT_TYPE_PURCHASE, kNow - 7'200'000);
  AddEvent(&request, "ghost", v1::EVENT_TYPE_ADD_TO_WISHLIST, kNow - 300'000);
  AddEvent(&request, "belt", v1::EVENT_TYPE_PURCHASE, kNow);
  AddEvent(&request, "shoe", v1::EVENT_TYPE_VIEW, kNow - 86'400'000);

  v1::RerankResponse response = Run(request);
  ASSERT_EQ(response.items_size(), 7);
  for (const v1::RankedItem& item : response.items()) {
    SCOPED_TRACE(item.item_id());
    const v1::Explanation& e = item.explanation();
    const double parts =
        e.base() + e.factor() + e.boost_total() + e.purchase_demotion();
    EXPECT_NEAR(parts, item.score(), 1e-9 * std::max(1.0, std::fabs(parts)));
    double boosts = 0.0;
    for (const v1::Boost& b : e.boosts()) {
      EXPECT_NE(b.contribution(), 0.0);
      EXPECT_DOUBLE_EQ(
          b.contribution(),
          b.decay() * b.type_weight() * (b.direct() + 0.5 * b.similarity()));
      boosts += b.contribution();
    }
    EXPECT_NEAR(boosts, e.boost_total(), 1e-12);
  }
  // Purchased candidates are demoted, however old the (kept) purchase.
  EXPECT_EQ(Item(response, "belt").explanation().purchase_demotion(), -5.0);
  EXPECT_EQ(Item(response, "hat").explanation().purchase_demotion(), -5.0);
  // shoe: two direct views, plus sock's click through sim(sock, shoe).
  EXPECT_EQ(Item(response, "shoe").explanation().boosts_size(), 3);
  // Categories: echoed from the candidate, else the model's, else empty.
  EXPECT_EQ(Item(response, "shoe").explanation().category(), "footwear-sale");
  EXPECT_EQ(Item(response, "sock").explanation().category(), "socks");
  EXPECT_EQ(Item(response, "ghost").explanation().category(), "");
  EXPECT_EQ(Item(response, "shoe").explanation().base(), 0.3);

  // Explaining changes nothing about the ranking or the scores.
  request.set_explain(false);
  v1::RerankResponse plain = Run(request);
  ASSERT_EQ(plain.items_size(), response.items_size());
  for (int i = 0; i < plain.items_size(); ++i) {
    EXPECT_EQ(plain.items(i).item_id(), response.items(i).item_id());
    EXPECT_EQ(plain.items(i).score(), response.items(i).score());
    EXPECT_FALSE(plain.items(i).has_explanation());
  }
}

// ---------------------------------------------------------------------------
// The null scorer.
// ---------------------------------------------------------------------------

TEST_F(ScorerTest, NullScorerAnswersInInputOrderAfterDedupeAndDrop) {
  v1::RerankRequest request;
  request.set_user_id("alice");
  AddCandidate(&request, "c", 1.0);
  AddCandidate(&request, "a", 3.0);
  AddCandidate(&request, "c", 7.0);  // duplicate
  AddCandidate(&request, "b", 2.0)->set_in_stock(false);
  AddCandidate(&request, "shoe");
  AddEvent(&request, "shoe", v1::EVENT_TYPE_VIEW, kNow);

  v1::RerankResponse response;
  ASSERT_TRUE(RerankNull(*model_, request, Options(), kNow, &response).ok());
  EXPECT_THAT(Ids(response), ElementsAre("c", "a", "shoe"));
  EXPECT_EQ(Score(response, "a"), 3.0);  // 1 * base
  EXPECT_EQ(response.stats().duplicate_candidates(), 1u);
  EXPECT_EQ(response.stats().dropped_candidates(), 1u);
  EXPECT_EQ(response.stats().events_received(), 1u);
  EXPECT_TRUE(response.user_known());
  EXPECT_THAT(response.fallbacks(),
              ElementsAre(v1::FALLBACK_NO_PERSONALIZATION,
                          v1::FALLBACK_UNKNOWN_CANDIDATES));

  request.set_top_k(2);
  ASSERT_TRUE(RerankNull(*model_, request, Options(), kNow, &response).ok());
  EXPECT_THAT(Ids(response), ElementsAre("c", "a"));

  request.mutable_events(0)->set_type(v1::EVENT_TYPE_UNSPECIFIED);
  EXPECT_EQ(RerankNull(*model_, request, Options(), kNow, &response).message(),
            "events[0].type=0 is not a valid EventType");
}

// ---------------------------------------------------------------------------
// Fuzz-ish: random requests never crash and either succeed or are refused
// as INVALID_ARGUMENT; successful answers are well formed.
// ---------------------------------------------------------------------------

TEST_F(ScorerTest, RandomRequestsSucceedOrAreRefusedAsInvalid) {
  std::mt19937_64 rng(20240601);
  auto chance = [&rng](double p) {
    return std::uniform_real_distribution<double>(0, 1)(rng) < p;
  };
  auto pick = [&rng](const auto& values) {
    return values[rng() % std::size(values)];
  };
  const std::string long_id(300, 'q');
  const std::vector<std::string> ids = {
      "shoe", "sock", "hat", "bag", "belt", "x", "y", "ghost", "\xff\x01"};
  const std::vector<std::string> users = {"", "alice", "bob", "carol",
                                          "mallory"};
  const double kInf = std::numeric_limits<double>::infinity();
  const std::vector<double> odd_doubles = {std::nan(""), kInf, -kInf, 1e308,
                                           -1e308,       0.0,  -0.0,  5e-324};
  const std::vector<int64_t> odd_times = {0,
                                          -1,
                                          std::numeric_limits<int64_t>::max(),
                                          std::numeric_limits<int64_t>::min(),
                                          kNow,
                                          kNow + 1};

  ScorerOptions options = Options();
  options.limits.max_candidates = 30;
  options.limits.max_events = 15;
  int ok = 0;
  int refused = 0;
  for (int iteration = 0; iteration < 1000; ++iteration) {
    SCOPED_TRACE(iteration);
    v1::RerankRequest request;
    request.set_request_id(chance(0.01) ? long_id : absl::StrCat(iteration));
    request.set_user_id(chance(0.005) ? long_id : pick(users));
    const int num_candidates = static_cast<int>(rng() % 35);
    for (int i = 0; i < num_candidates; ++i) {
      v1::Candidate* c = request.add_candidates();
      c->set_item_id(chance(0.002)   ? long_id
                     : chance(0.003) ? std::string()
                     : chance(0.3)   ? absl::StrCat("u", rng() % 50)
                                     : pick(ids));
      if (chance(0.7)) {
        c->set_base_score(chance(0.01) ? pick(odd_doubles)
                                       : std::uniform_real_distribution<double>(
                                             -10, 10)(rng));
      }
      if (chance(0.3)) c->set_in_stock(chance(0.5));
      if (chance(0.2)) c->set_category(pick(ids));
    }
    const int num_events = static_cast<int>(rng() % 18);
    for (int i = 0; i < num_events; ++i) {
      v1::Event* e = request.add_events();
      e->set_item_id(chance(0.003) ? std::string() : pick(ids));
      e->set_type(static_cast<v1::EventType>(chance(0.005) ? rng() % 300
                                                           : 1 + rng() % 5));
      e->set_timestamp_ms(
          chance(0.02)
              ? pick(odd_times)
              : kNow - static_cast<int64_t>(rng() % 4'000'000'000) + 1'000'000);
    }
    request.set_top_k(chance(0.5) ? 0 : static_cast<uint32_t>(rng() % 40));
    if (chance(0.1)) request.set_now_ms(pick(odd_times));
    request.set_explain(chance(0.5));
    if (chance(0.2)) {
      v1::ScoringParams* p = request.mutable_overrides();
      auto value = [&]() {
        return chance(0.1)
                   ? pick(odd_doubles)
                   : std::uniform_real_distribution<double>(-5, 200)(rng);
      };
      if (chance(0.3)) p->set_half_life_seconds(value());
      if (chance(0.3)) p->set_session_blend(value() / 200);
      if (chance(0.3)) p->set_neighbor_weight(value());
      if (chance(0.3)) p->set_purchase_weight(value() - 100);
      if (chance(0.3)) p->set_max_event_age_seconds(value() * 1e6);
      if (chance(0.3)) p->set_keep_out_of_stock(chance(0.5));
    }
    const int64_t now = chance(0.05) ? pick(odd_times) : kNow;

    v1::RerankResponse response;
    const absl::Status status =
        Rerank(*model_, request, options, now, &response);
    v1::RerankResponse null_response;
    const absl::Status null_status =
        RerankNull(*model_, request, options, now, &null_response);
    EXPECT_EQ(status, null_status);
    if (!status.ok()) {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
      ++refused;
      continue;
    }
    ++ok;
    // The wire form parses back to the same response (NaN scores included:
    // compared as bytes). Ids that are not UTF-8 (which no parsed request
    // holds) make both forms unparsable alike.
    v1::RerankResponse header;
    std::string items;
    ASSERT_TRUE(
        RerankWire(*model_, request, options, now, &header, &items).ok());
    v1::RerankResponse parsed;
    v1::RerankResponse reparsed;
    const bool wire_parses =
        parsed.ParseFromString(header.SerializeAsString() + items);
    ASSERT_EQ(wire_parses,
              reparsed.ParseFromString(response.SerializeAsString()));
    if (wire_parses) {
      EXPECT_EQ(parsed.SerializeAsString(), response.SerializeAsString());
    }
    EXPECT_LE(response.items_size(), num_candidates);
    EXPECT_EQ(response.stats().candidates_received(),
              static_cast<uint32_t>(num_candidates));
    EXPECT_EQ(response.items_size(), null_response.items_size());
    std::vector<bool> seen(num_candidates, false);
    double previous = kInf;
    for (const v1::RankedItem& item : response.items()) {
      ASSERT_LT(item.input_position(), static_cast<uint32_t>(num_candidates));
      EXPECT_FALSE(seen[item.input_position()]);
      seen[item.input_position()] = true;
      // Descending, NaN (from inf - inf) last.
      const double key = std::isnan(item.score()) ? -kInf : item.score();
      EXPECT_LE(key, previous);
      previous = key;
      if (request.explain() && std::isfinite(item.score())) {
        const v1::Explanation& e = item.explanation();
        const double parts =
            e.base() + e.factor() + e.boost_total() + e.purchase_demotion();
        EXPECT_NEAR(parts, item.score(),
                    1e-9 * std::max(1.0, std::fabs(item.score())));
      }
    }
  }
  // The generator must exercise both outcomes.
  EXPECT_GT(ok, 500);
  EXPECT_GT(refused, 50);
}

}  // namespace
}  // namespace rerank
