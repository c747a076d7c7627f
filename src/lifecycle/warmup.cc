#include "lifecycle/warmup.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

namespace rerank {
namespace {

// A fixed "now" keeps the requests (and so the warm-up) deterministic; the
// events are a few minutes before it, well inside any sane
// max_event_age_seconds.
constexpr int64_t kWarmupNowMs = 1'700'000'000'000;
constexpr int64_t kEventSpacingMs = 60'000;
// Not an id a model would contain (and if it did, it would just be known).
constexpr char kUnknownUser[] = "rerank-warmup-unknown-user";
constexpr v1::EventType kEventTypes[] = {
    v1::EVENT_TYPE_VIEW, v1::EVENT_TYPE_CLICK, v1::EVENT_TYPE_ADD_TO_CART,
    v1::EVENT_TYPE_PURCHASE};

}  // namespace

std::vector<v1::RerankRequest> MakeWarmupRequests(const ModelSnapshot& model,
                                                  int count,
                                                  const RequestLimits& limits) {
  std::vector<v1::RerankRequest> requests;
  if (count <= 0) return requests;
  requests.reserve(static_cast<size_t>(count));
  const int64_t num_items = model.num_items();
  const int64_t num_users = model.num_users();
  const int64_t k =
      std::min<int64_t>({kWarmupCandidates, num_items,
                         static_cast<int64_t>(limits.max_candidates)});
  const int64_t stride = k > 0 ? std::max<int64_t>(1, num_items / k) : 1;
  const int max_events =
      std::min<int>(kWarmupEvents, static_cast<int>(limits.max_events));
  auto fits = [&limits](absl::string_view id) {
    return id.size() <= limits.max_id_bytes;
  };

  int64_t next_user = 0;
  for (int i = 0; i < count; ++i) {
    v1::RerankRequest& request = requests.emplace_back();
    if (std::string id = absl::StrCat("warmup-", i); fits(id)) {
      request.set_request_id(std::move(id));
    }
    request.set_now_ms(kWarmupNowMs);
    // Mostly known users (taken in turn); every 4th request anonymous and
    // every 4th (offset) an unknown one, so the session-vector fallbacks are
    // warm too.
    if (i % 4 == 1) {
      if (fits(kUnknownUser)) request.set_user_id(kUnknownUser);
    } else if (i % 4 != 3 && num_users > 0) {
      const std::string& user =
          model.user_id(static_cast<int32_t>(next_user++ % num_users));
      if (fits(user)) request.set_user_id(user);
    }
    for (int64_t j = 0; j < k; ++j) {
      const int64_t row = (i + j * stride) % num_items;
      const std::string& item = model.item_id(static_cast<int32_t>(row));
      if (!fits(item)) continue;
      v1::Candidate* candidate = request.add_candidates();
      candidate->set_item_id(item);
      candidate->set_base_score(1.0 / static_cast<double>(j + 1));
    }
    for (int e = 0; e < max_events && e < request.candidates_size(); ++e) {
      v1::Event* event = request.add_events();
      event->set_item_id(request.candidates(e).item_id());
      event->set_type(kEventTypes[(i + e) % std::size(kEventTypes)]);
      event->set_timestamp_ms(kWarmupNowMs - (e + 1) * kEventSpacingMs);
    }
  }
  return requests;
}

WarmupStats WarmUp(const ModelSnapshot& model, const ScorerOptions& options,
                   int count) {
  WarmupStats stats;
  absl::Status first_error;
  v1::RerankResponse response;
  for (const v1::RerankRequest& request :
       MakeWarmupRequests(model, count, options.limits)) {
    response.Clear();
    const absl::Status status =
        options.null_scorer
            ? RerankNull(model, request, options, kWarmupNowMs, &response)
            : Rerank(model, request, options, kWarmupNowMs, &response);
    ++stats.requests;
    if (!status.ok()) {
      ++stats.failures;
      if (first_error.ok()) first_error = status;
    }
  }
  if (stats.failures > 0) {
    spdlog::warn(
        "warm-up of model \"{}\": {} of {} synthetic requests refused "
        "(first: {}); serving it anyway",
        model.version(), stats.failures, stats.requests,
        first_error.ToString());
  }
  return stats;
}

}  // namespace rerank
