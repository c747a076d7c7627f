#include "evaluation/histories.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;

Interaction At(const char* user, double t) {
  Interaction x;
  x.user_id = user;
  x.item_id = "i";
  x.timestamp = t;
  return x;
}

TEST(UserHistoriesTest, GroupsByUserInTimeOrderTiesByLogIndex) {
  const std::vector<Interaction> log = {At("a", 5), At("b", 1), At("a", 2),
                                        At("a", 5), At("b", 0)};
  const UserHistories h = BuildUserHistories(log);
  ASSERT_EQ(h.slot.size(), 2u);
  const int32_t a = h.slot.at("a");
  const int32_t b = h.slot.at("b");
  const std::vector<int64_t> a_order(h.order.begin() + h.indptr[a],
                                     h.order.begin() + h.indptr[a + 1]);
  const std::vector<int64_t> b_order(h.order.begin() + h.indptr[b],
                                     h.order.begin() + h.indptr[b + 1]);
  EXPECT_THAT(a_order, ElementsAre(2, 0, 3));
  EXPECT_THAT(b_order, ElementsAre(4, 1));
}

TEST(UserHistoriesTest, EmptyLogHasNoUsers) {
  const UserHistories h = BuildUserHistories({});
  EXPECT_TRUE(h.slot.empty());
  EXPECT_THAT(h.indptr, ElementsAre(0));
  EXPECT_TRUE(h.order.empty());
}

TEST(UserHistoriesTest, MillisRoundAndEventTypesMap) {
  EXPECT_EQ(ToMillis(1.0004), 1000);
  EXPECT_EQ(ToMillis(1.0006), 1001);
  EXPECT_EQ(ToProtoEventType(EventType::kPurchase), v1::EVENT_TYPE_PURCHASE);
  EXPECT_EQ(ToProtoEventType(EventType::kWishlist),
            v1::EVENT_TYPE_ADD_TO_WISHLIST);
  EXPECT_EQ(ToProtoEventType(EventType::kView), v1::EVENT_TYPE_VIEW);
}

}  // namespace
}  // namespace rerank
