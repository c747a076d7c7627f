#pragma once

// Helpers shared by the learners (linear_fit.cc, gbdt_fit.cc). Internal to
// src/learning.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "learning/ranker_fit.h"

namespace rerank::learning_internal {

// The feature-set indices a learner uses: those `names` gives (each known,
// none repeated; INVALID_ARGUMENT naming the offender), or, when `names` is
// empty, every feature that is not constant on the rows of `train`, in
// feature-set order. INVALID_ARGUMENT when none is left.
absl::StatusOr<std::vector<int32_t>> SelectFeatures(
    const std::vector<std::string>& names, const RankingData& train);

// The names of `features` (feature-set indices).
std::vector<std::string> FeatureNamesOf(const std::vector<int32_t>& features);

// "a,b,c" for a description line.
std::string JoinFeatureNames(const std::vector<int32_t>& features);

// Seconds since an arbitrary, monotonic origin.
double NowSeconds();

}  // namespace rerank::learning_internal
