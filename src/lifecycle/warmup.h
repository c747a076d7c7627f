#pragma once

#include <cstdint>
#include <vector>

#include "model/model_snapshot.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"

namespace rerank {

// Candidates per synthetic warm-up request (fewer if the model or
// limits.max_candidates is smaller): about a storefront page's worth.
inline constexpr int kWarmupCandidates = 50;
// Events per synthetic request (fewer if limits.max_events is smaller).
inline constexpr int kWarmupEvents = 4;

// What one warm-up did.
struct WarmupStats {
  int requests = 0;  // scored
  int failures = 0;  // the scorer refused the request (logged; see WarmUp)
};

// Builds `count` requests from `model`'s own ids that exercise every scoring
// path: known, unknown and anonymous users; candidates spread evenly over the
// whole item table (request i samples rows i, i + n/k, i + 2n/k, ... so the
// set moves through the table and touches its pages); a few events of
// different types on candidate items. Ids longer than limits.max_id_bytes
// are skipped so the requests stay valid. Deterministic.
std::vector<v1::RerankRequest> MakeWarmupRequests(const ModelSnapshot& model,
                                                  int count,
                                                  const RequestLimits& limits);

// Scores MakeWarmupRequests(model, count, options.limits) against `model`
// with `options` (the server's scorer, null or full) and discards the
// results. The point is to pay the first-touch costs -- page faults on the
// memory-mapped arrays, the allocator's first arenas, instruction cache --
// before a shopper's request does. Never refuses a model: a synthetic
// request the scorer rejects would be a bug, so it is counted and logged
// (warn, once per warm-up), not fatal.
WarmupStats WarmUp(const ModelSnapshot& model, const ScorerOptions& options,
                   int count);

}  // namespace rerank
