#pragma once

// rerank-train's learned-ranking step (README "Learned ranking"): from the
// shop's own interaction log, lists of candidates labelled with what the
// shopper did next, their feature vectors exactly as rerankd computes them
// (rerank::ExtractFeatures), and the fitted rankers.
//
//  1. Inner time split: the last `holdout_fraction` of the training log is
//     held out; factors and neighbours are trained on the rest (the same
//     TrainModelData as the final model), so that the features of the
//     held-out lists come from a model that never saw them, as at serving.
//  2. Lists: each held-out basket (a user's target-type interactions at one
//     timestamp) is one list: one of its items is the true item, the
//     candidates come from one of three retrievers in turn (popularity,
//     popularity without the user's items, item co-occurrence with the
//     user's recent items; evaluation/candidates.h), the events are the
//     user's last `max_events` before the basket. Every candidate that is
//     in the basket is relevant (label 1). Several retrievers, so that the
//     ranker does not learn one retriever's order.
//  3. Lists are split (seeded, by list) into fitting and validation lists;
//     linear and gbdt rankers are fitted (learning/ranker_fit.h), and the
//     default ranker is linear unless gbdt beats it on the validation lists
//     by more than two standard errors of the paired per-list difference.
//
// Deterministic for a seed and thread count.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "learning/ranker_fit.h"
#include "model/model_snapshot.h"
#include "ranking/ranker.h"
#include "training/interaction_log.h"
#include "training/item_categories.h"
#include "training/trainer.h"

namespace rerank {

// What rerank-train's --ranker fits.
enum class RankerChoice {
  kFormula,  // no learned ranker: the model serves the formula
  kLinear,
  kGbdt,
  kAuto,  // both; gbdt is the default only if clearly better (see report)
};
// "formula", "linear", "gbdt", "auto".
absl::StatusOr<RankerChoice> ParseRankerChoice(absl::string_view name);
absl::string_view RankerChoiceName(RankerChoice choice);

struct RankerTrainingOptions {
  RankerChoice choice = RankerChoice::kAuto;
  // The held-out last slice of the log, by interactions.
  double holdout_fraction = 0.1;
  // Candidates per list besides the true item.
  int num_candidates = 50;
  // Events per request: the user's last max_events before the basket.
  int max_events = 20;
  // Lists sampled from the held-out baskets (seeded); 0: all.
  int max_lists = 6000;
  // Share of the lists held back for validation (early stopping, choice).
  double validation_fraction = 0.2;
  // Neighbours per item of the co-occurrence retriever's table.
  int retriever_neighbors = 200;
  uint64_t seed = 42;
  int threads = 2;
  // Their `features` empty: kDefaultRankerFeatures (ranking/features.h).
  LinearFitOptions linear;
  GbdtFitOptions gbdt;
};

absl::Status ValidateRankerTrainingOptions(const RankerTrainingOptions& o);

// Mean and standard error of a per-list difference of NDCG@10.
struct PairedDifference {
  double mean = 0.0;
  double standard_error = 0.0;
  int64_t lists = 0;
};

// NDCG@10 of ranker b minus ranker a over the validation lists, paired by
// list (lists without a relevant row skipped).
absl::StatusOr<PairedDifference> PairedValidationDifference(
    const RankerSpec& a, const RankerSpec& b, const RankingData& validation);

struct RankerTrainingReport {
  double split_time = 0.0;  // Unix seconds
  int64_t inner_train_interactions = 0;
  int64_t holdout_interactions = 0;
  std::string target_type;  // event type of the baskets
  int64_t baskets = 0;      // held-out baskets eligible
  int64_t fit_lists = 0, validation_lists = 0;
  int64_t fit_rows = 0, validation_rows = 0;
  std::vector<int64_t> lists_by_retriever;  // popularity, unseen, cooc
  // Lists with part of the basket given as events (the session).
  int64_t session_lists = 0;
  bool fitted_linear = false, fitted_gbdt = false;
  FitReport linear, gbdt;
  // NDCG@10 of the validation lists in the lists' own (retriever) order.
  double validation_ndcg_baseline = 0.0;
  // With both fitted: gbdt minus linear, paired over the validation lists.
  // kAuto chooses gbdt only when mean - 2 standard errors > 0.
  PairedDifference gbdt_minus_linear;
  RankerKind chosen = RankerKind::kFormula;
  double seconds = 0.0;
  // kAuto on a log too small to fit on: why the model keeps the formula.
  std::string skipped;
};

// Fits the rankers of `options` on `log` (the whole training log) and adds
// them to `*model` (trained on the whole log), with its default ranker.
// `train` gives the factor and neighbour options of the inner model;
// `categories` may be null. kFormula leaves the model unchanged.
// When the held-out slice yields too few lists to fit: INVALID_ARGUMENT
// (naming the figures and the option to change) for an explicit choice; for
// kAuto a warning, report->skipped set and the model left on the formula,
// so that small logs still train.
absl::Status TrainRankers(const InteractionLog& log, const TrainOptions& train,
                          const ItemCategoryMap* categories,
                          const RankerTrainingOptions& options,
                          ModelData* model, RankerTrainingReport* report);

// A multi-line summary for rerank-train's output.
std::string FormatRankerTrainingReport(const RankerTrainingReport& report);

// The lists of steps 2 and 3 for `model` (trained on `train_side`; no
// fitting): what TrainRankers fits on, split into fitting and validation
// lists. Exposed for tests.
absl::Status BuildRankingLists(absl::Span<const Interaction> interactions,
                               absl::Span<const int64_t> train_side,
                               absl::Span<const int64_t> held_out,
                               const ModelSnapshot& model,
                               const RankerTrainingOptions& options,
                               RankingData* fit, RankingData* validation,
                               RankerTrainingReport* report);

}  // namespace rerank
