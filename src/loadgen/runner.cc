#include "loadgen/runner.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpc/grpc.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/channel_arguments.h"
#include "rerank/v1/rerank.pb.h"

namespace rerank::loadgen {
namespace {

constexpr int kNumGrpcCodes = 17;  // OK .. UNAUTHENTICATED
// Client-side outcomes counted next to the gRPC codes.
constexpr int kDroppedIndex = kNumGrpcCodes;
constexpr int kBadResponseIndex = kNumGrpcCodes + 1;
constexpr int kNumOutcomes = kNumGrpcCodes + 2;

constexpr const char* kCodeNames[kNumGrpcCodes] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

// Bounds the error-message map when a server puts per-call details (ids,
// indices) into its messages.
constexpr size_t kMaxDistinctMessages = 64;

const char* OutcomeName(int index) {
  if (index == kDroppedIndex) return kDroppedCode;
  if (index == kBadResponseIndex) return kBadResponseCode;
  return kCodeNames[index];
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Counters of one thread. Written only by the owning thread during the run;
// read by the runner after that thread has been joined. Cache-line aligned
// because the pollers' copies sit next to each other in a vector and are
// written on every completion.
struct alignas(64) ThreadStats {
  Histogram latency;
  Histogram ok_latency;     // the calls answered OK
  Histogram error_latency;  // the others that got a status
  std::array<int64_t, kNumOutcomes> outcomes{};
  std::map<std::string, int64_t> error_messages;
  // steady_clock ns of the last measured completion (or drop); 0 if none.
  int64_t last_event_ns = 0;
  // Calls completed outside the measured phase (warm-up, or sent before its
  // end and completed after).
  int64_t unmeasured = 0;

  void CountError(int outcome, absl::string_view message) {
    const std::string code = OutcomeName(outcome);
    std::string key = absl::StrCat(code, ": ", message);
    if (error_messages.size() >= kMaxDistinctMessages &&
        !error_messages.contains(key)) {
      key = absl::StrCat(code, ": ...(other messages)");
    }
    ++error_messages[key];
  }
};

// What verify_responses checks an OK response against.
struct Expectation {
  std::string request_id;
  int candidates = 0;
  uint32_t top_k = 0;
};

// One RPC. Closed loop: one per concurrency slot, reused for the slot's
// successive calls. Open loop: one per call, deleted on completion. Owned
// by the Engine (closed) or by whichever thread holds it (open); touched by
// one thread at a time, handed over through the completion queue.
struct Call {
  int stub = 0;        // index into Engine::stubs_
  int cq = 0;          // index into Engine::cqs_
  bool reuse = false;  // closed loop slot
  bool measured = false;
  size_t payload = 0;
  int64_t origin_ns = 0;  // latency origin: send time or scheduled time
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  grpc::ByteBuffer response;
  grpc::Status status;
};

// One load run. Owns the stubs, completion queues, payload buffers and the
// closed-loop call slots; Run() is called once and blocks until every call
// has completed and every poller has joined.
//
// Threads: the pollers (one per completion queue) complete calls and, in the
// closed loop, start the slot's next call; in the open loop the thread in
// Run() schedules. Shared mutable state is limited to the atomics below;
// everything else is either immutable during the run or owned by one thread
// at a time (a Call moves between threads only through its completion queue).
class Engine {
 public:
  Engine(absl::Span<const std::shared_ptr<grpc::Channel>> channels,
         absl::Span<const std::string> payloads, const RunnerOptions& options)
      : options_(options) {
    for (const auto& channel : channels) {
      stubs_.push_back(std::make_unique<grpc::GenericStub>(channel));
    }
    for (const std::string& p : payloads) {
      // One refcounted slice per payload: every send shares it.
      grpc::Slice slice(p);
      payloads_.emplace_back(&slice, 1);
      if (options_.verify_responses) {
        v1::RerankRequest request;
        Expectation e;
        if (request.ParseFromString(p)) {
          e.request_id = request.request_id();
          e.candidates = request.candidates_size();
          e.top_k = request.top_k();
        }
        expectations_.push_back(std::move(e));
      }
    }
    for (int i = 0; i < options_.threads; ++i) {
      cqs_.push_back(std::make_unique<grpc::CompletionQueue>());
    }
    poller_stats_.resize(options_.threads);
  }

  RunResult Run();

 private:
  void Poll(int index);
  void OnComplete(Call* call, ThreadStats* stats);
  // Closed loop: decides whether `call`'s slot sends another call and which.
  bool PrepareClosed(Call* call);
  void Start(Call* call);
  // Drops one reference on pending_; the last one wakes Run().
  void Release();
  // Open loop: sends calls on schedule from the calling thread, starting at
  // `t0_ns`.
  void Schedule(int64_t t0_ns, ThreadStats* stats);
  bool Verify(const Call& call, std::string* problem) const;

  const RunnerOptions options_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs_;
  std::vector<grpc::ByteBuffer> payloads_;
  std::vector<Expectation> expectations_;
  std::vector<ThreadStats> poller_stats_;

  int64_t measure_start_ns_ = 0;
  int64_t measure_end_ns_ = 0;  // duration mode only
  // Sequence numbers of measured / warm-up calls: pick the payload, and in
  // request-count mode bound the run. Relaxed: they only hand out numbers.
  std::atomic<int64_t> measured_seq_{0};
  std::atomic<int64_t> warmup_seq_{0};
  // Calls in flight plus one reference held by Run() while it may still
  // start calls, so reaching 0 means "all done" exactly once.
  std::atomic<int64_t> pending_{1};
  absl::Notification done_;
};

void Engine::Start(Call* call) {
  call->context = std::make_unique<grpc::ClientContext>();
  call->context->set_deadline(std::chrono::system_clock::now() +
                              absl::ToChronoNanoseconds(options_.deadline));
  call->response.Clear();
  call->reader = stubs_[call->stub]->PrepareUnaryCall(
      call->context.get(), kRerankMethod, payloads_[call->payload],
      cqs_[call->cq].get());
  call->reader->StartCall();
  call->reader->Finish(&call->response, &call->status, call);
}

bool Engine::PrepareClosed(Call* call) {
  const int64_t now = NowNs();
  if (now < measure_start_ns_) {
    call->measured = false;
    call->payload = static_cast<size_t>(
        warmup_seq_.fetch_add(1, std::memory_order_relaxed) %
        static_cast<int64_t>(payloads_.size()));
  } else {
    if (options_.requests == 0 && now >= measure_end_ns_) return false;
    const int64_t n = measured_seq_.fetch_add(1, std::memory_order_relaxed);
    if (options_.requests > 0 && n >= options_.requests) return false;
    call->measured = true;
    call->payload =
        static_cast<size_t>(n % static_cast<int64_t>(payloads_.size()));
  }
  call->origin_ns = now;
  return true;
}

void Engine::Release() {
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.Notify();
}

bool Engine::Verify(const Call& call, std::string* problem) const {
  std::vector<grpc::Slice> slices;
  v1::RerankResponse response;
  std::string bytes;
  if (call.response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  if (!response.ParseFromString(bytes)) {
    *problem = "response does not parse as RerankResponse";
    return false;
  }
  const Expectation& e = expectations_[call.payload];
  if (response.request_id() != e.request_id) {
    *problem = "request_id not echoed";
    return false;
  }
  if (response.items_size() > e.candidates ||
      (e.top_k > 0 && static_cast<uint32_t>(response.items_size()) > e.top_k)) {
    *problem = "more items than candidates or top_k";
    return false;
  }
  return true;
}

void Engine::OnComplete(Call* call, ThreadStats* stats) {
  const int64_t end = NowNs();
  if (!call->measured) {
    ++stats->unmeasured;
  } else {
    stats->latency.Record(end - call->origin_ns);
    (call->status.ok() ? stats->ok_latency : stats->error_latency)
        .Record(end - call->origin_ns);
    stats->last_event_ns = std::max(stats->last_event_ns, end);
    const int code = static_cast<int>(call->status.error_code());
    std::string problem;
    if (call->status.ok() && options_.verify_responses &&
        !Verify(*call, &problem)) {
      ++stats->outcomes[kBadResponseIndex];
      stats->CountError(kBadResponseIndex, problem);
    } else if (code >= 0 && code < kNumGrpcCodes) {
      ++stats->outcomes[code];
      if (code != 0) stats->CountError(code, call->status.error_message());
    } else {
      ++stats->outcomes[grpc::StatusCode::UNKNOWN];
      stats->CountError(
          grpc::StatusCode::UNKNOWN,
          absl::StrCat("code ", code, ": ", call->status.error_message()));
    }
  }
  // The reader lives in the call's arena, which the context owns: reader
  // first.
  call->reader.reset();
  call->context.reset();
  if (call->reuse) {
    if (PrepareClosed(call)) {
      Start(call);  // this slot's reference on pending_ carries over
      return;
    }
  } else {
    delete call;
  }
  // Last statement: once pending_ reaches 0, Run() may tear down.
  Release();
}

void Engine::Poll(int index) {
  void* tag = nullptr;
  bool ok = false;
  // Unary Finish always reports ok=true; the outcome is in the Status.
  while (cqs_[index]->Next(&tag, &ok)) {
    OnComplete(static_cast<Call*>(tag), &poller_stats_[index]);
  }
}

void Engine::Schedule(int64_t t0, ThreadStats* stats) {
  const double interval_ns = 1e9 / options_.rate;
  int64_t measured = 0;
  int64_t warmup = 0;
  size_t next_channel = 0;
  for (int64_t i = 0;; ++i) {
    // Computed from i, not accumulated, so rounding never drifts.
    const int64_t scheduled = t0 + static_cast<int64_t>(std::llround(
                                       static_cast<double>(i) * interval_ns));
    const bool is_measured = scheduled >= measure_start_ns_;
    if (is_measured) {
      if (options_.requests > 0 ? measured >= options_.requests
                                : scheduled >= measure_end_ns_) {
        break;
      }
    }
    // Sleep until due. When behind (sleep overshoot, CPU starvation) the
    // loop sends the backlog at once, each call keeping its scheduled time
    // as latency origin.
    const int64_t now = NowNs();
    if (scheduled > now) absl::SleepFor(absl::Nanoseconds(scheduled - now));

    const size_t payload =
        static_cast<size_t>((is_measured ? measured++ : warmup++) %
                            static_cast<int64_t>(payloads_.size()));
    // Only this thread increments pending_, so the check cannot race into
    // exceeding the cap.
    if (pending_.load(std::memory_order_acquire) - 1 >=
        options_.max_outstanding) {
      if (is_measured) {
        ++stats->outcomes[kDroppedIndex];
        stats->CountError(kDroppedIndex, kDroppedMessage);
        stats->last_event_ns = std::max(stats->last_event_ns, scheduled);
      }
      continue;
    }
    auto* call = new Call();
    call->stub = static_cast<int>(next_channel % stubs_.size());
    call->cq = static_cast<int>(next_channel % cqs_.size());
    ++next_channel;
    call->measured = is_measured;
    call->payload = payload;
    call->origin_ns = scheduled;
    pending_.fetch_add(1, std::memory_order_relaxed);
    Start(call);
  }
}

RunResult Engine::Run() {
  // Written before any thread that reads them starts.
  const int64_t t0 = NowNs();
  measure_start_ns_ = t0 + absl::ToInt64Nanoseconds(options_.warmup);
  measure_end_ns_ =
      measure_start_ns_ + absl::ToInt64Nanoseconds(options_.duration);
  std::vector<std::thread> pollers;
  for (int i = 0; i < options_.threads; ++i) {
    pollers.emplace_back([this, i] { Poll(i); });
  }

  ThreadStats scheduler_stats;
  std::vector<std::unique_ptr<Call>> slots;
  if (options_.mode == LoadMode::kClosed) {
    for (int i = 0; i < options_.concurrency; ++i) {
      auto call = std::make_unique<Call>();
      call->stub = i % static_cast<int>(stubs_.size());
      call->cq = i % static_cast<int>(cqs_.size());
      call->reuse = true;
      if (PrepareClosed(call.get())) {
        pending_.fetch_add(1, std::memory_order_relaxed);
        Start(call.get());
      }
      slots.push_back(std::move(call));
    }
  } else {
    Schedule(t0, &scheduler_stats);
  }
  Release();
  done_.WaitForNotification();

  for (auto& cq : cqs_) cq->Shutdown();
  for (auto& t : pollers) t.join();

  RunResult result;
  result.mode = options_.mode == LoadMode::kClosed ? "closed" : "open";
  result.concurrency =
      options_.mode == LoadMode::kClosed ? options_.concurrency : 0;
  result.connections = static_cast<int>(stubs_.size());
  result.rate = options_.mode == LoadMode::kOpen ? options_.rate : 0;
  std::array<int64_t, kNumOutcomes> outcomes{};
  int64_t last_event_ns = 0;
  poller_stats_.push_back(std::move(scheduler_stats));
  for (const ThreadStats& s : poller_stats_) {
    result.latency.Merge(s.latency);
    result.ok_latency.Merge(s.ok_latency);
    result.error_latency.Merge(s.error_latency);
    for (int i = 0; i < kNumOutcomes; ++i) outcomes[i] += s.outcomes[i];
    for (const auto& [message, n] : s.error_messages) {
      result.error_messages[message] += n;
    }
    last_event_ns = std::max(last_event_ns, s.last_event_ns);
    result.unmeasured += s.unmeasured;
  }
  for (int i = 0; i < kNumOutcomes; ++i) {
    if (outcomes[i] == 0) continue;
    result.status_counts[OutcomeName(i)] = outcomes[i];
    result.count += outcomes[i];
  }
  if (last_event_ns > measure_start_ns_) {
    result.total = absl::Nanoseconds(last_event_ns - measure_start_ns_);
  }
  return result;
}

}  // namespace

const char* StatusCodeName(grpc::StatusCode code) {
  const int i = static_cast<int>(code);
  return i >= 0 && i < kNumGrpcCodes ? kCodeNames[i] : "UNKNOWN";
}

std::vector<std::shared_ptr<grpc::Channel>> CreateChannels(
    const std::string& target, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    // Without these, channels with equal arguments share subchannels (and so
    // one TCP connection) through gRPC's global subchannel pool.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("rerank.loadgen.channel_index", i);
    // explain=true responses can be large; never fail a call on size.
    args.SetMaxReceiveMessageSize(-1);
    channels.push_back(grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

absl::Status WaitForConnected(
    absl::Span<const std::shared_ptr<grpc::Channel>> channels,
    absl::Duration timeout) {
  const auto deadline =
      std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout);
  for (size_t i = 0; i < channels.size(); ++i) {
    if (!channels[i]->WaitForConnected(deadline)) {
      return absl::UnavailableError(
          absl::StrCat("connection ", i, " not connected after ",
                       absl::FormatDuration(timeout)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RunResult> RunLoad(
    absl::Span<const std::shared_ptr<grpc::Channel>> channels,
    absl::Span<const std::string> payloads, const RunnerOptions& options) {
  if (channels.empty()) return absl::InvalidArgumentError("no channels");
  if (payloads.empty()) return absl::InvalidArgumentError("no requests");
  if (options.threads < 1) {
    return absl::InvalidArgumentError("threads must be >= 1");
  }
  if (options.requests < 0) {
    return absl::InvalidArgumentError("requests must be >= 0");
  }
  if (options.requests == 0 && options.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "need a positive duration or request count");
  }
  if (options.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("warmup must be >= 0");
  }
  if (options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("deadline must be > 0");
  }
  if (options.mode == LoadMode::kClosed && options.concurrency < 1) {
    return absl::InvalidArgumentError("concurrency must be >= 1");
  }
  if (options.mode == LoadMode::kOpen) {
    if (!(options.rate > 0) || !std::isfinite(options.rate)) {
      return absl::InvalidArgumentError("open loop needs a rate > 0");
    }
    if (options.max_outstanding < 1) {
      return absl::InvalidArgumentError("max_outstanding must be >= 1");
    }
  }
  Engine engine(channels, payloads, options);
  return engine.Run();
}

}  // namespace rerank::loadgen
