#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "rerank/v1/rerank.pb.h"
#include "training/interaction_log.h"

namespace rerank {

// Every user's interactions of a log in time order: what a test case (in
// rerank-eval) or a training list (in rerank-train) looks back into for its
// events. Refers to the log's user ids: the log must outlive it. Immutable
// after BuildUserHistories; safe to read from many threads.
struct UserHistories {
  absl::flat_hash_map<absl::string_view, int32_t> slot;  // user id -> slot
  std::vector<int64_t> indptr;  // slot -> range of `order`
  std::vector<int64_t> order;   // log indices, by (slot, timestamp, index)
};

UserHistories BuildUserHistories(absl::Span<const Interaction> log);

// A log timestamp (Unix seconds) as the API's milliseconds, rounded.
int64_t ToMillis(double unix_seconds);

// The API's event type of a log's.
v1::EventType ToProtoEventType(EventType type);

}  // namespace rerank
