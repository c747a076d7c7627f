#include "training/interaction_matrix.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rerank {
namespace {

// Assigns dense rows to ids in sorted order. `ids` views into the log.
class IdTable {
 public:
  int32_t Add(std::string_view id) {
    auto [it, inserted] =
        index_.try_emplace(id, static_cast<int32_t>(index_.size()));
    return it->second;
  }
  size_t size() const { return index_.size(); }

  // Sorted ids and the map from insertion index to sorted row.
  void Finish(std::vector<std::string>& sorted_ids,
              std::vector<int32_t>& remap) const {
    std::vector<std::string_view> ids(index_.size());
    for (const auto& [id, k] : index_) ids[k] = id;
    std::vector<int32_t> order(ids.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return ids[a] < ids[b]; });
    sorted_ids.resize(ids.size());
    remap.resize(ids.size());
    for (size_t row = 0; row < order.size(); ++row) {
      sorted_ids[row] = std::string(ids[order[row]]);
      remap[order[row]] = static_cast<int32_t>(row);
    }
  }

 private:
  absl::flat_hash_map<std::string_view, int32_t> index_;
};

struct Entry {
  int32_t user;
  int32_t item;
  double weight;
  double last_timestamp;
  EventTypeMask types;
};

}  // namespace

int64_t InteractionMatrix::EventsOfTypes(EventTypeMask mask) const {
  int64_t n = 0;
  for (int k = 0; k < kNumEventTypes; ++k) {
    if ((mask & EventTypeBit(static_cast<EventType>(k))) != 0) {
      n += events_by_type[k];
    }
  }
  return n;
}

float EventWeights::Get(EventType type) const {
  switch (type) {
    case EventType::kView:
      return view;
    case EventType::kClick:
      return click;
    case EventType::kAddToCart:
      return add_to_cart;
    case EventType::kPurchase:
      return purchase;
    case EventType::kWishlist:
      return wishlist;
  }
  return 0;
}

absl::StatusOr<InteractionMatrix> BuildInteractionMatrix(
    absl::Span<const Interaction> interactions, const EventWeights& weights) {
  for (int k = 0; k < kNumEventTypes; ++k) {
    const float w = weights.Get(static_cast<EventType>(k));
    if (!(w >= 0) || !std::isfinite(w)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "weight of event type ", EventTypeName(static_cast<EventType>(k)),
          " must be finite and >= 0, got ", w));
    }
  }
  InteractionMatrix m;
  IdTable users, items;
  // Pairs keyed by (user, item) in insertion numbering; summed in double so
  // that the result hardly depends on the order of the lines.
  absl::flat_hash_map<uint64_t, int64_t> pair_index;
  std::vector<Entry> entries;
  for (const Interaction& x : interactions) {
    const double w = static_cast<double>(weights.Get(x.event_type)) * x.weight;
    if (!(w > 0)) {
      ++m.zero_weight_events;
      continue;
    }
    ++m.num_events;
    ++m.events_by_type[static_cast<int>(x.event_type)];
    const int32_t u = users.Add(x.user_id);
    const int32_t i = items.Add(x.item_id);
    const uint64_t key =
        (static_cast<uint64_t>(u) << 32) | static_cast<uint32_t>(i);
    auto [it, inserted] =
        pair_index.try_emplace(key, static_cast<int64_t>(entries.size()));
    if (inserted) {
      entries.push_back({u, i, w, x.timestamp, EventTypeBit(x.event_type)});
    } else {
      Entry& e = entries[it->second];
      e.weight += w;
      e.last_timestamp = std::max(e.last_timestamp, x.timestamp);
      e.types |= EventTypeBit(x.event_type);
    }
  }
  if (entries.empty()) {
    return absl::InvalidArgumentError(
        "the log has no event with a positive weight");
  }
  constexpr size_t kMaxRows = std::numeric_limits<int32_t>::max();
  if (users.size() > kMaxRows || items.size() > kMaxRows) {
    return absl::InvalidArgumentError("too many users or items");
  }
  pair_index = {};  // Free it before the CSR arrays are built.

  std::vector<int32_t> user_remap, item_remap;
  users.Finish(m.user_ids, user_remap);
  items.Finish(m.item_ids, item_remap);
  for (Entry& e : entries) {
    e.user = user_remap[e.user];
    e.item = item_remap[e.item];
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.user != b.user ? a.user < b.user : a.item < b.item;
  });

  const size_t nnz = entries.size();
  const int32_t num_users = m.num_users();
  const int32_t num_items = m.num_items();
  m.user_indptr.assign(num_users + 1, 0);
  m.item_index.resize(nnz);
  m.user_weight.resize(nnz);
  m.user_last_timestamp.resize(nnz);
  m.user_event_types.resize(nnz);
  m.item_indptr.assign(num_items + 1, 0);
  for (size_t k = 0; k < nnz; ++k) {
    const Entry& e = entries[k];
    ++m.user_indptr[e.user + 1];
    ++m.item_indptr[e.item + 1];
    m.item_index[k] = e.item;
    m.user_weight[k] = static_cast<float>(e.weight);
    m.user_last_timestamp[k] = e.last_timestamp;
    m.user_event_types[k] = e.types;
  }
  for (int32_t u = 0; u < num_users; ++u) {
    m.user_indptr[u + 1] += m.user_indptr[u];
  }
  for (int32_t i = 0; i < num_items; ++i) {
    m.item_indptr[i + 1] += m.item_indptr[i];
  }
  // Transpose. Entries are in user order, so each item's users come out
  // ascending.
  m.user_index.resize(nnz);
  m.item_weight.resize(nnz);
  std::vector<int64_t> next(m.item_indptr.begin(), m.item_indptr.end() - 1);
  for (size_t k = 0; k < nnz; ++k) {
    const int64_t slot = next[entries[k].item]++;
    m.user_index[slot] = entries[k].user;
    m.item_weight[slot] = m.user_weight[k];
  }
  return m;
}

}  // namespace rerank
