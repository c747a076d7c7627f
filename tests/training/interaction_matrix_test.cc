#include "training/interaction_matrix.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;

Interaction Make(const char* user, const char* item, EventType type, double ts,
                 float weight = 1) {
  return Interaction{user, item, type, ts, weight};
}

TEST(InteractionMatrixTest, AggregatesWeightsPerPairWithSortedIds) {
  const std::vector<Interaction> log = {
      Make("u2", "b", EventType::kView, 10),
      Make("u1", "c", EventType::kPurchase, 20),
      Make("u2", "b", EventType::kClick, 5, 0.5f),
      Make("u2", "a", EventType::kAddToCart, 7),
      Make("u1", "a", EventType::kWishlist, 3),
  };
  const auto m = BuildInteractionMatrix(log);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->user_ids, ElementsAre("u1", "u2"));
  EXPECT_THAT(m->item_ids, ElementsAre("a", "b", "c"));
  EXPECT_EQ(m->num_events, 5);
  EXPECT_EQ(m->nnz(), 4);
  EXPECT_THAT(m->user_indptr, ElementsAre(0, 2, 4));
  EXPECT_THAT(m->item_index, ElementsAre(0, 2, 0, 1));
  // Defaults: view 1, click 2, add_to_cart 4, purchase 8, wishlist 3.
  EXPECT_THAT(m->user_weight, ElementsAre(3.0f, 8.0f, 4.0f, 1.0f + 2 * 0.5f));
  EXPECT_THAT(m->user_last_timestamp, ElementsAre(3, 20, 7, 10));
  EXPECT_THAT(m->item_indptr, ElementsAre(0, 2, 3, 4));
  EXPECT_THAT(m->user_index, ElementsAre(0, 1, 1, 0));
  EXPECT_THAT(m->item_weight, ElementsAre(3.0f, 4.0f, 2.0f, 8.0f));
}

TEST(InteractionMatrixTest, RecordsEachPairsEventTypesAndCountsPerType) {
  EventWeights weights;
  weights.wishlist = 0;  // ignored events leave no trace
  const std::vector<Interaction> log = {
      Make("u2", "b", EventType::kView, 10),
      Make("u1", "c", EventType::kPurchase, 20),
      Make("u2", "b", EventType::kClick, 5),
      Make("u2", "b", EventType::kView, 11),
      Make("u2", "a", EventType::kAddToCart, 7),
      Make("u2", "a", EventType::kWishlist, 8),
  };
  const auto m = BuildInteractionMatrix(log, weights);
  ASSERT_TRUE(m.ok()) << m.status();
  // Pairs (u1,c), (u2,a), (u2,b).
  EXPECT_THAT(m->user_event_types,
              ElementsAre(EventTypeBit(EventType::kPurchase),
                          EventTypeBit(EventType::kAddToCart),
                          EventTypeBit(EventType::kView) |
                              EventTypeBit(EventType::kClick)));
  EXPECT_THAT(m->events_by_type, ElementsAre(2, 1, 1, 1, 0));
  EXPECT_EQ(m->EventsOfTypes(kViewEventTypes), 3);
  EXPECT_EQ(m->EventsOfTypes(kCartEventTypes), 2);
  EXPECT_EQ(m->EventsOfTypes(kAllEventTypes), m->num_events);
}

TEST(InteractionMatrixTest, ZeroWeightEventsAreDropped) {
  EventWeights weights;
  weights.view = 0;
  const std::vector<Interaction> log = {
      Make("u1", "a", EventType::kView, 1),
      Make("u2", "b", EventType::kPurchase, 1, 0),
      Make("u3", "c", EventType::kPurchase, 1),
  };
  const auto m = BuildInteractionMatrix(log, weights);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->user_ids, ElementsAre("u3"));
  EXPECT_THAT(m->item_ids, ElementsAre("c"));
  EXPECT_EQ(m->zero_weight_events, 2);
  EXPECT_EQ(m->num_events, 1);
}

TEST(InteractionMatrixTest, RefusesEmptyAndNegativeWeights) {
  EXPECT_FALSE(BuildInteractionMatrix({}).ok());
  EventWeights weights;
  weights.click = -1;
  const std::vector<Interaction> log = {Make("u", "i", EventType::kView, 1)};
  const auto m = BuildInteractionMatrix(log, weights);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(InteractionMatrixTest, IndependentOfLineOrder) {
  std::vector<Interaction> log = {
      Make("u2", "b", EventType::kView, 10),
      Make("u1", "c", EventType::kPurchase, 20),
      Make("u2", "a", EventType::kAddToCart, 7),
  };
  const auto m1 = BuildInteractionMatrix(log);
  std::swap(log[0], log[2]);
  const auto m2 = BuildInteractionMatrix(log);
  ASSERT_TRUE(m1.ok() && m2.ok());
  EXPECT_EQ(m1->user_ids, m2->user_ids);
  EXPECT_EQ(m1->item_ids, m2->item_ids);
  EXPECT_EQ(m1->item_index, m2->item_index);
  EXPECT_EQ(m1->user_weight, m2->user_weight);
}

}  // namespace
}  // namespace rerank
