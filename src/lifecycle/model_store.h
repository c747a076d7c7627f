#pragma once

#include <memory>
#include <mutex>

#include "model/model_snapshot.h"

namespace rerank {

// Holds the model being served. Thread-safe. The mutex guards only the
// pointer: readers copy the shared_ptr (one atomic increment) and then work
// on the immutable snapshot without any lock, so a request finishes on the
// snapshot it started with even if a reload swaps in another meanwhile; the
// old snapshot is released when its last request drops it. Snapshots
// installed by ModelManager are adopted by its SnapshotReclaimer, so that
// last release only queues the snapshot and a background thread frees it:
// a serving thread never pays for unmapping a large model.
//
// std::mutex rather than absl::Mutex: Debian's Abseil is not built with
// ThreadSanitizer annotations, so TSan cannot see absl::Mutex's
// happens-before edges and would report the (correctly locked) pointer copy
// as a race. pthread mutexes are intercepted by TSan.
class ModelStore {
 public:
  // nullptr when no model has been loaded yet.
  std::shared_ptr<const ModelSnapshot> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }

  // Installs `next` and returns the snapshot it replaced (maybe nullptr).
  std::shared_ptr<const ModelSnapshot> Swap(
      std::shared_ptr<const ModelSnapshot> next) {
    std::lock_guard<std::mutex> lock(mu_);
    current_.swap(next);
    return next;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const ModelSnapshot> current_;  // guarded by mu_
};

}  // namespace rerank
