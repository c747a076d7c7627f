#pragma once

// Global feature importance of a learned ranker (ranking/ranker.h): how much
// the ranker relies on each of its features, for rerank-eval's reports.
//
// Definition, per ranker kind (the raw importance of spec feature j):
//   linear  |weights[j]|. The weights act on standardised features
//           ((x - mean) / scale), so their magnitudes compare across
//           features of different scales.
//   gbdt    the sum, over every split node of every tree that splits on
//           feature j, of the node's cover (its hessian sum): a
//           cover-weighted split count, XGBoost's importance_type
//           "total_cover".
// The raw importances are normalised to sum to 1 over the ranker's
// features (all 0 when they sum to 0, e.g. a ranker of leaves only or all
// zero weights). Importance is a magnitude: it says nothing about the sign
// of a feature's effect or whether the feature helps the metrics.

#include <string>
#include <vector>

#include "ranking/ranker.h"

namespace rerank {

struct FeatureImportance {
  std::string feature;      // the spec's feature name
  double importance = 0.0;  // >= 0; a ranker's importances sum to 1
};

// The importances of one learned ranker of the evaluated model.
struct RankerImportance {
  std::string ranker;  // RankerKindName: "linear" or "gbdt"
  std::vector<FeatureImportance> features;  // see RankerFeatureImportance
};

// One entry per spec feature of `ranker` (features it never uses get 0),
// normalised as above, sorted by importance descending; ties keep the
// spec's feature order.
std::vector<FeatureImportance> RankerFeatureImportance(const Ranker& ranker);

}  // namespace rerank
