#pragma once

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "model/model_snapshot.h"

namespace rerank {

// Holds the model being served. Thread-safe. The mutex guards only the
// pointer: readers copy the shared_ptr (one atomic increment) and then work
// on the immutable snapshot without any lock, so a request finishes on the
// snapshot it started with even if a reload swaps in another meanwhile; the
// old snapshot is freed when its last request drops it.
class ModelStore {
 public:
  // nullptr when no model has been loaded yet.
  std::shared_ptr<const ModelSnapshot> Get() const {
    absl::MutexLock lock(&mu_);
    return current_;
  }

  // Installs `next` and returns the snapshot it replaced (maybe nullptr).
  std::shared_ptr<const ModelSnapshot> Swap(
      std::shared_ptr<const ModelSnapshot> next) {
    absl::MutexLock lock(&mu_);
    current_.swap(next);
    return next;
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const ModelSnapshot> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rerank
