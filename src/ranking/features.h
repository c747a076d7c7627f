#pragma once

// The feature set of the learned rankers (README "Learned ranking").
//
// One float vector per candidate, computed by the scorer in the same pass as
// the formula's score parts (scoring/features.cc) and read by a Ranker
// (ranker.h). Rankers name the features they use; a ranker file whose
// feature set or feature names this build does not know is refused at load.
// Append-only within a version: a new feature gets a new index at the end,
// renaming or re-defining one needs a new kFeatureSetName.
//
// Event evidence is computed at two decay horizons, so that a ranker sees
// both the session (minutes) and the history (days) whatever the shop:
//   short  half-life kShortHalfLifeSeconds (30 min)
//   long   half-life kLongHalfLifeSeconds (7 days)
// and at a horizon without time: weight 0.5^rank over the kept events, most
// recent first (rank 0), which needs no clock and no shop-specific scale.

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rerank {

inline constexpr char kFeatureSetName[] = "rerank.features.v1";
inline constexpr double kShortHalfLifeSeconds = 1800.0;
inline constexpr double kLongHalfLifeSeconds = 7.0 * 86400.0;

// Indices into a candidate's feature vector. The comment of each is its
// definition; "z" is the z-score within the request's kept candidates
// ((x - mean) / std, 0 when std is 0).
enum Feature : int32_t {
  // The candidate's base_score (0 when absent), its z-score, and its rank
  // by base_score within the list scaled to [0, 1] (0 = highest; ties share
  // the better rank; 0 for a one-item list).
  kBaseScore = 0,
  kBaseScoreZ,
  kBaseRank,
  // Input position among the kept candidates / (kept - 1), in [0, 1].
  kInputPosition,
  // <u, v>: the user's factors with the candidate's (0 when either is
  // unknown), and its z-score.
  kUserDot,
  kUserDotZ,
  // <s, v>: s = mean of the kept events' item factors weighted 0.5^rank,
  // and its z-score (0 without usable events).
  kSessionDot,
  kSessionDotZ,
  // Sum over kept events of 0.5^rank * cos(v_event, v_candidate) of the
  // factors: the factor-similarity fallback for event-candidate pairs that
  // the neighbour tables do not hold.
  kSessionCosine,
  // Per event type, direct evidence (sum of decays of the events on the
  // candidate itself) and neighbour evidence (sum of decay * sim over the
  // events whose item's neighbour list, of the table that type walks,
  // holds the candidate), at the short and the long horizon.
  kViewDirectShort,
  kViewDirectLong,
  kViewNeighborShort,
  kViewNeighborLong,
  kClickDirectShort,
  kClickDirectLong,
  kClickNeighborShort,
  kClickNeighborLong,
  kCartDirectShort,
  kCartDirectLong,
  kCartNeighborShort,
  kCartNeighborLong,
  kPurchaseDirectShort,
  kPurchaseDirectLong,
  kPurchaseNeighborShort,
  kPurchaseNeighborLong,
  kWishlistDirectShort,
  kWishlistDirectLong,
  kWishlistNeighborShort,
  kWishlistNeighborLong,
  // Neighbour evidence of every event type with weight 0.5^rank instead of
  // a time decay, and its z-score.
  kNeighborRank,
  kNeighborRankZ,
  // Distinct event items whose neighbour list holds the candidate.
  kNeighborCount,
  // Direct evidence of every type with weight 0.5^rank.
  kDirectRank,
  // 1 / (1 + hours since the latest kept event on the candidate); 0 when
  // there is none.
  kLastEventRecency,
  // log(1 + training interactions of the item) / log(1 + the model's
  // largest count), in [0, 1] (0 for unknown items or a model without
  // counts), and its z-score.
  kPopularity,
  kPopularityZ,
  // Share of the kept events on known items whose item category equals the
  // candidate's (the candidate's own category, else the model's); 0 when
  // either is unknown.
  kCategoryShare,
  // 1 when a kept PURCHASE event names the candidate.
  kPurchasedBefore,
  // 1 when the model knows the user / the item.
  kUserKnown,
  kItemKnown,
  // log(1 + kept events).
  kLogEvents,
  kNumFeatures
};

// The features rerank-train's rankers use unless told otherwise
// (--ranker_features):
// those whose scale does not depend on the shop, and none that the caller's
// retrieval stage supplies. Within-list z-scores rather than raw dot
// products and evidence sums, because raw scales differ by orders of
// magnitude between shops and between time slices of one shop; bounded or
// per-model-normalised features as they are. No base_score, base rank or
// input position: the training lists come from rerank-train's own
// retrievers, whose scores and order say nothing about how the shop's
// retriever scores, so weights learned on them would not carry to serving.
// The rest of the set (features.h) stays available by name.
inline constexpr const char* kDefaultRankerFeatures[] = {
    "user_dot_z",        "session_dot_z",  "session_cosine",
    "neighbor_rank_z",   "neighbor_count", "direct_rank",
    "purchased_before",  "category_share", "last_event_recency",
    "popularity_z",      "user_known",     "item_known",
};

// The names of the features in index order ("base_score", "base_score_z",
// ...), kNumFeatures of them; stable within kFeatureSetName.
absl::Span<const absl::string_view> FeatureNames();

// The index of the feature called `name`, or -1.
int32_t FindFeature(absl::string_view name);

}  // namespace rerank
