#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "ranking/ranker.h"
#include "scoring/rules.h"
#include "scoring/scoring_params.h"

namespace rerank {

// What the server configured; per-request overrides are applied on top.
struct ScorerOptions {
  ScoringWeights weights;
  RequestLimits limits;
  // Which function the server calls per request: Rerank, or RerankNull for
  // measuring the cost of the server stack alone (config "scorer": "null").
  bool null_scorer = false;
  // Merchandising profiles by name (config "profiles"), validated.
  absl::flat_hash_map<std::string, std::shared_ptr<const Profile>> profiles;
  // Applied when a request names no profile; "" for none.
  std::string default_profile;
  // The ranker for requests that name none (config "ranker"); unset: the
  // model's default. README "Learned ranking".
  std::optional<RankerKind> ranker;
};

}  // namespace rerank
