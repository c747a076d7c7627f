#include "learning/fit_util.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ranking/features.h"

namespace rerank::learning_internal {

absl::StatusOr<std::vector<int32_t>> SelectFeatures(
    const std::vector<std::string>& names, const RankingData& train) {
  std::vector<int32_t> features;
  if (!names.empty()) {
    std::vector<bool> seen(kNumFeatures, false);
    for (size_t i = 0; i < names.size(); ++i) {
      const int32_t f = FindFeature(names[i]);
      if (f < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("features[", i, "]=\"", names[i],
                         "\" is not a feature of ", kFeatureSetName));
      }
      if (seen[f]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "features[", i, "]=\"", names[i], "\" is named twice"));
      }
      seen[f] = true;
      features.push_back(f);
    }
    return features;
  }
  const int64_t rows = train.num_rows();
  for (int32_t f = 0; f < kNumFeatures; ++f) {
    bool constant = true;
    for (int64_t r = 1; r < rows && constant; ++r) {
      constant = train.features[r * kNumFeatures + f] == train.features[f];
    }
    if (!constant) features.push_back(f);
  }
  if (features.empty()) {
    return absl::InvalidArgumentError(
        "every feature is constant on the training rows: nothing to learn "
        "from");
  }
  return features;
}

std::vector<std::string> FeatureNamesOf(const std::vector<int32_t>& features) {
  const absl::Span<const absl::string_view> all = FeatureNames();
  std::vector<std::string> names;
  names.reserve(features.size());
  for (const int32_t f : features) names.emplace_back(all[f]);
  return names;
}

std::string JoinFeatureNames(const std::vector<int32_t>& features) {
  return absl::StrJoin(FeatureNamesOf(features), ",");
}

double NowSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace rerank::learning_internal
