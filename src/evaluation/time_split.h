#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/interaction_log.h"

namespace rerank {

// What --test_fraction is a fraction of.
enum class FractionOf {
  // The last `test_fraction` of the interactions (by timestamp): the split
  // time is the timestamp of the interaction at that quantile, so the test
  // part holds at least that fraction (more when events share the split
  // timestamp, which all go to the test side).
  kInteractions,
  // The last `test_fraction` of the time range [first, last timestamp].
  kTime,
};
absl::StatusOr<FractionOf> ParseFractionOf(absl::string_view name);
absl::string_view FractionOfName(FractionOf f);

struct SplitOptions {
  // Unix seconds. When set, test_fraction is ignored.
  std::optional<double> split_time;
  double test_fraction = 0.1;  // in (0, 1)
  FractionOf fraction_of = FractionOf::kInteractions;
};

// The split time for `interactions` under `options`. INVALID_ARGUMENT for an
// empty log or a fraction outside (0, 1).
absl::StatusOr<double> ComputeSplitTime(
    absl::Span<const Interaction> interactions, const SplitOptions& options);

// Indices into the log, each in log order. An interaction belongs to the
// train side iff its timestamp is strictly before split_time: the test side
// starts AT the split time, so "--split_time=2011-11-01" tests on November
// onwards, and events sharing one timestamp (one invoice) are never torn
// apart.
struct TimeSplit {
  double split_time = 0;
  std::vector<int64_t> train;
  std::vector<int64_t> test;
};
TimeSplit SplitByTime(absl::Span<const Interaction> interactions,
                      double split_time);

}  // namespace rerank
