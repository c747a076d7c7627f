#include "evaluation/time_split.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rerank {

absl::StatusOr<FractionOf> ParseFractionOf(absl::string_view name) {
  if (name == "interactions") return FractionOf::kInteractions;
  if (name == "time") return FractionOf::kTime;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown fraction_of '", name, "' (expected interactions or time)"));
}

absl::string_view FractionOfName(FractionOf f) {
  return f == FractionOf::kTime ? "time" : "interactions";
}

absl::StatusOr<double> ComputeSplitTime(
    absl::Span<const Interaction> interactions, const SplitOptions& options) {
  if (interactions.empty()) {
    return absl::InvalidArgumentError("cannot split an empty log");
  }
  if (options.split_time.has_value()) return *options.split_time;
  const double f = options.test_fraction;
  if (!(f > 0.0 && f < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("test_fraction must be in (0, 1), got ", f));
  }
  std::vector<double> ts;
  ts.reserve(interactions.size());
  for (const Interaction& x : interactions) ts.push_back(x.timestamp);
  if (options.fraction_of == FractionOf::kTime) {
    const auto [lo, hi] = std::minmax_element(ts.begin(), ts.end());
    return *lo + (1.0 - f) * (*hi - *lo);
  }
  // The first interaction of the test part: index n - ceil(f n), so the test
  // side has at least f n interactions (ties at the split join it).
  const size_t n = ts.size();
  const size_t test_count = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(f * static_cast<double>(n))));
  const size_t k = n - std::min(test_count, n);
  std::nth_element(ts.begin(), ts.begin() + k, ts.end());
  return ts[k];
}

TimeSplit SplitByTime(absl::Span<const Interaction> interactions,
                      double split_time) {
  TimeSplit split;
  split.split_time = split_time;
  for (size_t i = 0; i < interactions.size(); ++i) {
    if (interactions[i].timestamp < split_time) {
      split.train.push_back(static_cast<int64_t>(i));
    } else {
      split.test.push_back(static_cast<int64_t>(i));
    }
  }
  return split;
}

}  // namespace rerank
