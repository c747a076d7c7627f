#include "lifecycle/model_manager.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "model/file_util.h"
#include "spdlog/spdlog.h"

namespace rerank {
namespace {

// realpath(3): absolute, no ".", "..", or symlinks. Errors keep errno's
// meaning (ENOENT/ENOTDIR -> NOT_FOUND, EACCES -> PERMISSION_DENIED, ...).
absl::StatusOr<std::string> RealPath(const std::string& path,
                                     absl::string_view what) {
  std::unique_ptr<char, decltype(&free)> resolved(
      realpath(path.c_str(), nullptr), &free);
  if (resolved == nullptr) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat(what, " does not exist"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat(what, " cannot be resolved"));
  }
  return std::string(resolved.get());
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// model_dir comes from an RPC: quote it escaped so a hostile value cannot
// forge log lines or break JSON output.
std::string Quoted(absl::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

// Status text for a log line: some loader messages quote multi-line parser
// output, and a text-format log line must stay one line.
std::string OneLine(const absl::Status& status) {
  std::string text = status.ToString();
  absl::c_replace(text, '\n', ' ');
  return text;
}

}  // namespace

absl::StatusOr<std::string> ResolveModelDir(absl::string_view model_root,
                                            absl::string_view model_dir) {
  const std::string quoted = Quoted(model_dir);
  if (model_dir.empty()) {
    return absl::InvalidArgumentError("model_dir is empty");
  }
  if (model_dir.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("model_dir ", quoted, " contains a NUL byte"));
  }
  if (model_dir.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("model_dir ", quoted,
                     " is absolute; it must be relative to the "
                     "model root"));
  }
  // Refused lexically even when "a/../b" would stay inside: there is no
  // legitimate use, and it keeps the rule simple to state and to audit.
  for (absl::string_view part : absl::StrSplit(model_dir, '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("model_dir ", quoted, " must not contain \"..\""));
    }
  }
  if (model_root.empty()) {
    return absl::FailedPreconditionError("no model root is configured");
  }
  ASSIGN_OR_RETURN(const std::string root,
                   RealPath(std::string(model_root), "model root"));
  ASSIGN_OR_RETURN(
      const std::string resolved,
      RealPath(absl::StrCat(root, "/", model_dir),
               absl::StrCat("model_dir ", quoted, " under the model root")));
  // The lexical checks above cannot see symlinks; this catches a link (at any
  // depth) that points outside the root.
  if (!IsUnder(resolved, root)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model_dir ", quoted, " resolves outside the model root"));
  }
  if (!IsDirectory(resolved)) {
    return absl::NotFoundError(
        absl::StrCat("model_dir ", quoted, " is not a directory"));
  }
  return resolved;
}

SnapshotReclaimer::SnapshotReclaimer()
    : queue_(std::make_shared<Queue>()), thread_(Run, queue_.get()) {}

SnapshotReclaimer::~SnapshotReclaimer() {
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->stopped = true;
  }
  queue_->wake.notify_one();
  thread_.join();
}

void SnapshotReclaimer::Queue::Retire(
    std::shared_ptr<const ModelSnapshot> owner) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!stopped) {
      retired.push_back(std::move(owner));
      wake.notify_one();
      return;
    }
  }
  // The reclaimer is gone (shutdown): free here, outside the lock.
  owner.reset();
}

void SnapshotReclaimer::Run(Queue* queue) {
  std::vector<std::shared_ptr<const ModelSnapshot>> batch;
  std::unique_lock<std::mutex> lock(queue->mu);
  while (true) {
    queue->wake.wait(
        lock, [queue] { return queue->stopped || !queue->retired.empty(); });
    batch.swap(queue->retired);
    const bool stop = queue->stopped;
    // Destructors run without the lock: a release on a serving thread must
    // never wait behind a 0.1 s free.
    lock.unlock();
    batch.clear();
    if (stop) return;  // after `stopped`, Retire frees inline
    lock.lock();
  }
}

std::shared_ptr<const ModelSnapshot> SnapshotReclaimer::Adopt(
    std::shared_ptr<const ModelSnapshot> owner) {
  if (owner == nullptr) return nullptr;
  struct HandOff {
    std::shared_ptr<Queue> queue;
    std::shared_ptr<const ModelSnapshot> owner;
    void operator()(const ModelSnapshot*) { queue->Retire(std::move(owner)); }
  };
  const ModelSnapshot* raw = owner.get();
  return std::shared_ptr<const ModelSnapshot>(
      raw, HandOff{queue_, std::move(owner)});
}

absl::StatusOr<std::unique_ptr<ModelManager>> ModelManager::Create(
    const std::string& model_root, OnLoaded on_loaded, Loader loader) {
  ModelManagerHooks hooks;
  hooks.on_loaded = std::move(on_loaded);
  hooks.loader = std::move(loader);
  return Create(model_root, std::move(hooks));
}

absl::StatusOr<std::unique_ptr<ModelManager>> ModelManager::Create(
    const std::string& model_root, ModelManagerHooks hooks) {
  if (model_root.empty()) {
    return absl::InvalidArgumentError("model_root is empty");
  }
  ASSIGN_OR_RETURN(
      std::string root,
      RealPath(model_root, absl::StrCat("model_root ", Quoted(model_root))));
  if (!IsDirectory(root)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model_root ", Quoted(model_root), " is not a directory"));
  }
  if (hooks.loader == nullptr) {
    hooks.loader = [](const std::string& dir) { return LoadModel(dir); };
  }
  return std::unique_ptr<ModelManager>(
      new ModelManager(std::move(root), std::move(hooks)));
}

ModelManager::ModelManager(std::string model_root, ModelManagerHooks hooks)
    : model_root_(std::move(model_root)),
      on_loaded_(std::move(hooks.on_loaded)),
      on_reload_done_(std::move(hooks.on_reload_done)),
      loader_(std::move(hooks.loader)),
      warmer_(std::move(hooks.warmer)) {}

absl::StatusOr<std::shared_ptr<const ModelSnapshot>> ModelManager::Reload(
    absl::string_view model_dir) {
  ASSIGN_OR_RETURN(ReloadResult result, ReloadWithResult(model_dir));
  return std::move(result.model);
}

absl::StatusOr<ReloadResult> ModelManager::LoadAndSwapLocked(
    absl::string_view model_dir) {
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(const std::string dir,
                   ResolveModelDir(model_root_, model_dir));
  ASSIGN_OR_RETURN(std::shared_ptr<const ModelSnapshot> model, loader_(dir));
  if (model == nullptr) {
    return absl::InternalError(
        absl::StrCat("loader returned no model for ", Quoted(model_dir)));
  }
  // ResolveModelDir checked the path, but the loader resolves it again when
  // it opens it: a directory swapped for a link out of the root in between
  // would be read from outside. Check where it actually read from (fakes in
  // tests leave source_dir empty).
  const std::string& source = model->metadata().source_dir;
  if (!source.empty() && !IsUnder(source, model_root_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model_dir ", Quoted(model_dir),
                     " resolved outside the model root while loading (now ",
                     Quoted(source), ")"));
  }
  // From here on the last reference may be dropped anywhere (a serving
  // thread, after the next swap): make sure it is not freed there.
  model = reclaimer_.Adopt(std::move(model));
  ReloadResult ok;
  ok.load_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (warmer_) {
    const absl::Time warm_start = absl::Now();
    ok.warmup_requests = warmer_(*model).requests;
    ok.warmup_seconds = absl::ToDoubleSeconds(absl::Now() - warm_start);
  }
  ok.dir = dir;
  ok.model = model;
  ok.previous = store_.Swap(std::move(model));
  return ok;
}

absl::StatusOr<ReloadResult> ModelManager::ReloadWithResult(
    absl::string_view model_dir) {
  absl::StatusOr<ReloadResult> result;
  {
    // Held across the (slow) load so reloads run one at a time; readers only
    // ever take the store's own mutex, for the pointer copy.
    std::lock_guard<std::mutex> reload_lock(reload_mu_);
    result = LoadAndSwapLocked(model_dir);
    if (on_reload_done_) on_reload_done_(result);
  }

  if (!result.ok()) {
    const std::shared_ptr<const ModelSnapshot> current = store_.Get();
    spdlog::warn("model reload of {} refused ({}), still serving {}",
                 Quoted(model_dir), OneLine(result.status()),
                 current ? Quoted(current->version()) : "no model");
    return result.status();
  }
  const ModelSnapshot& model = *result->model;
  spdlog::info(
      "model {} loaded from {} in {:.3f} s, warmed up with {} requests in "
      "{:.3f} s (was {})",
      Quoted(model.version()), Quoted(result->dir), result->load_seconds,
      result->warmup_requests, result->warmup_seconds,
      result->previous ? Quoted(result->previous->version()) : "no model");
  if (on_loaded_) on_loaded_(model);
  return result;
}

}  // namespace rerank
