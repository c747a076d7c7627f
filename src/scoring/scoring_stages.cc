// The request and scoring stages of Rerank (scoring_context.h; the response
// stages are in response_stages.cc). README "Scoring" is the contract;
// comments here explain the choices the contract leaves open.

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/model_snapshot.h"
#include "ranking/features.h"
#include "ranking/ranker.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/radix_sort.h"
#include "scoring/scorer.h"  // RankerKindToProto
#include "scoring/scoring_context.h"
#include "scoring/scoring_params.h"

namespace rerank::scoring_internal {
namespace {

// Looks up the model rows of `count` ids given by `id_of(i)` into
// ctx->rows, all in one ModelSnapshot::FindItems batch.
template <typename IdOf>
void FindRows(int count, IdOf id_of, ScoringContext* ctx) {
  ctx->ids.resize(count);
  for (int i = 0; i < count; ++i) ctx->ids[i] = id_of(i);
  ctx->rows.resize(count);
  ctx->model.FindItems(ctx->ids, ctx->rows.data());
}

// <x, y> over n floats, bit for bit as Eigen computes ConstFactors(x,
// n).dot(VectorXf y) with SSE (what the baseline x86-64 build uses): two
// 4-float accumulators over packet pairs, their sum, one more packet if
// left, the horizontal sum (a0 + a2) + (a1 + a3), then the scalar tail.
// With AVX the two accumulators are the halves of one 8-float register, so
// every lane adds the same products in the same order: same result, half
// the instructions. Dispatched at run time (the build targets baseline
// x86-64); anything else calls Eigen itself.
float EigenDot(const float* x, const float* y, int n) {
  return ConstFactors(x, n).dot(ConstFactors(y, n));
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx"))) float AvxDot(const float* x, const float* y,
                                            int n) {
  if (n < 8) return EigenDot(x, y, n);
  const int end2 = n / 8 * 8;  // Eigen's alignedEnd2
  const int end = n / 4 * 4;   // alignedEnd
  __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(y));
  for (int i = 8; i < end2; i += 8) {
    acc = _mm256_add_ps(
        acc, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  __m128 r =
      _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  if (end > end2) {
    r = _mm_add_ps(r,
                   _mm_mul_ps(_mm_loadu_ps(x + end2), _mm_loadu_ps(y + end2)));
  }
  const __m128 t = _mm_add_ps(r, _mm_movehl_ps(r, r));
  float res = _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
  for (int i = end; i < n; ++i) res += x[i] * y[i];
  return res;
}

using DotFn = float (*)(const float*, const float*, int);
DotFn ChooseDot() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") ? AvxDot : EigenDot;
}
#else
using DotFn = float (*)(const float*, const float*, int);
DotFn ChooseDot() { return EigenDot; }
#endif

// The dot product the scorer uses, chosen once per process.
float Dot(const float* x, const float* y, int n) {
  static const DotFn dot = ChooseDot();
  return dot(x, y, n);
}

using SortKey = ScoringBuffers::SortKey;

// An unsigned key whose ascending order is the descending order of `score`,
// with the conventions of the comparison it replaces: NaN ranks as -inf
// (last), and -0.0 ties with +0.0.
uint64_t DescendingKey(double score) {
  if (std::isnan(score)) score = -std::numeric_limits<double>::infinity();
  if (score == 0.0) score = 0.0;  // -0.0 -> +0.0
  uint64_t bits;
  std::memcpy(&bits, &score, sizeof(bits));
  // IEEE order as unsigned order: negatives have all bits flipped (larger
  // magnitude, smaller key), positives only the sign bit set. Then all
  // flipped, for descending.
  const uint64_t ascending =
      (bits >> 63) != 0 ? ~bits : bits | (uint64_t{1} << 63);
  return ~ascending;
}

// Key ascending, then slot ascending: the strict total order "score
// descending, then input order" of OrderCandidates.
bool KeyBefore(const SortKey& a, const SortKey& b) {
  return a.key != b.key ? a.key < b.key : a.slot < b.slot;
}

// Limits the output to `top_k` (0 = all).
void CutToTopK(uint32_t top_k, std::vector<int32_t>* order) {
  if (top_k != 0 && top_k < order->size()) order->resize(top_k);
}

// Per process: RowTable's hash multiplier, random and odd.
uint64_t RowTableMultiplier() {
  static const uint64_t multiplier = [] {
    std::random_device random;
    return ((uint64_t{random()} << 32) ^ random()) | 1;
  }();
  return multiplier;
}

}  // namespace

float DotProduct(const float* x, const float* y, int n) { return Dot(x, y, n); }

void RowTable::Reset(size_t expected) {
  // At most half full: short probe chains, and 16 KB for 1000 rows.
  const size_t capacity = std::max<size_t>(16, std::bit_ceil(expected * 2));
  entries_.assign(capacity, Entry{-1, -1});
  mask_ = static_cast<uint32_t>(capacity - 1);
  size_ = 0;
  shift_ = static_cast<uint32_t>(64 - std::countr_zero(capacity));
  multiplier_ = RowTableMultiplier();
}

void RowTable::Grow() {
  std::vector<Entry> old;
  old.swap(entries_);
  Reset(old.size());  // doubles the capacity: Reset sizes for 2x
  for (const Entry& e : old) {
    if (e.row < 0) continue;
    bool inserted;
    FindOrInsert(e.row, e.index, &inserted);
  }
}

void ScoringBuffers::Clear() {
  candidates.clear();
  slot_by_unknown_id.clear();
  events.clear();
  event_groups.clear();
  hits.clear();
  order.clear();
  ids.clear();
  rows.clear();
  sort_keys.clear();
  packed_keys.clear();
  sort_scratch.clear();
  reasons.clear();
  pins.clear();
  categories.clear();
  scratch.clear();
  features.clear();
  feature_stored = 0;
  feature_slots.clear();
  ranker_scores.clear();
  feature_groups.clear();
  event_rank_weight.clear();
  event_categories.clear();
  category_table.clear();
  rank_scratch.clear();
  norm_scratch.clear();
  factor_rows.clear();
  // The RowTables are reset by the stages that fill them; the Eigen vectors
  // keep their size and are only read when has_user_vector says so.
}

absl::Status ResolveWeights(const ScorerOptions& options, ScoringContext* ctx) {
  const std::string& name = ctx->request.profile().empty()
                                ? options.default_profile
                                : ctx->request.profile();
  ctx->profile = nullptr;
  if (!name.empty()) {
    auto it = options.profiles.find(name);
    if (it == options.profiles.end()) {
      std::vector<absl::string_view> known;
      for (const auto& [key, profile] : options.profiles) known.push_back(key);
      std::sort(known.begin(), known.end());
      return absl::InvalidArgumentError(absl::StrCat(
          "profile: unknown profile '", absl::CHexEscape(name.substr(0, 64)),
          "' (configured: ",
          known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
    }
    ctx->profile = it->second.get();
  }
  absl::StatusOr<ScoringWeights> weights = ApplyScoringParams(
      ctx->profile != nullptr ? ctx->profile->weights : options.weights,
      ctx->request.overrides(), "overrides");
  if (!weights.ok()) return weights.status();
  ctx->weights = *weights;
  return absl::OkStatus();
}

void AddReason(ScoringContext* ctx, int32_t slot, v1::ReasonCode code,
               absl::string_view rule, double score_delta,
               int32_t from_position, int32_t to_position) {
  const int32_t index = static_cast<int32_t>(ctx->reasons.size());
  ctx->reasons.push_back(
      {slot, code, rule, score_delta, from_position, to_position, -1});
  CandidateSlot& c = ctx->candidates[slot];
  if (c.last_reason < 0) {
    c.first_reason = index;
  } else {
    ctx->reasons[c.last_reason].next = index;
  }
  c.last_reason = index;
}

absl::Status ResolveUser(ScoringContext* ctx) {
  const std::string& user_id = ctx->request.user_id();
  ctx->user_row = user_id.empty() ? -1 : ctx->model.FindUser(user_id);
  const auto& supplied = ctx->request.user_vector();
  if (!supplied.empty()) {
    if (supplied.size() != ctx->model.dim()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user_vector: ", supplied.size(),
          " values, the served model's dim is ", ctx->model.dim()));
    }
    ctx->user_factors = supplied.data();
    ctx->user_source = v1::USER_VECTOR_SOURCE_REQUEST;
  } else if (ctx->user_row >= 0) {
    ctx->decoded_user.resize(ctx->model.dim());
    ctx->user_factors = RowAsFloat(ctx->model.UserMatrix(), ctx->user_row,
                                   ctx->decoded_user.data());
    ctx->user_source = v1::USER_VECTOR_SOURCE_MODEL;
  } else {
    ctx->user_factors = nullptr;
    ctx->user_source = v1::USER_VECTOR_SOURCE_NONE;
  }
  return absl::OkStatus();
}

void ResolveCandidates(ScoringContext* ctx) {
  const int n = ctx->request.candidates_size();
  ctx->candidates.reserve(n);
  // All ids in one batch: FindItems overlaps the cache misses (hash slot,
  // id) that one lookup per candidate took one after another.
  FindRows(
      n,
      [ctx](int i) -> absl::string_view {
        return ctx->request.candidates(i).item_id();
      },
      ctx);
  ctx->slot_by_row.Reset(n);
  for (int i = 0; i < n; ++i) {
    const int32_t row = ctx->rows[i];
    const int32_t slot = static_cast<int32_t>(ctx->candidates.size());
    bool inserted;
    if (row >= 0) {
      ctx->slot_by_row.FindOrInsert(row, slot, &inserted);
    } else {
      inserted = ctx->slot_by_unknown_id.try_emplace(ctx->ids[i], slot).second;
    }
    if (!inserted) {
      ++ctx->counters.duplicate_candidates;
      continue;
    }
    CandidateSlot& c = ctx->candidates.emplace_back();
    c.input_position = i;
    c.item_row = row;
  }
}

void ResolveEvents(ScoringContext* ctx) {
  const int n = ctx->request.events_size();
  const double half_life = ctx->weights.half_life_seconds;
  const double max_age = ctx->weights.max_event_age_seconds;
  ctx->events.resize(n);
  ctx->event_groups.reserve(n);
  ctx->group_by_row.Reset(n);
  FindRows(
      n,
      [ctx](int i) -> absl::string_view {
        return ctx->request.events(i).item_id();
      },
      ctx);
  for (int i = 0; i < n; ++i) {
    const v1::Event& event = ctx->request.events(i);
    EventSlot& e = ctx->events[i];
    // Timestamps are >= 0 (validated), so now - ts cannot overflow once
    // ts <= now; a shopper's clock running ahead is not their fault, so a
    // future event counts as fresh rather than being refused.
    if (event.timestamp_ms() > ctx->now_ms) {
      ++ctx->counters.future_events_clamped;
      e.age_ms = 0;
    } else {
      e.age_ms = ctx->now_ms - event.timestamp_ms();
    }
    e.item_row = ctx->rows[i];
    // Counted over all received events, dropped ones included: the stat
    // measures how much of the shopper's history the model covers.
    if (e.item_row < 0) ++ctx->counters.unknown_events;
    const double age_seconds = static_cast<double>(e.age_ms) / 1000.0;
    if (age_seconds > max_age) {
      e.dropped = true;
      ++ctx->counters.dropped_events;
      continue;
    }
    e.decay = std::exp2(-age_seconds / half_life);
    e.type_weight = ctx->weights.TypeWeight(event.type());
    e.candidate_slot = FindCandidateSlot(*ctx, e.item_row, event.item_id());
    if (e.item_row >= 0) {
      bool inserted;
      const int32_t g = ctx->group_by_row.FindOrInsert(
          e.item_row, static_cast<int32_t>(ctx->event_groups.size()),
          &inserted);
      if (inserted) ctx->event_groups.emplace_back().item_row = e.item_row;
      EventGroup& group = ctx->event_groups[g];
      const double weight = e.decay * e.type_weight;
      const double abs_weight = e.decay * std::fabs(e.type_weight);
      group.weight += weight;
      group.abs_weight += abs_weight;
      if (WalksComplements(event.type())) {
        group.complement_weight += weight;
        group.complement_abs += abs_weight;
      } else {
        group.substitute_weight += weight;
        group.substitute_abs += abs_weight;
      }
      e.group = g;
    }
  }
}

void DropCandidates(ScoringContext* ctx) {
  if (ctx->weights.keep_out_of_stock) return;
  for (CandidateSlot& c : ctx->candidates) {
    const v1::Candidate& candidate = ctx->request.candidates(c.input_position);
    // Absent means in stock.
    if (candidate.has_in_stock() && !candidate.in_stock() && !c.dropped) {
      c.dropped = true;
      ++ctx->counters.dropped_candidates;
      AddReason(ctx, static_cast<int32_t>(&c - ctx->candidates.data()),
                v1::REASON_CODE_OUT_OF_STOCK, "scoring.keep_out_of_stock");
    }
  }
}

void BuildUserVector(ScoringContext* ctx) {
  const int dim = ctx->model.dim();
  double total = 0.0;
  for (const EventGroup& g : ctx->event_groups) total += g.abs_weight;
  // "Usable" events: kept, on a known item, with non-zero decay * |w_type|.
  // A zero total (all weights 0, or decays underflowed) means none.
  const bool has_session = total > 0.0;
  // A buffer kept across requests (ScoringBuffers): no allocation.
  Eigen::VectorXf& session = ctx->session;
  if (has_session) {
    // Weighted mean of the event items' factors. Weights are normalised in
    // double, then the accumulation is in float like the factors.
    session.setZero(dim);
    const bool f32 = ctx->model.factor_dtype() == FactorDtype::kFloat32;
    for (const EventGroup& g : ctx->event_groups) {
      if (g.abs_weight == 0.0) continue;
      const float w = static_cast<float>(g.abs_weight / total);
      if (f32) {
        session += w * ConstFactors(ctx->model.ItemFactors(g.item_row), dim);
      } else {
        AddScaledRow(ctx->model.ItemMatrix(), g.item_row, w, session.data());
      }
    }
  }
  if (ctx->user_factors != nullptr) {
    const ConstFactors user(ctx->user_factors, dim);
    if (has_session) {
      const float beta = static_cast<float>(ctx->weights.session_blend);
      ctx->user_vector = (1.0f - beta) * user + beta * session;
    } else {
      ctx->user_vector = user;
    }
    ctx->has_user_vector = true;
  } else if (has_session) {
    ctx->user_vector = session;
    ctx->has_user_vector = true;
  }
}

void ScoreCandidates(ScoringContext* ctx) {
  const ScoringWeights& w = ctx->weights;
  const int dim = ctx->model.dim();
  const bool explain = ctx->request.explain();

  // Base and factor terms.
  const bool use_factors = ctx->has_user_vector && w.factor_weight != 0.0;
  const int32_t num_slots = static_cast<int32_t>(ctx->candidates.size());
  // Factor rows are scattered over the model (25 MB at 100K items x 64):
  // ask for the row a few candidates ahead so its cache misses overlap the
  // dot products before it.
  constexpr int32_t kPrefetchAhead = 8;
  // float16 / int8 rows go through the row kernels; float32 keeps its own
  // dot product (bit-identical to what it always computed).
  const bool f32 = ctx->model.factor_dtype() == FactorDtype::kFloat32;
  const FactorMatrix& items = ctx->model.ItemMatrix();
  for (int32_t s = 0; s < num_slots; ++s) {
    if (use_factors && s + kPrefetchAhead < num_slots) {
      const CandidateSlot& ahead = ctx->candidates[s + kPrefetchAhead];
      if (ahead.item_row >= 0 && !ahead.dropped) items.Prefetch(ahead.item_row);
    }
    CandidateSlot& c = ctx->candidates[s];
    if (c.dropped) continue;
    const v1::Candidate& candidate = ctx->request.candidates(c.input_position);
    c.base = w.base_weight *
             (candidate.has_base_score() ? candidate.base_score() : 0.0);
    if (use_factors && c.item_row >= 0) {
      const float dot =
          f32 ? Dot(ctx->model.ItemFactors(c.item_row), ctx->user_vector.data(),
                    dim)
              : DotRow(items, c.item_row, ctx->user_vector.data());
      c.factor = w.factor_weight * static_cast<double>(dot);
    }
  }

  // Direct event terms and purchases: one lookup per event, done in
  // ResolveEvents.
  const int num_events = static_cast<int>(ctx->events.size());
  for (int i = 0; i < num_events; ++i) {
    const EventSlot& e = ctx->events[i];
    if (e.dropped || e.candidate_slot < 0) continue;
    CandidateSlot& c = ctx->candidates[e.candidate_slot];
    if (c.dropped) continue;
    if (ctx->request.events(i).type() == v1::EVENT_TYPE_PURCHASE) {
      // A purchased item is not boosted by its own purchase, it is demoted
      // (shoppers rarely buy the same thing twice); its neighbours, likely
      // complements, get the boost below.
      c.purchased = true;
    } else {
      c.boost += e.decay * e.type_weight;
    }
  }

  // Neighbour terms: walk each event item's neighbour list once and look
  // each neighbour up among the candidates: O(groups x list length) lookups
  // in the small row table, independent of the number of candidates.
  if (w.neighbor_weight != 0.0) {
    auto walk = [ctx, explain](int32_t g, const NeighborList& neighbors,
                               double scale, int8_t table) {
      const size_t count = neighbors.items.size();
      for (size_t j = 0; j < count; ++j) {
        const int32_t slot = ctx->slot_by_row.Find(neighbors.items[j]);
        if (slot < 0) continue;
        CandidateSlot& c = ctx->candidates[slot];
        if (c.dropped) continue;
        c.boost += scale * static_cast<double>(neighbors.scores[j]);
        if (explain) ctx->hits.push_back({slot, g, neighbors.scores[j], table});
      }
    };
    const bool two_tables = ctx->model.has_complements();
    const int32_t num_groups = static_cast<int32_t>(ctx->event_groups.size());
    for (int32_t g = 0; g < num_groups; ++g) {
      const EventGroup& group = ctx->event_groups[g];
      // abs weights, not weights: events of opposite sign on one item may
      // cancel in the score but still each appear in an explanation.
      if (group.abs_weight == 0.0) continue;
      if (!two_tables) {
        // One table serves both roles: one walk with every event's weight.
        walk(g, ctx->model.Neighbors(group.item_row),
             group.weight * w.neighbor_weight, 0);
        continue;
      }
      if (group.substitute_abs != 0.0) {
        walk(g,
             ctx->model.Neighbors(group.item_row, NeighborTable::kSubstitutes),
             group.substitute_weight * w.neighbor_weight, 1);
      }
      if (group.complement_abs != 0.0) {
        walk(g,
             ctx->model.Neighbors(group.item_row, NeighborTable::kComplements),
             group.complement_weight * w.neighbor_weight, 2);
      }
    }
  }

  // Demotion, and the total in a fixed order so that the explanation's parts
  // add up to the score.
  for (CandidateSlot& c : ctx->candidates) {
    if (c.dropped) continue;
    // 0.0 - x, not -x: a demotion of 0 must read 0, not -0.
    c.demotion = c.purchased ? 0.0 - w.purchase_demotion : 0.0;
    c.score =
        c.base + c.factor + c.boost + c.demotion + c.rules + c.learned;
  }
}

void ScoreBaseOnly(ScoringContext* ctx) {
  for (CandidateSlot& c : ctx->candidates) {
    if (c.dropped) continue;
    const v1::Candidate& candidate = ctx->request.candidates(c.input_position);
    c.base = ctx->weights.base_weight *
             (candidate.has_base_score() ? candidate.base_score() : 0.0);
    c.score = c.base;
  }
}

void OrderCandidates(uint32_t top_k, ScoringContext* ctx) {
  const int32_t num_slots = static_cast<int32_t>(ctx->candidates.size());
  size_t n = 0;
  for (const CandidateSlot& c : ctx->candidates) n += c.dropped ? 0 : 1;
  const size_t k = (top_k == 0 || top_k >= n) ? n : top_k;
  // Score descending, then input order: a strict total order, so every
  // sort below gives the same, deterministic, "stable" result.
  if (k < n / 4) {
    // partial_sort is O(n log k) but heap-based, slower than a full sort
    // when k approaches n; switch at k = n/4. Compact (key, slot) pairs
    // rather than slot indices: no indirection per comparison.
    std::vector<SortKey>& keys = ctx->sort_keys;
    keys.clear();
    for (int32_t s = 0; s < num_slots; ++s) {
      const CandidateSlot& c = ctx->candidates[s];
      if (!c.dropped) keys.push_back({DescendingKey(c.score), s});
    }
    std::partial_sort(keys.begin(), keys.begin() + k, keys.end(), KeyBefore);
    ctx->order.resize(k);
    for (size_t i = 0; i < k; ++i) ctx->order[i] = keys[i].slot;
    return;
  }
  // Full sort of single integers: the key's high 32 bits (sign, exponent and
  // 20 bits of mantissa) above the slot, so that one unsigned comparison
  // orders by score and breaks ties by input order. Scores that agree in
  // those bits (within ~2^-20 of each other, or equal) are then put in exact
  // order among themselves. A comparison sort of (key, slot) pairs cost ~200
  // instructions per candidate at 1000; the integers are radix sorted from
  // kRadixSortMinKeys on (radix_sort.h), where the two zero bytes between
  // key and slot, and the slot's high byte under 256 candidates, cost no
  // pass: 5 passes at 1000 candidates instead of the 7 of a full key.
  constexpr uint64_t slot_mask = 0xffffffff;
  std::vector<uint64_t>& packed = ctx->packed_keys;
  packed.clear();
  for (int32_t s = 0; s < num_slots; ++s) {
    const CandidateSlot& c = ctx->candidates[s];
    if (c.dropped) continue;
    packed.push_back((DescendingKey(c.score) & ~slot_mask) |
                     static_cast<uint64_t>(s));
  }
  SortKeys(&packed, &ctx->sort_scratch);
  ctx->order.resize(n);
  // Runs that start before k are completed even when they cross it.
  for (size_t i = 0; i < k;) {
    size_t j = i + 1;
    while (j < n && ((packed[j] ^ packed[i]) & ~slot_mask) == 0) ++j;
    if (j - i == 1) {
      ctx->order[i] = static_cast<int32_t>(packed[i] & slot_mask);
    } else {
      std::vector<SortKey>& run = ctx->sort_keys;
      run.clear();
      for (size_t r = i; r < j; ++r) {
        const int32_t s = static_cast<int32_t>(packed[r] & slot_mask);
        run.push_back({DescendingKey(ctx->candidates[s].score), s});
      }
      std::sort(run.begin(), run.end(), KeyBefore);
      for (size_t r = i; r < j; ++r) ctx->order[r] = run[r - i].slot;
    }
    i = j;
  }
  ctx->order.resize(k);
}

void OrderByInput(uint32_t top_k, ScoringContext* ctx) {
  ctx->order.clear();
  ctx->order.reserve(ctx->candidates.size());
  const int32_t num_slots = static_cast<int32_t>(ctx->candidates.size());
  for (int32_t s = 0; s < num_slots; ++s) {
    if (!ctx->candidates[s].dropped) ctx->order.push_back(s);
  }
  CutToTopK(top_k, &ctx->order);
}

}  // namespace rerank::scoring_internal
