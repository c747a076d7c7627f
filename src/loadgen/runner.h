#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"
#include "loadgen/report.h"

namespace rerank::loadgen {

// Full method name of rerank.v1.Reranker/Rerank on the wire.
inline constexpr char kRerankMethod[] = "/rerank.v1.Reranker/Rerank";

enum class LoadMode {
  // `concurrency` calls always in flight; each completion issues the next.
  kClosed,
  // Calls sent at `rate` per second on a fixed schedule regardless of
  // completions; latency is measured from the scheduled send time, so a
  // stalled server or client shows up as latency instead of silently
  // lowering the send rate (no coordinated omission).
  kOpen,
};

struct RunnerOptions {
  LoadMode mode = LoadMode::kClosed;
  // Closed loop: calls in flight.
  int concurrency = 50;
  // Open loop: calls per second.
  double rate = 0;
  // Open loop: a scheduled call that would exceed this many calls in flight
  // is not sent and counted as kDroppedCode.
  int max_outstanding = 10000;
  // > 0: the measured phase ends after exactly this many calls (dropped ones
  // included); `duration` is then ignored.
  int64_t requests = 0;
  // Length of the measured phase when `requests` is 0. Calls issued (closed)
  // or scheduled (open) inside it are measured and awaited.
  absl::Duration duration = absl::Seconds(10);
  // Calls issued/scheduled before the measured phase; not reported.
  absl::Duration warmup = absl::ZeroDuration();
  // Per-call deadline, from the actual send time.
  absl::Duration deadline = absl::Milliseconds(1000);
  // Completion-queue polling threads, one CompletionQueue each.
  int threads = 2;
  // Parse every OK response and check that it echoes the request_id and
  // returns no more items than candidates (and top_k); failures are counted
  // as kBadResponseCode. Costs client CPU, so off by default.
  bool verify_responses = false;
};

// "OK", "INVALID_ARGUMENT", ... as in the gRPC spec.
const char* StatusCodeName(grpc::StatusCode code);

// `n` insecure channels to `target`, each on its own TCP connection: a
// local subchannel pool plus a per-channel dummy argument keep gRPC from
// sharing one subchannel between them.
std::vector<std::shared_ptr<grpc::Channel>> CreateChannels(
    const std::string& target, int n);

// Waits until every channel is connected. UNAVAILABLE naming the first
// channel that is not connected when `timeout` expires.
absl::Status WaitForConnected(
    absl::Span<const std::shared_ptr<grpc::Channel>> channels,
    absl::Duration timeout);

// Runs one load test: sends the serialized RerankRequests in `payloads`
// (cycled in order) over `channels` (calls spread round-robin) until the
// measured phase is over and every measured call has completed.
//
// Each payload is wrapped into a grpc::ByteBuffer once and sent through
// grpc::GenericStub, so calls cost no serialization; responses are not parsed
// unless verify_responses is set.
//
// Threads: `threads` pollers, plus for the open loop the calling thread as the
// scheduler. Each thread keeps its own histogram and counters (no locks or
// shared writes on the hot path beyond one atomic counter); they are merged
// after the pollers have joined.
//
// Blocks until done. INVALID_ARGUMENT for inconsistent options; call errors
// are results, not a failed status.
absl::StatusOr<RunResult> RunLoad(
    absl::Span<const std::shared_ptr<grpc::Channel>> channels,
    absl::Span<const std::string> payloads, const RunnerOptions& options);

}  // namespace rerank::loadgen
