#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"
#include "lifecycle/model_manager.h"
#include "lifecycle/model_store.h"
#include "rerank/v1/rerank.grpc.pb.h"

namespace rerank {

struct ModelAdminServiceOptions {
  // Non-empty: every call must carry "authorization: Bearer <token>"
  // (CheckBearerToken), else UNAUTHENTICATED before anything runs.
  std::string bearer_token;
  // Called once per call with the method ("Reload", "GetModelInfo") and the
  // status sent, on whichever thread finishes the call. For metrics; must be
  // thread-safe and quick.
  std::function<void(absl::string_view method, absl::StatusCode code)> on_call;
};

// rerank.v1.ModelAdmin on gRPC's callback API.
//
// GetModelInfo runs inline. Reload does not: loading a model reads and
// checksums every file (seconds for a large model), and blocking a gRPC
// callback thread that long would stall unrelated calls, so reloads are
// queued to one worker thread owned by this service. One thread is enough
// because ModelManager serializes reloads anyway. A Reload whose client
// gives up still runs to completion (the swap is the side effect the
// operator asked for); only the reply is lost.
//
// With a bearer token configured the token is checked first, inline, on
// every method; refusals are logged (warn, with the peer) and never queued.
//
// Does not own `manager` (may be null: no model root configured, every
// Reload is FAILED_PRECONDITION) or `store`; both must outlive the service.
// Thread-safe. Destroy only after the gRPC server using it has shut down:
// the destructor drains the queue and joins the worker.
class ModelAdminService final : public v1::ModelAdmin::CallbackService {
 public:
  static absl::StatusOr<std::unique_ptr<ModelAdminService>> Create(
      ModelManager* manager, const ModelStore& store,
      ModelAdminServiceOptions options = {});
  ~ModelAdminService() override;

  ModelAdminService(const ModelAdminService&) = delete;
  ModelAdminService& operator=(const ModelAdminService&) = delete;

  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* context,
                                   const v1::ReloadRequest* request,
                                   v1::ReloadResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

  // The handlers without gRPC (what the RPCs run). HandleReload blocks for
  // the duration of the load.
  absl::StatusOr<v1::ReloadResponse> HandleReload(
      const v1::ReloadRequest& request);
  absl::StatusOr<v1::ModelInfo> HandleGetModelInfo() const;

 private:
  ModelAdminService(ModelManager* manager, const ModelStore& store,
                    ModelAdminServiceOptions options);
  void WorkerLoop();
  // OK, or the UNAUTHENTICATED status to send (already logged).
  absl::Status Authorize(const grpc::CallbackServerContext& context,
                         absl::string_view method) const;
  void Finish(grpc::ServerUnaryReactor* reactor, absl::string_view method,
              const absl::Status& status) const;

  ModelManager* const manager_;
  const ModelStore& store_;
  const ModelAdminServiceOptions options_;

  // std::mutex for ThreadSanitizer's sake (see ModelStore).
  std::mutex mu_;
  std::condition_variable work_or_stop_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::thread worker_;  // started last in the constructor, joined in dtor
};

}  // namespace rerank
