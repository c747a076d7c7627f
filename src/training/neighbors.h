#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/interaction_matrix.h"

namespace rerank {

enum class NeighborSource {
  // Cosine of co-occurrence counts in user histories.
  kCooccurrence,
  // Cosine of the item factor vectors.
  kFactors,
  // (1 - factor_weight) * co-occurrence cosine + factor_weight * factor
  // cosine, over all items (the co-occurrence term is 0 below min_support).
  kBoth,
};
// "cooccurrence", "factors", "both".
absl::StatusOr<NeighborSource> ParseNeighborSource(absl::string_view name);
absl::string_view NeighborSourceName(NeighborSource source);

struct NeighborOptions {
  // Top-K per item. 0 builds an empty table.
  int num_neighbors = 20;
  // Minimum number of users whose (capped) history holds both items for a
  // co-occurrence score.
  int min_support = 2;
  // Only the most recent `max_user_history` distinct items of each user
  // (by latest event) take part in co-occurrence. Bounds the cost, which is
  // quadratic in history length, and keeps bulk buyers and bots from
  // dominating the counts.
  int max_user_history = 500;
  NeighborSource source = NeighborSource::kCooccurrence;
  // Weight of the factor cosine for kBoth, in [0, 1].
  float factor_weight = 0.5f;
  // Co-occurrence counts only (user, item) pairs with an event of one of
  // these types: kViewEventTypes gives co-viewed items (substitutes),
  // kCartEventTypes co-carted / co-bought ones (complements). The history
  // cap then applies to those pairs. The factor cosine is not affected.
  EventTypeMask event_types = kAllEventTypes;
  int threads = 1;
};

// INVALID_ARGUMENT for out-of-range options (num_neighbors < 0,
// min_support < 1, max_user_history < 2, factor_weight outside [0, 1],
// threads < 1, no event type).
absl::Status ValidateNeighborOptions(const NeighborOptions& options);

// The item-neighbour table in CSR form, exactly as ModelData stores it.
struct ItemNeighbors {
  std::vector<int64_t> indptr;  // num_items + 1
  std::vector<int32_t> indices;
  std::vector<float> scores;

  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

// Builds up to options.num_neighbors neighbours per item row of `matrix`.
//
// Co-occurrence: two items co-occur when they are in the same user's capped
// history, whatever the time between the events (the catalogue's typical
// basket-level and repeat-purchase patterns both count). With co(i, j) the
// number of such users and n_i the number of users whose capped history
// holds i, score(i, j) = co(i, j) / sqrt(n_i * n_j), kept when
// co(i, j) >= min_support.
//
// Factors: score(i, j) = cosine(y_i, y_j), kept when > 0. `item_factors` is
// num_items x dim row-major (ignored for kCooccurrence).
//
// Every list excludes the item itself, keeps only positive scores, and is
// ordered by descending score (as stored, in float), ties by ascending item
// row, so the table is fully deterministic and independent of
// options.threads.
absl::StatusOr<ItemNeighbors> BuildItemNeighbors(
    const InteractionMatrix& matrix, const NeighborOptions& options,
    absl::Span<const float> item_factors = {}, int dim = 0);

}  // namespace rerank
