#include "server/server.h"

#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "lifecycle/warmup.h"
#include "server/config.h"
#include "server/credentials.h"
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
  // (SO_REUSEADDR stays on: a restart after kill -9 can rebind at once even
  // with the old connections in TIME_WAIT.)
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Per connection. Streams beyond it wait in the client rather than piling
  // up in the server; limits.max_inflight_requests caps all connections.
  builder->AddChannelArgument(
      GRPC_ARG_MAX_CONCURRENT_STREAMS,
      static_cast<int>(config.limits().max_concurrent_streams()));
}

bool IsLoopback(const std::string& address) {
  std::string host;
  int port = 0;
  if (!ParseHostPort(address, &host, &port).ok()) return false;
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

// What the operator should know about a listener they may not have meant
// to expose.
void WarnIfExposed(const std::string& address, absl::string_view key, bool tls,
                   bool token) {
  if (IsLoopback(address) || tls) return;
  spdlog::warn("{} {} is reachable from other hosts without TLS{}",
               std::string(key), address,
               token ? "; the admin bearer token travels in cleartext" : "");
}

}  // namespace

// Fans one Rerank call out to the metrics and a test's observer.
class RerankServer::TeeObserver final : public RerankObserver {
 public:
  TeeObserver(RerankObserver* a, RerankObserver* b) : a_(a), b_(b) {}
  void OnRerank(const v1::RerankRequest& request,
                const v1::RerankResponse& response, const absl::Status& status,
                absl::Duration elapsed) override {
    a_->OnRerank(request, response, status, elapsed);
    b_->OnRerank(request, response, status, elapsed);
  }

 private:
  RerankObserver* const a_;
  RerankObserver* const b_;
};

absl::StatusOr<std::unique_ptr<RerankServer>> RerankServer::Create(
    const v1::ServerConfig& config, Hooks hooks) {
  std::unique_ptr<RerankServer> server(new RerankServer());
  server->config_ = config;
  ApplyServerConfigDefaults(&server->config_);
  RETURN_IF_ERROR(ValidateServerConfig(server->config_, "config"));
  RETURN_IF_ERROR(server->Start(std::move(hooks)));
  return server;
}

absl::Status RerankServer::StartMetrics() {
  if (!MetricsEnabled(config_)) return absl::OkStatus();
  metrics_ = RerankMetrics::Create();
  ASSIGN_OR_RETURN(
      metrics_endpoint_,
      MetricsEndpoint::Create(config_.metrics_listen_address(), *metrics_));
  metrics_port_ = metrics_endpoint_->port();
  metrics_address_ = WithPort(config_.metrics_listen_address(), metrics_port_);
  return absl::OkStatus();
}

absl::Status RerankServer::Start(Hooks hooks) {
  ASSIGN_OR_RETURN(const ScorerOptions scorer_options,
                   ScorerOptionsFromConfig(config_));
  // Everything that reads a file or binds a port cheaply comes first: a
  // typo should fail start-up before a long model load, not after.
  RETURN_IF_ERROR(StartMetrics());
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   MakeServerCredentials(config_.tls(), "tls"));
  const bool separate_admin = !config_.admin_on_serving_port();
  std::shared_ptr<grpc::ServerCredentials> admin_credentials;
  if (separate_admin) {
    ASSIGN_OR_RETURN(admin_credentials,
                     MakeServerCredentials(config_.admin_tls(), "admin_tls"));
  }
  std::string admin_token;
  if (!config_.admin_token_file().empty()) {
    ASSIGN_OR_RETURN(admin_token, ReadAdminToken(config_.admin_token_file()));
  }

  if (!config_.model_root().empty()) {
    ModelManagerHooks manager_hooks;
    manager_hooks.loader = std::move(hooks.loader);
    if (manager_hooks.loader == nullptr) {
      LoadOptions load_options;
      if (config_.has_model_copy_max_bytes()) {
        load_options.copy_max_bytes = config_.model_copy_max_bytes();
      }
      manager_hooks.loader = [load_options](const std::string& dir) {
        return LoadModel(dir, load_options);
      };
    }
    // The callbacks outlive nothing: reloads stop before `this` is
    // destroyed (the admin worker drains during server shutdown).
    manager_hooks.on_loaded = [this](const ModelSnapshot&) { OnModelLoaded(); };
    if (metrics_ != nullptr) {
      RerankMetrics* metrics = metrics_.get();
      manager_hooks.on_reload_done =
          [metrics](const absl::StatusOr<ReloadResult>& result) {
            metrics->OnReloadDone(result);
          };
    }
    if (const int count = static_cast<int>(config_.warmup_requests());
        count > 0) {
      manager_hooks.warmer = [scorer_options,
                              count](const ModelSnapshot& model) {
        return WarmupOutcome{WarmUp(model, scorer_options, count).requests};
      };
    }
    ASSIGN_OR_RETURN(manager_, ModelManager::Create(config_.model_root(),
                                                    std::move(manager_hooks)));
    // Loaded (and warmed up) before binding: a bad model stops start-up
    // without ever accepting a connection.
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

  RerankerServiceOptions reranker_options;
  reranker_options.scorer = scorer_options;
  reranker_options.max_inflight_requests =
      config_.limits().max_inflight_requests();
  reranker_options.transport_floor = config_.scorer() == "transport";
  reranker_options.clock = std::move(hooks.clock);
  reranker_options.observer = metrics_.get();
  if (metrics_ != nullptr && hooks.observer != nullptr) {
    tee_observer_ =
        std::make_unique<TeeObserver>(metrics_.get(), hooks.observer);
    reranker_options.observer = tee_observer_.get();
  } else if (hooks.observer != nullptr) {
    reranker_options.observer = hooks.observer;
  }
  ASSIGN_OR_RETURN(
      reranker_service_,
      RerankerService::Create(store(), std::move(reranker_options)));
  if (metrics_ != nullptr) {
    const RerankerService* reranker = reranker_service_.get();
    metrics_->AddGaugeSource(
        "rerank_inflight_requests",
        "Rerank calls being handled now (limits.max_inflight_requests caps "
        "it).",
        [reranker] { return static_cast<double>(reranker->inflight()); });
    // What a soak watches for leaks (docs/operations.md "Reliability").
    metrics_->AddGaugeSource(
        "rerank_model_snapshots",
        "Model snapshots in memory: the served one, retired ones still held "
        "by calls in flight or queued for freeing, and one being loaded.",
        [] { return static_cast<double>(ModelSnapshot::AliveCount()); });
    metrics_->AddGaugeSource(
        "rerank_message_pool_holders",
        "Rerank message holders kept for reuse (at most 64).",
        [reranker] {
          return static_cast<double>(reranker->pooled_message_holders());
        });
    metrics_->AddGaugeSource(
        "rerank_message_pool_bytes",
        "Bytes of the arena blocks those holders keep.", [reranker] {
          return static_cast<double>(reranker->pooled_message_bytes());
        });
  }

  ModelAdminServiceOptions admin_options;
  admin_options.bearer_token = admin_token;
  if (metrics_ != nullptr) {
    RerankMetrics* metrics = metrics_.get();
    admin_options.on_call = [metrics](absl::string_view method,
                                      absl::StatusCode code) {
      metrics->OnAdminCall(method, code);
    };
  }
  ASSIGN_OR_RETURN(admin_service_,
                   ModelAdminService::Create(manager_.get(), store(),
                                             std::move(admin_options)));

  EnableHealthAndReflection();

  grpc::ServerBuilder builder;
  ConfigureBuilder(config_, &builder);
  builder.AddListeningPort(config_.listen_address(), credentials, &port_);
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
  WarnIfExposed(config_.listen_address(), "listen_address",
                TlsEnabled(config_.tls()),
                !separate_admin && !admin_token.empty());

  if (separate_admin) {
    grpc::ServerBuilder admin_builder;
    ConfigureBuilder(config_, &admin_builder);
    admin_builder.AddListeningPort(config_.admin_listen_address(),
                                   admin_credentials, &admin_port_);
    admin_builder.RegisterService(admin_service_.get());
    admin_server_ = admin_builder.BuildAndStart();
    if (admin_server_ == nullptr || admin_port_ == 0) {
      admin_server_.reset();
      server_->Shutdown();
      server_->Wait();
      server_.reset();
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", config_.admin_listen_address(),
          " (admin_listen_address): address in use or not local?"));
    }
    admin_address_ = WithPort(config_.admin_listen_address(), admin_port_);
    WarnIfExposed(config_.admin_listen_address(), "admin_listen_address",
                  TlsEnabled(config_.admin_tls()), !admin_token.empty());
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
  // server_ is null when Start failed before serving.
  if (server_ != nullptr) {
    Shutdown(absl::ZeroDuration());
    Wait();
  }
  // Stop scrapes before the Reranker whose in-flight count they read goes.
  metrics_endpoint_.reset();
}

void RerankServer::OnModelLoaded() {
  absl::MutexLock lock(&mu_);
  // Before start the state is set once serving begins; once the drain began
  // a late reload must not flip anything back to SERVING.
  if (!started_ || draining_) return;
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

void RerankServer::Drain() {
  absl::MutexLock lock(&mu_);
  if (draining_) return;
  draining_ = true;
  // Every service, both servers: clients watching health leave before the
  // listeners close.
  for (grpc::Server* s : {server_.get(), admin_server_.get()}) {
    if (s == nullptr) continue;
    if (grpc::HealthCheckServiceInterface* health =
            s->GetHealthCheckService()) {
      health->SetServingStatus(false);
    }
  }
}

void RerankServer::Shutdown(absl::Duration grace) {
  Drain();
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
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
