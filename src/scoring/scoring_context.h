#pragma once

// Internals of Rerank (scorer.h): the per-request ScoringContext and the
// stages that read and write it. Exposed in a header so that later
// merchandising stages (filters, boosts, diversity, caps, pins) can be
// written and tested as separate functions and slotted into the pipeline in
// scorer.cc, without growing one monolithic function. Not a stable API.
//
// Pipeline (scorer.cc):
//   ValidateRequest -> ResolveWeights -> ResolveUser -> ResolveCandidates
//   (ids & dedupe) -> ResolveEvents -> DropCandidates -> BuildUserVector
//   -> ScoreCandidates -> OrderCandidates -> EmitResponse
//
// Candidate "slots" are unique candidates in order of first occurrence, so
// slot order is input order; a stage removes a candidate by setting
// `dropped`, never by erasing, so slot indices held elsewhere stay valid.

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "model/model_snapshot.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"
#include "scoring/scoring_params.h"

namespace rerank::scoring_internal {

// One unique candidate: the first occurrence of its item id.
struct CandidateSlot {
  int32_t input_position = 0;  // index into request.candidates
  int32_t item_row = -1;       // model item row, -1 when unknown
  bool dropped = false;        // removed by a drop stage; never emitted
  bool purchased = false;      // a kept PURCHASE event names this item
  // Score parts (README "Scoring"); score == base + factor + boost + demotion.
  double base = 0.0;      // w_base * base_score
  double factor = 0.0;    // w_mf * <u_eff, v_c>
  double boost = 0.0;     // sum of event contributions (direct + neighbour)
  double demotion = 0.0;  // -purchase_demotion when purchased, else 0
  double score = 0.0;
};

// One request event, resolved. Parallel to request.events.
struct EventSlot {
  int32_t item_row = -1;        // model item row, -1 when unknown
  int32_t candidate_slot = -1;  // slot with the same item id, or -1
  int32_t group = -1;           // index into event_groups; -1 unless the
                                // item is known and the event kept
  int64_t age_ms = 0;           // now - timestamp, after clamping to >= 0
  double decay = 0.0;           // 0.5^(age / half_life); 0 when dropped
  double type_weight = 0.0;     // w_type(event)
  bool dropped = false;         // older than max_event_age_seconds
};

// The kept events on one known item, merged so that the item's neighbour
// list is walked once however many events name it (a shopper who viewed a
// product five times would otherwise cost five walks).
struct EventGroup {
  int32_t item_row = -1;
  double weight = 0.0;      // sum of decay * w_type: scales neighbour boosts
  double abs_weight = 0.0;  // sum of decay * |w_type|: session vector weight
};

// sim(item(group), candidate) met while walking neighbour lists. Recorded
// only when the request asks for explanations.
struct NeighborHit {
  int32_t slot = 0;
  int32_t group = 0;
  float similarity = 0.0f;
};

// Plain counters; copied into v1::RerankStats by EmitResponse.
struct ScoringCounters {
  uint32_t duplicate_candidates = 0;
  uint32_t dropped_candidates = 0;
  uint32_t unknown_events = 0;
  uint32_t dropped_events = 0;
  uint32_t future_events_clamped = 0;
};

// Everything one Rerank call knows. Lives on the caller's stack for one
// request; holds references to the model and request, which outlive it.
struct ScoringContext {
  ScoringContext(const ModelSnapshot& model_in,
                 const v1::RerankRequest& request_in, int64_t now_ms_in)
      : model(model_in), request(request_in), now_ms(now_ms_in) {}

  ScoringContext(const ScoringContext&) = delete;
  ScoringContext& operator=(const ScoringContext&) = delete;

  const ModelSnapshot& model;
  const v1::RerankRequest& request;
  int64_t now_ms;  // the moment scored at (request.now_ms or the caller's)
  ScoringWeights weights;  // configured weights with overrides applied

  int32_t user_row = -1;  // -1: anonymous or unknown

  std::vector<CandidateSlot> candidates;
  // Candidate lookup by model row (known items) and by id (unknown items).
  // Known items are deduplicated by row: an int key hashes far cheaper than
  // the id string, and FindItem has to hash the string once anyway.
  absl::flat_hash_map<int32_t, int32_t> slot_by_row;
  absl::flat_hash_map<absl::string_view, int32_t> slot_by_unknown_id;

  std::vector<EventSlot> events;
  std::vector<EventGroup> event_groups;
  absl::flat_hash_map<int32_t, int32_t> group_by_row;

  bool has_user_vector = false;
  Eigen::VectorXf user_vector;  // u_eff, model.dim() floats when set

  std::vector<NeighborHit> hits;  // explain only, in walk order

  std::vector<int32_t> order;  // slots to emit, best first, after top_k

  ScoringCounters counters;
};

// Stage: resolve ctx->weights = options.weights + request.overrides.
absl::Status ResolveWeights(const ScorerOptions& options, ScoringContext* ctx);

// Stage: ctx->user_row.
void ResolveUser(ScoringContext* ctx);

// Stage: one slot per unique item id (first occurrence wins: its position,
// base_score, category and in_stock), model rows, lookup maps; counts
// duplicates.
void ResolveCandidates(ScoringContext* ctx);

// Stage: per event age (future timestamps clamped), age drop, decay, type
// weight, item row, the candidate slot it names, and the per-item groups.
// Needs ResolveCandidates.
void ResolveEvents(ScoringContext* ctx);

// Stage: drop out-of-stock candidates unless weights.keep_out_of_stock.
void DropCandidates(ScoringContext* ctx);

// Stage: the session vector s and u_eff (README "Scoring").
void BuildUserVector(ScoringContext* ctx);

// Stage: every part of every kept candidate's score.
void ScoreCandidates(ScoringContext* ctx);

// Stage (null scorer): score = w_base * base_score only.
void ScoreBaseOnly(ScoringContext* ctx);

// Stage: ctx->order = kept slots by score descending, ties in input order,
// cut to `top_k` (0 = all).
void OrderCandidates(uint32_t top_k, ScoringContext* ctx);

// Stage (null scorer): ctx->order = kept slots in input order, cut to top_k.
void OrderByInput(uint32_t top_k, ScoringContext* ctx);

// Stage: fills `response` from the context (items, explanations, stats,
// fallbacks, echoes).
void EmitResponse(const ScoringContext& ctx, v1::RerankResponse* response);

}  // namespace rerank::scoring_internal
