#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/model_loader.h"
#include "model/model_snapshot.h"
#include "service/model_store.h"

namespace rerank {

// What one successful Reload did; ModelAdmin reports it to the operator.
struct ReloadResult {
  std::shared_ptr<const ModelSnapshot> model;     // now served; never null
  std::shared_ptr<const ModelSnapshot> previous;  // replaced; null if none
  std::string dir;                                // absolute, resolved
  double load_seconds = 0;                        // resolve + load + validate
};

// Resolves `model_dir` (relative to `model_root`) to an absolute path with
// every symlink resolved, and refuses with INVALID_ARGUMENT anything that
// ends up outside the root: absolute paths, "..", symlinks pointing out.
// NOT_FOUND if the directory does not exist.
absl::StatusOr<std::string> ResolveModelDir(absl::string_view model_root,
                                            absl::string_view model_dir);

// Owns the ModelStore and the model lifecycle: loads a model directory under
// the configured root, validates it, and swaps it in. Thread-safe; reloads
// are serialized (a second Reload waits for the first) while readers of the
// store are never blocked by a load.
class ModelManager {
 public:
  // Called after each successful swap, outside any lock (e.g. to flip health
  // to SERVING, update metrics).
  using OnLoaded = std::function<void(const ModelSnapshot& model)>;
  // The loader; replaceable in tests (a fake that blocks or fails).
  using Loader =
      std::function<absl::StatusOr<std::shared_ptr<const ModelSnapshot>>(
          const std::string& dir)>;

  // `model_root` must exist; it is canonicalized once here.
  static absl::StatusOr<std::unique_ptr<ModelManager>> Create(
      const std::string& model_root, OnLoaded on_loaded = nullptr,
      Loader loader = nullptr);

  // Loads `model_dir` (relative to the root) and makes it the served model.
  // On any error the previously served model stays. Returns the new snapshot.
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> Reload(
      absl::string_view model_dir);

  // Reload, also returning the replaced model and the load time. Logs the
  // outcome: info on success (version, dir, seconds), warn on refusal.
  //
  // on_loaded runs after the swap with no lock held (as promised above), so
  // when two reloads race their callbacks may run in either order; a callback
  // that needs "the model served now" should read store().Get().
  absl::StatusOr<ReloadResult> ReloadWithResult(absl::string_view model_dir);

  const ModelStore& store() const { return store_; }
  const std::string& model_root() const { return model_root_; }

 private:
  ModelManager(std::string model_root, OnLoaded on_loaded, Loader loader);

  const std::string model_root_;
  const OnLoaded on_loaded_;
  const Loader loader_;
  // Serializes Reload; never held by readers. std::mutex for the same
  // ThreadSanitizer reason as ModelStore's.
  std::mutex reload_mu_;
  ModelStore store_;
};

}  // namespace rerank
