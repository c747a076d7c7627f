#include "ranking/features.h"

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rerank {
namespace {

// In enum order. The names are the file format (ranker files name their
// features), so they never change within kFeatureSetName.
constexpr absl::string_view kNames[] = {
    "base_score",
    "base_score_z",
    "base_rank",
    "input_position",
    "user_dot",
    "user_dot_z",
    "session_dot",
    "session_dot_z",
    "session_cosine",
    "view_direct_short",
    "view_direct_long",
    "view_neighbor_short",
    "view_neighbor_long",
    "click_direct_short",
    "click_direct_long",
    "click_neighbor_short",
    "click_neighbor_long",
    "cart_direct_short",
    "cart_direct_long",
    "cart_neighbor_short",
    "cart_neighbor_long",
    "purchase_direct_short",
    "purchase_direct_long",
    "purchase_neighbor_short",
    "purchase_neighbor_long",
    "wishlist_direct_short",
    "wishlist_direct_long",
    "wishlist_neighbor_short",
    "wishlist_neighbor_long",
    "neighbor_rank",
    "neighbor_rank_z",
    "neighbor_count",
    "direct_rank",
    "last_event_recency",
    "popularity",
    "popularity_z",
    "category_share",
    "purchased_before",
    "user_known",
    "item_known",
    "log_events",
};

static_assert(std::size(kNames) == kNumFeatures,
              "FeatureNames must name every Feature, in enum order");

// A few spot checks of the order: a name inserted or dropped in the middle
// shifts these.
constexpr int32_t IndexOf(absl::string_view name) {
  for (int32_t i = 0; i < kNumFeatures; ++i) {
    if (kNames[i] == name) return i;
  }
  return -1;
}
static_assert(IndexOf("session_cosine") == kSessionCosine);
static_assert(IndexOf("wishlist_neighbor_long") == kWishlistNeighborLong);
static_assert(IndexOf("neighbor_rank") == kNeighborRank);
static_assert(IndexOf("popularity_z") == kPopularityZ);
static_assert(IndexOf("log_events") == kLogEvents);

}  // namespace

absl::Span<const absl::string_view> FeatureNames() {
  return absl::MakeConstSpan(kNames);
}

int32_t FindFeature(absl::string_view name) {
  // 41 short strings: a linear scan is as fast as a hash map and needs no
  // static initialisation.
  return IndexOf(name);
}

}  // namespace rerank
