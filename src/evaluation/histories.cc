#include "evaluation/histories.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rerank {

UserHistories BuildUserHistories(absl::Span<const Interaction> log) {
  UserHistories h;
  std::vector<int32_t> slot_of(log.size());
  for (size_t i = 0; i < log.size(); ++i) {
    auto [it, inserted] =
        h.slot.try_emplace(log[i].user_id, static_cast<int32_t>(h.slot.size()));
    slot_of[i] = it->second;
  }
  h.order.resize(log.size());
  std::iota(h.order.begin(), h.order.end(), 0);
  std::sort(h.order.begin(), h.order.end(), [&](int64_t a, int64_t b) {
    if (slot_of[a] != slot_of[b]) return slot_of[a] < slot_of[b];
    if (log[a].timestamp != log[b].timestamp) {
      return log[a].timestamp < log[b].timestamp;
    }
    return a < b;
  });
  h.indptr.assign(h.slot.size() + 1, 0);
  for (size_t i = 0; i < log.size(); ++i) ++h.indptr[slot_of[i] + 1];
  for (size_t s = 0; s < h.slot.size(); ++s) h.indptr[s + 1] += h.indptr[s];
  return h;
}

int64_t ToMillis(double unix_seconds) {
  return std::llround(unix_seconds * 1000.0);
}

v1::EventType ToProtoEventType(EventType type) {
  switch (type) {
    case EventType::kView:
      return v1::EVENT_TYPE_VIEW;
    case EventType::kClick:
      return v1::EVENT_TYPE_CLICK;
    case EventType::kAddToCart:
      return v1::EVENT_TYPE_ADD_TO_CART;
    case EventType::kPurchase:
      return v1::EVENT_TYPE_PURCHASE;
    case EventType::kWishlist:
      return v1::EVENT_TYPE_ADD_TO_WISHLIST;
  }
  return v1::EVENT_TYPE_UNSPECIFIED;
}

}  // namespace rerank
