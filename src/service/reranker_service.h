#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "lifecycle/model_store.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "scoring/scorer.h"
#include "service/arena_message_allocator.h"

namespace rerank {

// Seam for metrics and tracing (rerankd wires server/metrics.h here). Called
// once per Rerank call -- every outcome, overload refusals included -- on the
// RPC thread, after the response is built and before it is sent; `response`
// is meaningful only when `status` is OK. `elapsed` is the server time in
// the handler. Implementations must be thread-safe and cheap: they run
// inline on the hot path. With wire responses (the default) `response`
// holds every field but `items`, which went to the wire without becoming
// messages; a request that did not parse is seen as an empty one.
class RerankObserver {
 public:
  virtual ~RerankObserver() = default;
  virtual void OnRerank(const v1::RerankRequest& request,
                        const v1::RerankResponse& response,
                        const absl::Status& status, absl::Duration elapsed) = 0;
};

struct RerankerServiceOptions {
  ScorerOptions scorer;
  // Calls handled at once (limits.max_inflight_requests); one more gets
  // RESOURCE_EXHAUSTED at once. 0: no cap.
  uint32_t max_inflight_requests = 0;
  // Milliseconds since the Unix epoch: "now" when request.now_ms is 0, and
  // what the call's deadline is checked against. Null: the system clock.
  std::function<int64_t()> clock;
  RerankObserver* observer = nullptr;  // not owned; may be null
  // Request and response of each call on a pooled protobuf Arena
  // (ArenaMessageAllocator) instead of one heap object per message: for
  // 1000 candidates that saves ~3000 mallocs and frees per call. Off only
  // to measure the difference.
  bool arena_messages = true;
  // Items of the response encoded straight into the bytes sent
  // (RerankWire, scorer.h) instead of built as RankedItem messages and then
  // serialized. Off only to measure the difference.
  bool wire_responses = true;
  // The transport floor (config "scorer": "transport"): the first call that
  // succeeds is scored in full and its response bytes kept; every later
  // call gets those bytes back without its request being parsed or looked
  // at. What is left is gRPC and HTTP/2 alone. Benchmarks only.
  bool transport_floor = false;
};

// rerank.v1.Reranker on gRPC's callback API. Each call takes the served
// snapshot once, runs the pure scorer inline (short and CPU-bound, so not
// worth a thread hop) and converts the status at the edge.
//
// Rerank is registered as a raw method: the handler gets and gives bytes.
// It parses the request itself (onto the pooled arena, as gRPC would have),
// and writes the response as the serialized message without the items plus
// the items in wire form from RerankWire: for a 1000-candidate call that
// spares a RankedItem message and a copy of its id per item, and their
// serialization by gRPC. A request that does not parse gets
// INVALID_ARGUMENT (gRPC's own parsing would say INTERNAL).
//
// Per call, in order: the in-flight cap (RESOURCE_EXHAUSTED naming
// limits.max_inflight_requests -- shed load before doing any work), the
// model (UNAVAILABLE), the clock, then the call's deadline (against that
// clock) and cancellation (DEADLINE_EXCEEDED / CANCELLED: a client that gave
// up gets no scoring work spent on it), then the scorer.
//
// Logging: nothing per call at info. Client errors (INVALID_ARGUMENT),
// overload, deadline and cancellation are debug lines (the client gets the
// reason; metrics count them); anything else is an error line. Every line
// names the request_id.
//
// Does not own the store (the ModelManager or server does) nor the observer;
// both must outlive the service. Thread-safe: members are immutable after
// Create except the in-flight counter, an atomic, and the message
// allocator's pool, which has its own mutex.
class RerankerService final : public v1::Reranker::WithRawCallbackMethod_Rerank<
                                  v1::Reranker::CallbackService> {
 public:
  // Milliseconds since the Unix epoch; used when request.now_ms is 0.
  using Clock = std::function<int64_t()>;

  static absl::StatusOr<std::unique_ptr<RerankerService>> Create(
      const ModelStore& store, RerankerServiceOptions options);
  // `clock` null means the system clock. `observer` may be null. No cap.
  static absl::StatusOr<std::unique_ptr<RerankerService>> Create(
      const ModelStore& store, const ScorerOptions& options,
      Clock clock = nullptr, RerankObserver* observer = nullptr);

  RerankerService(const RerankerService&) = delete;
  RerankerService& operator=(const RerankerService&) = delete;

  grpc::ServerUnaryReactor* Rerank(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  // The typed overload is never registered (the raw one replaces it).
  using v1::Reranker::WithRawCallbackMethod_Rerank<
      v1::Reranker::CallbackService>::Rerank;

  // The handler without gRPC (what Rerank runs). RESOURCE_EXHAUSTED over
  // the in-flight cap; UNAVAILABLE "no model loaded" before the first model;
  // DEADLINE_EXCEEDED / CANCELLED when `context` (may be null) has expired
  // or been cancelled; otherwise the scorer's status. On error `response`
  // is cleared.
  absl::Status HandleRerank(
      const v1::RerankRequest& request, v1::RerankResponse* response,
      const grpc::ServerContextBase* context = nullptr) const {
    return HandleRerank(request, response, nullptr, context);
  }
  // The same with the items in wire form (RerankWire) when `items_wire` is
  // not null.
  absl::Status HandleRerank(const v1::RerankRequest& request,
                            v1::RerankResponse* response,
                            std::string* items_wire,
                            const grpc::ServerContextBase* context) const;

  // Calls being handled right now (for the metrics gauge).
  int64_t inflight() const { return inflight_.load(std::memory_order_relaxed); }
  // The message pool (options.arena_messages; 0 without): holders kept for
  // reuse and the bytes of their blocks (for the metrics gauges).
  size_t pooled_message_holders() const {
    return allocator_ != nullptr ? allocator_->pooled() : 0;
  }
  size_t pooled_message_bytes() const {
    return allocator_ != nullptr ? allocator_->pooled_bytes() : 0;
  }

 private:
  explicit RerankerService(const ModelStore& store,
                           RerankerServiceOptions options);

  const ModelStore& store_;
  const ScorerOptions options_;
  const int64_t max_inflight_;  // 0: no cap
  const Clock clock_;
  RerankObserver* const observer_;
  const bool wire_responses_;
  const bool transport_floor_;
  // transport_floor: the first response, written once under floor_mu_ and
  // then only read (after floor_ready_ is seen true).
  absl::Mutex floor_mu_;
  grpc::Slice floor_response_;
  std::atomic<bool> floor_ready_{false};
  // The messages of each call when options.arena_messages (used by the raw
  // handler as gRPC would use a registered allocator).
  using RerankAllocator =
      ArenaMessageAllocator<v1::RerankRequest, v1::RerankResponse>;
  std::unique_ptr<RerankAllocator> allocator_;
  // Relaxed is enough: it only counts, it publishes no data.
  mutable std::atomic<int64_t> inflight_{0};
};

// Milliseconds since the Unix epoch from the system clock.
int64_t SystemClockMillis();

}  // namespace rerank
