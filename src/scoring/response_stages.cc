// The response stages of Rerank (scoring_context.h): the ranked items and
// their explanations and reasons, written into the response, or straight
// into its wire form for RerankWire. README "API" is the contract.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"  // RankerKindToProto
#include "scoring/scoring_context.h"

namespace rerank::scoring_internal {

namespace {

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
  response->set_user_vector_source(ctx.user_source);
  if (ctx.user_source == v1::USER_VECTOR_SOURCE_REQUEST) {
    // Personalised by the caller's vector: not a fallback.
  } else if (ctx.request.user_id().empty()) {
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
