#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rerank/v1/rerank.pb.h"

namespace rerank {

// Fully resolved scoring weights (README "Scoring"). Plain values: cheap to
// copy, one per request.
struct ScoringWeights {
  double base_weight = 1.0;
  double factor_weight = 1.0;
  double neighbor_weight = 0.5;
  double half_life_seconds = 1800.0;
  double session_blend = 0.5;
  double view_weight = 0.1;
  double click_weight = 0.2;
  double add_to_cart_weight = 0.5;
  double purchase_weight = 0.3;
  double wishlist_weight = 0.3;
  double purchase_demotion = 5.0;
  double max_event_age_seconds = 30.0 * 86400.0;
  bool keep_out_of_stock = false;

  // w_type(e); 0 for EVENT_TYPE_UNSPECIFIED or unknown values.
  double TypeWeight(v1::EventType type) const;
};

// Returns `base` with every field set in `params` replaced, after checking
// each set field against its bounds (rerank.proto, ScoringParams). Errors are
// INVALID_ARGUMENT naming `<field_prefix>.<field>` and the bounds, e.g.
// "overrides.half_life_seconds=0 is out of bounds [1, 31536000]".
absl::StatusOr<ScoringWeights> ApplyScoringParams(
    const ScoringWeights& base, const v1::ScoringParams& params,
    absl::string_view field_prefix);

// Checks every field of a fully resolved `weights` against the same bounds
// as ApplyScoringParams (for configured defaults, e.g. with prefix
// "scoring"). An empty prefix names the bare field.
absl::Status ValidateScoringWeights(const ScoringWeights& weights,
                                    absl::string_view field_prefix);

// Request limits (config "limits").
struct RequestLimits {
  uint32_t max_candidates = 10000;
  uint32_t max_events = 1000;
  uint32_t max_id_bytes = 256;
  uint32_t max_attributes_per_candidate = 32;
  uint32_t max_rules = 1000;  // entries of one request's `rules`
};

}  // namespace rerank
