// FuzzRankerFile: ranker file parsing and validation (ranking/ranker.h) on
// hostile bytes; for every file accepted, the canonical JSON round trip and
// scoring / explaining a few rows, checked against a direct walk of the
// spec.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_targets.h"
#include "ranking/features.h"
#include "ranking/ranker.h"

namespace rerank::fuzz {
namespace {

constexpr char kFileName[] = "ranker_fuzz.json";
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// The score of `row` (feature-set layout) by ranker.h's definition, walking
// the spec itself rather than the Ranker's layout.
double ReferenceScore(const RankerSpec& spec, const float* row) {
  if (spec.kind == RankerKind::kLinear) {
    double s = spec.linear.bias;
    for (size_t j = 0; j < spec.feature_names.size(); ++j) {
      const double v =
          static_cast<double>(row[FindFeature(spec.feature_names[j])]) -
          spec.linear.means[j];
      // Ranker's documented choice: a NaN feature contributes nothing.
      s += std::isnan(v) ? 0.0 : v * (spec.linear.weights[j] /
                                      spec.linear.scales[j]);
    }
    return s;
  }
  double s = spec.gbdt.base_score;
  for (const TreeSpec& t : spec.gbdt.trees) {
    int32_t n = 0;
    for (int steps = 0; t.left[n] != -1; ++steps) {
      FUZZ_CHECK(steps <= kMaxTreeDepth);  // Create refused cycles
      const float x = row[FindFeature(spec.feature_names[t.feature[n]])];
      const bool left =
          std::isnan(x) ? t.default_left[n] != 0 : x < t.threshold[n];
      n = left ? t.left[n] : t.right[n];
    }
    s += t.value[n];
  }
  return s;
}

bool SameDouble(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

// A bound on the magnitude of every partial sum Explain forms (node means
// are convex combinations of their tree's leaves), for its tolerance.
double Magnitude(const RankerSpec& spec) {
  double m = 1.0 + std::abs(spec.gbdt.base_score);
  for (const TreeSpec& t : spec.gbdt.trees) {
    double largest = 0.0;
    for (size_t i = 0; i < t.left.size(); ++i) {
      if (t.left[i] == -1) largest = std::max(largest, std::abs(t.value[i]));
    }
    m += 2.0 * largest;
  }
  return m;
}

// Rows that reach the edges of the splits: zeros, all missing, each split's
// threshold exactly and the float just below it, values far outside, and
// values taken from the input's bytes.
std::vector<float> EdgeRows(const RankerSpec& spec, const uint8_t* data,
                            size_t size, int32_t stride, int32_t* rows) {
  std::vector<std::vector<float>> thresholds(kNumFeatures);
  std::vector<int32_t> index;
  for (const std::string& name : spec.feature_names) {
    index.push_back(FindFeature(name));
  }
  for (const TreeSpec& t : spec.gbdt.trees) {
    for (size_t i = 0; i < t.left.size(); ++i) {
      if (t.left[i] != -1) {
        thresholds[index[t.feature[i]]].push_back(t.threshold[i]);
      }
    }
  }
  *rows = 21;  // more than one of Score's blocks of rows
  std::vector<float> x(static_cast<size_t>(*rows) * stride, 0.0f);
  for (int32_t r = 0; r < *rows; ++r) {
    for (int32_t f = 0; f < kNumFeatures; ++f) {
      float& v = x[static_cast<size_t>(r) * stride + f];
      const std::vector<float>& th = thresholds[f];
      const size_t pick = static_cast<size_t>(r * 31 + f * 7);
      const uint8_t byte = size > 0 ? data[pick % size] : 0;
      switch (r % 7) {
        case 0:
          v = 0.0f;
          break;
        case 1:
          v = kNan;
          break;
        case 2:
          v = th.empty() ? 0.5f : th[pick % th.size()];
          break;
        case 3:
          v = th.empty() ? -0.5f
                         : std::nextafter(th[pick % th.size()], -INFINITY);
          break;
        case 4:
          v = (f % 2 == 0 ? 1e30f : -1e30f);
          break;
        case 5:
          v = (byte % 5 == 0) ? kNan : (static_cast<float>(byte) - 100.0f) / 64;
          break;
        default:
          v = th.empty() ? static_cast<float>(byte) / 255
                         : th[byte % th.size()];
          break;
      }
    }
  }
  return x;
}

void CheckRanker(const Ranker& ranker, const RankerSpec& spec,
                 const uint8_t* data, size_t size) {
  FUZZ_CHECK(ranker.kind() == spec.kind);
  FUZZ_CHECK(ranker.feature_index().size() == spec.feature_names.size());
  // A stride wider than the feature set, as a caller with extra columns.
  const int32_t stride = kNumFeatures + 2;
  int32_t rows = 0;
  const std::vector<float> x = EdgeRows(spec, data, size, stride, &rows);
  std::vector<double> scores(rows);
  ranker.Score(x.data(), rows, stride, scores.data());
  const bool check_explain =
      spec.kind == RankerKind::kLinear || Magnitude(spec) < 1e300;
  const double tolerance = 1e-9 * Magnitude(spec);
  for (int32_t r = 0; r < rows; ++r) {
    const float* row = &x[static_cast<size_t>(r) * stride];
    // The same additions in the same order as the definition.
    FUZZ_CHECK(SameDouble(scores[r], ReferenceScore(spec, row)));
    double one = 0.0;
    ranker.Score(row, 1, stride, &one);
    FUZZ_CHECK(SameDouble(one, scores[r]));
    double bias = 0.0;
    std::vector<double> contributions;
    ranker.Explain(row, &bias, &contributions);
    FUZZ_CHECK(contributions.size() == spec.feature_names.size());
    if (!check_explain) continue;
    double sum = bias;
    for (const double c : contributions) sum += c;
    if (spec.kind == RankerKind::kLinear) {
      // Explain repeats Score's arithmetic: equal to the bit (or both NaN,
      // when a huge feature overflows).
      FUZZ_CHECK(SameDouble(sum, scores[r]));
    } else {
      if (!(std::abs(sum - scores[r]) <= tolerance)) {
        std::fprintf(stderr, "row %d: bias + contributions %.17g, score %.17g\n",
                     r, sum, scores[r]);
      }
      FUZZ_CHECK(std::abs(sum - scores[r]) <= tolerance);
    }
  }
}

}  // namespace

int FuzzRankerFile(const uint8_t* data, size_t size) {
  // Refused before parsing (and far beyond libFuzzer's lengths).
  if (size > static_cast<size_t>(kMaxRankerFileBytes)) return -1;
  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<RankerSpec> spec = ParseRankerSpecJson(json, kFileName);
  absl::StatusOr<std::unique_ptr<const Ranker>> ranker =
      ParseRankerJson(json, kFileName);
  if (!spec.ok()) {
    // ParseRankerJson fails the same way; errors name the file.
    FUZZ_CHECK(spec.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(spec.status().message(),
                                std::string(kFileName) + ": "));
    FUZZ_CHECK(!ranker.ok() && ranker.status() == spec.status());
    return 0;
  }

  // The canonical JSON of any spec that parsed reads back to the same spec
  // (compared by its own canonical JSON) and is a fixed point.
  const std::string canonical = RankerSpecToJson(*spec);
  FUZZ_CHECK(!canonical.empty());
  absl::StatusOr<RankerSpec> again = ParseRankerSpecJson(canonical, kFileName);
  if (!again.ok()) {
    std::fprintf(stderr, "canonical ranker file refused: %s\n%s\n",
                 std::string(again.status().message()).c_str(),
                 canonical.c_str());
  }
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(RankerSpecToJson(*again) == canonical);

  // Create agrees with ParseRankerJson, which only adds the file name.
  absl::StatusOr<std::unique_ptr<const Ranker>> created = Ranker::Create(*spec);
  FUZZ_CHECK(created.ok() == ranker.ok());
  if (!ranker.ok()) {
    FUZZ_CHECK(ranker.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(ranker.status().message() ==
               std::string(kFileName) + ": " +
                   std::string(created.status().message()));
    FUZZ_CHECK(!created.status().message().empty());
    return 0;
  }
  // Accepted: the documented guarantees.
  FUZZ_CHECK(spec->kind == RankerKind::kLinear ||
             spec->kind == RankerKind::kGbdt);
  FUZZ_CHECK(spec->feature_set == kFeatureSetName);
  if (spec->kind == RankerKind::kGbdt) {
    FUZZ_CHECK(spec->gbdt.trees.size() <=
               static_cast<size_t>(kMaxRankerTrees));
  }
  CheckRanker(**ranker, *spec, data, size);
  return 0;
}

}  // namespace rerank::fuzz
