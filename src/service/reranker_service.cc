#include "service/reranker_service.h"

#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "service/grpc_status.h"
#include "spdlog/spdlog.h"

namespace rerank {
namespace {

// Caps what a client-chosen id can put into one log line.
constexpr size_t kMaxLoggedIdBytes = 128;

std::string LoggableId(const std::string& id) {
  return absl::CHexEscape(absl::string_view(id).substr(0, kMaxLoggedIdBytes));
}

}  // namespace

int64_t SystemClockMillis() { return absl::ToUnixMillis(absl::Now()); }

absl::StatusOr<std::unique_ptr<RerankerService>> RerankerService::Create(
    const ModelStore& store, const ScorerOptions& options, Clock clock,
    RerankObserver* observer) {
  if (clock == nullptr) clock = SystemClockMillis;
  return std::unique_ptr<RerankerService>(
      new RerankerService(store, options, std::move(clock), observer));
}

RerankerService::RerankerService(const ModelStore& store,
                                 const ScorerOptions& options, Clock clock,
                                 RerankObserver* observer)
    : store_(store),
      options_(options),
      clock_(std::move(clock)),
      observer_(observer) {}

grpc::ServerUnaryReactor* RerankerService::Rerank(
    grpc::CallbackServerContext* context, const v1::RerankRequest* request,
    v1::RerankResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = observer_ ? absl::Now() : absl::InfinitePast();
  const absl::Status status = HandleRerank(*request, response);
  if (observer_ != nullptr) {
    observer_->OnRerank(*request, *response, status, absl::Now() - start);
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::Status RerankerService::HandleRerank(const v1::RerankRequest& request,
                                           v1::RerankResponse* response) const {
  // Taken once: the whole call scores against this snapshot even if a
  // reload swaps another in meanwhile.
  const std::shared_ptr<const ModelSnapshot> model = store_.Get();
  if (model == nullptr) {
    // Debug only: until the first model the health check already says
    // NOT_SERVING, and a line per rejected call would flood the log.
    spdlog::debug("Rerank request_id=\"{}\": no model loaded",
                  LoggableId(request.request_id()));
    response->Clear();
    return absl::UnavailableError("no model loaded");
  }
  absl::Status status =
      options_.null_scorer
          ? RerankNull(*model, request, options_, clock_(), response)
          : ::rerank::Rerank(*model, request, options_, clock_(), response);
  if (!status.ok()) {
    response->Clear();
    spdlog::warn("Rerank request_id=\"{}\" failed: {}",
                 LoggableId(request.request_id()), status.ToString());
  }
  return status;
}

}  // namespace rerank
