// The stages of Rerank (scoring_context.h). README "Scoring" is the contract;
// comments here explain the choices the contract leaves open.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/model_snapshot.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scoring_context.h"
#include "scoring/scoring_params.h"

namespace rerank::scoring_internal {
namespace {

using ConstFactors = Eigen::Map<const Eigen::VectorXf>;

// The slot of the candidate whose item id equals `id` (row: its model row,
// or -1), or -1. Known ids are found by row, unknown ones by string; both
// compare ids exactly, since the model maps ids to rows one to one.
int32_t FindCandidateSlot(const ScoringContext& ctx, int32_t row,
                          absl::string_view id) {
  if (row >= 0) {
    auto it = ctx.slot_by_row.find(row);
    return it == ctx.slot_by_row.end() ? -1 : it->second;
  }
  auto it = ctx.slot_by_unknown_id.find(id);
  return it == ctx.slot_by_unknown_id.end() ? -1 : it->second;
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
  explanation->set_known_item(slot.item_row >= 0);
  if (candidate.has_category()) {
    explanation->set_category(candidate.category());
  } else if (slot.item_row >= 0) {
    explanation->set_category(
        std::string(ctx.model.ItemCategory(slot.item_row)));
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
    boost->set_contribution(contribution);
  }
}

}  // namespace

absl::Status ResolveWeights(const ScorerOptions& options, ScoringContext* ctx) {
  absl::StatusOr<ScoringWeights> weights = ApplyScoringParams(
      options.weights, ctx->request.overrides(), "overrides");
  if (!weights.ok()) return weights.status();
  ctx->weights = *weights;
  return absl::OkStatus();
}

void ResolveUser(ScoringContext* ctx) {
  const std::string& user_id = ctx->request.user_id();
  ctx->user_row = user_id.empty() ? -1 : ctx->model.FindUser(user_id);
}

void ResolveCandidates(ScoringContext* ctx) {
  const int n = ctx->request.candidates_size();
  ctx->candidates.reserve(n);
  ctx->slot_by_row.reserve(n);
  for (int i = 0; i < n; ++i) {
    const std::string& id = ctx->request.candidates(i).item_id();
    const int32_t row = ctx->model.FindItem(id);
    const int32_t slot = static_cast<int32_t>(ctx->candidates.size());
    const bool inserted =
        row >= 0 ? ctx->slot_by_row.try_emplace(row, slot).second
                 : ctx->slot_by_unknown_id.try_emplace(id, slot).second;
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
  ctx->group_by_row.reserve(n);
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
    e.item_row = ctx->model.FindItem(event.item_id());
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
      auto [it, inserted] = ctx->group_by_row.try_emplace(
          e.item_row, static_cast<int32_t>(ctx->event_groups.size()));
      if (inserted) ctx->event_groups.emplace_back().item_row = e.item_row;
      EventGroup& group = ctx->event_groups[it->second];
      group.weight += e.decay * e.type_weight;
      group.abs_weight += e.decay * std::fabs(e.type_weight);
      e.group = it->second;
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
  Eigen::VectorXf session;
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
    ctx->user_vector = std::move(session);
    ctx->has_user_vector = true;
  }
}

void ScoreCandidates(ScoringContext* ctx) {
  const ScoringWeights& w = ctx->weights;
  const int dim = ctx->model.dim();
  const bool explain = ctx->request.explain();

  // Base and factor terms.
  const bool use_factors = ctx->has_user_vector && w.factor_weight != 0.0;
  for (CandidateSlot& c : ctx->candidates) {
    if (c.dropped) continue;
    const v1::Candidate& candidate = ctx->request.candidates(c.input_position);
    c.base = w.base_weight *
             (candidate.has_base_score() ? candidate.base_score() : 0.0);
    if (use_factors && c.item_row >= 0) {
      const ConstFactors item(ctx->model.ItemFactors(c.item_row), dim);
      c.factor =
          w.factor_weight * static_cast<double>(item.dot(ctx->user_vector));
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
  // each neighbour up among the candidates: O(groups x list length) hash
  // lookups, independent of the number of candidates.
  if (w.neighbor_weight != 0.0) {
    const int32_t num_groups = static_cast<int32_t>(ctx->event_groups.size());
    for (int32_t g = 0; g < num_groups; ++g) {
      const EventGroup& group = ctx->event_groups[g];
      // abs_weight, not weight: events of opposite sign on one item may
      // cancel in the score but still each appear in an explanation.
      if (group.abs_weight == 0.0) continue;
      const double scale = group.weight * w.neighbor_weight;
      const NeighborList neighbors = ctx->model.Neighbors(group.item_row);
      const size_t count = neighbors.items.size();
      for (size_t j = 0; j < count; ++j) {
        auto it = ctx->slot_by_row.find(neighbors.items[j]);
        if (it == ctx->slot_by_row.end()) continue;
        CandidateSlot& c = ctx->candidates[it->second];
        if (c.dropped) continue;
        c.boost += scale * static_cast<double>(neighbors.scores[j]);
        if (explain) ctx->hits.push_back({it->second, g, neighbors.scores[j]});
      }
    }
  }

  // Demotion, and the total in a fixed order so that the explanation's parts
  // add up to the score.
  for (CandidateSlot& c : ctx->candidates) {
    if (c.dropped) continue;
    // 0.0 - x, not -x: a demotion of 0 must read 0, not -0.
    c.demotion = c.purchased ? 0.0 - w.purchase_demotion : 0.0;
    c.score = c.base + c.factor + c.boost + c.demotion;
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
  // Sort compact (key, slot) pairs rather than slot indices with an
  // indirection into the slots: fewer cache misses per comparison.
  struct Key {
    double score;
    int32_t slot;  // slot order is input order: the tie break
  };
  std::vector<Key> keys;
  keys.reserve(ctx->candidates.size());
  const int32_t num_slots = static_cast<int32_t>(ctx->candidates.size());
  for (int32_t s = 0; s < num_slots; ++s) {
    const CandidateSlot& c = ctx->candidates[s];
    if (c.dropped) continue;
    // A NaN score (inf - inf from extreme but finite inputs) would break the
    // comparator's strict weak ordering, which is undefined behaviour in
    // std::sort; rank it last instead.
    keys.push_back({std::isnan(c.score)
                        ? -std::numeric_limits<double>::infinity()
                        : c.score,
                    s});
  }
  // Score descending, then input order: a strict total order, so sort and
  // partial_sort give the same, deterministic, "stable" result.
  auto better = [](const Key& a, const Key& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.slot < b.slot;
  };
  const size_t n = keys.size();
  const size_t k = (top_k == 0 || top_k >= n) ? n : top_k;
  // partial_sort is O(n log k) but heap-based, slower than introsort when k
  // approaches n; switch at k = n/4.
  if (k < n / 4) {
    std::partial_sort(keys.begin(), keys.begin() + k, keys.end(), better);
  } else {
    std::sort(keys.begin(), keys.end(), better);
  }
  ctx->order.resize(k);
  for (size_t i = 0; i < k; ++i) ctx->order[i] = keys[i].slot;
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

void EmitResponse(const ScoringContext& ctx, v1::RerankResponse* response) {
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

  const bool explain = ctx.request.explain();
  std::vector<ExplainEntry> entries;
  if (explain) entries = BuildExplainEntries(ctx);
  response->mutable_items()->Reserve(static_cast<int>(ctx.order.size()));
  for (const int32_t s : ctx.order) {
    const CandidateSlot& c = ctx.candidates[s];
    v1::RankedItem* item = response->add_items();
    item->set_item_id(ctx.request.candidates(c.input_position).item_id());
    item->set_score(c.score);
    item->set_input_position(static_cast<uint32_t>(c.input_position));
    if (explain) FillExplanation(ctx, s, entries, item->mutable_explanation());
  }
}

}  // namespace rerank::scoring_internal
