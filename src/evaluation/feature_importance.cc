#include "evaluation/feature_importance.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace rerank {

std::vector<FeatureImportance> RankerFeatureImportance(const Ranker& ranker) {
  const RankerSpec& spec = ranker.spec();
  std::vector<double> raw(spec.feature_names.size(), 0.0);
  if (spec.kind == RankerKind::kLinear) {
    for (size_t j = 0; j < raw.size() && j < spec.linear.weights.size(); ++j) {
      raw[j] = std::fabs(spec.linear.weights[j]);
    }
  } else if (spec.kind == RankerKind::kGbdt) {
    for (const TreeSpec& tree : spec.gbdt.trees) {
      for (size_t i = 0; i < tree.left.size(); ++i) {
        if (tree.left[i] == -1) continue;  // a leaf
        const int32_t f = tree.feature[i];
        // Create has checked the index; stay safe anyway.
        if (f < 0 || static_cast<size_t>(f) >= raw.size()) continue;
        raw[f] += tree.cover[i];
      }
    }
  }
  double total = 0.0;
  for (const double v : raw) total += v;
  std::vector<FeatureImportance> out(raw.size());
  for (size_t j = 0; j < raw.size(); ++j) {
    out[j].feature = spec.feature_names[j];
    out[j].importance = total > 0.0 ? raw[j] / total : 0.0;
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const FeatureImportance& a, const FeatureImportance& b) {
                     return a.importance > b.importance;
                   });
  return out;
}

}  // namespace rerank
