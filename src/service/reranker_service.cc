#include "service/reranker_service.h"

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "service/grpc_status.h"
#include "spdlog/spdlog.h"

namespace rerank {
namespace {

// Caps what a client-chosen id can put into one log line.
constexpr size_t kMaxLoggedIdBytes = 128;

std::string LoggableId(const std::string& id) {
  return absl::CHexEscape(absl::string_view(id).substr(0, kMaxLoggedIdBytes));
}

// spdlog evaluates arguments before checking the level; the paths that
// matter under overload must not pay for LoggableId's escaping.
bool DebugOn() { return spdlog::should_log(spdlog::level::debug); }

// The request from the call's bytes: one slice (the usual case) parses in
// place, several through gRPC's zero-copy reader. INVALID_ARGUMENT when the
// bytes are not a RerankRequest (bad wire format, or a string field that is
// not UTF-8).
absl::Status ParseRequest(const grpc::ByteBuffer& bytes,
                          v1::RerankRequest* request) {
  grpc::Slice slice;
  bool parsed;
  if (bytes.TrySingleSlice(&slice).ok()) {
    parsed =
        request->ParseFromArray(slice.begin(), static_cast<int>(slice.size()));
  } else {
    grpc::ByteBuffer copy(bytes);  // shares the slices
    grpc::ProtoBufferReader reader(&copy);
    parsed = reader.status().ok() && request->ParseFromZeroCopyStream(&reader);
  }
  if (parsed) return absl::OkStatus();
  request->Clear();
  if (DebugOn()) {
    spdlog::debug("Rerank: request of {} bytes does not parse", bytes.Length());
  }
  return absl::InvalidArgumentError(
      "request: not a serialized rerank.v1.RerankRequest (bad wire format, or "
      "a string field that is not UTF-8)");
}

}  // namespace

int64_t SystemClockMillis() { return absl::ToUnixMillis(absl::Now()); }

absl::StatusOr<std::unique_ptr<RerankerService>> RerankerService::Create(
    const ModelStore& store, RerankerServiceOptions options) {
  if (options.clock == nullptr) options.clock = SystemClockMillis;
  return std::unique_ptr<RerankerService>(
      new RerankerService(store, std::move(options)));
}

absl::StatusOr<std::unique_ptr<RerankerService>> RerankerService::Create(
    const ModelStore& store, const ScorerOptions& options, Clock clock,
    RerankObserver* observer) {
  RerankerServiceOptions service_options;
  service_options.scorer = options;
  service_options.clock = std::move(clock);
  service_options.observer = observer;
  return Create(store, std::move(service_options));
}

RerankerService::RerankerService(const ModelStore& store,
                                 RerankerServiceOptions options)
    : store_(store),
      options_(options.scorer),
      max_inflight_(options.max_inflight_requests),
      clock_(std::move(options.clock)),
      observer_(options.observer),
      wire_responses_(options.wire_responses),
      transport_floor_(options.transport_floor) {
  if (options.arena_messages) {
    allocator_ = std::make_unique<RerankAllocator>();
  }
}

grpc::ServerUnaryReactor* RerankerService::Rerank(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (transport_floor_ && floor_ready_.load(std::memory_order_acquire)) {
    grpc::Slice kept = floor_response_;  // a reference, not a copy
    grpc::ByteBuffer buffer(&kept, 1);
    response_bytes->Swap(&buffer);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  const absl::Time start = observer_ ? absl::Now() : absl::InfinitePast();
  // The call's messages: on a pooled arena, or on the stack.
  grpc::MessageHolder<v1::RerankRequest, v1::RerankResponse>* holder =
      allocator_ != nullptr ? allocator_->AllocateMessages() : nullptr;
  std::optional<v1::RerankRequest> heap_request;
  std::optional<v1::RerankResponse> heap_response;
  if (holder == nullptr) {
    heap_request.emplace();
    heap_response.emplace();
  }
  v1::RerankRequest* request =
      holder != nullptr ? holder->request() : &*heap_request;
  v1::RerankResponse* response =
      holder != nullptr ? holder->response() : &*heap_response;
  // Kept per thread with its capacity: after the first calls no allocation.
  thread_local std::string items_wire;
  items_wire.clear();

  absl::Status status = ParseRequest(*request_bytes, request);
  if (status.ok()) {
    status = HandleRerank(*request, response,
                          wire_responses_ ? &items_wire : nullptr, context);
  }
  if (status.ok()) {
    // One slice: the message without its items, then the items.
    const size_t head = response->ByteSizeLong();
    grpc::Slice slice(head + items_wire.size());
    // A fresh slice of ours alone: writable until handed over.
    uint8_t* out = const_cast<uint8_t*>(slice.begin());
    response->SerializeWithCachedSizesToArray(out);
    if (!items_wire.empty()) {
      std::memcpy(out + head, items_wire.data(), items_wire.size());
    }
    grpc::ByteBuffer buffer(&slice, 1);
    response_bytes->Swap(&buffer);
    if (transport_floor_) {
      absl::MutexLock lock(&floor_mu_);
      if (!floor_ready_.load(std::memory_order_relaxed)) {
        floor_response_ = slice;
        floor_ready_.store(true, std::memory_order_release);
      }
    }
  }
  if (observer_ != nullptr) {
    observer_->OnRerank(*request, *response, status, absl::Now() - start);
  }
  if (holder != nullptr) holder->Release();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::Status RerankerService::HandleRerank(
    const v1::RerankRequest& request, v1::RerankResponse* response,
    std::string* items_wire, const grpc::ServerContextBase* context) const {
  // Counted for the whole handler. Admission is one fetch_add: over the cap
  // the call is refused before touching the model, so an overloaded server
  // answers in microseconds and sheds load instead of queueing it.
  struct InflightSlot {
    explicit InflightSlot(std::atomic<int64_t>& n)
        : n_(n), after_(n.fetch_add(1, std::memory_order_relaxed) + 1) {}
    ~InflightSlot() { n_.fetch_sub(1, std::memory_order_relaxed); }
    std::atomic<int64_t>& n_;
    const int64_t after_;
  } slot(inflight_);
  if (max_inflight_ > 0 && slot.after_ > max_inflight_) {
    response->Clear();
    // Debug: under overload a line per refused call would add to the load.
    if (DebugOn()) {
      spdlog::debug("Rerank request_id=\"{}\": overloaded ({} in flight)",
                    LoggableId(request.request_id()), slot.after_ - 1);
    }
    return absl::ResourceExhaustedError(absl::StrCat(
        "server overloaded: limits.max_inflight_requests=", max_inflight_,
        " calls already in flight; retry with backoff"));
  }

  // Taken once: the whole call scores against this snapshot even if a
  // reload swaps another in meanwhile.
  const std::shared_ptr<const ModelSnapshot> model = store_.Get();
  if (model == nullptr) {
    // Debug only: until the first model the health check already says
    // NOT_SERVING, and a line per rejected call would flood the log.
    if (DebugOn()) {
      spdlog::debug("Rerank request_id=\"{}\": no model loaded",
                    LoggableId(request.request_id()));
    }
    response->Clear();
    return absl::UnavailableError("no model loaded");
  }
  const int64_t now_ms = clock_();
  // The client may have given up while the call waited for a thread (or
  // here, in tests, for the clock): its answer would be thrown away, so do
  // not spend the scoring on it. The deadline is compared with the same
  // server clock that defines "now" for scoring (so a test's clock decides
  // both).
  if (context != nullptr) {
    absl::Status gone;
    const int64_t deadline_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            context->deadline().time_since_epoch())
            .count();
    if (deadline_ms <= now_ms) {
      gone = absl::DeadlineExceededError("deadline passed before scoring");
    } else if (context->IsCancelled()) {
      gone = absl::CancelledError("call cancelled before scoring");
    }
    if (!gone.ok()) {
      response->Clear();
      if (DebugOn()) {
        spdlog::debug("Rerank request_id=\"{}\": {}",
                      LoggableId(request.request_id()),
                      std::string(gone.message()));
      }
      return gone;
    }
  }
  // With a null items_wire the wire variants fill response->items.
  absl::Status status =
      options_.null_scorer
          ? RerankNullWire(*model, request, options_, now_ms, response,
                           items_wire)
          : RerankWire(*model, request, options_, now_ms, response, items_wire);
  if (!status.ok()) {
    response->Clear();
    // A malformed request is the client's problem and it gets the reason in
    // the status; at warn, one misbehaving client could flood the log.
    if (status.code() == absl::StatusCode::kInvalidArgument) {
      if (DebugOn()) {
        spdlog::debug("Rerank request_id=\"{}\" refused: {}",
                      LoggableId(request.request_id()), status.ToString());
      }
    } else {
      spdlog::error("Rerank request_id=\"{}\" failed: {}",
                    LoggableId(request.request_id()), status.ToString());
    }
  }
  return status;
}

}  // namespace rerank
