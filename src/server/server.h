#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "lifecycle/model_manager.h"
#include "lifecycle/model_store.h"
#include "rerank/v1/config.pb.h"
#include "server/metrics.h"
#include "service/model_admin_service.h"
#include "service/reranker_service.h"

namespace rerank {

// Health-check service names set by RerankServer. "" is the overall status.
inline constexpr char kRerankerHealthService[] = "rerank.v1.Reranker";
inline constexpr char kModelAdminHealthService[] = "rerank.v1.ModelAdmin";

// Seams for tests; production leaves them empty.
struct RerankServerHooks {
  ModelManager::Loader loader;   // null: LoadModel
  RerankerService::Clock clock;  // null: the system clock
  // Sees every Rerank call, next to the metrics (if enabled). Not owned;
  // must outlive the server.
  RerankObserver* observer = nullptr;
};

// rerankd in-process: the gRPC server(s) with Reranker, ModelAdmin, the
// default grpc.health.v1 service and reflection, the Prometheus endpoint,
// plus the model lifecycle.
//
// Listeners: listen_address (Reranker, health, reflection; `tls`),
// admin_listen_address (ModelAdmin, health, reflection; `admin_tls`) unless
// admin_on_serving_port, and metrics_listen_address (HTTP /metrics) unless
// it is "" or "off". With admin_token_file set every ModelAdmin call needs
// the bearer token, on whichever listener it is served.
//
// Serving state: "" and "rerank.v1.Reranker" are NOT_SERVING until a model
// is loaded (and warmed up) and SERVING after; Shutdown flips everything to
// NOT_SERVING first (Drain), so load balancers drain before the listener
// closes.
//
// Owns everything it creates (manager, services, servers). Thread-safe:
// Shutdown may be called from any thread (e.g. a signal thread) while
// another is in Wait.
class RerankServer {
 public:
  using Hooks = RerankServerHooks;

  // Validates `config` (defaults applied), creates the ModelManager when
  // model_root is set, loads initial_model (its error is returned, so
  // rerankd exits with the reason), then binds and starts serving.
  // Port 0 picks a free port; see port() / admin_port().
  static absl::StatusOr<std::unique_ptr<RerankServer>> Create(
      const v1::ServerConfig& config, Hooks hooks = {});

  // Shuts down immediately (zero grace) if Shutdown was not called.
  ~RerankServer();

  RerankServer(const RerankServer&) = delete;
  RerankServer& operator=(const RerankServer&) = delete;

  // The bound ports. admin_port() == port() when ModelAdmin shares the
  // main listener; metrics_port() is 0 when metrics are off.
  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  int metrics_port() const { return metrics_port_; }
  // listen_address / admin_listen_address / metrics_listen_address with the
  // bound port ("" for metrics when off).
  const std::string& address() const { return address_; }
  const std::string& admin_address() const { return admin_address_; }
  const std::string& metrics_address() const { return metrics_address_; }
  // Null when metrics are off.
  const RerankMetrics* metrics() const { return metrics_.get(); }
  // The effective config (defaults applied).
  const v1::ServerConfig& config() const { return config_; }

  // The served model; never null as a store.
  const ModelStore& store() const {
    return manager_ ? manager_->store() : empty_store_;
  }
  // Null when no model_root is configured.
  ModelManager* model_manager() const { return manager_.get(); }

  // First phase of a graceful shutdown: flips every health status on every
  // listener to NOT_SERVING and keeps serving, so that clients watching
  // health stop sending here before the listeners close (see Shutdown for
  // why that matters). A later reload does not flip it back. Returns at
  // once; only the first call has an effect.
  void Drain();

  // Drains (if Drain was not called), stops accepting calls and lets
  // in-flight calls run until `grace` has passed, then cancels what is
  // left. Blocks until done. Only the first call has an effect.
  //
  // Why drain first: gRPC 1.51 kills a stream that reaches the server after
  // its shutdown began but before the client read the GOAWAY, and the
  // client sees CANCELLED, which retry policies do not retry
  // (grpc/grpc#41785). Only a client that stopped sending before the
  // shutdown is safe from that race.
  void Shutdown(absl::Duration grace);

  // Blocks until the server(s) have shut down.
  void Wait();

 private:
  RerankServer() = default;

  class TeeObserver;

  absl::Status Start(Hooks hooks);
  absl::Status StartMetrics();
  void OnModelLoaded();
  void SetHealthLocked(bool model_loaded) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  v1::ServerConfig config_;
  // Before the manager and services, which report to it: destroyed after.
  std::unique_ptr<RerankMetrics> metrics_;
  std::unique_ptr<RerankObserver> tee_observer_;  // metrics + hooks.observer
  std::unique_ptr<ModelManager> manager_;
  ModelStore empty_store_;  // served when there is no manager: always empty
  std::unique_ptr<RerankerService> reranker_service_;
  std::unique_ptr<ModelAdminService> admin_service_;
  // Reads the Reranker's in-flight count at scrape time; the destructor
  // stops it first.
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
  // Declared after the services: destroyed (shut down) before them.
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> admin_server_;  // null: admin on server_
  int port_ = 0;
  int admin_port_ = 0;
  int metrics_port_ = 0;
  std::string address_;
  std::string admin_address_;
  std::string metrics_address_;

  absl::Mutex mu_;  // orders health updates against Shutdown
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace rerank
