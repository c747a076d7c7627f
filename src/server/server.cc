#include "server/server.h"

#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/config.h"
#include "spdlog/spdlog.h"

namespace rerank {
namespace {

// Both are process-wide switches read when a ServerBuilder builds, so flip
// them once, before the first build.
void EnableHealthAndReflection() {
  static std::once_flag once;
  std::call_once(once, [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  });
}

std::string WithPort(const std::string& address, int port) {
  std::string host;
  int unused = 0;
  if (!ParseHostPort(address, &host, &unused).ok()) return address;
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  return absl::StrCat(host, ":", port);
}

void ConfigureBuilder(const v1::ServerConfig& config,
                      grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(
      static_cast<int>(config.limits().max_message_bytes()));
  // gRPC sets SO_REUSEPORT by default on Linux, which lets a second rerankd
  // "bind" the same port and silently split traffic. Fail loudly instead.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RerankServer>> RerankServer::Create(
    const v1::ServerConfig& config, Hooks hooks) {
  std::unique_ptr<RerankServer> server(new RerankServer());
  server->config_ = config;
  ApplyServerConfigDefaults(&server->config_);
  RETURN_IF_ERROR(ValidateServerConfig(server->config_, "config"));
  RETURN_IF_ERROR(server->Start(std::move(hooks)));
  return server;
}

absl::Status RerankServer::Start(Hooks hooks) {
  ASSIGN_OR_RETURN(const ScorerOptions scorer_options,
                   ScorerOptionsFromConfig(config_));

  if (!config_.model_root().empty()) {
    // The callback outlives nothing: reloads stop before `this` is destroyed
    // (the admin worker drains during server shutdown).
    ASSIGN_OR_RETURN(manager_,
                     ModelManager::Create(
                         config_.model_root(),
                         [this](const ModelSnapshot&) { OnModelLoaded(); },
                         std::move(hooks.loader)));
    // Loaded before binding: a bad model stops start-up without ever
    // accepting a connection.
    if (!config_.initial_model().empty()) {
      absl::StatusOr<std::shared_ptr<const ModelSnapshot>> loaded =
          manager_->Reload(config_.initial_model());
      if (!loaded.ok()) {
        return absl::Status(
            loaded.status().code(),
            absl::StrCat("initial_model \"", config_.initial_model(),
                         "\": ", loaded.status().message()));
      }
    }
  }

  ASSIGN_OR_RETURN(
      reranker_service_,
      RerankerService::Create(store(), scorer_options, std::move(hooks.clock),
                              hooks.observer));
  ASSIGN_OR_RETURN(admin_service_,
                   ModelAdminService::Create(manager_.get(), store()));

  EnableHealthAndReflection();
  const bool separate_admin = !config_.admin_listen_address().empty();

  grpc::ServerBuilder builder;
  ConfigureBuilder(config_, &builder);
  builder.AddListeningPort(config_.listen_address(),
                           grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(reranker_service_.get());
  if (!separate_admin) builder.RegisterService(admin_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config_.listen_address(),
                     " (listen_address): address in use or not local?"));
  }
  address_ = WithPort(config_.listen_address(), port_);

  if (separate_admin) {
    grpc::ServerBuilder admin_builder;
    ConfigureBuilder(config_, &admin_builder);
    admin_builder.AddListeningPort(config_.admin_listen_address(),
                                   grpc::InsecureServerCredentials(),
                                   &admin_port_);
    admin_builder.RegisterService(admin_service_.get());
    admin_server_ = admin_builder.BuildAndStart();
    if (admin_server_ == nullptr || admin_port_ == 0) {
      admin_server_.reset();
      server_->Shutdown();
      server_->Wait();
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", config_.admin_listen_address(),
          " (admin_listen_address): address in use or not local?"));
    }
    admin_address_ = WithPort(config_.admin_listen_address(), admin_port_);
  } else {
    admin_port_ = port_;
    admin_address_ = address_;
  }

  absl::MutexLock lock(&mu_);
  started_ = true;
  // The default health service starts "" as SERVING; correct it at once.
  SetHealthLocked(store().Get() != nullptr);
  return absl::OkStatus();
}

RerankServer::~RerankServer() {
  if (server_ == nullptr) return;  // Start failed before serving.
  Shutdown(absl::ZeroDuration());
  Wait();
}

void RerankServer::OnModelLoaded() {
  absl::MutexLock lock(&mu_);
  // Before start the state is set once serving begins; after shutdown began
  // a late reload must not flip anything back to SERVING.
  if (!started_ || shutting_down_) return;
  SetHealthLocked(true);
}

void RerankServer::SetHealthLocked(bool model_loaded) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus("", model_loaded);
    health->SetServingStatus(kRerankerHealthService, model_loaded);
    if (admin_server_ == nullptr) {
      health->SetServingStatus(kModelAdminHealthService, true);
    }
  }
  if (admin_server_ != nullptr) {
    grpc::HealthCheckServiceInterface* admin_health =
        admin_server_->GetHealthCheckService();
    if (admin_health != nullptr) {
      admin_health->SetServingStatus(kModelAdminHealthService, true);
    }
  }
}

void RerankServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
    // Every service, both servers: drain before the listeners close.
    for (grpc::Server* s : {server_.get(), admin_server_.get()}) {
      if (s == nullptr) continue;
      if (grpc::HealthCheckServiceInterface* health =
              s->GetHealthCheckService()) {
        health->SetServingStatus(false);
      }
    }
  }
  const auto deadline = absl::ToChronoTime(absl::Now() + grace);
  // Not under mu_: this blocks for up to `grace`, and a reload finishing
  // meanwhile calls OnModelLoaded, which takes mu_.
  server_->Shutdown(deadline);
  if (admin_server_ != nullptr) admin_server_->Shutdown(deadline);
}

void RerankServer::Wait() {
  server_->Wait();
  if (admin_server_ != nullptr) admin_server_->Wait();
}

}  // namespace rerank
