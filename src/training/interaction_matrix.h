#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "training/interaction_log.h"

namespace rerank {

// Confidence weight of each event type; an event contributes
// `event_weight[type] * Interaction::weight`. A weight of 0 ignores that
// event type altogether.
struct EventWeights {
  float view = 1;
  float click = 2;
  float add_to_cart = 4;
  float purchase = 8;
  float wishlist = 3;

  float Get(EventType type) const;
};

// A set of event types as a bit mask: bit EventTypeBit(t) for each type t.
using EventTypeMask = uint8_t;
constexpr EventTypeMask EventTypeBit(EventType type) {
  return static_cast<EventTypeMask>(1u << static_cast<unsigned>(type));
}
inline constexpr EventTypeMask kAllEventTypes = (1u << kNumEventTypes) - 1;
// The events that say "considering this item": their co-occurrences are
// substitutes (README "Scoring").
inline constexpr EventTypeMask kViewEventTypes =
    EventTypeBit(EventType::kView) | EventTypeBit(EventType::kClick) |
    EventTypeBit(EventType::kWishlist);
// The events that say "buying this item": their co-occurrences are
// complements.
inline constexpr EventTypeMask kCartEventTypes =
    EventTypeBit(EventType::kAddToCart) | EventTypeBit(EventType::kPurchase);

// The user x item matrix of aggregated interaction weights, in both CSR
// (by user) and CSC (by item) form.
//
// Rows are the distinct ids sorted byte-wise, so the matrix (and hence a
// trained model) does not depend on the order of the log's lines. Only
// users and items with at least one weighted event appear.
struct InteractionMatrix {
  std::vector<std::string> user_ids;  // user row -> id, sorted
  std::vector<std::string> item_ids;  // item row -> id, sorted

  // By user: the items of user u are item_index[user_indptr[u] ..
  // user_indptr[u+1]) in ascending row order, with the matching
  // user_weight (sum of the event weights of that (user, item) pair, > 0)
  // and user_last_timestamp (its latest event, Unix seconds).
  std::vector<int64_t> user_indptr;  // num_users() + 1
  std::vector<int32_t> item_index;
  std::vector<float> user_weight;
  std::vector<double> user_last_timestamp;
  // The types of the pair's weighted events (EventTypeBit mask), so that
  // neighbours can be built from some event types only.
  std::vector<EventTypeMask> user_event_types;

  // By item: the same entries transposed; users in ascending row order.
  std::vector<int64_t> item_indptr;  // num_items() + 1
  std::vector<int32_t> user_index;
  std::vector<float> item_weight;

  // Number of log events that contributed (weight > 0).
  int64_t num_events = 0;
  // Events dropped because their weight came out as 0.
  int64_t zero_weight_events = 0;
  // num_events by EventType.
  std::array<int64_t, kNumEventTypes> events_by_type{};

  // Weighted events of the types in `mask`.
  int64_t EventsOfTypes(EventTypeMask mask) const;

  int32_t num_users() const { return static_cast<int32_t>(user_ids.size()); }
  int32_t num_items() const { return static_cast<int32_t>(item_ids.size()); }
  int64_t nnz() const { return static_cast<int64_t>(item_index.size()); }
};

// Aggregates `interactions` per (user, item) pair. INVALID_ARGUMENT if no
// event has a positive weight, or if there are more than 2^31-1 users or
// items.
absl::StatusOr<InteractionMatrix> BuildInteractionMatrix(
    absl::Span<const Interaction> interactions,
    const EventWeights& weights = {});

}  // namespace rerank
