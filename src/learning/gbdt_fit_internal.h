#pragma once

// The pieces of FitGbdt (gbdt_fit.cc) that tests reach directly: the
// conversion of an XGBoost JSON model to a GbdtSpec, and a FitGbdt that also
// hands back XGBoost's own model of the kept trees, so a test can compare
// XGBoost's predictions with the converted spec's. Internal to src/learning
// and its tests.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "learning/ranker_fit.h"
#include "ranking/ranker.h"

namespace rerank::learning_internal {

// Converts the JSON that XGBoosterSaveModelToBuffer writes with
// {"format": "json"} (XGBoost 1.7's schema: a gbtree of numerical splits,
// one output group) to trees over `num_features` columns: split index j of
// the model becomes TreeSpec::feature j. Nodes are renumbered breadth-first
// from the root, so nodes XGBoost deleted (unreachable) are dropped.
// base_score is the model's learner_model_param.base_score, which is the
// margin of an empty ensemble for rank:ndcg (its link is the identity).
// INVALID_ARGUMENT naming the JSON path of a missing or malformed field.
absl::StatusOr<GbdtSpec> GbdtSpecFromXgboostJson(absl::string_view json,
                                                 int32_t num_features);

// FitGbdt, also setting *xgboost_model_json (if not null) to XGBoost's JSON
// model of exactly the kept trees (columns: the spec's features in order).
absl::StatusOr<RankerSpec> FitGbdtWithModel(const RankingData& train,
                                            const RankingData& validation,
                                            const GbdtFitOptions& options,
                                            const FitProgress& progress,
                                            FitReport* report,
                                            std::string* xgboost_model_json);

}  // namespace rerank::learning_internal
