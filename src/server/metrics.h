#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lifecycle/model_manager.h"
#include "model/model_snapshot.h"
#include "prometheus/client_metric.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "rerank/v1/rerank.pb.h"
#include "service/reranker_service.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace rerank {

// Bucket upper bounds (seconds) of rerank_request_duration_seconds: 25 us
// (a small request's server time) to 1 s (far past any storefront budget).
inline const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = {
      25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3,   2.5e-3, 5e-3,
      10e-3, 25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1.0};
  return kBuckets;
}

// A Prometheus histogram with fixed buckets updated by atomics alone.
// prometheus::Histogram takes a mutex per Observe (to keep count and sum
// consistent in a scrape); on the hot path with many RPC threads that
// becomes contention, so this trades exactness between _sum and _count
// within one scrape (the sum may lag by in-flight observations) for
// lock-free updates. Bucket counts are exact and _count is derived from
// them. Thread-safe.
class AtomicHistogram {
 public:
  explicit AtomicHistogram(std::vector<double> upper_bounds);

  // Adds one observation: the first bucket with value <= bound (le), else
  // +Inf.
  void Observe(double value);
  // Cumulative buckets (+Inf last), sample count and sum.
  prometheus::ClientMetric::Histogram Collect() const;

 private:
  const std::vector<double> bounds_;
  // bounds_.size() + 1 non-cumulative counts; the last is +Inf.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

// rerankd's Prometheus metrics (docs/operations.md "Metrics"): per-call
// counters and histograms fed by the RerankObserver seam, ModelAdmin call
// counts, reload outcomes and the served model's gauges.
//
// Hot path (OnRerank): counter pointers are cached per status code (no
// label lookups, no map, no lock), histograms are AtomicHistogram, and the
// prometheus::Counter increments are atomic compare-exchanges. The model
// gauges change only on reloads and take `model_mu_`.
//
// Owns its registry and collectable; an Exposer (MetricsEndpoint) holds
// weak references to them. Thread-safe.
class RerankMetrics final : public RerankObserver {
 public:
  static std::unique_ptr<RerankMetrics> Create();

  RerankMetrics(const RerankMetrics&) = delete;
  RerankMetrics& operator=(const RerankMetrics&) = delete;

  // RerankObserver: one Rerank call.
  void OnRerank(const v1::RerankRequest& request,
                const v1::RerankResponse& response, const absl::Status& status,
                absl::Duration elapsed) override;

  // One ModelAdmin call ("Reload" or "GetModelInfo") and its outcome.
  void OnAdminCall(absl::string_view method, absl::StatusCode code);

  // One Reload (start-up's initial model included), from ModelManager's
  // on_reload_done: counts the outcome and, on success, sets the model
  // gauges to the model now served.
  void OnReloadDone(const absl::StatusOr<ReloadResult>& result);

  // A gauge read at scrape time (rerank_inflight_requests,
  // rerank_model_snapshots, ...). `source` must stay valid until the
  // endpoint serving these metrics is destroyed. Names must be new.
  void AddGaugeSource(std::string name, std::string help,
                      std::function<double()> source);

  // The Prometheus text exposition of everything (what /metrics serves).
  std::string Render() const;

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  // The per-call histograms and the in-flight gauge (not in registry()).
  std::shared_ptr<prometheus::Collectable> histograms() const;

 private:
  // Methods with a cached counter row in rerank_requests_total.
  enum Method { kRerank = 0, kReload, kGetModelInfo, kNumMethods };
  // absl::StatusCode values 0..16 (kUnauthenticated); other values count as
  // UNKNOWN.
  static constexpr int kNumCodes = 17;

  class Histograms;

  RerankMetrics();
  prometheus::Counter& RequestCounter(Method method, absl::StatusCode code);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Histograms> histograms_;

  prometheus::Family<prometheus::Counter>* requests_family_;
  // Lazily filled: Family::Add is idempotent for the same labels, so a race
  // between two first calls stores the same pointer twice.
  std::array<std::array<std::atomic<prometheus::Counter*>, kNumCodes>,
             kNumMethods>
      requests_{};
  prometheus::Counter* candidates_total_;
  prometheus::Counter* unknown_candidates_total_;
  prometheus::Counter* unknown_users_total_;
  prometheus::Counter* anonymous_users_total_;

  prometheus::Family<prometheus::Counter>* reloads_family_;
  // rerank_rule_actions_total by ReasonCode (index); [0] unused.
  prometheus::Counter* rule_actions_[v1::ReasonCode_ARRAYSIZE] = {};
  prometheus::Family<prometheus::Gauge>* model_info_family_;
  prometheus::Gauge* model_loaded_;
  prometheus::Gauge* model_loaded_timestamp_;
  prometheus::Gauge* model_load_duration_;
  prometheus::Gauge* model_warmup_duration_;
  prometheus::Gauge* model_warmup_requests_;

  std::mutex model_mu_;                      // serializes model gauge updates
  prometheus::Gauge* model_info_ = nullptr;  // guarded by model_mu_
};

// The HTTP /metrics endpoint (prometheus-cpp's Exposer, one civetweb
// worker thread) serving a RerankMetrics. Destroying it stops the HTTP
// server (joins its threads) within milliseconds; do that before anything
// the metrics read at scrape time (AddGaugeSource) goes away. Not
// copyable; thread-safe.
class MetricsEndpoint {
 public:
  // Binds `address` (host:port, port 0 picks one). UNAVAILABLE naming
  // metrics_listen_address if it cannot bind. `metrics` must outlive this.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Create(
      const std::string& address, const RerankMetrics& metrics);
  ~MetricsEndpoint();

  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  int port() const { return port_; }

 private:
  MetricsEndpoint() = default;

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string host_;  // where to connect to reach the listener
  int port_ = 0;
};

}  // namespace rerank
