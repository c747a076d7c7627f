// The stages of Rerank (scoring_context.h). README "Scoring" is the contract;
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

// Asks for the cache lines of one factor row.
void PrefetchFactors(const float* row, int dim) {
  const char* begin = reinterpret_cast<const char*>(row);
  const char* end = reinterpret_cast<const char*>(row + dim);
  for (const char* p = begin; p < end; p += 64) __builtin_prefetch(p);
  __builtin_prefetch(end - 1);
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

// One (candidate, event) pair of an explanation.
struct ExplainEntry {
  int32_t slot = 0;
  int32_t event = 0;
  bool direct = false;
  double similarity = 0.0;
};

// Every (candidate, event) pair with a possibly non-zero contribution,
// sorted by (slot, event). Built once per explained request, so explaining
// n candidates costs O(hits + n log n), not O(candidates x events).
std::vector<ExplainEntry> BuildExplainEntries(const ScoringContext& ctx) {
  std::vector<ExplainEntry> entries;
  const int32_t num_events = static_cast<int32_t>(ctx.events.size());
  for (int32_t i = 0; i < num_events; ++i) {
    const EventSlot& e = ctx.events[i];
    if (e.dropped || e.candidate_slot < 0) continue;
    // A purchase's direct term is 0 (README "Scoring").
    if (ctx.request.events(i).type() == v1::EVENT_TYPE_PURCHASE) continue;
    entries.push_back({e.candidate_slot, i, /*direct=*/true, 0.0});
  }
  if (!ctx.hits.empty()) {
    // Events of each group, in event order (CSR).
    const size_t num_groups = ctx.event_groups.size();
    std::vector<int32_t> start(num_groups + 1, 0);
    for (const EventSlot& e : ctx.events) {
      if (e.group >= 0) ++start[e.group + 1];
    }
    for (size_t g = 0; g < num_groups; ++g) start[g + 1] += start[g];
    std::vector<int32_t> members(start[num_groups]);
    std::vector<int32_t> next(start.begin(), start.end() - 1);
    for (int32_t i = 0; i < num_events; ++i) {
      const int32_t g = ctx.events[i].group;
      if (g >= 0) members[next[g]++] = i;
    }
    for (const NeighborHit& hit : ctx.hits) {
      for (int32_t m = start[hit.group]; m < start[hit.group + 1]; ++m) {
        // A table of one role explains only the events that walked it.
        if (hit.table != 0) {
          const bool complement =
              WalksComplements(ctx.request.events(members[m]).type());
          if (complement != (hit.table == 2)) continue;
        }
        entries.push_back({hit.slot, members[m], /*direct=*/false,
                           static_cast<double>(hit.similarity)});
      }
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const ExplainEntry& a, const ExplainEntry& b) {
              return a.slot != b.slot ? a.slot < b.slot : a.event < b.event;
            });
  return entries;
}

void FillExplanation(const ScoringContext& ctx, int32_t slot_index,
                     const std::vector<ExplainEntry>& entries,
                     v1::Explanation* explanation) {
  const CandidateSlot& slot = ctx.candidates[slot_index];
  const v1::Candidate& candidate = ctx.request.candidates(slot.input_position);
  explanation->set_base(slot.base);
  explanation->set_factor(slot.factor);
  explanation->set_boost_total(slot.boost);
  explanation->set_purchase_demotion(slot.demotion);
  explanation->set_rules(slot.rules);
  explanation->set_known_item(slot.item_row >= 0);
  if (candidate.has_category()) {
    explanation->set_category(candidate.category());
  } else if (slot.item_row >= 0) {
    explanation->set_category(
        std::string(ctx.model.ItemCategory(slot.item_row)));
  }
  if (ctx.ranker != nullptr) {
    // A learned ranker's score is its bias plus one contribution per
    // feature it uses; the formula's parts are 0 and there are no boosts.
    float row[kNumFeatures];
    FeatureRowOf(ctx, slot.feature_row, row);
    double bias = 0.0;
    std::vector<double> contributions;
    ctx.ranker->Explain(row, &bias, &contributions);
    explanation->set_ranker_bias(bias);
    const RankerSpec& spec = ctx.ranker->spec();
    const absl::Span<const int32_t> index = ctx.ranker->feature_index();
    for (size_t j = 0; j < contributions.size(); ++j) {
      v1::FeatureContribution* f = explanation->add_features();
      f->set_name(spec.feature_names[j]);
      f->set_value(row[index[j]]);
      f->set_contribution(contributions[j]);
    }
    return;
  }

  auto it = std::lower_bound(
      entries.begin(), entries.end(), slot_index,
      [](const ExplainEntry& e, int32_t s) { return e.slot < s; });
  while (it != entries.end() && it->slot == slot_index) {
    // Merge every entry of this event (a direct hit and, should a neighbour
    // list repeat an item, several similarities) as the score did.
    const int32_t event_index = it->event;
    double direct = 0.0;
    double similarity = 0.0;
    for (; it != entries.end() && it->slot == slot_index &&
           it->event == event_index;
         ++it) {
      if (it->direct) direct = 1.0;
      similarity += it->similarity;
    }
    const EventSlot& e = ctx.events[event_index];
    const double contribution =
        e.decay * e.type_weight *
        (direct + ctx.weights.neighbor_weight * similarity);
    if (contribution == 0.0) continue;
    const v1::Event& event = ctx.request.events(event_index);
    v1::Boost* boost = explanation->add_boosts();
    boost->set_event_index(event_index);
    boost->set_event_item_id(event.item_id());
    boost->set_event_type(event.type());
    boost->set_age_ms(e.age_ms);
    boost->set_decay(e.decay);
    boost->set_type_weight(e.type_weight);
    boost->set_direct(direct);
    boost->set_similarity(similarity);
    boost->set_neighbor_weight(ctx.weights.neighbor_weight);
    boost->set_neighbor_table(WalksComplements(event.type())
                                  ? v1::NEIGHBOR_TABLE_COMPLEMENTS
                                  : v1::NEIGHBOR_TABLE_SUBSTITUTES);
    boost->set_contribution(contribution);
  }
}

void FillReason(const ReasonEntry& entry, v1::Reason* reason) {
  reason->set_code(entry.code);
  reason->set_rule(std::string(entry.rule));
  reason->set_score_delta(entry.score_delta);
  reason->set_from_position(entry.from_position);
  reason->set_to_position(entry.to_position);
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

void ResolveUser(ScoringContext* ctx) {
  const std::string& user_id = ctx->request.user_id();
  ctx->user_row = user_id.empty() ? -1 : ctx->model.FindUser(user_id);
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
    for (const EventGroup& g : ctx->event_groups) {
      if (g.abs_weight == 0.0) continue;
      session += static_cast<float>(g.abs_weight / total) *
                 ConstFactors(ctx->model.ItemFactors(g.item_row), dim);
    }
  }
  if (ctx->user_row >= 0) {
    const ConstFactors user(ctx->model.UserFactors(ctx->user_row), dim);
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
  for (int32_t s = 0; s < num_slots; ++s) {
    if (use_factors && s + kPrefetchAhead < num_slots) {
      const CandidateSlot& ahead = ctx->candidates[s + kPrefetchAhead];
      if (ahead.item_row >= 0 && !ahead.dropped) {
        PrefetchFactors(ctx->model.ItemFactors(ahead.item_row), dim);
      }
    }
    CandidateSlot& c = ctx->candidates[s];
    if (c.dropped) continue;
    const v1::Candidate& candidate = ctx->request.candidates(c.input_position);
    c.base = w.base_weight *
             (candidate.has_base_score() ? candidate.base_score() : 0.0);
    if (use_factors && c.item_row >= 0) {
      c.factor = w.factor_weight *
                 static_cast<double>(Dot(ctx->model.ItemFactors(c.item_row),
                                         ctx->user_vector.data(), dim));
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

namespace {

// Protobuf wire format (protobuf.dev/programming-guides/encoding).
constexpr uint8_t kItemsTag = (2 << 3) | 2;      // RerankResponse.items
constexpr uint8_t kItemIdTag = (1 << 3) | 2;     // RankedItem.item_id
constexpr uint8_t kScoreTag = (2 << 3) | 1;      // RankedItem.score, I64
constexpr uint8_t kInputPositionTag = (3 << 3);  // .input_position, VARINT

// Branches rather than bit_width / 7: the values here (id lengths, item
// sizes, positions) are nearly always below 2^14, so the first two tests
// decide, and the baseline x86-64 build has no lzcnt.
size_t VarintSize(uint64_t v) {
  if (v < (uint64_t{1} << 7)) return 1;
  if (v < (uint64_t{1} << 14)) return 2;
  size_t n = 3;
  for (v >>= 21; v != 0; v >>= 7) ++n;
  return n;
}

char* WriteVarint(uint64_t v, char* p) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// An items entry holding an already serialized RankedItem.
void AppendItemMessageWire(const v1::RankedItem& item, std::string* out) {
  const std::string bytes = item.SerializeAsString();
  char header[1 + 10];
  header[0] = static_cast<char>(kItemsTag);
  const char* end = WriteVarint(bytes.size(), header + 1);
  out->append(header, static_cast<size_t>(end - header));
  out->append(bytes);
}

// One RankedItem of the response: id, score, input position, and the
// explanation and reasons when there are any.
void FillItem(const ScoringContext& ctx, int32_t s,
              const std::vector<ExplainEntry>& entries, v1::RankedItem* item) {
  const CandidateSlot& c = ctx.candidates[s];
  item->set_item_id(ctx.request.candidates(c.input_position).item_id());
  item->set_score(c.score);
  item->set_input_position(static_cast<uint32_t>(c.input_position));
  if (ctx.request.explain()) {
    FillExplanation(ctx, s, entries, item->mutable_explanation());
  }
  for (int32_t r = c.first_reason; r >= 0; r = ctx.reasons[r].next) {
    FillReason(ctx.reasons[r], item->add_reasons());
  }
}

// Bytes of the RankedItem body (without the items tag and length).
struct PlainItemSize {
  size_t body;
  size_t total;  // with the items tag and length
};
PlainItemSize SizePlainItem(size_t id_bytes, uint64_t score_bits,
                            uint32_t input_position) {
  // Proto3 leaves out fields at their default; for a double that is a zero
  // bit pattern (so -0.0 is written, as protobuf does).
  const size_t body =
      1 + VarintSize(id_bytes) + id_bytes + (score_bits != 0 ? 1 + 8 : 0) +
      (input_position != 0 ? 1 + VarintSize(input_position) : 0);
  return {body, 1 + VarintSize(body) + body};
}

// Writes the entry SizePlainItem measured at `p`; returns its end.
char* WritePlainItem(absl::string_view item_id, uint64_t score_bits,
                     uint32_t input_position, size_t body, char* p) {
  *p++ = static_cast<char>(kItemsTag);
  p = WriteVarint(body, p);
  *p++ = static_cast<char>(kItemIdTag);
  p = WriteVarint(item_id.size(), p);
  std::memcpy(p, item_id.data(), item_id.size());
  p += item_id.size();
  if (score_bits != 0) {
    *p++ = static_cast<char>(kScoreTag);
    std::memcpy(p, &score_bits, 8);  // little-endian, as the wire wants
    p += 8;
  }
  if (input_position != 0) {
    *p++ = static_cast<char>(kInputPositionTag);
    p = WriteVarint(input_position, p);
  }
  return p;
}

uint64_t ScoreBits(double score) {
  uint64_t bits;
  std::memcpy(&bits, &score, sizeof(bits));
  return bits;
}

// Every item of ctx.order as a plain item, in one pass over a buffer sized
// by a guess and grown when an item would not fit: per item a few dozen
// instructions, where appending to the string item by item cost ~150.
void AppendPlainItemsWire(const ScoringContext& ctx, std::string* out) {
  // Enough for ids of up to ~14 bytes; longer ones grow the buffer (kept
  // per thread by the caller, so it grows once).
  constexpr size_t kGuessPerItem = 32;
  size_t used = out->size();
  out->resize(used + ctx.order.size() * kGuessPerItem);
  for (const int32_t s : ctx.order) {
    const CandidateSlot& c = ctx.candidates[s];
    const std::string& id = ctx.request.candidates(c.input_position).item_id();
    const uint64_t bits = ScoreBits(c.score);
    const auto position = static_cast<uint32_t>(c.input_position);
    const PlainItemSize size = SizePlainItem(id.size(), bits, position);
    if (out->size() - used < size.total) {
      out->resize(std::max(out->size() * 2, used + size.total));
    }
    WritePlainItem(id, bits, position, size.body, out->data() + used);
    used += size.total;
  }
  out->resize(used);
}

}  // namespace

void AppendPlainItemWire(absl::string_view item_id, double score,
                         uint32_t input_position, std::string* out) {
  const uint64_t bits = ScoreBits(score);
  const PlainItemSize size =
      SizePlainItem(item_id.size(), bits, input_position);
  const size_t old_size = out->size();
  out->resize(old_size + size.total);
  WritePlainItem(item_id, bits, input_position, size.body,
                 out->data() + old_size);
}

void EmitResponse(const ScoringContext& ctx, v1::RerankResponse* response,
                  std::string* items_wire) {
  response->Clear();
  response->set_request_id(ctx.request.request_id());
  response->set_model_version(ctx.model.version());
  response->set_now_ms(ctx.now_ms);
  response->set_user_known(ctx.user_row >= 0);

  uint32_t unknown_candidates = 0;
  for (const CandidateSlot& c : ctx.candidates) {
    if (!c.dropped && c.item_row < 0) ++unknown_candidates;
  }
  if (ctx.request.user_id().empty()) {
    response->add_fallbacks(v1::FALLBACK_ANONYMOUS_USER);
  } else if (ctx.user_row < 0) {
    response->add_fallbacks(v1::FALLBACK_UNKNOWN_USER);
  }
  if (!ctx.has_user_vector) {
    response->add_fallbacks(v1::FALLBACK_NO_PERSONALIZATION);
  }
  if (unknown_candidates > 0) {
    response->add_fallbacks(v1::FALLBACK_UNKNOWN_CANDIDATES);
  }
  if (ctx.ranker_fallback) response->add_fallbacks(v1::FALLBACK_NO_RANKER);
  response->set_ranker(RankerKindToProto(ctx.ranker_kind));

  v1::RerankStats* stats = response->mutable_stats();
  stats->set_candidates_received(
      static_cast<uint32_t>(ctx.request.candidates_size()));
  stats->set_unknown_candidates(unknown_candidates);
  stats->set_duplicate_candidates(ctx.counters.duplicate_candidates);
  stats->set_dropped_candidates(ctx.counters.dropped_candidates);
  stats->set_events_received(static_cast<uint32_t>(ctx.request.events_size()));
  stats->set_unknown_events(ctx.counters.unknown_events);
  stats->set_dropped_events(ctx.counters.dropped_events);
  stats->set_future_events_clamped(ctx.counters.future_events_clamped);
  if (ctx.profile != nullptr) response->set_profile(ctx.profile->name);

  // Reasons: counted per code for the stats (and the metrics), and the
  // removed candidates listed when asked.
  if (!ctx.reasons.empty()) {
    uint32_t counts[v1::ReasonCode_ARRAYSIZE] = {};
    for (const ReasonEntry& r : ctx.reasons) ++counts[r.code];
    for (int code = 1; code < v1::ReasonCode_ARRAYSIZE; ++code) {
      if (counts[code] == 0) continue;
      v1::ReasonCount* count = stats->add_reasons();
      count->set_code(static_cast<v1::ReasonCode>(code));
      count->set_count(counts[code]);
    }
    if (ctx.request.return_removed()) {
      for (const CandidateSlot& c : ctx.candidates) {
        if (!c.dropped || c.first_reason < 0) continue;
        v1::RemovedItem* removed = response->add_removed();
        removed->set_item_id(
            ctx.request.candidates(c.input_position).item_id());
        removed->set_input_position(static_cast<uint32_t>(c.input_position));
        FillReason(ctx.reasons[c.first_reason], removed->mutable_reason());
      }
    }
  }

  const bool explain = ctx.request.explain();
  std::vector<ExplainEntry> entries;
  if (explain) entries = BuildExplainEntries(ctx);
  if (items_wire == nullptr) {
    response->mutable_items()->Reserve(static_cast<int>(ctx.order.size()));
    for (const int32_t s : ctx.order) {
      FillItem(ctx, s, entries, response->add_items());
    }
    return;
  }
  if (!explain && ctx.reasons.empty()) {
    AppendPlainItemsWire(ctx, items_wire);
    return;
  }
  for (const int32_t s : ctx.order) {
    const CandidateSlot& c = ctx.candidates[s];
    if (!explain && c.first_reason < 0) {
      AppendPlainItemWire(ctx.request.candidates(c.input_position).item_id(),
                          c.score, static_cast<uint32_t>(c.input_position),
                          items_wire);
    } else {
      v1::RankedItem item;
      FillItem(ctx, s, entries, &item);
      AppendItemMessageWire(item, items_wire);
    }
  }
}

}  // namespace rerank::scoring_internal
