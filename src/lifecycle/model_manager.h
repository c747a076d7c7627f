// The model lifecycle (src/lifecycle, library rerank_lifecycle).
//
// Owns what happens to a model between its directory on disk and the
// snapshot a request scores against: ModelStore holds the served snapshot
// (model_store.h); ModelManager resolves a model directory under the model
// root, loads and validates it, warms it up (warmup.h) and swaps it in,
// keeping the old one on any error; SnapshotReclaimer frees retired
// snapshots on a thread of its own. No gRPC here: src/service is the RPC
// layer on top (Reranker, ModelAdmin), and the concurrency tests of this
// folder run under ThreadSanitizer. Everything here is thread-safe.

#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lifecycle/model_store.h"
#include "model/model_loader.h"
#include "model/model_snapshot.h"

namespace rerank {

// What one successful Reload did; ModelAdmin reports it to the operator.
struct ReloadResult {
  std::shared_ptr<const ModelSnapshot> model;     // now served; never null
  std::shared_ptr<const ModelSnapshot> previous;  // replaced; null if none
  std::string dir;                                // absolute, resolved
  double load_seconds = 0;                        // resolve + load + validate
  double warmup_seconds = 0;  // warm-up, after load_seconds, before the swap
  int warmup_requests = 0;    // synthetic requests the warmer scored
};

// What a ModelManager warmer reports (see ModelManagerHooks::warmer).
struct WarmupOutcome {
  int requests = 0;
};

// Resolves `model_dir` (relative to `model_root`) to an absolute path with
// every symlink resolved, and refuses with INVALID_ARGUMENT anything that
// ends up outside the root: absolute paths, "..", symlinks pointing out.
// NOT_FOUND if the directory does not exist.
absl::StatusOr<std::string> ResolveModelDir(absl::string_view model_root,
                                            absl::string_view model_dir);

struct ModelManagerHooks;

// Frees retired model snapshots on a thread of its own.
//
// Why: after a reload swaps models, the old snapshot is freed by whoever
// drops its last reference -- often a serving thread whose call was in
// flight during the swap. For a 10M-user model that is 0.1-0.2 s of free()
// and munmap() on a thread that has calls queued behind it.
//
// Adopt(owner) returns a shared_ptr to the same snapshot whose control block
// holds `owner` in its deleter. When the last copy of the returned pointer
// goes away, on whatever thread, the deleter only moves `owner` onto a queue
// (a lock and a notify; nothing is freed there) and the reclaimer thread
// drops it, running the destructor -- unless something else still holds a
// copy of `owner` itself, in which case that copy decides. The handoff goes
// through the queue's mutex, so the destructor happens-after every reader's
// last use (ThreadSanitizer sees it too).
//
// Destroying the reclaimer frees what is queued and joins the thread;
// adopted pointers released after that are freed on the releasing thread.
// Thread-safe.
class SnapshotReclaimer {
 public:
  SnapshotReclaimer();
  ~SnapshotReclaimer();
  SnapshotReclaimer(const SnapshotReclaimer&) = delete;
  SnapshotReclaimer& operator=(const SnapshotReclaimer&) = delete;

  // Null for null.
  std::shared_ptr<const ModelSnapshot> Adopt(
      std::shared_ptr<const ModelSnapshot> owner);

 private:
  struct Queue {
    std::mutex mu;
    std::condition_variable wake;
    std::vector<std::shared_ptr<const ModelSnapshot>> retired;  // guarded
    bool stopped = false;                                       // guarded
    // Called by the adopted pointers' deleters.
    void Retire(std::shared_ptr<const ModelSnapshot> owner);
  };
  static void Run(Queue* queue);

  // Shared with every adopted pointer's deleter, which may outlive this.
  const std::shared_ptr<Queue> queue_;
  std::thread thread_;
};

// Owns the ModelStore and the model lifecycle: loads a model directory under
// the configured root, validates it, warms it up, and swaps it in.
// Thread-safe; reloads are serialized (a second Reload waits for the first)
// while readers of the store are never blocked by a load.
//
// Directory replaced during a load: the loader opens the resolved directory
// once and reads every file relative to that handle, each checked against
// the manifest's sha256. So renaming or re-pointing the path mid-load yields
// the complete model that was there when the load opened it (old or new,
// never a mix), and a file swapped inside the directory after the manifest
// was read fails its checksum (DATA_LOSS, old model keeps serving). The
// resolved directory is checked again after the load: a path turned into a
// link out of the root meanwhile is refused too. Files of a served model
// are read into private memory at load (LoadOptions::copy_max_bytes, config
// model_copy_max_bytes), so rewriting, truncating or deleting them does not
// reach the served snapshot; only files above that limit stay memory-mapped,
// and those must never be rewritten in place.
class ModelManager {
 public:
  // Called after each successful swap, outside any lock (e.g. to flip health
  // to SERVING).
  using OnLoaded = std::function<void(const ModelSnapshot& model)>;
  // Called after every Reload, successful or not, with the reload lock held:
  // calls are ordered like the swaps (so "last call = served model"). Must
  // be quick and must not call Reload. For metrics.
  using OnReloadDone =
      std::function<void(const absl::StatusOr<ReloadResult>& result)>;
  // The loader; replaceable in tests (a fake that blocks or fails).
  using Loader =
      std::function<absl::StatusOr<std::shared_ptr<const ModelSnapshot>>(
          const std::string& dir)>;
  // Runs on every loaded model before it is swapped in (and so before the
  // first SERVING), with the reload lock held. Cannot refuse the model.
  using Warmer = std::function<WarmupOutcome(const ModelSnapshot& model)>;

  // `model_root` must exist; it is canonicalized once here.
  static absl::StatusOr<std::unique_ptr<ModelManager>> Create(
      const std::string& model_root, ModelManagerHooks hooks);
  static absl::StatusOr<std::unique_ptr<ModelManager>> Create(
      const std::string& model_root, OnLoaded on_loaded = nullptr,
      Loader loader = nullptr);

  // Loads `model_dir` (relative to the root) and makes it the served model.
  // On any error the previously served model stays. Returns the new snapshot.
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> Reload(
      absl::string_view model_dir);

  // Reload, also returning the replaced model and the load time. Logs the
  // outcome: info on success (version, dir, seconds), warn on refusal.
  // Sequence: resolve under the root, load and validate, check the loaded
  // directory is still under the root, warm up, swap, on_reload_done (under
  // the lock), log, on_loaded.
  //
  // on_loaded runs after the swap with no lock held (as promised above), so
  // when two reloads race their callbacks may run in either order; a callback
  // that needs "the model served now" should read store().Get().
  absl::StatusOr<ReloadResult> ReloadWithResult(absl::string_view model_dir);

  const ModelStore& store() const { return store_; }
  const std::string& model_root() const { return model_root_; }

 private:
  ModelManager(std::string model_root, ModelManagerHooks hooks);

  absl::StatusOr<ReloadResult> LoadAndSwapLocked(absl::string_view model_dir);

  const std::string model_root_;
  const OnLoaded on_loaded_;
  const OnReloadDone on_reload_done_;
  const Loader loader_;
  const Warmer warmer_;
  // Serializes Reload; never held by readers. std::mutex for the same
  // ThreadSanitizer reason as ModelStore's.
  std::mutex reload_mu_;
  // Every snapshot the store serves is adopted by it, so no serving thread
  // ever runs a model's destructor. Declared before store_: destroyed after
  // it, so the served model is handed over (and freed) at shutdown too.
  SnapshotReclaimer reclaimer_;
  ModelStore store_;
};

// Everything optional: null members are skipped (loader: LoadModel).
struct ModelManagerHooks {
  ModelManager::Loader loader;
  ModelManager::Warmer warmer;
  ModelManager::OnLoaded on_loaded;
  ModelManager::OnReloadDone on_reload_done;
};

}  // namespace rerank
