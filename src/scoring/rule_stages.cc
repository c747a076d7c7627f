// The merchandising stages of Rerank (scoring_context.h). README
// "Merchandising" is the contract; comments here explain the choices it
// leaves open. Every stage returns at once when no layer has rules of its
// kind, so a request without rules pays a few branches for all of them.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/rules.h"
#include "scoring/scoring_context.h"

namespace rerank::scoring_internal {
namespace {

// The candidate slot whose item id is `id`, or -1.
int32_t SlotOfItem(const ScoringContext& ctx, absl::string_view id) {
  return FindCandidateSlot(ctx, ctx.model.FindItem(id), id);
}

// Fills ctx->categories (one per slot) on first use: the candidate's
// category, else the model's, else "".
void SlotCategories(ScoringContext* ctx) {
  if (!ctx->categories.empty() || ctx->candidates.empty()) return;
  ctx->categories.reserve(ctx->candidates.size());
  for (const CandidateSlot& c : ctx->candidates) {
    const v1::Candidate& candidate = ctx->request.candidates(c.input_position);
    if (candidate.has_category()) {
      ctx->categories.push_back(candidate.category());
    } else if (c.item_row >= 0) {
      ctx->categories.push_back(ctx->model.ItemCategory(c.item_row));
    } else {
      ctx->categories.push_back(absl::string_view());
    }
  }
}

void Remove(ScoringContext* ctx, int32_t slot, v1::ReasonCode code,
            absl::string_view rule) {
  ctx->candidates[slot].dropped = true;
  AddReason(ctx, slot, code, rule);
}

bool HasAttribute(const v1::Candidate& candidate, absl::string_view attribute) {
  for (const std::string& a : candidate.attributes()) {
    if (a == attribute) return true;
  }
  return false;
}

// The diversity settings in effect: each field from the last layer that
// sets it (the request's over the profile's).
struct DiversityParams {
  bool active = false;
  double lambda = 1.0;
  uint32_t top = kDefaultDiversityTop;
  std::optional<uint32_t> pool;
  absl::string_view rule;
};

DiversityParams ResolveDiversity(const ScoringContext& ctx) {
  DiversityParams d;
  bool has_lambda = false;
  for (int l = 0; l < ctx.num_layers; ++l) {
    const v1::Diversity& layer = ctx.layers[l]->diversity();
    if (layer.has_lambda()) {
      d.lambda = layer.lambda();
      d.rule = ctx.layers[l]->diversity_name();
      has_lambda = true;
    }
    if (layer.has_top()) d.top = layer.top();
    if (layer.has_pool()) d.pool = layer.pool();
  }
  // lambda = 1 is pure score order: nothing to do.
  d.active = has_lambda && d.lambda < 1.0;
  return d;
}

bool HasCaps(const ScoringContext& ctx) {
  for (int l = 0; l < ctx.num_layers; ++l) {
    if (!ctx.layers[l]->caps().empty()) return true;
  }
  return false;
}

}  // namespace

absl::Status ResolvePins(ScoringContext* ctx) {
  ctx->pins.clear();
  // Layers are the profile's, then the request's (either may be absent).
  const RuleSet* profile_rules =
      ctx->profile != nullptr ? ctx->profile->rules.get() : nullptr;
  const RuleSet* last =
      ctx->num_layers > 0 ? ctx->layers[ctx->num_layers - 1] : nullptr;
  const RuleSet* request_rules = last != profile_rules ? last : nullptr;
  const int32_t received = ctx->request.candidates_size();
  const uint32_t top_k = ctx->request.top_k();
  if (request_rules != nullptr) {
    for (const RuleSet::Pin& pin : request_rules->pins()) {
      if (pin.slot >= received) {
        return absl::InvalidArgumentError(
            absl::StrCat(pin.name, ".slot=", pin.slot, " is beyond the list (",
                         received, " candidates)"));
      }
      if (top_k != 0 && static_cast<uint32_t>(pin.slot) >= top_k) {
        return absl::InvalidArgumentError(absl::StrCat(
            pin.name, ".slot=", pin.slot, " is beyond top_k=", top_k));
      }
      const int32_t slot = SlotOfItem(*ctx, pin.item_id);
      if (slot < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            pin.name, ".item_id '", pin.item_id, "' is not a candidate"));
      }
      ctx->pins.push_back({slot, pin.slot, pin.name});
    }
  }
  if (profile_rules != nullptr) {
    const size_t request_pins = ctx->pins.size();
    for (const RuleSet::Pin& pin : profile_rules->pins()) {
      const int32_t slot = SlotOfItem(*ctx, pin.item_id);
      if (slot < 0) continue;  // a standing rule for items not always shown
      bool overridden = false;
      for (size_t i = 0; i < request_pins; ++i) {
        overridden |=
            ctx->pins[i].slot == slot || ctx->pins[i].position == pin.slot;
      }
      if (!overridden) ctx->pins.push_back({slot, pin.slot, pin.name});
    }
  }
  return absl::OkStatus();
}

void ApplyFilters(ScoringContext* ctx) {
  bool excludes = false;
  bool windows = false;
  for (int l = 0; l < ctx->num_layers; ++l) {
    excludes |= ctx->layers[l]->has_excludes();
    windows |= ctx->layers[l]->has_repurchase_window();
  }
  if (!excludes && !windows) return;
  bool category_excludes = false;
  for (int l = 0; l < ctx->num_layers; ++l) {
    category_excludes |= ctx->layers[l]->has_category_excludes();
  }
  if (category_excludes || windows) SlotCategories(ctx);
  const int32_t num_slots = static_cast<int32_t>(ctx->candidates.size());
  if (excludes) {
    // Excluded items first, in layer order: each excluded id is looked up
    // among the candidates (a few ids against many candidates), so a
    // candidate both excluded by id and by category reports the id.
    for (int l = 0; l < ctx->num_layers; ++l) {
      const RuleSet& layer = *ctx->layers[l];
      for (const std::string& id : layer.exclude_items_list()) {
        const int32_t s = SlotOfItem(*ctx, id);
        if (s >= 0 && !ctx->candidates[s].dropped) {
          Remove(ctx, s, v1::REASON_CODE_EXCLUDED_ITEM,
                 layer.exclude_items_name());
        }
      }
    }
    for (int l = 0; l < ctx->num_layers; ++l) {
      const RuleSet& layer = *ctx->layers[l];
      if (!layer.has_category_excludes()) continue;
      for (int32_t s = 0; s < num_slots; ++s) {
        if (ctx->candidates[s].dropped) continue;
        if (layer.ExcludesCategory(ctx->categories[s])) {
          Remove(ctx, s, v1::REASON_CODE_EXCLUDED_CATEGORY,
                 layer.exclude_categories_name());
        }
      }
    }
  }
  if (windows) {
    const int num_events = static_cast<int>(ctx->events.size());
    for (int i = 0; i < num_events; ++i) {
      const EventSlot& e = ctx->events[i];
      if (e.dropped || e.candidate_slot < 0) continue;
      if (ctx->request.events(i).type() != v1::EVENT_TYPE_PURCHASE) continue;
      if (ctx->candidates[e.candidate_slot].dropped) continue;
      // The most specific window of the last layer that sets one: the
      // request's over the profile's.
      const absl::string_view category = ctx->categories[e.candidate_slot];
      std::optional<double> window;
      absl::string_view rule;
      for (int l = ctx->num_layers - 1; l >= 0 && !window; --l) {
        window = ctx->layers[l]->RepurchaseWindow(category);
        rule = ctx->layers[l]->repurchase_name();
      }
      if (!window || *window <= 0) continue;
      if (static_cast<double>(e.age_ms) < *window * 1000.0) {
        Remove(ctx, e.candidate_slot, v1::REASON_CODE_RECENTLY_PURCHASED, rule);
      }
    }
  }
}

void ApplyBoosts(ScoringContext* ctx) {
  const int32_t num_slots = static_cast<int32_t>(ctx->candidates.size());
  for (int l = 0; l < ctx->num_layers; ++l) {
    const RuleSet& layer = *ctx->layers[l];
    if (layer.boosts().empty()) continue;
    if (layer.uses_categories()) SlotCategories(ctx);
    for (const RuleSet::Boost& rule : layer.boosts()) {
      auto apply = [ctx, &rule](int32_t s) {
        CandidateSlot& c = ctx->candidates[s];
        if (c.dropped) return;
        // Multiplicative rules scale the magnitude, so that a factor > 1
        // raises and < 1 lowers a negative score too (a plain product would
        // bury a negative score it was meant to boost).
        const double delta = rule.multiply
                                 ? std::fabs(c.score) * (rule.value - 1.0)
                                 : rule.value;
        if (delta == 0.0 || !std::isfinite(delta)) return;
        c.rules += delta;
        // Recomputed from the parts, in their fixed order, so that the
        // explanation's parts add up to the score exactly.
        c.score =
            c.base + c.factor + c.boost + c.demotion + c.rules + c.learned;
        AddReason(ctx, s,
                  delta > 0 ? v1::REASON_CODE_BOOSTED : v1::REASON_CODE_BURIED,
                  rule.name, delta);
      };
      switch (rule.target) {
        case RuleSet::Boost::Target::kItem: {
          const int32_t s = SlotOfItem(*ctx, rule.key);
          if (s >= 0) apply(s);
          break;
        }
        case RuleSet::Boost::Target::kCategory:
          for (int32_t s = 0; s < num_slots; ++s) {
            if (ctx->categories[s] == rule.key) apply(s);
          }
          break;
        case RuleSet::Boost::Target::kAttribute:
          for (int32_t s = 0; s < num_slots; ++s) {
            const v1::Candidate& candidate =
                ctx->request.candidates(ctx->candidates[s].input_position);
            if (candidate.attributes_size() > 0 &&
                HasAttribute(candidate, rule.key)) {
              apply(s);
            }
          }
          break;
      }
    }
  }
}

bool NeedsFullOrder(const ScoringContext& ctx) {
  if (ctx.num_layers == 0) return false;
  return !ctx.pins.empty() || HasCaps(ctx) || ResolveDiversity(ctx).active;
}

void Diversify(ScoringContext* ctx) {
  const DiversityParams d = ResolveDiversity(*ctx);
  if (!d.active) return;
  std::vector<int32_t>& order = ctx->order;
  const size_t pool = std::min<size_t>(
      d.pool.value_or(static_cast<uint64_t>(d.top) * 5), order.size());
  const size_t top = std::min<size_t>(d.top, pool);
  if (top < 2) return;  // the first pick is always the best-scored item

  // Relevance: scores min-max normalised over the pool, so that lambda
  // weighs two quantities on the same [0, 1] scale whatever the weights.
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (size_t i = 0; i < pool; ++i) {
    const double s = ctx->candidates[order[i]].score;
    lo = std::min(lo, s);
    hi = std::max(hi, s);
  }
  const double span = hi - lo;
  // Unit item vectors (zero for items without factors: similar to none).
  const int dim = ctx->model.dim();
  std::vector<float> unit(pool * dim, 0.0f);
  std::vector<double> relevance(pool);
  for (size_t i = 0; i < pool; ++i) {
    const CandidateSlot& c = ctx->candidates[order[i]];
    relevance[i] =
        span > 0 && std::isfinite(span) ? (c.score - lo) / span : 1.0;
    if (c.item_row < 0) continue;
    Eigen::Map<Eigen::VectorXf> v(unit.data() + i * dim, dim);
    // A copy in any dtype (float32: each value times 1.0f, exact).
    DecodeRow(ctx->model.ItemMatrix(), c.item_row, v.data());
    const float norm = v.norm();
    if (norm > 0) v /= norm;
  }
  // Greedy MMR: argmax lambda * rel - (1 - lambda) * max sim to the picked.
  std::vector<double> max_sim(pool, -std::numeric_limits<double>::infinity());
  std::vector<char> picked(pool, 0);
  std::vector<int32_t> picks;
  picks.reserve(pool);
  for (size_t k = 0; k < top; ++k) {
    size_t best = pool;
    double best_value = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < pool; ++i) {
      if (picked[i]) continue;
      const double penalty = k == 0 ? 0.0 : max_sim[i];
      const double value = d.lambda * relevance[i] - (1.0 - d.lambda) * penalty;
      if (best == pool || value > best_value) {  // ties: the earlier
        best = i;
        best_value = value;
      }
    }
    picked[best] = 1;
    picks.push_back(static_cast<int32_t>(best));
    const Eigen::Map<const Eigen::VectorXf> b(unit.data() + best * dim, dim);
    for (size_t i = 0; i < pool; ++i) {
      if (picked[i]) continue;
      const Eigen::Map<const Eigen::VectorXf> v(unit.data() + i * dim, dim);
      max_sim[i] = std::max(max_sim[i], static_cast<double>(v.dot(b)));
    }
  }
  // New order: the picks, then the rest of the pool in score order, then
  // everything after the pool unchanged.
  // `picks` becomes the old position of every new position in the pool.
  for (size_t i = 0; i < pool; ++i) {
    if (!picked[i]) picks.push_back(static_cast<int32_t>(i));
  }
  std::vector<int32_t>& before = ctx->scratch;
  before.assign(order.begin(), order.begin() + pool);
  for (size_t pos = 0; pos < pool; ++pos) {
    const size_t old = static_cast<size_t>(picks[pos]);
    const int32_t slot = before[old];
    order[pos] = slot;
    if (old == pos) continue;
    AddReason(ctx, slot,
              pos < old ? v1::REASON_CODE_DIVERSITY_PROMOTED
                        : v1::REASON_CODE_DIVERSITY_DEMOTED,
              d.rule, 0.0, static_cast<int32_t>(old),
              static_cast<int32_t>(pos));
  }
}

void ApplyCaps(ScoringContext* ctx) {
  std::vector<const RuleSet::Cap*> caps;
  bool by_category = false;
  for (int l = 0; l < ctx->num_layers; ++l) {
    for (const RuleSet::Cap& cap : ctx->layers[l]->caps()) {
      caps.push_back(&cap);
      by_category |= !cap.by_group;
    }
  }
  if (caps.empty()) return;
  if (by_category) SlotCategories(ctx);
  std::vector<int32_t>& order = ctx->order;
  const size_t n = order.size();
  size_t window = 0;
  for (const RuleSet::Cap* cap : caps) {
    window = std::max<size_t>(window, static_cast<size_t>(cap->within_top));
  }
  window = std::min(window, n);

  auto value_of = [ctx](const RuleSet::Cap& cap,
                        int32_t slot) -> absl::string_view {
    if (!cap.by_group) return ctx->categories[slot];
    const v1::Candidate& candidate =
        ctx->request.candidates(ctx->candidates[slot].input_position);
    return candidate.has_group_id() ? absl::string_view(candidate.group_id())
                                    : absl::string_view();
  };
  auto capped = [&](const RuleSet::Cap& cap, absl::string_view v) {
    return !v.empty() && (cap.value.empty() || v == cap.value);
  };
  std::vector<absl::flat_hash_map<absl::string_view, int32_t>> counts(
      caps.size());
  // The first cap each item was passed over for, -1 if none.
  std::vector<int32_t> passed_over(n, -1);
  std::vector<int32_t> new_pos_of(n, -1);  // by old position
  std::vector<char> taken(n, 0);
  std::vector<int32_t> result;
  result.reserve(n);
  size_t head = 0;  // first item not yet taken
  // Greedy over positions: each position of the window takes the first
  // remaining item (in current order) that breaks no cap applying at that
  // position. Applying all caps jointly, rather than one after another, is
  // what keeps a later cap from pulling items of an earlier cap's value back
  // into its window.
  for (size_t pos = 0; pos < window; ++pos) {
    size_t chosen = n;
    for (size_t i = head; i < n; ++i) {
      if (taken[i]) continue;
      int32_t broken = -1;
      for (size_t c = 0; c < caps.size() && broken < 0; ++c) {
        const RuleSet::Cap& cap = *caps[c];
        if (pos >= static_cast<size_t>(cap.within_top)) continue;
        const absl::string_view v = value_of(cap, order[i]);
        if (!capped(cap, v)) continue;
        auto it = counts[c].find(v);
        if (it != counts[c].end() ? it->second >= cap.max_items
                                  : cap.max_items == 0) {
          broken = static_cast<int32_t>(c);
        }
      }
      if (broken < 0) {
        chosen = i;
        break;
      }
      if (passed_over[i] < 0) passed_over[i] = broken;
    }
    // Only capped items remain: they fill the window in score order (a cap
    // never leaves a position empty).
    if (chosen == n) chosen = head;
    taken[chosen] = 1;
    new_pos_of[chosen] = static_cast<int32_t>(result.size());
    result.push_back(order[chosen]);
    for (size_t c = 0; c < caps.size(); ++c) {
      const RuleSet::Cap& cap = *caps[c];
      if (pos >= static_cast<size_t>(cap.within_top)) continue;
      const absl::string_view v = value_of(cap, order[chosen]);
      if (capped(cap, v)) ++counts[c][v];
    }
    while (head < n && taken[head]) ++head;
  }
  for (size_t i = head; i < n; ++i) {
    if (taken[i]) continue;
    new_pos_of[i] = static_cast<int32_t>(result.size());
    result.push_back(order[i]);
  }
  // Reasons for the items the caps pushed down.
  for (size_t i = 0; i < n; ++i) {
    if (passed_over[i] < 0 || new_pos_of[i] <= static_cast<int32_t>(i)) {
      continue;
    }
    AddReason(ctx, order[i], v1::REASON_CODE_CAPPED, caps[passed_over[i]]->name,
              0.0, static_cast<int32_t>(i), new_pos_of[i]);
  }
  order.swap(result);
}

void ApplyPins(ScoringContext* ctx) {
  if (ctx->pins.empty()) return;
  std::vector<int32_t>& order = ctx->order;
  // Pins whose item a filter removed do not apply: filters run first.
  std::vector<ResolvedPin> pins;
  for (const ResolvedPin& pin : ctx->pins) {
    if (!ctx->candidates[pin.slot].dropped) pins.push_back(pin);
  }
  if (pins.empty()) return;
  std::vector<int32_t> from(pins.size(), -1);
  for (size_t pos = 0; pos < order.size(); ++pos) {
    for (size_t p = 0; p < pins.size(); ++p) {
      if (order[pos] == pins[p].slot) from[p] = static_cast<int32_t>(pos);
    }
  }
  std::vector<int32_t>& rest = ctx->scratch;
  rest.clear();
  for (const int32_t slot : order) {
    bool pinned = false;
    for (const ResolvedPin& pin : pins) pinned |= pin.slot == slot;
    if (!pinned) rest.push_back(slot);
  }
  // Ascending slot order: each insertion lands exactly at its slot while
  // the list is long enough; past its end (the list shrank through
  // filters, or a profile pin beyond the list), at the end.
  std::vector<size_t> by_position(pins.size());
  for (size_t p = 0; p < pins.size(); ++p) by_position[p] = p;
  std::stable_sort(by_position.begin(), by_position.end(),
                   [&pins](size_t a, size_t b) {
                     return pins[a].position < pins[b].position;
                   });
  order.assign(rest.begin(), rest.end());
  std::vector<int32_t> to(pins.size());
  for (const size_t p : by_position) {
    const size_t at = std::min<size_t>(pins[p].position, order.size());
    order.insert(order.begin() + at, pins[p].slot);
    to[p] = static_cast<int32_t>(at);
  }
  for (size_t p = 0; p < pins.size(); ++p) {
    AddReason(ctx, pins[p].slot, v1::REASON_CODE_PINNED, pins[p].rule, 0.0,
              from[p], to[p]);
  }
}

void ApplyTopK(uint32_t top_k, ScoringContext* ctx) {
  if (top_k != 0 && top_k < ctx->order.size()) ctx->order.resize(top_k);
}

}  // namespace rerank::scoring_internal
