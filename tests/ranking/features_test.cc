#include "ranking/features.h"

#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

TEST(FeatureNamesTest, NamesEveryFeatureOnce) {
  const auto names = FeatureNames();
  ASSERT_EQ(names.size(), static_cast<size_t>(kNumFeatures));
  std::set<absl::string_view> distinct(names.begin(), names.end());
  EXPECT_EQ(distinct.size(), names.size());
}

TEST(FeatureNamesTest, NamesAreSnakeCase) {
  for (const absl::string_view name : FeatureNames()) {
    EXPECT_THAT(std::string(name), ::testing::MatchesRegex("[a-z][a-z_]*[a-z]"))
        << name;
    EXPECT_EQ(name.find("__"), absl::string_view::npos) << name;
  }
}

// The names are the file format: spot checks across the enum, so that an
// inserted or dropped name shows.
TEST(FeatureNamesTest, NamesFollowTheEnumOrder) {
  const auto names = FeatureNames();
  EXPECT_EQ(names[kBaseScore], "base_score");
  EXPECT_EQ(names[kBaseRank], "base_rank");
  EXPECT_EQ(names[kSessionCosine], "session_cosine");
  EXPECT_EQ(names[kViewDirectShort], "view_direct_short");
  EXPECT_EQ(names[kClickNeighborLong], "click_neighbor_long");
  EXPECT_EQ(names[kCartDirectLong], "cart_direct_long");
  EXPECT_EQ(names[kPurchaseNeighborShort], "purchase_neighbor_short");
  EXPECT_EQ(names[kWishlistNeighborLong], "wishlist_neighbor_long");
  EXPECT_EQ(names[kNeighborRankZ], "neighbor_rank_z");
  EXPECT_EQ(names[kLastEventRecency], "last_event_recency");
  EXPECT_EQ(names[kCategoryShare], "category_share");
  EXPECT_EQ(names[kItemKnown], "item_known");
  EXPECT_EQ(names[kLogEvents], "log_events");
}

TEST(FindFeatureTest, FindsEveryNameAtItsIndex) {
  const auto names = FeatureNames();
  for (int32_t i = 0; i < kNumFeatures; ++i) {
    EXPECT_EQ(FindFeature(names[i]), i) << names[i];
  }
}

TEST(FindFeatureTest, UnknownNamesAreMinusOne) {
  EXPECT_EQ(FindFeature(""), -1);
  EXPECT_EQ(FindFeature("nope"), -1);
  EXPECT_EQ(FindFeature("Base_Score"), -1);
  EXPECT_EQ(FindFeature("base_score "), -1);
  EXPECT_EQ(FindFeature(absl::string_view("base_score\0", 11)), -1);
  EXPECT_EQ(FindFeature("base"), -1);
}

}  // namespace
}  // namespace rerank
