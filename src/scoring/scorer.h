#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "model/model_snapshot.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scoring_params.h"

namespace rerank {

// What the server configured; per-request overrides are applied on top.
struct ScorerOptions {
  ScoringWeights weights;
  RequestLimits limits;
  // Which function the server calls per request: Rerank, or RerankNull for
  // measuring the cost of the server stack alone (config "scorer": "null").
  bool null_scorer = false;
};

// Re-ranks `request.candidates` for the shopper described by the request,
// using `model`, and fills `response`. A pure function: no clock (the caller
// passes `now_ms`, used when request.now_ms is 0), no globals, no I/O, so it
// is thread-safe and deterministic. rerankd and rerank-eval both call it.
//
// Internally a fixed pipeline of stages over one ScoringContext:
//   validate -> resolve ids & dedupe -> drop (out of stock) -> session vector
//   -> score (base, factor, event boosts, purchase demotion) -> order -> top_k
// so merchandising stages can be inserted between them.
//
// Returns INVALID_ARGUMENT naming the field or limit for bad input; never
// crashes on any request. On error `response` is left in an unspecified state.
absl::Status Rerank(const ModelSnapshot& model,
                    const v1::RerankRequest& request,
                    const ScorerOptions& options, int64_t now_ms,
                    v1::RerankResponse* response);

// Checks limits and fields without scoring (the first stage of Rerank):
// counts against `limits`, ids non-empty and within max_id_bytes, finite
// base scores, valid event types, non-negative timestamps and now_ms, and
// the bounds of `request.overrides`.
absl::Status ValidateRequest(const v1::RerankRequest& request,
                             const RequestLimits& limits);

// The null scorer, for benchmarking the cost around scoring: the same
// validation, override checks, dedupe and out-of-stock drop as Rerank, then
// answers in input order with score = w_base * base_score, cut to top_k.
// Events are counted (stats.events_received) but not used; the response
// always carries FALLBACK_NO_PERSONALIZATION. Same contract as Rerank.
absl::Status RerankNull(const ModelSnapshot& model,
                        const v1::RerankRequest& request,
                        const ScorerOptions& options, int64_t now_ms,
                        v1::RerankResponse* response);

}  // namespace rerank
