#include "service/model_admin_service.h"

#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "common/status_macros.h"
#include "service/admin_auth.h"
#include "service/grpc_status.h"
#include "service/model_info.h"
#include "spdlog/spdlog.h"

namespace rerank {
namespace {

constexpr char kReloadMethod[] = "Reload";
constexpr char kGetModelInfoMethod[] = "GetModelInfo";

}  // namespace

absl::StatusOr<std::unique_ptr<ModelAdminService>> ModelAdminService::Create(
    ModelManager* manager, const ModelStore& store,
    ModelAdminServiceOptions options) {
  return std::unique_ptr<ModelAdminService>(
      new ModelAdminService(manager, store, std::move(options)));
}

ModelAdminService::ModelAdminService(ModelManager* manager,
                                     const ModelStore& store,
                                     ModelAdminServiceOptions options)
    : manager_(manager), store_(store), options_(std::move(options)) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

absl::Status ModelAdminService::Authorize(
    const grpc::CallbackServerContext& context,
    absl::string_view method) const {
  if (options_.bearer_token.empty()) return absl::OkStatus();
  absl::Status status =
      CheckBearerToken(context.client_metadata(), options_.bearer_token);
  if (!status.ok()) {
    spdlog::warn("ModelAdmin.{} from {} refused: {}", std::string(method),
                 absl::CHexEscape(context.peer()),
                 std::string(status.message()));
  }
  return status;
}

void ModelAdminService::Finish(grpc::ServerUnaryReactor* reactor,
                               absl::string_view method,
                               const absl::Status& status) const {
  if (options_.on_call) options_.on_call(method, status.code());
  reactor->Finish(ToGrpcStatus(status));
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
  if (absl::Status auth = Authorize(*context, kReloadMethod); !auth.ok()) {
    Finish(reactor, kReloadMethod, auth);
    return reactor;
  }
  // Operators' calls are rare and worth a line each: who asked for what.
  spdlog::info("ModelAdmin.Reload of \"{}\" requested by {}",
               absl::CHexEscape(request->model_dir()),
               absl::CHexEscape(context->peer()));
  // `request` and `response` stay valid until Finish, which the task calls.
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back([this, reactor, request, response] {
      absl::StatusOr<v1::ReloadResponse> result = HandleReload(*request);
      if (result.ok()) *response = *std::move(result);
      Finish(reactor, kReloadMethod, result.status());
    });
  }
  work_or_stop_.notify_one();
  return reactor;
}

grpc::ServerUnaryReactor* ModelAdminService::GetModelInfo(
    grpc::CallbackServerContext* context,
    const v1::GetModelInfoRequest* /*request*/, v1::ModelInfo* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status auth = Authorize(*context, kGetModelInfoMethod);
      !auth.ok()) {
    Finish(reactor, kGetModelInfoMethod, auth);
    return reactor;
  }
  absl::StatusOr<v1::ModelInfo> info = HandleGetModelInfo();
  if (info.ok()) *response = *std::move(info);
  Finish(reactor, kGetModelInfoMethod, info.status());
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
