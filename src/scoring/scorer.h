#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "model/model_snapshot.h"
#include "ranking/ranker.h"
#include "rerank/v1/config.pb.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/rules.h"
#include "scoring/scorer_options.h"
#include "scoring/scoring_params.h"

namespace rerank {

// Builds the profiles of `options` from the config's `profiles` map: each
// profile's weights are `options.weights` with its `scoring` applied, and
// its rules are validated. Errors name the profile and field, e.g.
// "profiles.cart.rules.caps[0].max_items=-1 is negative".
absl::Status AddProfiles(
    const google::protobuf::Map<std::string, v1::Profile>& profiles,
    const std::string& default_profile, ScorerOptions* options);

// Re-ranks `request.candidates` for the shopper described by the request,
// using `model`, and fills `response`. A pure function: no clock (the caller
// passes `now_ms`, used when request.now_ms is 0), no globals, no I/O, so it
// is thread-safe and deterministic. rerankd and rerank-eval both call it.
//
// Internally a fixed pipeline of stages over one ScoringContext:
//   validate -> resolve profile, rules & ids -> filter (out of stock,
//   exclusions, repurchase windows) -> session vector -> score (base,
//   factor, event boosts, purchase demotion) -> boosts -> order ->
//   diversity -> caps -> pins -> top_k
// (README "Scoring" and "Merchandising").
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

// Rerank with the response's items in wire form, for a server that sends
// bytes (rerankd): `response` gets every field but `items`, and the items
// are appended to `*items_wire` already encoded as RerankResponse.items
// entries (field 2), best first, so that
//   response->SerializeAsString() + *items_wire
// parses to a RerankResponse equal to the one Rerank fills. It spares the
// per-item RankedItem message, the copy of each item id into it and their
// serialization: about 60% of filling and sending a plain response
// (docs/performance.md, round 3). Items with an explanation or reasons are
// built as messages and serialized as before. A null `items_wire` puts the
// items into `response`, exactly as Rerank does. Same contract as Rerank
// otherwise; on error both outputs are unspecified.
absl::Status RerankWire(const ModelSnapshot& model,
                        const v1::RerankRequest& request,
                        const ScorerOptions& options, int64_t now_ms,
                        v1::RerankResponse* response, std::string* items_wire);

// The null scorer, for benchmarking the cost around scoring: the same
// validation, override checks, dedupe and out-of-stock drop as Rerank, then
// answers in input order with score = w_base * base_score, cut to top_k.
// Profiles and rules are resolved and validated as Rerank does (so bad ones
// get the same refusal) but not applied, except the profile's weights; so is
// request.ranker (the same refusals; the response says FORMULA).
// Events are counted (stats.events_received) but not used; the response
// always carries FALLBACK_NO_PERSONALIZATION. Same contract as Rerank.
absl::Status RerankNull(const ModelSnapshot& model,
                        const v1::RerankRequest& request,
                        const ScorerOptions& options, int64_t now_ms,
                        v1::RerankResponse* response);

// RerankNull with its items in wire form, as RerankWire (a null
// `items_wire` puts them into `response`).
absl::Status RerankNullWire(const ModelSnapshot& model,
                            const v1::RerankRequest& request,
                            const ScorerOptions& options, int64_t now_ms,
                            v1::RerankResponse* response,
                            std::string* items_wire);

// The API's name of `kind` (RerankResponse.ranker, ModelInfo).
v1::RankerKind RankerKindToProto(RankerKind kind);

// The feature vectors (ranking/features.h) that Rerank computes for
// `request` under `options`: one row of kNumFeatures floats per entry of
// request.candidates, in input order, into *features (resized). A duplicate
// candidate repeats its first occurrence's row; a dropped one (out of stock)
// is all zeros. For training and inspecting rankers: exactly what the
// scorer feeds them. Same validation and errors as Rerank.
absl::Status ExtractFeatures(const ModelSnapshot& model,
                             const v1::RerankRequest& request,
                             const ScorerOptions& options, int64_t now_ms,
                             std::vector<float>* features);

}  // namespace rerank
