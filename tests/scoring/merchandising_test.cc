// The merchandising stages of Rerank (README "Merchandising"): each rule
// alone, their interplay in the fixed stage order, the reasons they report,
// and the refusal of bad rules.

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "model/model_snapshot.h"
#include "rerank/v1/config.pb.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kDayMs = 86'400'000;

// dim 2. Three televisions pointing one way, two accessories the other, a
// kettle in between; "tv1" and "tv2" are neighbours of each other.
std::unique_ptr<const ModelSnapshot> MakeModel() {
  ModelData data;
  data.version = "merch-v1";
  data.dim = 2;
  data.user_ids = {"u"};
  data.user_factors = {1, 0};
  data.item_ids = {"tv1", "tv2", "tv3", "cable", "mount", "kettle"};
  data.item_factors = {1, 0, 0.99f, 0.1f,  0.98f, 0.15f,
                       0, 1, 0.1f,  0.99f, 0.7f,  0.7f};
  data.neighbor_indptr = {0, 1, 2, 2, 2, 2, 2};
  data.neighbor_indices = {1, 0};
  data.neighbor_scores = {0.5f, 0.5f};
  data.item_categories = {"tv",        "tv",        "tv",
                          "accessory", "accessory", "kitchen"};
  auto model = ModelSnapshot::FromData(std::move(data));
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

// Scores are the base scores alone (no factors, no events) unless a test
// says otherwise, so each expected order follows from the request.
ScorerOptions BaseOnlyOptions() {
  ScorerOptions o;
  o.weights.factor_weight = 0.0;
  o.weights.neighbor_weight = 0.0;
  return o;
}

v1::RerankRequest Request(const std::string& text) {
  v1::RerankRequest request;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &request))
      << text;
  return request;
}

// Four televisions-and-accessories candidates in score order.
constexpr char kCandidates[] = R"pb(
  candidates { item_id: "tv1" base_score: 4 }
  candidates { item_id: "tv2" base_score: 3 }
  candidates { item_id: "tv3" base_score: 2 }
  candidates { item_id: "cable" base_score: 1 }
)pb";

std::string WithCandidates(const std::string& rest) {
  return std::string(kCandidates) + rest;
}

std::vector<std::string> Ids(const v1::RerankResponse& response) {
  std::vector<std::string> ids;
  for (const v1::RankedItem& item : response.items()) {
    ids.push_back(item.item_id());
  }
  return ids;
}

const v1::RankedItem& Item(const v1::RerankResponse& response,
                           const std::string& id) {
  for (const v1::RankedItem& item : response.items()) {
    if (item.item_id() == id) return item;
  }
  ADD_FAILURE() << id << " not in the response";
  static const v1::RankedItem kNone;
  return kNone;
}

uint32_t ReasonCount(const v1::RerankResponse& response, v1::ReasonCode code) {
  for (const v1::ReasonCount& count : response.stats().reasons()) {
    if (count.code() == code) return count.count();
  }
  return 0;
}

class MerchandisingTest : public ::testing::Test {
 protected:
  v1::RerankResponse Run(const v1::RerankRequest& request,
                         const ScorerOptions& options = BaseOnlyOptions()) {
    v1::RerankResponse response;
    const absl::Status status =
        Rerank(*model_, request, options, kNow, &response);
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }
  absl::Status RunStatus(const v1::RerankRequest& request,
                         const ScorerOptions& options = BaseOnlyOptions()) {
    v1::RerankResponse response;
    return Rerank(*model_, request, options, kNow, &response);
  }
  // Options with the profiles of a config written as text.
  ScorerOptions WithProfiles(const std::string& config_text,
                             ScorerOptions options = BaseOnlyOptions()) {
    v1::ServerConfig config;
    EXPECT_TRUE(
        google::protobuf::TextFormat::ParseFromString(config_text, &config));
    const absl::Status status =
        AddProfiles(config.profiles(), config.default_profile(), &options);
    EXPECT_TRUE(status.ok()) << status;
    return options;
  }

  std::unique_ptr<const ModelSnapshot> model_ = MakeModel();
};

// --- Filters ---------------------------------------------------------------

TEST_F(MerchandisingTest, NoRulesLeavesScoreOrderAndNoReasons) {
  const v1::RerankResponse r = Run(Request(kCandidates));
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "tv2", "tv3", "cable"));
  for (const v1::RankedItem& item : r.items()) {
    EXPECT_THAT(item.reasons(), IsEmpty());
  }
  EXPECT_THAT(r.stats().reasons(), IsEmpty());
  EXPECT_THAT(r.removed(), IsEmpty());
}

TEST_F(MerchandisingTest, ExcludedItemIsRemovedAndListedWhenAsked) {
  v1::RerankRequest request = Request(WithCandidates(R"pb(
    rules { exclude_items: "tv2" }
    return_removed: true
  )pb"));
  v1::RerankResponse r = Run(request);
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "tv3", "cable"));
  ASSERT_EQ(r.removed_size(), 1);
  EXPECT_EQ(r.removed(0).item_id(), "tv2");
  EXPECT_EQ(r.removed(0).input_position(), 1u);
  EXPECT_EQ(r.removed(0).reason().code(), v1::REASON_CODE_EXCLUDED_ITEM);
  EXPECT_EQ(r.removed(0).reason().rule(), "rules.exclude_items");
  EXPECT_EQ(ReasonCount(r, v1::REASON_CODE_EXCLUDED_ITEM), 1u);

  request.set_return_removed(false);
  r = Run(request);
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "tv3", "cable"));
  EXPECT_THAT(r.removed(), IsEmpty());
  EXPECT_EQ(ReasonCount(r, v1::REASON_CODE_EXCLUDED_ITEM), 1u);
}

TEST_F(MerchandisingTest, ExcludedCategoryUsesCandidateCategoryOverModels) {
  // tv3 says it is an accessory: the request's label wins over the model's.
  const v1::RerankResponse r = Run(Request(R"pb(
    candidates { item_id: "tv1" base_score: 4 }
    candidates { item_id: "tv2" base_score: 3 }
    candidates { item_id: "tv3" base_score: 2 category: "accessory" }
    candidates { item_id: "cable" base_score: 1 }
    candidates { item_id: "unknown" base_score: 0 category: "tv" }
    rules { exclude_categories: "tv" }
    return_removed: true
  )pb"));
  EXPECT_THAT(Ids(r), ElementsAre("tv3", "cable"));
  ASSERT_EQ(r.removed_size(), 3);
  EXPECT_EQ(r.removed(0).item_id(), "tv1");
  EXPECT_EQ(r.removed(2).item_id(), "unknown");
  EXPECT_EQ(r.removed(2).reason().code(), v1::REASON_CODE_EXCLUDED_CATEGORY);
  EXPECT_EQ(r.removed(2).reason().rule(), "rules.exclude_categories");
}

TEST_F(MerchandisingTest, OutOfStockRemovalCarriesItsReason) {
  const v1::RerankResponse r = Run(Request(R"pb(
    candidates { item_id: "tv1" base_score: 4 in_stock: false }
    candidates { item_id: "tv2" base_score: 3 }
    return_removed: true
  )pb"));
  EXPECT_THAT(Ids(r), ElementsAre("tv2"));
  ASSERT_EQ(r.removed_size(), 1);
  EXPECT_EQ(r.removed(0).reason().code(), v1::REASON_CODE_OUT_OF_STOCK);
  EXPECT_EQ(r.stats().dropped_candidates(), 1u);
}

TEST_F(MerchandisingTest, PurchaseWithinRepurchaseWindowRemovesTheItem) {
  v1::RerankRequest request = Request(WithCandidates(R"pb(
    rules { repurchase_window_seconds: 604800 }
    return_removed: true
  )pb"));
  v1::Event* e = request.add_events();
  e->set_item_id("tv1");
  e->set_type(v1::EVENT_TYPE_PURCHASE);
  e->set_timestamp_ms(kNow - 6 * kDayMs);  // 6 days < 7
  v1::RerankResponse r = Run(request);
  EXPECT_THAT(Ids(r), ElementsAre("tv2", "tv3", "cable"));
  ASSERT_EQ(r.removed_size(), 1);
  EXPECT_EQ(r.removed(0).reason().code(), v1::REASON_CODE_RECENTLY_PURCHASED);
  EXPECT_EQ(r.removed(0).reason().rule(), "rules.repurchase_window_seconds");

  // 8 days ago: outside the window, so kept (and demoted as a purchase).
  e->set_timestamp_ms(kNow - 8 * kDayMs);
  r = Run(request);
  EXPECT_THAT(r.removed(), IsEmpty());
  EXPECT_EQ(Ids(r).back(), "tv1");
}

TEST_F(MerchandisingTest, PerCategoryWindowReplacesTheDefault) {
  v1::RerankRequest request = Request(WithCandidates(R"pb(
    rules {
      repurchase_window_seconds: 604800
      repurchase_window_seconds_by_category { key: "tv" value: 3600 }
    }
    events { item_id: "tv1" type: EVENT_TYPE_PURCHASE }
    events { item_id: "cable" type: EVENT_TYPE_PURCHASE }
  )pb"));
  for (v1::Event& e : *request.mutable_events()) {
    e.set_timestamp_ms(kNow - 2 * 3'600'000);  // two hours ago
  }
  // The television's one-hour window has passed; the cable's week has not.
  const v1::RerankResponse r = Run(request);
  EXPECT_THAT(Ids(r), ElementsAre("tv2", "tv3", "tv1"));
}

TEST_F(MerchandisingTest, RequestWindowOverridesProfileWindow) {
  const ScorerOptions options = WithProfiles(R"pb(
    profiles {
      key: "cart"
      value { rules { repurchase_window_seconds: 604800 } }
    }
  )pb");
  v1::RerankRequest request = Request(WithCandidates(R"pb(
    profile: "cart"
    events { item_id: "tv1" type: EVENT_TYPE_PURCHASE }
  )pb"));
  request.mutable_events(0)->set_timestamp_ms(kNow - kDayMs);
  EXPECT_THAT(Ids(Run(request, options)), ElementsAre("tv2", "tv3", "cable"));
  request.mutable_rules()->set_repurchase_window_seconds(0);  // off
  EXPECT_THAT(Ids(Run(request, options)),
              ElementsAre("tv2", "tv3", "cable", "tv1"));
}

// --- Boosts ----------------------------------------------------------------

TEST_F(MerchandisingTest, AdditiveBoostAndBuryReportTheirDelta) {
  const v1::RerankResponse r = Run(Request(WithCandidates(R"pb(
    rules {
      boosts { item_id: "cable" mode: BOOST_MODE_ADD value: 10 name: "promo" }
      boosts { category: "tv" mode: BOOST_MODE_ADD value: -0.5 }
    }
  )pb")));
  EXPECT_THAT(Ids(r), ElementsAre("cable", "tv1", "tv2", "tv3"));
  const v1::RankedItem& cable = Item(r, "cable");
  EXPECT_DOUBLE_EQ(cable.score(), 11.0);
  ASSERT_EQ(cable.reasons_size(), 1);
  EXPECT_EQ(cable.reasons(0).code(), v1::REASON_CODE_BOOSTED);
  EXPECT_EQ(cable.reasons(0).rule(), "promo");
  EXPECT_DOUBLE_EQ(cable.reasons(0).score_delta(), 10.0);
  const v1::RankedItem& tv2 = Item(r, "tv2");
  EXPECT_DOUBLE_EQ(tv2.score(), 2.5);
  ASSERT_EQ(tv2.reasons_size(), 1);
  EXPECT_EQ(tv2.reasons(0).code(), v1::REASON_CODE_BURIED);
  EXPECT_EQ(tv2.reasons(0).rule(), "rules.boosts[1]");
  EXPECT_EQ(ReasonCount(r, v1::REASON_CODE_BURIED), 3u);
}

TEST_F(MerchandisingTest, MultiplyRaisesANegativeScoreAboveOne) {
  const v1::RerankResponse r = Run(Request(R"pb(
    candidates { item_id: "tv1" base_score: -2 attributes: "new_arrival" }
    candidates { item_id: "tv2" base_score: 2 attributes: "new_arrival" }
    candidates { item_id: "tv3" base_score: 1 }
    rules {
      boosts { attribute: "new_arrival" mode: BOOST_MODE_MULTIPLY value: 2 }
    }
  )pb"));
  // -2 + |-2| * (2 - 1) = 0; 2 + 2 * 1 = 4.
  EXPECT_DOUBLE_EQ(Item(r, "tv1").score(), 0.0);
  EXPECT_DOUBLE_EQ(Item(r, "tv2").score(), 4.0);
  EXPECT_EQ(Item(r, "tv1").reasons(0).code(), v1::REASON_CODE_BOOSTED);
  EXPECT_THAT(Item(r, "tv3").reasons(), IsEmpty());
  EXPECT_THAT(Ids(r), ElementsAre("tv2", "tv3", "tv1"));
}

TEST_F(MerchandisingTest, ExplanationPartsStillAddUpAfterBoosts) {
  ScorerOptions options;  // the default weights: factors and events count
  v1::RerankRequest request = Request(WithCandidates(R"pb(
    user_id: "u"
    explain: true
    events { item_id: "tv2" type: EVENT_TYPE_VIEW }
    events { item_id: "cable" type: EVENT_TYPE_PURCHASE }
    rules {
      boosts { category: "tv" mode: BOOST_MODE_MULTIPLY value: 1.5 }
      boosts { item_id: "tv1" mode: BOOST_MODE_ADD value: -0.25 }
      boosts { item_id: "cable" mode: BOOST_MODE_MULTIPLY value: 0.5 }
    }
  )pb"));
  for (v1::Event& e : *request.mutable_events()) {
    e.set_timestamp_ms(kNow - 60'000);
  }
  const v1::RerankResponse r = Run(request, options);
  ASSERT_EQ(r.items_size(), 4);
  for (const v1::RankedItem& item : r.items()) {
    const v1::Explanation& x = item.explanation();
    EXPECT_NEAR(x.base() + x.factor() + x.boost_total() +
                    x.purchase_demotion() + x.rules(),
                item.score(), 1e-12)
        << item.item_id();
    double deltas = 0;
    for (const v1::Reason& reason : item.reasons()) {
      deltas += reason.score_delta();
    }
    EXPECT_NEAR(deltas, x.rules(), 1e-12) << item.item_id();
  }
  EXPECT_EQ(Item(r, "tv1").reasons_size(), 2);
  EXPECT_EQ(Item(r, "cable").reasons(0).code(), v1::REASON_CODE_BURIED);
}

// --- Diversity -------------------------------------------------------------

TEST_F(MerchandisingTest, DiversityLambdaOneChangesNothing) {
  const v1::RerankResponse r = Run(Request(WithCandidates(R"pb(
    rules { diversity { lambda: 1 } }
  )pb")));
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "tv2", "tv3", "cable"));
  EXPECT_THAT(r.stats().reasons(), IsEmpty());
}

TEST_F(MerchandisingTest, DiversityPromotesTheDissimilarItem) {
  const v1::RerankResponse r = Run(Request(WithCandidates(R"pb(
    rules { diversity { lambda: 0.5 top: 3 } }
  )pb")));
  // tv1 first (best score). Then relevance vs. similarity to tv1: tv2 has
  // 0.5 * 0.67 - 0.5 * 0.995 < 0, cable 0.5 * 0 - 0.5 * 0 = 0: the cable.
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "cable", "tv2", "tv3"));
  const v1::RankedItem& cable = Item(r, "cable");
  ASSERT_EQ(cable.reasons_size(), 1);
  EXPECT_EQ(cable.reasons(0).code(), v1::REASON_CODE_DIVERSITY_PROMOTED);
  EXPECT_EQ(cable.reasons(0).rule(), "rules.diversity");
  EXPECT_EQ(cable.reasons(0).from_position(), 3);
  EXPECT_EQ(cable.reasons(0).to_position(), 1);
  EXPECT_EQ(Item(r, "tv2").reasons(0).code(),
            v1::REASON_CODE_DIVERSITY_DEMOTED);
  EXPECT_THAT(Item(r, "tv1").reasons(), IsEmpty());
  // Scores are not changed by reordering stages.
  EXPECT_DOUBLE_EQ(cable.score(), 1.0);
}

TEST_F(MerchandisingTest, DiversityOnlyChoosesFromThePool) {
  const v1::RerankResponse r = Run(Request(WithCandidates(R"pb(
    rules { diversity { lambda: 0 top: 2 pool: 3 } }
  )pb")));
  // The cable (4th) is outside a pool of 3: only televisions to choose from.
  EXPECT_EQ(Ids(r).back(), "cable");
}

// --- Caps ------------------------------------------------------------------

TEST_F(MerchandisingTest, CategoryCapPushesExtraItemsBelowTheWindow) {
  const v1::RerankResponse r = Run(Request(WithCandidates(R"pb(
    rules { caps { field: CAP_FIELD_CATEGORY max_items: 1 within_top: 2 } }
  )pb")));
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "cable", "tv2", "tv3"));
  const v1::RankedItem& tv2 = Item(r, "tv2");
  ASSERT_EQ(tv2.reasons_size(), 1);
  EXPECT_EQ(tv2.reasons(0).code(), v1::REASON_CODE_CAPPED);
  EXPECT_EQ(tv2.reasons(0).rule(), "rules.caps[0]");
  EXPECT_EQ(tv2.reasons(0).from_position(), 1);
  EXPECT_EQ(tv2.reasons(0).to_position(), 2);
  EXPECT_EQ(Item(r, "tv3").reasons(0).to_position(), 3);
  EXPECT_THAT(Item(r, "cable").reasons(), IsEmpty());
}

TEST_F(MerchandisingTest, GroupCapLimitsVariantsOfOneParent) {
  const v1::RerankResponse r = Run(Request(R"pb(
    candidates { item_id: "tv1" base_score: 4 group_id: "p" }
    candidates { item_id: "tv2" base_score: 3 group_id: "p" }
    candidates { item_id: "tv3" base_score: 2 group_id: "p" }
    candidates { item_id: "cable" base_score: 1 }
    rules { caps { field: CAP_FIELD_GROUP max_items: 2 within_top: 3 } }
  )pb"));
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "tv2", "cable", "tv3"));
}

TEST_F(MerchandisingTest, CapWithValueOnlyCapsThatValueAndZeroKeepsItOut) {
  const v1::RerankResponse r = Run(Request(WithCandidates(R"pb(
    candidates { item_id: "mount" base_score: 0.5 }
    rules {
      caps {
        field: CAP_FIELD_CATEGORY
        value: "accessory"
        max_items: 0
        within_top: 4
      }
    }
  )pb")));
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "tv2", "tv3", "cable", "mount"));
  const v1::RerankResponse r2 = Run(Request(R"pb(
    candidates { item_id: "cable" base_score: 5 }
    candidates { item_id: "tv1" base_score: 4 }
    candidates { item_id: "mount" base_score: 3 }
    rules {
      caps {
        field: CAP_FIELD_CATEGORY
        value: "accessory"
        max_items: 0
        within_top: 1
      }
    }
  )pb"));
  EXPECT_THAT(Ids(r2), ElementsAre("tv1", "cable", "mount"));
}

TEST_F(MerchandisingTest, WhenOnlyCappedItemsRemainTheyFillTheWindow) {
  const v1::RerankResponse r = Run(Request(R"pb(
    candidates { item_id: "tv1" base_score: 4 }
    candidates { item_id: "tv2" base_score: 3 }
    candidates { item_id: "tv3" base_score: 2 }
    rules { caps { field: CAP_FIELD_CATEGORY max_items: 1 within_top: 3 } }
  )pb"));
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "tv2", "tv3"));
  EXPECT_THAT(r.stats().reasons(), IsEmpty());
}

// --- Pins ------------------------------------------------------------------

TEST_F(MerchandisingTest, PinPlacesTheItemAtItsSlot) {
  const v1::RerankResponse r = Run(Request(WithCandidates(R"pb(
    rules {
      pins { item_id: "cable" slot: 0 }
      pins { item_id: "tv1" slot: 2 }
    }
  )pb")));
  EXPECT_THAT(Ids(r), ElementsAre("cable", "tv2", "tv1", "tv3"));
  const v1::RankedItem& cable = Item(r, "cable");
  ASSERT_EQ(cable.reasons_size(), 1);
  EXPECT_EQ(cable.reasons(0).code(), v1::REASON_CODE_PINNED);
  EXPECT_EQ(cable.reasons(0).rule(), "rules.pins[0]");
  EXPECT_EQ(cable.reasons(0).from_position(), 3);
  EXPECT_EQ(cable.reasons(0).to_position(), 0);
  EXPECT_EQ(Item(r, "tv1").reasons(0).to_position(), 2);
}

TEST_F(MerchandisingTest, RequestPinWinsOverProfilePinOnTheSameSlot) {
  const ScorerOptions options = WithProfiles(R"pb(
    profiles {
      key: "home"
      value {
        rules {
          pins { item_id: "tv3" slot: 0 }
          pins { item_id: "tv2" slot: 3 }
        }
      }
    }
    default_profile: "home"
  )pb");
  // Alone, the profile's pins apply (default profile, no name given).
  v1::RerankResponse r = Run(Request(kCandidates), options);
  EXPECT_EQ(r.profile(), "home");
  EXPECT_THAT(Ids(r), ElementsAre("tv3", "tv1", "cable", "tv2"));
  // The request pins the cable to slot 0: the profile's slot-0 pin yields,
  // its other pin still applies.
  r = Run(Request(WithCandidates(R"pb(
            rules { pins { item_id: "cable" slot: 0 } }
          )pb")),
          options);
  EXPECT_THAT(Ids(r), ElementsAre("cable", "tv1", "tv3", "tv2"));
  EXPECT_EQ(Item(r, "tv2").reasons(0).rule(), "profiles.home.rules.pins[1]");
}

TEST_F(MerchandisingTest, FiltersWinOverPinsAndPinsPastTheEndGoLast) {
  const ScorerOptions options = WithProfiles(R"pb(
    profiles {
      key: "p"
      value { rules { pins { item_id: "tv1" slot: 50 } } }
    }
  )pb");
  v1::RerankResponse r = Run(Request(WithCandidates(R"pb(
                               profile: "p"
                             )pb")),
                             options);
  EXPECT_THAT(Ids(r), ElementsAre("tv2", "tv3", "cable", "tv1"));
  r = Run(Request(WithCandidates(R"pb(
    rules {
      exclude_items: "tv2"
      pins { item_id: "tv2" slot: 0 }
    }
  )pb")));
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "tv3", "cable"));
}

// --- Interplay -------------------------------------------------------------

TEST_F(MerchandisingTest, StagesRunBoostDiversityCapPinInThatOrder) {
  const v1::RerankResponse r = Run(Request(R"pb(
    candidates { item_id: "tv1" base_score: 4 }
    candidates { item_id: "tv2" base_score: 3 }
    candidates { item_id: "tv3" base_score: 2 }
    candidates { item_id: "cable" base_score: 1 }
    candidates { item_id: "mount" base_score: 0.5 }
    candidates { item_id: "kettle" base_score: 0.1 }
    top_k: 4
    rules {
      # The boost lifts the mount above every television...
      boosts { item_id: "mount" mode: BOOST_MODE_ADD value: 10 }
      # ...the cap then allows one accessory in the first two...
      caps {
        field: CAP_FIELD_CATEGORY
        value: "accessory"
        max_items: 1
        within_top: 2
      }
      # ...and the pin, last, still puts the kettle first.
      pins { item_id: "kettle" slot: 0 }
    }
  )pb"));
  // After boosts: mount tv1 tv2 tv3 cable kettle. Caps: mount tv1 tv2 tv3
  // cable kettle (the cable is already outside the window). Pins: kettle
  // first. top_k: four.
  EXPECT_THAT(Ids(r), ElementsAre("kettle", "mount", "tv1", "tv2"));
  EXPECT_EQ(Item(r, "kettle").reasons(0).from_position(), 5);
  EXPECT_EQ(Item(r, "mount").reasons(0).code(), v1::REASON_CODE_BOOSTED);
}

TEST_F(MerchandisingTest, PinsOverrideCaps) {
  const v1::RerankResponse r = Run(Request(WithCandidates(R"pb(
    rules {
      caps { field: CAP_FIELD_CATEGORY max_items: 1 within_top: 3 }
      pins { item_id: "tv3" slot: 1 }
    }
  )pb")));
  // The cap gives tv1 cable tv2 tv3; the pin puts tv3 at slot 1 anyway.
  EXPECT_THAT(Ids(r), ElementsAre("tv1", "tv3", "cable", "tv2"));
  const v1::RankedItem& tv3 = Item(r, "tv3");
  ASSERT_EQ(tv3.reasons_size(), 2);
  EXPECT_EQ(tv3.reasons(0).code(), v1::REASON_CODE_CAPPED);
  EXPECT_EQ(tv3.reasons(1).code(), v1::REASON_CODE_PINNED);
}

// --- Profiles --------------------------------------------------------------

TEST_F(MerchandisingTest, ProfileWeightsAndRulesApplyOnlyWhenSelected) {
  const ScorerOptions options = WithProfiles(R"pb(
    profiles {
      key: "pdp"
      value {
        scoring { base_weight: 2 }
        rules { exclude_categories: "kitchen" }
      }
    }
  )pb");
  v1::RerankRequest request = Request(R"pb(
    candidates { item_id: "tv1" base_score: 1 }
    candidates { item_id: "kettle" base_score: 3 }
  )pb");
  v1::RerankResponse r = Run(request, options);
  EXPECT_THAT(Ids(r), ElementsAre("kettle", "tv1"));
  EXPECT_EQ(r.profile(), "");
  request.set_profile("pdp");
  r = Run(request, options);
  EXPECT_THAT(Ids(r), ElementsAre("tv1"));
  EXPECT_DOUBLE_EQ(r.items(0).score(), 2.0);
  EXPECT_EQ(r.profile(), "pdp");
}

// --- Bad rules -------------------------------------------------------------

struct BadRuleCase {
  const char* name;
  const char* request;
  const char* message;
};

class BadRuleTest : public MerchandisingTest,
                    public ::testing::WithParamInterface<BadRuleCase> {};

TEST_P(BadRuleTest, IsRefusedNamingTheRule) {
  const absl::Status status =
      RunStatus(Request(WithCandidates(GetParam().request)));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, BadRuleTest,
    ::testing::Values(
        BadRuleCase{"UnknownProfile", "profile: \"xmas\"",
                    "profile: unknown profile 'xmas' (configured: none)"},
        BadRuleCase{"NegativeCap",
                    "rules { caps { field: CAP_FIELD_CATEGORY max_items: -1 "
                    "within_top: 3 } }",
                    "rules.caps[0].max_items=-1 is negative"},
        BadRuleCase{"CapWindowZero",
                    "rules { caps { field: CAP_FIELD_GROUP max_items: 1 } }",
                    "rules.caps[0].within_top=0 must be >= 1"},
        BadRuleCase{"CapFieldUnspecified",
                    "rules { caps { max_items: 1 within_top: 2 } }",
                    "rules.caps[0].field=0 is not CAP_FIELD_CATEGORY"},
        BadRuleCase{"PinBeyondList",
                    "rules { pins { item_id: \"tv1\" slot: 4 } }",
                    "rules.pins[0].slot=4 is beyond the list (4 candidates)"},
        BadRuleCase{"PinBeyondTopK",
                    "top_k: 2 rules { pins { item_id: \"tv1\" slot: 2 } }",
                    "rules.pins[0].slot=2 is beyond top_k=2"},
        BadRuleCase{"PinNegative",
                    "rules { pins { item_id: \"tv1\" slot: -1 } }",
                    "rules.pins[0].slot=-1 is negative"},
        BadRuleCase{"PinNotACandidate",
                    "rules { pins { item_id: \"kettle\" slot: 0 } }",
                    "rules.pins[0].item_id 'kettle' is not a candidate"},
        BadRuleCase{"ConflictingPinsOnOneSlot",
                    "rules { pins { item_id: \"tv1\" slot: 0 } "
                    "pins { item_id: \"tv2\" slot: 0 } }",
                    "rules.pins[1]: slot 0 is already pinned by rules.pins[0]"},
        BadRuleCase{"ConflictingPinsOfOneItem",
                    "rules { pins { item_id: \"tv1\" slot: 0 } "
                    "pins { item_id: \"tv1\" slot: 1 } }",
                    "rules.pins[1]: item 'tv1' is already pinned by "
                    "rules.pins[0]"},
        BadRuleCase{"AddBoostOutOfBounds",
                    "rules { boosts { item_id: \"tv1\" mode: BOOST_MODE_ADD "
                    "value: 1000 } }",
                    "rules.boosts[0].value=1000 is out of bounds [-100, 100]"},
        BadRuleCase{"MultiplyBoostNegative",
                    "rules { boosts { item_id: \"tv1\" mode: "
                    "BOOST_MODE_MULTIPLY value: -1 } }",
                    "rules.boosts[0].value=-1 is out of bounds [0, 100]"},
        BadRuleCase{"BoostModeUnspecified",
                    "rules { boosts { item_id: \"tv1\" value: 1 } }",
                    "rules.boosts[0].mode=0 is not BOOST_MODE_ADD"},
        BadRuleCase{"BoostWithoutTarget",
                    "rules { boosts { mode: BOOST_MODE_ADD value: 1 } }",
                    "rules.boosts[0]: no target"},
        BadRuleCase{"DiversityLambdaOutOfBounds",
                    "rules { diversity { lambda: 2 } }",
                    "rules.diversity.lambda=2 is out of bounds [0, 1]"},
        BadRuleCase{"DiversityPoolBelowTop",
                    "rules { diversity { lambda: 0.5 top: 5 pool: 3 } }",
                    "rules.diversity.pool=3 is out of bounds [top=5"},
        BadRuleCase{"WindowNegative", "rules { repurchase_window_seconds: -1 }",
                    "rules.repurchase_window_seconds=-1 is out of bounds"},
        BadRuleCase{"EmptyExcludedItem", "rules { exclude_items: \"\" }",
                    "rules.exclude_items[0] is empty"},
        BadRuleCase{"EmptyAttribute",
                    "candidates { item_id: \"x\" attributes: \"\" } "
                    "rules { exclude_items: \"y\" }",
                    "candidates[4].attributes[0] is empty"},
        BadRuleCase{"EmptyGroupId",
                    "candidates { item_id: \"x\" group_id: \"\" } "
                    "rules { diversity { lambda: 1 } }",
                    "candidates[4].group_id is empty"}),
    [](const ::testing::TestParamInfo<BadRuleCase>& info) {
      return std::string(info.param.name);
    });

TEST_F(MerchandisingTest, BadRuleNeverChangesAResponseItDoesNotProduce) {
  // A refused request fails as a whole: no partial ranking.
  v1::RerankResponse response;
  const absl::Status status =
      Rerank(*model_,
             Request(WithCandidates(
                 "rules { exclude_items: \"tv1\" caps { max_items: -1 } }")),
             BaseOnlyOptions(), kNow, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MerchandisingTest, RuleFieldsAreOnlyCheckedWhenRulesApply) {
  // Attributes and group ids are inert without rules (and not checked, to
  // keep validation off the hot path); with rules they are.
  ScorerOptions options = BaseOnlyOptions();
  options.limits.max_attributes_per_candidate = 1;
  const v1::RerankRequest plain = Request(R"pb(
    candidates { item_id: "tv1" attributes: "a" attributes: "b" }
  )pb");
  EXPECT_TRUE(RunStatus(plain, options).ok());
  v1::RerankRequest with_rules = plain;
  with_rules.mutable_rules()->add_exclude_items("x");
  const absl::Status status = RunStatus(with_rules, options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("candidates[0].attributes: 2 exceeds "
                        "limits.max_attributes_per_candidate=1"));
}

TEST_F(MerchandisingTest, RequestRulesBeyondMaxRulesAreRefused) {
  ScorerOptions options = BaseOnlyOptions();
  options.limits.max_rules = 2;
  const absl::Status status =
      RunStatus(Request(WithCandidates(
                    "rules { exclude_items: \"a\" exclude_items: \"b\" "
                    "exclude_categories: \"c\" }")),
                options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("rules: 3 entries exceed limits.max_rules=2"));
}

TEST(AddProfilesTest, RefusesBadProfilesNamingThem) {
  v1::ServerConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        profiles {
          key: "cart"
          value {
            rules {
              caps { field: CAP_FIELD_GROUP max_items: -2 within_top: 1 }
            }
          }
        }
      )pb",
      &config));
  ScorerOptions options;
  absl::Status status =
      AddProfiles(config.profiles(), config.default_profile(), &options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(status.message()),
      HasSubstr("profiles.cart.rules.caps[0].max_items=-2 is negative"));

  config.Clear();
  (*config.mutable_profiles())["home"];
  config.set_default_profile("homepage");
  options = ScorerOptions();
  status = AddProfiles(config.profiles(), config.default_profile(), &options);
  EXPECT_THAT(
      std::string(status.message()),
      HasSubstr("default_profile: 'homepage' is not a key of profiles"));

  config.Clear();
  (*config.mutable_profiles())["home"].mutable_scoring()->set_base_weight(-1);
  options = ScorerOptions();
  status = AddProfiles(config.profiles(), config.default_profile(), &options);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("profiles.home.scoring.base_weight=-1"));

  config.Clear();
  (*config.mutable_profiles())["bad name"];
  options = ScorerOptions();
  status = AddProfiles(config.profiles(), config.default_profile(), &options);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'bad name'"));
}

// --- Event semantics: two neighbour tables --------------------------------

// "laptop" has a substitute ("laptop2", co-viewed) and a complement ("bag",
// co-purchased); factors are zero so only neighbour boosts move scores.
std::unique_ptr<const ModelSnapshot> MakeTwoTableModel(bool two_tables) {
  ModelData data;
  data.version = "two-tables";
  data.dim = 1;
  data.item_ids = {"laptop", "laptop2", "bag"};
  data.item_factors = {0, 0, 0};
  // Substitutes: laptop -> laptop2.
  data.neighbor_indptr = {0, 1, 1, 1};
  data.neighbor_indices = {1};
  data.neighbor_scores = {0.8f};
  if (two_tables) {
    // Complements: laptop -> bag.
    data.complement_indptr = {0, 1, 1, 1};
    data.complement_indices = {2};
    data.complement_scores = {0.6f};
  }
  auto model = ModelSnapshot::FromData(std::move(data));
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

v1::RerankResponse RunEvent(const ModelSnapshot& model, v1::EventType type) {
  v1::RerankRequest request = Request(R"pb(
    candidates { item_id: "laptop2" }
    candidates { item_id: "bag" }
    explain: true
  )pb");
  v1::Event* e = request.add_events();
  e->set_item_id("laptop");
  e->set_type(type);
  e->set_timestamp_ms(kNow);
  ScorerOptions options;
  options.weights.view_weight = 1.0;
  options.weights.add_to_cart_weight = 1.0;
  options.weights.neighbor_weight = 1.0;
  v1::RerankResponse response;
  EXPECT_TRUE(Rerank(model, request, options, kNow, &response).ok());
  return response;
}

TEST(EventSemanticsTest, ViewRaisesSubstitutesAndCartRaisesComplements) {
  const auto model = MakeTwoTableModel(/*two_tables=*/true);
  v1::RerankResponse r = RunEvent(*model, v1::EVENT_TYPE_VIEW);
  EXPECT_THAT(Ids(r), ElementsAre("laptop2", "bag"));
  EXPECT_DOUBLE_EQ(Item(r, "laptop2").score(), 0.800000011920929);
  EXPECT_DOUBLE_EQ(Item(r, "bag").score(), 0.0);
  const v1::Boost& view_boost = Item(r, "laptop2").explanation().boosts(0);
  EXPECT_EQ(view_boost.neighbor_table(), v1::NEIGHBOR_TABLE_SUBSTITUTES);
  EXPECT_THAT(Item(r, "bag").explanation().boosts(), IsEmpty());

  r = RunEvent(*model, v1::EVENT_TYPE_ADD_TO_CART);
  EXPECT_THAT(Ids(r), ElementsAre("bag", "laptop2"));
  EXPECT_DOUBLE_EQ(Item(r, "bag").score(), 0.60000002384185791);
  EXPECT_DOUBLE_EQ(Item(r, "laptop2").score(), 0.0);
  const v1::Boost& cart_boost = Item(r, "bag").explanation().boosts(0);
  EXPECT_EQ(cart_boost.neighbor_table(), v1::NEIGHBOR_TABLE_COMPLEMENTS);
  EXPECT_NEAR(cart_boost.similarity(), 0.6, 1e-7);
}

TEST(EventSemanticsTest, OneTableModelServesBothRoles) {
  const auto model = MakeTwoTableModel(/*two_tables=*/false);
  for (const v1::EventType type :
       {v1::EVENT_TYPE_VIEW, v1::EVENT_TYPE_ADD_TO_CART}) {
    const v1::RerankResponse r = RunEvent(*model, type);
    EXPECT_THAT(Ids(r), ElementsAre("laptop2", "bag")) << type;
    EXPECT_DOUBLE_EQ(Item(r, "laptop2").score(), 0.800000011920929) << type;
  }
}

TEST(EventSemanticsTest, MixedEventsOnOneItemWalkEachTableWithItsOwnWeight) {
  const auto model = MakeTwoTableModel(/*two_tables=*/true);
  v1::RerankRequest request = Request(R"pb(
    candidates { item_id: "laptop2" }
    candidates { item_id: "bag" }
    explain: true
    events { item_id: "laptop" type: EVENT_TYPE_VIEW }
    events { item_id: "laptop" type: EVENT_TYPE_ADD_TO_CART }
  )pb");
  for (v1::Event& e : *request.mutable_events()) e.set_timestamp_ms(kNow);
  ScorerOptions options;
  options.weights.view_weight = 1.0;
  options.weights.add_to_cart_weight = 2.0;
  options.weights.neighbor_weight = 1.0;
  v1::RerankResponse r;
  ASSERT_TRUE(Rerank(*model, request, options, kNow, &r).ok());
  // laptop2: view only (1 * 0.8); bag: cart only (2 * 0.6).
  EXPECT_NEAR(Item(r, "laptop2").score(), 0.8, 1e-6);
  EXPECT_NEAR(Item(r, "bag").score(), 1.2, 1e-6);
  // Each explanation names only the event that walked the table.
  ASSERT_EQ(Item(r, "bag").explanation().boosts_size(), 1);
  EXPECT_EQ(Item(r, "bag").explanation().boosts(0).event_index(), 1);
  ASSERT_EQ(Item(r, "laptop2").explanation().boosts_size(), 1);
  EXPECT_EQ(Item(r, "laptop2").explanation().boosts(0).event_index(), 0);
}

}  // namespace
}  // namespace rerank
