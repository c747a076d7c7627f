#pragma once

// rerank-eval's engine: offline, leave-one-out evaluation of rerankd's
// scoring on a time-split interaction log. docs/evaluation.md describes the
// protocol and the reading of the results; this header is the contract.
//
//  1. Split the log by time (time_split.h). Train factors + neighbours on
//     the train side with the rerank-train library entry points
//     (BuildInteractionMatrix, TrainModelData), or use a given model.
//  2. Every test-side interaction of the chosen event type (purchases by
//     default) is a test case, optionally sampled down (seeded).
//  3. Per case: the user's events strictly before its timestamp (train and
//     earlier test events; the last max_events), a candidate list of the
//     true item plus num_candidates retrieved items (candidates.h), and the
//     rank of the true item under each strategy:
//       baseline          retriever order (input order)
//       user_cf           user-based CF (user_knn.h)
//       factors           rerank::Rerank with w_base = w_nb = 0, every
//                         w_type = 0 and purchase_demotion = 0: the score is
//                         w_mf <u, v_c> with u the user's factors (no session
//                         part, since every event weight is 0); unknown
//                         users get 0 for all candidates, i.e. baseline
//                         order
//       full              rerank::Rerank with the server's weights
//       <variants>        rerank::Rerank with the server's weights plus
//                         named overrides and request rules, e.g.
//                         full_no_demotion, full+mmr0.7, full+cap2
//  4. HR@k, NDCG@k, MRR per strategy with bootstrap CIs, and the paired
//     difference to the baseline with its own bootstrap CI (metrics.h), for
//     the whole sample and for segments (known / cold users, repeat /
//     first-time purchases, true item retrieved / inserted at random).
//     Beside them, beyond accuracy, over each strategy's first k: ILD@k
//     (intra-list diversity over the model's item factors) and category
//     coverage@k (distinct model categories / list length), with CIs and
//     paired differences to `full`; and catalog coverage (distinct model
//     items in any first k / model items) per strategy.
//
// Deterministic: the report depends only on the log, the options and the
// seed -- not on `threads` (each case and each resample has its own seeded
// stream; ALS and the neighbour builder are thread-count independent).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "evaluation/candidates.h"
#include "evaluation/feature_importance.h"
#include "evaluation/metrics.h"
#include "evaluation/time_split.h"
#include "model/model_snapshot.h"
#include "ranking/ranker.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scoring_params.h"
#include "training/interaction_log.h"
#include "training/item_categories.h"
#include "training/trainer.h"

namespace rerank {

// Which test cases to sample by user.
enum class UserFilter {
  kAll,
  kKnown,  // users with >= 1 train interaction
  kCold,   // users with none (new or anonymous shoppers)
};
absl::StatusOr<UserFilter> ParseUserFilter(absl::string_view name);
absl::string_view UserFilterName(UserFilter filter);

// A named variant of the full score: the full weights with `overrides`,
// and `rules` sent as RerankRequest.rules with each of its requests (e.g.
// MMR diversity or category caps; empty: none).
struct ScoringVariant {
  std::string name;
  std::string description;
  v1::ScoringParams overrides;
  v1::Rules rules;
  // The ranker (unset: the model's default, as rerankd without a config
  // ranker). The formula's single parts set kFormula.
  std::optional<RankerKind> ranker;
};

// full_no_demotion: purchase_demotion = 0.
ScoringVariant NoDemotionVariant();
// Single parts of the formula (whatever the model's default ranker):
//   formula_base0        base_weight = 0
//   formula_boosts_only  base_weight = factor_weight = 0
std::vector<ScoringVariant> FormulaPartVariants();
// The diversity / cap trade-off, on the full weights (and ranker):
//   full+mmr0.7  rules.diversity {lambda: 0.7, top: 10} (pool: 50)
//   full+mmr0.4  rules.diversity {lambda: 0.4, top: 10}
//   full+cap2    rules.caps {CAP_FIELD_CATEGORY, max_items: 2,
//                            within_top: 10}
std::vector<ScoringVariant> DiversityVariants();
// NoDemotionVariant(), FormulaPartVariants(), DiversityVariants().
std::vector<ScoringVariant> DefaultScoringVariants();

// Parses variants separated by ';':
//   variant := name '=' part ('+' part)*
//   name    := [A-Za-z0-9_.+-]+
//   part    := {ScoringParams JSON}         weight overrides, e.g.
//                                           {"base_weight": 0}
//            | mmr:LAMBDA[:TOP[:POOL]]      rules.diversity (lambda in
//                                           [0, 1]; top default 10, pool
//                                           default 5 * top)
//            | cap:MAX[:WITHIN]             rules.caps += {CATEGORY,
//                                           max_items MAX, within_top
//                                           WITHIN (default 10)}
//            | rules:{Rules JSON}           any v1::Rules, merged in
// JSON is the protobuf JSON mapping; a JSON part runs to its matching '}',
// so it may contain '+' and ';'. At most one weight-override part. E.g.
//   full+mmr0.5=mmr:0.5;nobase+cap3={"base_weight":0}+cap:3:10
// The rules are validated as rerankd validates a request's. Errors name the
// variant and the bad part. The description lists overrides and rules. An
// empty string gives no variants.
absl::StatusOr<std::vector<ScoringVariant>> ParseScoringVariants(
    absl::string_view spec);

// A human-readable summary of `rules` for descriptions, e.g. "MMR
// diversity lambda=0.7 over the top 10 (pool 50); at most 2 per category
// within the top 10". "" for empty rules.
std::string DescribeRules(const v1::Rules& rules);

struct EvalOptions {
  SplitOptions split;
  EventType test_event_type = EventType::kPurchase;
  UserFilter users = UserFilter::kAll;
  // Cap on the number of test cases, sampled uniformly without replacement
  // (seeded). 0: every eligible interaction.
  int64_t max_test_cases = 20000;
  uint64_t seed = 42;
  int num_candidates = 100;
  RetrieverKind retriever = RetrieverKind::kPopularity;
  // Neighbours per item of the co-occurrence retriever's own table.
  int retriever_neighbors = 200;
  // Events per request: the user's last max_events before the test moment.
  int max_events = 50;
  int user_knn_k = 50;
  int cutoff = kDefaultMetricCutoff;
  int bootstrap = 1000;
  // Resample test cases (default) or users with all their test cases.
  BootstrapUnit bootstrap_unit = BootstrapUnit::kCase;
  double confidence = 0.95;
  int threads = 2;
  // Event weights, ALS and neighbour options when training in memory (the
  // paths are unused). The thread counts inside are overridden by `threads`.
  TrainOptions train;
  // Item categories of the model trained in memory (rerank-train's
  // --item_categories; empty: none). A given model has its own. Caps and
  // category coverage use the model's categories.
  ItemCategoryMap item_categories;
  // The full strategy's weights: the server defaults, or a config's.
  ScoringWeights full_weights;
  std::vector<ScoringVariant> variants = DefaultScoringVariants();
};

absl::Status ValidateEvalOptions(const EvalOptions& options);

inline constexpr double kMinVisibleBoost = 1e-3;

// Fixed strategy indices (EvalReport::strategies).
inline constexpr int kBaselineStrategy = 0;
inline constexpr int kFullStrategy = 3;

struct StrategyInfo {
  std::string name;
  std::string description;
};

// One test case's outcome.
struct CaseRecord {
  int64_t interaction = 0;  // index into the log
  int32_t events = 0;       // events sent with the request
  bool known_user = false;  // >= 1 train interaction
  bool repeat = false;      // the user interacted with the true item before
  bool true_item_known = false;  // the train window has the true item
  bool true_retrieved = false;   // in the retriever's top N + 1
  bool demoted = false;          // full: purchase demotion hit the true item
  bool session_event = false;    // an event within one half-life of now
  // full: some candidate got an event boost of at least kMinVisibleBoost
  // in absolute value. A threshold, because decay never reaches exactly 0
  // for events up to ~3 weeks old (2^-48 for one day at a 30 min
  // half-life), and such boosts change no order.
  bool any_boost = false;
  std::vector<int32_t> ranks;  // 1-based, per strategy
  // Beyond accuracy over each strategy's first `cutoff` (metrics.h); NaN
  // when undefined (ILD: < 2 items with factors; coverage: the model has no
  // categories).
  std::vector<double> ild;       // per strategy
  std::vector<double> coverage;  // per strategy
};

struct StrategyMetrics {
  Interval hit, ndcg, mrr;
  // Paired differences strategy - baseline (0 for the baseline itself).
  Interval d_hit, d_ndcg, d_mrr;
  // Cases where the true item ranks better / worse than in the baseline.
  int64_t better = 0;
  int64_t worse = 0;
  // Beyond accuracy, means over the cases where defined (NaN if none).
  Interval ild, coverage;
  int64_t ild_cases = 0;  // cases whose first k has >= 2 items with factors
  // Distinct model items among the first k of the segment's cases / model
  // items (items unknown to the model are not counted). No interval.
  double catalog_coverage = 0;
  // Paired differences strategy - full (0 for full itself): what a
  // variant trades against the full score it modifies.
  Interval f_hit, f_ndcg, f_ild, f_coverage;
};

struct SegmentReport {
  std::string name;
  std::string description;
  int64_t cases = 0;
  // Fractions of the segment's cases (see CaseRecord).
  double repeat_fraction = 0;
  double demoted_fraction = 0;
  double true_item_known_fraction = 0;
  double true_retrieved_fraction = 0;
  double session_event_fraction = 0;
  double any_boost_fraction = 0;
  double mean_events = 0;
  std::vector<StrategyMetrics> metrics;  // per strategy; empty if no cases
};

struct EvalReport {
  EvalOptions options;
  std::string log_source;
  double split_time = 0;
  int64_t log_interactions = 0;
  int64_t train_interactions = 0;
  int64_t test_interactions = 0;
  int64_t eligible_cases = 0;  // test interactions of the type and users
  int64_t sampled_cases = 0;
  int32_t train_users = 0;
  int32_t train_items = 0;
  int64_t train_pairs = 0;
  std::string model_source;  // "trained in memory" or the directory
  // What options.train.finish_model reported (the learned rankers).
  std::string finish_summary;
  std::string model_version;
  int32_t model_dim = 0;
  int64_t model_users = 0;
  int64_t model_items = 0;
  int64_t model_neighbors = 0;
  double train_seconds = 0;
  double eval_seconds = 0;
  double bootstrap_seconds = 0;
  bool model_has_categories = false;
  int64_t model_categorized_items = 0;  // items with a non-empty category
  // Per learned ranker of the model (linear, then gbdt; empty for a
  // formula-only model): its features by importance, descending, summing
  // to 1. Linear: |weight| (on standardised features); gbdt: total cover
  // of the splits on the feature. feature_importance.h defines them.
  std::vector<RankerImportance> feature_importance;
  std::vector<StrategyInfo> strategies;  // index 0 is the baseline
  std::vector<SegmentReport> segments;   // index 0 is "all"
  std::vector<CaseRecord> cases;
};

// Runs the evaluation. `model`: null to train one on the train side (with
// options.train), else the model to evaluate (which should have been trained
// on data before the split, or the numbers are optimistic). `log_source`
// only labels the report.
absl::StatusOr<EvalReport> RunEvaluation(
    const InteractionLog& log, const EvalOptions& options,
    std::shared_ptr<const ModelSnapshot> model = nullptr,
    absl::string_view log_source = "");

// The scoring weights of a rerankd config file (the `scoring` object of
// config.proto's ServerConfig JSON) applied to the server defaults, exactly
// as rerankd resolves them. Other keys are parsed (unknown ones refused)
// but ignored.
absl::StatusOr<ScoringWeights> ScoringWeightsFromConfigJson(
    absl::string_view json, absl::string_view source);
absl::StatusOr<ScoringWeights> ScoringWeightsFromConfigFile(
    const std::string& path);

}  // namespace rerank
