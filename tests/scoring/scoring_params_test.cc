#include "scoring/scoring_params.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rerank/v1/rerank.pb.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;

TEST(ScoringParamsTest, UnsetFieldsKeepTheBaseWeights) {
  ScoringWeights base;
  base.half_life_seconds = 60.0;
  base.keep_out_of_stock = true;
  absl::StatusOr<ScoringWeights> applied =
      ApplyScoringParams(base, v1::ScoringParams(), "overrides");
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->half_life_seconds, 60.0);
  EXPECT_TRUE(applied->keep_out_of_stock);
  EXPECT_EQ(applied->base_weight, base.base_weight);
}

TEST(ScoringParamsTest, EverySetFieldReplacesItsWeight) {
  v1::ScoringParams params;
  params.set_base_weight(2);
  params.set_factor_weight(3);
  params.set_neighbor_weight(4);
  params.set_half_life_seconds(5);
  params.set_session_blend(0.25);
  params.set_view_weight(-6);
  params.set_click_weight(7);
  params.set_add_to_cart_weight(8);
  params.set_purchase_weight(9);
  params.set_wishlist_weight(10);
  params.set_purchase_demotion(11);
  params.set_max_event_age_seconds(12);
  params.set_keep_out_of_stock(true);

  absl::StatusOr<ScoringWeights> w =
      ApplyScoringParams(ScoringWeights(), params, "overrides");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->base_weight, 2);
  EXPECT_EQ(w->factor_weight, 3);
  EXPECT_EQ(w->neighbor_weight, 4);
  EXPECT_EQ(w->half_life_seconds, 5);
  EXPECT_EQ(w->session_blend, 0.25);
  EXPECT_EQ(w->view_weight, -6);
  EXPECT_EQ(w->click_weight, 7);
  EXPECT_EQ(w->add_to_cart_weight, 8);
  EXPECT_EQ(w->purchase_weight, 9);
  EXPECT_EQ(w->wishlist_weight, 10);
  EXPECT_EQ(w->purchase_demotion, 11);
  EXPECT_EQ(w->max_event_age_seconds, 12);
  EXPECT_TRUE(w->keep_out_of_stock);
}

TEST(ScoringParamsTest, BoundsAreInclusive) {
  v1::ScoringParams params;
  params.set_half_life_seconds(1);
  params.set_session_blend(1);
  params.set_view_weight(-100);
  params.set_purchase_demotion(1e6);
  params.set_max_event_age_seconds(315360000);
  EXPECT_TRUE(ApplyScoringParams(ScoringWeights(), params, "overrides").ok());
}

TEST(ScoringParamsTest, EveryFieldIsCheckedAndNamedWithThePrefix) {
  struct Case {
    void (*set)(v1::ScoringParams*);
    std::string message;
  };
  const Case cases[] = {
      {[](v1::ScoringParams* p) { p->set_base_weight(-1); },
       "x.base_weight=-1 is out of bounds [0, 100]"},
      {[](v1::ScoringParams* p) { p->set_factor_weight(100.5); },
       "x.factor_weight=100.5 is out of bounds [0, 100]"},
      {[](v1::ScoringParams* p) { p->set_neighbor_weight(-0.1); },
       "x.neighbor_weight=-0.1 is out of bounds [0, 100]"},
      {[](v1::ScoringParams* p) { p->set_half_life_seconds(31536001); },
       "x.half_life_seconds=31536001 is out of bounds [1, 31536000]"},
      {[](v1::ScoringParams* p) { p->set_session_blend(-0.5); },
       "x.session_blend=-0.5 is out of bounds [0, 1]"},
      {[](v1::ScoringParams* p) { p->set_view_weight(101); },
       "x.view_weight=101 is out of bounds [-100, 100]"},
      {[](v1::ScoringParams* p) { p->set_click_weight(-101); },
       "x.click_weight=-101 is out of bounds [-100, 100]"},
      {[](v1::ScoringParams* p) { p->set_add_to_cart_weight(1000); },
       "x.add_to_cart_weight=1000 is out of bounds [-100, 100]"},
      {[](v1::ScoringParams* p) { p->set_purchase_weight(-1000); },
       "x.purchase_weight=-1000 is out of bounds [-100, 100]"},
      {[](v1::ScoringParams* p) { p->set_wishlist_weight(100.25); },
       "x.wishlist_weight=100.25 is out of bounds [-100, 100]"},
      {[](v1::ScoringParams* p) { p->set_purchase_demotion(-5); },
       "x.purchase_demotion=-5 is out of bounds [0, 1000000]"},
      {[](v1::ScoringParams* p) { p->set_max_event_age_seconds(4e8); },
       "x.max_event_age_seconds=400000000 is out of bounds [1, 315360000]"},
      {[](v1::ScoringParams* p) { p->set_session_blend(std::nan("")); },
       "x.session_blend=nan is not a finite number"},
      {[](v1::ScoringParams* p) {
         p->set_view_weight(-std::numeric_limits<double>::infinity());
       },
       "x.view_weight=-inf is not a finite number"},
  };
  for (const Case& c : cases) {
    v1::ScoringParams params;
    c.set(&params);
    absl::StatusOr<ScoringWeights> w =
        ApplyScoringParams(ScoringWeights(), params, "x");
    ASSERT_FALSE(w.ok()) << c.message;
    EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(w.status().message(), c.message);
  }
}

TEST(ScoringParamsTest, DefaultWeightsAreWithinBounds) {
  EXPECT_TRUE(ValidateScoringWeights(ScoringWeights(), "scoring").ok());
}

TEST(ScoringParamsTest, ValidateScoringWeightsNamesTheField) {
  ScoringWeights weights;
  weights.half_life_seconds = 0;
  EXPECT_EQ(ValidateScoringWeights(weights, "scoring").message(),
            "scoring.half_life_seconds=0 is out of bounds [1, 31536000]");
  EXPECT_EQ(ValidateScoringWeights(weights, "").message(),
            "half_life_seconds=0 is out of bounds [1, 31536000]");
}

TEST(ScoringParamsTest, TypeWeightMapsEachEventType) {
  ScoringWeights w;
  w.view_weight = 1;
  w.click_weight = 2;
  w.add_to_cart_weight = 3;
  w.purchase_weight = 4;
  w.wishlist_weight = 5;
  EXPECT_EQ(w.TypeWeight(v1::EVENT_TYPE_VIEW), 1);
  EXPECT_EQ(w.TypeWeight(v1::EVENT_TYPE_CLICK), 2);
  EXPECT_EQ(w.TypeWeight(v1::EVENT_TYPE_ADD_TO_CART), 3);
  EXPECT_EQ(w.TypeWeight(v1::EVENT_TYPE_PURCHASE), 4);
  EXPECT_EQ(w.TypeWeight(v1::EVENT_TYPE_ADD_TO_WISHLIST), 5);
  EXPECT_EQ(w.TypeWeight(v1::EVENT_TYPE_UNSPECIFIED), 0);
  EXPECT_EQ(w.TypeWeight(static_cast<v1::EventType>(42)), 0);
}

}  // namespace
}  // namespace rerank
