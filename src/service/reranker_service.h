#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "scoring/scorer.h"
#include "service/model_store.h"

namespace rerank {

// Seam for metrics and tracing (none are wired yet). Called once per Rerank
// call, on the RPC thread, after the response is built and before it is
// sent; `response` is meaningful only when `status` is OK. Implementations
// must be thread-safe and cheap: they run inline on the hot path.
class RerankObserver {
 public:
  virtual ~RerankObserver() = default;
  virtual void OnRerank(const v1::RerankRequest& request,
                        const v1::RerankResponse& response,
                        const absl::Status& status, absl::Duration elapsed) = 0;
};

// rerank.v1.Reranker on gRPC's callback API. Each call takes the served
// snapshot once, runs the pure scorer inline (short and CPU-bound, so not
// worth a thread hop) and converts the status at the edge.
//
// Does not own the store (the ModelManager or server does) nor the observer;
// both must outlive the service. Thread-safe: all members are immutable
// after Create and the store is itself thread-safe.
class RerankerService final : public v1::Reranker::CallbackService {
 public:
  // Milliseconds since the Unix epoch; used when request.now_ms is 0.
  using Clock = std::function<int64_t()>;

  // `clock` null means the system clock. `observer` may be null.
  static absl::StatusOr<std::unique_ptr<RerankerService>> Create(
      const ModelStore& store, const ScorerOptions& options,
      Clock clock = nullptr, RerankObserver* observer = nullptr);

  RerankerService(const RerankerService&) = delete;
  RerankerService& operator=(const RerankerService&) = delete;

  grpc::ServerUnaryReactor* Rerank(grpc::CallbackServerContext* context,
                                   const v1::RerankRequest* request,
                                   v1::RerankResponse* response) override;

  // The handler without gRPC (what Rerank runs). UNAVAILABLE "no model
  // loaded" before the first model; otherwise the scorer's status. On error
  // `response` is cleared.
  absl::Status HandleRerank(const v1::RerankRequest& request,
                            v1::RerankResponse* response) const;

 private:
  RerankerService(const ModelStore& store, const ScorerOptions& options,
                  Clock clock, RerankObserver* observer);

  const ModelStore& store_;
  const ScorerOptions options_;
  const Clock clock_;
  RerankObserver* const observer_;
};

// Milliseconds since the Unix epoch from the system clock.
int64_t SystemClockMillis();

}  // namespace rerank
