#pragma once

// Internals of Rerank (scorer.h): the per-request ScoringContext and the
// stages that read and write it. Exposed in a header so that later
// merchandising stages (filters, boosts, diversity, caps, pins) can be
// written and tested as separate functions and slotted into the pipeline in
// scorer.cc, without growing one monolithic function. Not a stable API.
//
// Pipeline (scorer.cc):
//   ValidateRequest -> ResolveWeights (profile) -> request rules ->
//   ResolveUser -> ResolveCandidates (ids & dedupe) -> ResolvePins ->
//   ResolveEvents -> DropCandidates -> ApplyFilters -> BuildUserVector ->
//   ScoreCandidates -> ApplyBoosts -> OrderCandidates -> Diversify ->
//   ApplyCaps -> ApplyPins -> top_k -> EmitResponse
//
// Candidate "slots" are unique candidates in order of first occurrence, so
// slot order is input order; a stage removes a candidate by setting
// `dropped`, never by erasing, so slot indices held elsewhere stay valid.

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/model_snapshot.h"
#include "ranking/features.h"
#include "ranking/ranker.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/rules.h"
#include "scoring/scorer_options.h"
#include "scoring/scoring_params.h"

namespace rerank::scoring_internal {

// One unique candidate: the first occurrence of its item id.
struct CandidateSlot {
  int32_t input_position = 0;  // index into request.candidates
  int32_t item_row = -1;       // model item row, -1 when unknown
  bool dropped = false;        // removed by a drop stage; never emitted
  bool purchased = false;      // a kept PURCHASE event names this item
  // Score parts (README "Scoring"); score == base + factor + boost +
  // demotion + rules.
  double base = 0.0;      // w_base * base_score
  double factor = 0.0;    // w_mf * <u_eff, v_c>
  double boost = 0.0;     // sum of event contributions (direct + neighbour)
  double demotion = 0.0;  // -purchase_demotion when purchased, else 0
  double rules = 0.0;     // sum of boost rules' deltas
  // The learned ranker's score (the parts above but rules are then 0); 0 on
  // the formula path.
  double learned = 0.0;
  double score = 0.0;
  // Row of ScoringBuffers::features when a learned ranker scores, else -1.
  int32_t feature_row = -1;
  // This slot's reasons: indices into ScoringBuffers::reasons, a list in
  // stage order linked through ReasonEntry::next. -1: none.
  int32_t first_reason = -1;
  int32_t last_reason = -1;
};

// One Reason (rerank.proto) while scoring. `rule` points into a RuleSet or a
// literal, both of which outlive the call.
struct ReasonEntry {
  int32_t slot = 0;
  v1::ReasonCode code = v1::REASON_CODE_UNSPECIFIED;
  absl::string_view rule;
  double score_delta = 0.0;
  int32_t from_position = 0;
  int32_t to_position = 0;
  int32_t next = -1;  // next reason of the same slot, or -1
};

// A pin that applies to this request, resolved to its candidate slot.
struct ResolvedPin {
  int32_t slot = 0;        // candidate slot
  int32_t position = 0;    // target position
  absl::string_view rule;  // RuleSet::Pin::name
};

// Model row -> index (candidate slot, event group) for the rows of one
// request. Open addressing with linear probing in a power-of-two table kept
// at most half full, and reused from request to request (ScoringBuffers):
// the absl::flat_hash_map<int32_t, int32_t> it replaces cost ~130
// instructions per insert at 1000 candidates (hashing, probing, growth
// checks) plus a fresh allocation per request. Rows are mixed with a
// per-process secret, so a client cannot line candidates up on one probe
// chain.
class RowTable {
 public:
  // Empties the table and sizes it for up to `expected` rows (more still
  // work, just slower: it grows).
  void Reset(size_t expected);

  // The index mapped to `row`, inserting `index` if `row` is absent.
  // `*inserted` says which. Needs a Reset first.
  int32_t FindOrInsert(int32_t row, int32_t index, bool* inserted) {
    if ((size_ + 1) * 2 > entries_.size()) Grow();
    for (uint32_t pos = Home(row);; pos = (pos + 1) & mask_) {
      Entry& e = entries_[pos];
      if (e.row == row) {
        *inserted = false;
        return e.index;
      }
      if (e.row < 0) {
        e = Entry{row, index};
        ++size_;
        *inserted = true;
        return index;
      }
    }
  }

  // The index mapped to `row`, or -1. Needs a Reset first.
  int32_t Find(int32_t row) const {
    for (uint32_t pos = Home(row);; pos = (pos + 1) & mask_) {
      const Entry e = entries_[pos];
      if (e.row == row) return e.index;
      if (e.row < 0) return -1;
    }
  }

 private:
  struct Entry {
    int32_t row;  // -1: empty
    int32_t index;
  };
  // Multiply-shift hashing (Dietzfelbinger et al.) with a random odd 64-bit
  // multiplier per process: two instructions, and for a multiplier the
  // client does not know, any two distinct rows collide in the home slot
  // with probability at most 2 / capacity, so a client cannot line
  // candidates up on one probe chain. (It replaced murmur3's finaliser,
  // ~10 instructions, at ~640 lookups per 200-candidate request.)
  uint32_t Home(int32_t row) const {
    return static_cast<uint32_t>(
        (static_cast<uint64_t>(static_cast<uint32_t>(row)) * multiplier_) >>
        shift_);
  }
  void Grow();

  std::vector<Entry> entries_;
  uint32_t mask_ = 0;
  uint32_t size_ = 0;
  uint32_t shift_ = 64;  // 64 - log2(capacity)
  uint64_t multiplier_ = 1;
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
//
// Events split by the neighbour table they walk (README "Scoring"): VIEW,
// CLICK and wishlist walk the substitutes, ADD_TO_CART and PURCHASE the
// complements. A model with one table walks it once with `weight`.
struct EventGroup {
  int32_t item_row = -1;
  double weight = 0.0;      // sum of decay * w_type: scales neighbour boosts
  double abs_weight = 0.0;  // sum of decay * |w_type|: session vector weight
  double substitute_weight = 0.0;  // the part of `weight` from view events
  double complement_weight = 0.0;  // the part from cart/purchase events
  double substitute_abs = 0.0;     // the parts of abs_weight
  double complement_abs = 0.0;
};

// Whether events of `type` walk the complements table (else substitutes).
inline bool WalksComplements(v1::EventType type) {
  return type == v1::EVENT_TYPE_ADD_TO_CART || type == v1::EVENT_TYPE_PURCHASE;
}

// What one event group's neighbour walk spreads into the features
// (ComputeFeatures): per event type (EventType - 1) the sums of the short-
// and long-horizon decays of its events, and per table the sum of the
// events' 0.5^rank weights.
struct FeatureGroup {
  double short_weight[5] = {};
  double long_weight[5] = {};
  double substitute_rank = 0.0;
  double complement_rank = 0.0;
};

// sim(item(group), candidate) met while walking neighbour lists. Recorded
// only when the request asks for explanations.
struct NeighborHit {
  int32_t slot = 0;
  int32_t group = 0;
  float similarity = 0.0f;
  // The table walked: 0 the single table of a one-table model (every event
  // of the group), 1 substitutes, 2 complements (that role's events only).
  int8_t table = 0;
};

// Plain counters; copied into v1::RerankStats by EmitResponse.
struct ScoringCounters {
  uint32_t duplicate_candidates = 0;
  uint32_t dropped_candidates = 0;
  uint32_t unknown_events = 0;
  uint32_t dropped_events = 0;
  uint32_t future_events_clamped = 0;
};

// The per-request containers of a ScoringContext. A context borrows them
// from a per-thread instance (scorer.cc) and gives them back cleared but with
// their capacity, so that requests after the first allocate nothing here: at
// 1000 candidates the fresh vectors and maps were ~10 allocations of up to
// 56 KB per call, and glibc answers a large malloc by first consolidating its
// fast bins (11% of a call's instructions in the callgrind profile).
struct ScoringBuffers {
  std::vector<CandidateSlot> candidates;
  // Candidate lookup by model row (known items) and by id (unknown items).
  // Known items are deduplicated by row: an int key hashes far cheaper than
  // the id string, and FindItem has to hash the string once anyway.
  RowTable slot_by_row;
  absl::flat_hash_map<absl::string_view, int32_t> slot_by_unknown_id;

  std::vector<EventSlot> events;
  std::vector<EventGroup> event_groups;
  RowTable group_by_row;

  Eigen::VectorXf user_vector;  // u_eff, model.dim() floats when set
  Eigen::VectorXf session;      // scratch of BuildUserVector
  // float16 / int8 models: the user's row and, for the feature pass, the
  // event and candidate rows decoded to float32 (only the rows a request
  // reads; a float32 model's rows are read in place).
  std::vector<float> decoded_user;
  std::vector<float> decoded_event;
  std::vector<float> decoded_rows;

  std::vector<NeighborHit> hits;  // explain only, in walk order

  std::vector<int32_t> order;  // slots to emit, best first, after top_k

  // Merchandising (rule stages): reasons of every slot, the pins that apply,
  // and each slot's category once a rule needs it (SlotCategories).
  std::vector<ReasonEntry> reasons;
  std::vector<ResolvedPin> pins;
  std::vector<absl::string_view> categories;
  std::vector<int32_t> scratch;  // reorder stages, event ranks

  // Learned ranking (ranker_stages.cc): one feature row per kept candidate,
  // stored by feature: feature f (features.h order) of row r is
  // features[feature_column[f] + r] when bit f of feature_stored is set (the
  // features the ranker needs; the others share one scratch column, see
  // FeatureRowOf); the slot of each row, and the ranker's scores.
  std::vector<float> features;
  std::array<int32_t, kNumFeatures> feature_column{};
  uint64_t feature_stored = 0;
  std::vector<int32_t> feature_slots;
  std::vector<double> ranker_scores;
  std::vector<FeatureGroup> feature_groups;   // parallel to event_groups
  std::vector<double> event_rank_weight;      // parallel to events
  Eigen::VectorXf session_unit;               // sum of 0.5^rank * v / |v|
  // Distinct categories of the kept events: the model's category id
  // (ModelSnapshot::ItemCategoryId) and how many events have it.
  struct EventCategory {
    int32_t id;
    int32_t count;
  };
  std::vector<EventCategory> event_categories;
  // The same as an open-addressing table (id -1: empty; a power of two at
  // least twice their number), so each candidate probes once instead of
  // scanning them all.
  std::vector<EventCategory> category_table;
  std::vector<int32_t> rank_scratch;
  std::vector<float> norm_scratch;  // |v|^2 per feature row (session_cosine)
  std::vector<const float*> factor_rows;  // per feature row, null: none

  // Scratch of ResolveCandidates / ResolveEvents (ids and their rows, for
  // ModelSnapshot::FindItems) and OrderCandidates (sort keys).
  std::vector<absl::string_view> ids;
  std::vector<int32_t> rows;
  struct SortKey {
    uint64_t key;  // ascending key order = descending score order
    int32_t slot;
  };
  std::vector<SortKey> sort_keys;
  std::vector<uint64_t> packed_keys;
  std::vector<uint64_t> sort_scratch;  // SortKeys' second buffer

  // Empties every container, keeping capacity.
  void Clear();
};

// Everything one Rerank call knows. Lives on the caller's stack for one
// request; holds references to the model and request, which outlive it.
struct ScoringContext : ScoringBuffers {
  using Buffers = ScoringBuffers;

  // `reuse`, if not null, lends its buffers for the duration of the call and
  // gets them back, cleared, when the context is destroyed.
  ScoringContext(const ModelSnapshot& model_in,
                 const v1::RerankRequest& request_in, int64_t now_ms_in,
                 ScoringBuffers* reuse = nullptr)
      : ScoringBuffers(reuse != nullptr ? std::move(*reuse) : ScoringBuffers()),
        model(model_in),
        request(request_in),
        now_ms(now_ms_in),
        reuse_(reuse) {}
  ~ScoringContext() {
    if (reuse_ != nullptr) {
      Clear();
      *reuse_ = std::move(static_cast<ScoringBuffers&>(*this));
    }
  }

  ScoringContext(const ScoringContext&) = delete;
  ScoringContext& operator=(const ScoringContext&) = delete;

  const ModelSnapshot& model;
  const v1::RerankRequest& request;
  int64_t now_ms;  // the moment scored at (request.now_ms or the caller's)
  ScoringWeights weights;  // configured weights with overrides applied

  int32_t user_row = -1;  // -1: anonymous or unknown
  // The user vector u in effect, model.dim() floats: the request's
  // user_vector when set, else the model's row for user_row, else null.
  const float* user_factors = nullptr;
  v1::UserVectorSource user_source = v1::USER_VECTOR_SOURCE_NONE;

  bool has_user_vector = false;  // user_vector holds u_eff

  ScoringCounters counters;

  // The profile applied (ResolveWeights), or null.
  const Profile* profile = nullptr;

  // The ranker that orders the candidates (ResolveRanker): null for the
  // formula. ranker_fallback: the config named a ranker the model lacks.
  RankerKind ranker_kind = RankerKind::kFormula;
  const Ranker* ranker = nullptr;
  bool ranker_fallback = false;
  // Rule layers in application order: the profile's, then the request's
  // (either may be absent). Filled by the caller of the rule stages.
  const RuleSet* layers[2] = {nullptr, nullptr};
  int num_layers = 0;

 private:
  ScoringBuffers* const reuse_;
};

// Stage: ctx->profile = request.profile, else options.default_profile
// (INVALID_ARGUMENT for an unknown name), and ctx->weights = the profile's
// weights (else options.weights) + request.overrides.
absl::Status ResolveWeights(const ScorerOptions& options, ScoringContext* ctx);

// The slot of the candidate whose item id equals `id` (row: its model row,
// or -1), or -1. Known ids are found by row, unknown ones by string; both
// compare ids exactly, since the model maps ids to rows one to one. Needs
// ResolveCandidates.
inline int32_t FindCandidateSlot(const ScoringContext& ctx, int32_t row,
                                 absl::string_view id) {
  if (row >= 0) return ctx.slot_by_row.Find(row);
  auto it = ctx.slot_by_unknown_id.find(id);
  return it == ctx.slot_by_unknown_id.end() ? -1 : it->second;
}

// Adds a reason for `slot` after its others.
void AddReason(ScoringContext* ctx, int32_t slot, v1::ReasonCode code,
               absl::string_view rule, double score_delta = 0.0,
               int32_t from_position = 0, int32_t to_position = 0);

// --- Merchandising stages (rule_stages.cc, README "Merchandising") ---

// Stage: the pins of every layer that apply to this request, in ctx->pins.
// A request pin must name a candidate and a slot inside the list
// (candidates received, and top_k when set): INVALID_ARGUMENT otherwise. A
// profile pin applies only when its item is a candidate, and yields to a
// request pin on the same slot or item. Needs ResolveCandidates.
absl::Status ResolvePins(ScoringContext* ctx);

// Stage: removes candidates excluded by item or category, and those
// purchased (a kept PURCHASE event) within their repurchase window. Needs
// ResolveEvents.
void ApplyFilters(ScoringContext* ctx);

// Stage: boost and bury rules, in layer then rule order, onto the scores.
void ApplyBoosts(ScoringContext* ctx);

// Whether Diversify, ApplyCaps or ApplyPins will reorder: then
// OrderCandidates must order every candidate, not just the first top_k.
bool NeedsFullOrder(const ScoringContext& ctx);

// Stage: maximal marginal relevance over the first diversity.top positions.
void Diversify(ScoringContext* ctx);

// Stage: caps of every layer, jointly, over ctx->order.
void ApplyCaps(ScoringContext* ctx);

// Stage: moves pinned items to their slots.
void ApplyPins(ScoringContext* ctx);

// Stage: ctx->order cut to `top_k` (0 = all).
void ApplyTopK(uint32_t top_k, ScoringContext* ctx);

// --- Learned ranking (ranker_stages.cc, README "Learned ranking") ---

// Stage: ctx->ranker and ranker_kind: request.ranker, else `configured`
// (when `has_configured`; a learned one the model lacks falls back to the
// model's default and sets ranker_fallback), else the model's default. A
// request naming a learned ranker the model lacks: FAILED_PRECONDITION.
absl::Status ResolveRanker(RankerKind configured, bool has_configured,
                           ScoringContext* ctx);

// The ranker a request's `ranker` (not UNSPECIFIED) names;
// FAILED_PRECONDITION naming the model when it is a learned one the model
// lacks. ResolveRanker's check, and RerankNull's (which resolves no ranker).
absl::StatusOr<RankerKind> RequestedRanker(const ModelSnapshot& model,
                                           v1::RankerKind asked);

// Stage: ctx->features for every kept candidate (features.h), and the
// purchased flags. Needs ResolveEvents and the drop stages.
void ComputeFeatures(ScoringContext* ctx);

// Row `row` of ctx.features in features.h order (kNumFeatures floats; 0
// for the features ComputeFeatures did not store).
void FeatureRowOf(const ScoringContext& ctx, int32_t row, float* out);

// Column kernels of ComputeFeatures, each with a portable and a vector path
// (AVX where the CPU has it; `vector_path` false forces the portable one,
// true takes the vector one when the CPU has it). Both give the same bits,
// which the tests hold them to.
// out = (in - mean) / std over the `rows` values (all 0 when constant).
void ZScoreColumn(const float* in, float* out, int32_t rows, bool vector_path);
// dot[r] = dot[r] / sqrt(norm2[r]) where that is finite and norm2[r] > 0,
// else 0.
void CosineColumn(float* dot, const float* norm2, int32_t rows,
                  bool vector_path);

// Stage: score = the ranker's score of the features (+ rules, 0 until the
// boost rules run), with the formula's parts 0. Needs ComputeFeatures.
void ScoreWithRanker(ScoringContext* ctx);

// The scorer's dot product (AVX where the CPU has it), and a prefetch of
// one factor row: shared by the formula and the feature stages.
float DotProduct(const float* x, const float* y, int n);
inline void PrefetchRow(const float* row, int dim) {
  PrefetchBytes(row, static_cast<int64_t>(dim) * sizeof(float));
}
using ConstFactors = Eigen::Map<const Eigen::VectorXf>;

// Stage: ctx->user_row and ctx->user_factors. INVALID_ARGUMENT when the
// request's user_vector is not the model's dim long (its values are checked
// by ValidateRequest, which does not know the model).
absl::Status ResolveUser(ScoringContext* ctx);

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
// fallbacks, echoes). With `items_wire`, the items are appended to it in
// wire form instead (RerankWire, scorer.h) and `response` gets no items.
void EmitResponse(const ScoringContext& ctx, v1::RerankResponse* response,
                  std::string* items_wire = nullptr);

// Appends one RerankResponse.items entry (field 2) in wire form to `out`:
// a RankedItem with only item_id, score and input_position, encoded as
// protobuf encodes it (fields in number order, proto3 defaults omitted).
void AppendPlainItemWire(absl::string_view item_id, double score,
                         uint32_t input_position, std::string* out);

}  // namespace rerank::scoring_internal
