// FuzzRerankRequest: hostile RerankRequests through the scorer, the way
// rerankd sees them (binary wire format) or rerank-cli reads them (JSON).

#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_targets.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/json_util.h"
#include "model/model_snapshot.h"
#include "ranking/features.h"
#include "ranking/ranker.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"

namespace rerank::fuzz {
namespace {

// Six items (one with extreme but finite factors, so scores can overflow to
// +-inf and inf - inf), three users, dim 3, neighbour lists of several
// lengths including a repeated neighbour, and categories.
ModelData FuzzModel() {
  ModelData m;
  m.version = "fuzz-model";
  m.dim = 3;
  m.user_ids = {"u1", "u2", "u\xc3\xa9"};
  m.item_ids = {"a", "b", "c", "d", "big", "e\xe2\x82\xac"};
  m.user_factors = {1.0f,  0.0f,  0.5f,  //
                    0.0f,  -1.0f, 2.0f,  //
                    1e30f, 1e30f, -1e30f};
  m.item_factors = {0.1f,  0.2f,   0.3f,   //
                    0.9f,  -0.1f,  0.0f,   //
                    0.5f,  0.5f,   0.5f,   //
                    -1.0f, 0.0f,   1.0f,   //
                    3e38f, -3e38f, 3e38f,  //
                    0.0f,  0.0f,   0.0f};
  // a: b, c, b   b: a   c: (none)   d: big, a   big: d   e: a, b, c, d
  m.neighbor_indptr = {0, 3, 4, 4, 6, 7, 11};
  m.neighbor_indices = {1, 2, 1, 0, 4, 0, 3, 0, 1, 2, 3};
  m.neighbor_scores = {0.9f,  0.5f, 0.5f, 1.0f, 2.0f, -0.5f,
                       1e30f, 0.4f, 0.3f, 0.2f, 0.1f};
  m.item_categories = {"shoes", "shoes", "", "hats", "big", "socks"};
  // A linear ranker over every feature (so requests naming LINEAR run the
  // whole feature pass), none of kind gbdt (so naming GBDT is refused);
  // the default stays the formula.
  m.item_counts = {10.0f, 3.0f, 0.0f, 1.0f, 1e6f, 2.0f};
  RankerSpec linear;
  linear.kind = RankerKind::kLinear;
  linear.feature_set = kFeatureSetName;
  double w = -1.0;
  for (const absl::string_view name : FeatureNames()) {
    linear.feature_names.emplace_back(name);
    linear.linear.weights.push_back(w);
    linear.linear.means.push_back(0.25);
    linear.linear.scales.push_back(0.5);
    w = w > 1.0 ? -1.0 : w + 0.3;
  }
  linear.linear.bias = 0.5;
  m.rankers.push_back(std::move(linear));
  return m;
}

const ModelSnapshot& Model() {
  static const ModelSnapshot* const model = [] {
    // Proto3 string fields with invalid UTF-8 make protobuf log an error per
    // parse: noise at thousands of inputs per second.
    google::protobuf::SetLogHandler(nullptr);
    absl::StatusOr<std::unique_ptr<const ModelSnapshot>> snapshot =
        ModelSnapshot::FromData(FuzzModel());
    if (!snapshot.ok()) {
      std::fprintf(stderr, "fuzz model refused: %s\n",
                   snapshot.status().ToString().c_str());
    }
    FUZZ_CHECK(snapshot.ok());
    return std::move(snapshot).value().release();
  }();
  return *model;
}

// The fuzz model's item ids, for recomputing stats independently of the
// model's index.
const std::set<std::string>& KnownItems() {
  static const std::set<std::string>* const items = [] {
    const ModelData m = FuzzModel();
    return new std::set<std::string>(m.item_ids.begin(), m.item_ids.end());
  }();
  return *items;
}

// Score order as OrderCandidates defines it: NaN ranks as -inf.
double RankKey(double score) {
  return std::isnan(score) ? -std::numeric_limits<double>::infinity() : score;
}

bool SameDouble(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

// Invariants of an accepted request's response (rerank.proto, scorer.h).
void CheckResponse(const v1::RerankRequest& request,
                   const v1::RerankResponse& response, bool null_scorer) {
  FUZZ_CHECK(response.request_id() == request.request_id());
  FUZZ_CHECK(response.model_version() == Model().version());
  const v1::RerankStats& stats = response.stats();
  FUZZ_CHECK(stats.candidates_received() ==
             static_cast<uint32_t>(request.candidates_size()));
  FUZZ_CHECK(stats.events_received() ==
             static_cast<uint32_t>(request.events_size()));
  // Removed by rule filters (out of stock is in dropped_candidates).
  uint32_t removed_by_rules = 0;
  bool reordered = false;
  for (const v1::ReasonCount& count : stats.reasons()) {
    FUZZ_CHECK(count.count() > 0);
    switch (count.code()) {
      case v1::REASON_CODE_EXCLUDED_ITEM:
      case v1::REASON_CODE_EXCLUDED_CATEGORY:
      case v1::REASON_CODE_RECENTLY_PURCHASED:
        removed_by_rules += count.count();
        break;
      case v1::REASON_CODE_OUT_OF_STOCK:
        FUZZ_CHECK(count.count() == stats.dropped_candidates());
        break;
      default:
        break;
    }
  }
  // Diversity, caps and pins may leave the list out of score order.
  const v1::Rules& rules = request.rules();
  reordered =
      rules.caps_size() > 0 || rules.pins_size() > 0 ||
      (rules.diversity().has_lambda() && rules.diversity().lambda() < 1);
  FUZZ_CHECK(stats.duplicate_candidates() + stats.dropped_candidates() +
                 removed_by_rules <=
             stats.candidates_received());
  const uint32_t kept = stats.candidates_received() -
                        stats.duplicate_candidates() -
                        stats.dropped_candidates() - removed_by_rules;
  const uint32_t expected_items =
      request.top_k() != 0 && request.top_k() < kept ? request.top_k() : kept;
  FUZZ_CHECK(static_cast<uint32_t>(response.items_size()) == expected_items);
  FUZZ_CHECK(stats.unknown_candidates() <= kept);
  if (!null_scorer) {
    FUZZ_CHECK(stats.unknown_events() <= stats.events_received());
    FUZZ_CHECK(stats.dropped_events() <= stats.events_received());
    FUZZ_CHECK(stats.future_events_clamped() <= stats.events_received());
  }

  // The counts, recomputed from the request alone.
  {
    const bool keep = request.overrides().keep_out_of_stock();
    std::set<std::string> unique;
    uint32_t duplicates = 0, dropped = 0, unknown = 0;
    for (const v1::Candidate& c : request.candidates()) {
      if (!unique.insert(c.item_id()).second) {
        ++duplicates;
      } else if (!keep && c.has_in_stock() && !c.in_stock()) {
        ++dropped;
      } else if (!KnownItems().contains(c.item_id())) {
        ++unknown;
      }
    }
    FUZZ_CHECK(stats.duplicate_candidates() == duplicates);
    FUZZ_CHECK(stats.dropped_candidates() == dropped);
    if (removed_by_rules == 0)
      FUZZ_CHECK(stats.unknown_candidates() == unknown);
    FUZZ_CHECK(stats.unknown_candidates() <= unknown);
    if (!null_scorer) {
      uint32_t unknown_events = 0;
      for (const v1::Event& e : request.events()) {
        if (!KnownItems().contains(e.item_id())) ++unknown_events;
      }
      FUZZ_CHECK(stats.unknown_events() == unknown_events);
    }
  }

  std::set<std::string> seen;
  for (int i = 0; i < response.items_size(); ++i) {
    const v1::RankedItem& item = response.items(i);
    FUZZ_CHECK(item.input_position() <
               static_cast<uint32_t>(request.candidates_size()));
    const v1::Candidate& candidate =
        request.candidates(static_cast<int>(item.input_position()));
    FUZZ_CHECK(item.item_id() == candidate.item_id());
    FUZZ_CHECK(seen.insert(item.item_id()).second);
    // Out-of-stock candidates are only kept on request.
    if (candidate.has_in_stock() && !candidate.in_stock()) {
      FUZZ_CHECK(request.overrides().keep_out_of_stock());
    }
    if (i > 0) {
      const v1::RankedItem& prev = response.items(i - 1);
      if (null_scorer) {
        FUZZ_CHECK(prev.input_position() < item.input_position());
      } else if (!reordered) {
        const double a = RankKey(prev.score());
        const double b = RankKey(item.score());
        FUZZ_CHECK(a > b ||
                   (a == b && prev.input_position() < item.input_position()));
      }
    }
    if (request.explain() && !null_scorer) {
      FUZZ_CHECK(item.has_explanation());
      const v1::Explanation& e = item.explanation();
      if (response.ranker() == v1::RANKER_KIND_LINEAR) {
        // Bias plus one contribution per feature (summed in another order
        // than the ranker's: equal up to rounding), then the rules.
        FUZZ_CHECK(e.base() == 0.0 && e.factor() == 0.0 &&
                   e.boosts_size() == 0 && e.boost_total() == 0.0);
        double sum = e.ranker_bias();
        double magnitude = std::fabs(e.ranker_bias());
        for (const v1::FeatureContribution& f : e.features()) {
          FUZZ_CHECK(std::isfinite(f.value()));
          sum += f.contribution();
          magnitude += std::fabs(f.contribution());
        }
        const double with_rules = sum + e.rules();
        if (std::isfinite(with_rules) && std::isfinite(item.score())) {
          FUZZ_CHECK(std::fabs(with_rules - item.score()) <=
                     1e-6 * (1.0 + magnitude + std::fabs(e.rules())));
        }
      } else {
        FUZZ_CHECK(response.ranker() == v1::RANKER_KIND_FORMULA);
        FUZZ_CHECK(e.features_size() == 0);
        // The parts add up to the score, in the scorer's order.
        FUZZ_CHECK(SameDouble(e.base() + e.factor() + e.boost_total() +
                                  e.purchase_demotion() + e.rules(),
                              item.score()));
      }
      double deltas = 0.0;
      for (const v1::Reason& reason : item.reasons()) {
        deltas += reason.score_delta();
      }
      if (std::isfinite(deltas) && std::isfinite(e.rules())) {
        FUZZ_CHECK(std::fabs(deltas - e.rules()) <=
                   1e-9 * (1.0 + std::fabs(deltas)));
      }
      FUZZ_CHECK(e.purchase_demotion() <= 0.0);
      FUZZ_CHECK(e.known_item() == KnownItems().contains(item.item_id()));
      // Unknown items have no factors.
      FUZZ_CHECK(e.known_item() || e.factor() == 0.0);
      for (const v1::Boost& boost : e.boosts()) {
        FUZZ_CHECK(boost.event_index() >= 0 &&
                   boost.event_index() < request.events_size());
        FUZZ_CHECK(boost.event_item_id() ==
                   request.events(boost.event_index()).item_id());
        FUZZ_CHECK(boost.age_ms() >= 0);
        FUZZ_CHECK(boost.decay() >= 0.0 && boost.decay() <= 1.0);
        FUZZ_CHECK(boost.contribution() != 0.0);
      }
    }
  }
}

// The wire form of a scorer's response (RerankWire, RerankNullWire) parses
// back to the message form: same status, and when OK the same message.
template <typename WireFn>
void CheckWireForm(WireFn wire_fn, const absl::Status& status,
                   const v1::RerankResponse& response) {
  v1::RerankResponse header;
  std::string items;
  const absl::Status wire_status = wire_fn(&header, &items);
  FUZZ_CHECK(wire_status == status);
  if (!status.ok()) return;
  FUZZ_CHECK(header.items_size() == 0);
  // Ids that are not UTF-8 (a parsed request has none, JSON may) make both
  // forms unparsable alike.
  v1::RerankResponse parsed;
  v1::RerankResponse reparsed;
  const bool wire_parses =
      parsed.ParseFromString(header.SerializeAsString() + items);
  FUZZ_CHECK(wire_parses ==
             reparsed.ParseFromString(response.SerializeAsString()));
  if (wire_parses) {
    FUZZ_CHECK(parsed.SerializeAsString() == response.SerializeAsString());
  }
}

void RunScorers(const v1::RerankRequest& request) {
  ScorerOptions options;
  options.limits.max_candidates = 32;
  options.limits.max_events = 32;
  options.limits.max_id_bytes = 16;
  const int64_t now_ms = int64_t{1'700'000'000'000};

  const absl::Status valid = ValidateRequest(request, options.limits);
  v1::RerankResponse response;
  const absl::Status status =
      Rerank(Model(), request, options, now_ms, &response);
  if (!valid.ok()) {
    // Rerank validates first, with the same message.
    FUZZ_CHECK(status == valid);
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  }
  if (!status.ok()) {
    // The one refusal that depends on the model: it has no gbdt ranker.
    if (status.code() == absl::StatusCode::kFailedPrecondition) {
      FUZZ_CHECK(valid.ok());
      FUZZ_CHECK(request.ranker() == v1::RANKER_KIND_GBDT);
    } else {
      FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    }
    FUZZ_CHECK(!status.message().empty());
  } else {
    FUZZ_CHECK(valid.ok());
    FUZZ_CHECK(request.ranker() != v1::RANKER_KIND_GBDT);
    FUZZ_CHECK(response.ranker() == (request.ranker() == v1::RANKER_KIND_LINEAR
                                         ? v1::RANKER_KIND_LINEAR
                                         : v1::RANKER_KIND_FORMULA));
    CheckResponse(request, response, /*null_scorer=*/false);
    // Pure and deterministic: a second call gives the same bytes.
    v1::RerankResponse again;
    FUZZ_CHECK(Rerank(Model(), request, options, now_ms, &again).ok());
    FUZZ_CHECK(again.SerializeAsString() == response.SerializeAsString());
  }
  CheckWireForm(
      [&](v1::RerankResponse* header, std::string* items) {
        return RerankWire(Model(), request, options, now_ms, header, items);
      },
      status, response);

  v1::RerankResponse null_response;
  const absl::Status null_status =
      RerankNull(Model(), request, options, now_ms, &null_response);
  FUZZ_CHECK(null_status == status);
  if (null_status.ok()) {
    CheckResponse(request, null_response, /*null_scorer=*/true);
  }
  CheckWireForm(
      [&](v1::RerankResponse* header, std::string* items) {
        return RerankNullWire(Model(), request, options, now_ms, header, items);
      },
      null_status, null_response);
}

}  // namespace

int FuzzRerankRequest(const uint8_t* data, size_t size) {
  (void)Model();
  v1::RerankRequest request;
  if (size > 0 && data[0] == '{') {
    // rerank-cli's --request path (JsonStringToMessage, unknown fields
    // refused).
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto status = google::protobuf::util::JsonStringToMessage(
        std::string(reinterpret_cast<const char*>(data), size), &request,
        options);
    if (!status.ok()) return 0;
  } else if (!request.ParseFromArray(data, static_cast<int>(size))) {
    return 0;
  }
  RunScorers(request);
  return 0;
}

}  // namespace rerank::fuzz
