#pragma once

// Fitting learned rankers (ranking/ranker.h) from lists of candidates with
// relevance labels: the "linear" learner (pairwise logistic loss with
// LambdaRank weights and L2, on standardised features) and the "gbdt"
// learner (LambdaMART through XGBoost's C API, objective rank:ndcg, with
// early stopping on a validation set). Training only: XGBoost is never in
// the serving path; the trees it fits are converted to a RankerSpec that
// rerankd evaluates itself.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ranking/features.h"
#include "ranking/ranker.h"

namespace rerank {

// Lists of rows. Row r is features[r * kNumFeatures ..) in feature-set
// order; list g is rows [offsets[g], offsets[g+1]); labels are relevance
// grades (0 = not relevant). offsets has num_lists + 1 entries, offsets[0]
// is 0, and the last is the number of rows.
struct RankingData {
  std::vector<float> features;
  std::vector<float> labels;
  std::vector<int64_t> offsets = {0};

  int64_t num_rows() const { return static_cast<int64_t>(labels.size()); }
  int64_t num_lists() const {
    return static_cast<int64_t>(offsets.size()) - 1;
  }
};

// Checks the shape of `data` (sizes agree, offsets monotone, finite values);
// INVALID_ARGUMENT naming `what` ("training lists") and the problem.
absl::Status ValidateRankingData(const RankingData& data,
                                 absl::string_view what);

// Called while fitting, e.g. "gbdt: tree 120, validation ndcg@10 0.3102".
using FitProgress = std::function<void(const std::string& line)>;

struct LinearFitOptions {
  // Features to use (names of features.h); empty: every feature that is
  // not constant on the training rows.
  std::vector<std::string> features;
  double l2 = 1e-4;
  int epochs = 30;
  double learning_rate = 0.05;
  // Weight each pair by |delta NDCG| of swapping it (LambdaRank); else
  // plain pairwise logistic.
  bool lambda_weights = true;
  int ndcg_cutoff = 10;
  uint64_t seed = 42;
};

struct GbdtFitOptions {
  std::vector<std::string> features;  // as LinearFitOptions::features
  int max_trees = 300;
  int max_depth = 6;
  double learning_rate = 0.1;
  double min_child_weight = 1.0;
  double subsample = 1.0;
  double colsample_bytree = 1.0;
  double l2 = 1.0;  // XGBoost's lambda
  // Stop when validation NDCG@ndcg_cutoff has not improved for this many
  // trees, and keep the trees up to the best one.
  int early_stopping_rounds = 30;
  int ndcg_cutoff = 10;
  uint64_t seed = 42;
  int threads = 2;
};

// What a fit reports besides the ranker.
struct FitReport {
  double train_ndcg = 0.0;       // mean NDCG@cutoff over the training lists
  double validation_ndcg = 0.0;  // same over the validation lists
  int iterations = 0;            // epochs (linear) or trees kept (gbdt)
  double seconds = 0.0;
};

// Fits a linear ranker. `validation` may be empty (no lists); then the
// report's validation_ndcg is NaN. Deterministic for a seed.
absl::StatusOr<RankerSpec> FitLinear(const RankingData& train,
                                     const RankingData& validation,
                                     const LinearFitOptions& options,
                                     const FitProgress& progress,
                                     FitReport* report);

// Fits LambdaMART trees. `validation` must have lists (early stopping).
// Deterministic for a seed and thread count.
absl::StatusOr<RankerSpec> FitGbdt(const RankingData& train,
                                   const RankingData& validation,
                                   const GbdtFitOptions& options,
                                   const FitProgress& progress,
                                   FitReport* report);

// Mean NDCG@cutoff of `scores` (one per row) over the lists of `data`, with
// ties broken against the relevant row (pessimistic); lists without a
// relevant row are skipped.
double MeanNdcg(const RankingData& data, const std::vector<double>& scores,
                int cutoff);
// NDCG@cutoff of each list (NaN for a list without a relevant row, and for
// every list when `scores` has the wrong size or a NaN). MeanNdcg is the
// mean of the non-NaN entries.
std::vector<double> ListNdcg(const RankingData& data,
                             const std::vector<double>& scores, int cutoff);

}  // namespace rerank
