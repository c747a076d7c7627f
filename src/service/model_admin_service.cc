#include "service/model_admin_service.h"

#include <string>
#include <utility>

#include "common/status_macros.h"
#include "service/grpc_status.h"
#include "service/model_info.h"

namespace rerank {

absl::StatusOr<std::unique_ptr<ModelAdminService>> ModelAdminService::Create(
    ModelManager* manager, const ModelStore& store) {
  return std::unique_ptr<ModelAdminService>(
      new ModelAdminService(manager, store));
}

ModelAdminService::ModelAdminService(ModelManager* manager,
                                     const ModelStore& store)
    : manager_(manager), store_(store) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

ModelAdminService::~ModelAdminService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_or_stop_.notify_one();
  worker_.join();
}

void ModelAdminService::WorkerLoop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_or_stop_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Drain before stopping so no accepted call is left unfinished.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

grpc::ServerUnaryReactor* ModelAdminService::Reload(
    grpc::CallbackServerContext* context, const v1::ReloadRequest* request,
    v1::ReloadResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // `request` and `response` stay valid until Finish, which the task calls.
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back([this, reactor, request, response] {
      absl::StatusOr<v1::ReloadResponse> result = HandleReload(*request);
      if (result.ok()) *response = *std::move(result);
      reactor->Finish(ToGrpcStatus(result.status()));
    });
  }
  work_or_stop_.notify_one();
  return reactor;
}

grpc::ServerUnaryReactor* ModelAdminService::GetModelInfo(
    grpc::CallbackServerContext* context,
    const v1::GetModelInfoRequest* /*request*/, v1::ModelInfo* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<v1::ModelInfo> info = HandleGetModelInfo();
  if (info.ok()) *response = *std::move(info);
  reactor->Finish(ToGrpcStatus(info.status()));
  return reactor;
}

absl::StatusOr<v1::ReloadResponse> ModelAdminService::HandleReload(
    const v1::ReloadRequest& request) {
  if (manager_ == nullptr) {
    return absl::FailedPreconditionError(
        "Reload needs a model root; none is configured (model_root)");
  }
  ASSIGN_OR_RETURN(ReloadResult result,
                   manager_->ReloadWithResult(request.model_dir()));
  v1::ReloadResponse response;
  *response.mutable_model() = ModelInfoFromSnapshot(*result.model);
  if (result.previous != nullptr) {
    response.set_previous_version(result.previous->version());
  }
  response.set_load_seconds(result.load_seconds);
  return response;
}

absl::StatusOr<v1::ModelInfo> ModelAdminService::HandleGetModelInfo() const {
  const std::shared_ptr<const ModelSnapshot> model = store_.Get();
  if (model == nullptr) return absl::UnavailableError("no model loaded");
  return ModelInfoFromSnapshot(*model);
}

}  // namespace rerank
