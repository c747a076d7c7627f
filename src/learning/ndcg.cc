// NDCG and the shape checks of RankingData (ranker_fit.h).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "learning/ranker_fit.h"
#include "ranking/features.h"

namespace rerank {
namespace {

// 2^31 - 1 rows: Ranker::Score takes an int32 row count and XGBoost's group
// pointers are 32-bit.
constexpr int64_t kMaxRows = std::numeric_limits<int32_t>::max();
// The gain 2^label - 1 stays exact in a double and XGBoost's rank:ndcg
// accepts it.
constexpr float kMaxLabel = 31.0f;

double Gain(double label) { return std::exp2(label) - 1.0; }
double Discount(int64_t position) {
  return 1.0 / std::log2(static_cast<double>(position) + 2.0);
}

}  // namespace

absl::Status ValidateRankingData(const RankingData& data,
                                 absl::string_view what) {
  const int64_t rows = data.num_rows();
  if (rows > kMaxRows) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": ", rows, " rows is above the limit of ", kMaxRows));
  }
  if (data.offsets.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": offsets is empty (it needs num_lists + 1 "
                           "entries, starting with 0)"));
  }
  if (data.offsets.front() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": offsets[0]=", data.offsets.front(), " is not 0"));
  }
  for (size_t g = 1; g < data.offsets.size(); ++g) {
    if (data.offsets[g] < data.offsets[g - 1]) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": offsets[", g, "]=", data.offsets[g], " is below offsets[",
          g - 1, "]=", data.offsets[g - 1]));
    }
  }
  if (data.offsets.back() != rows) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the last offset (offsets[", data.offsets.size() - 1,
        "]=", data.offsets.back(), ") is not the number of rows (", rows,
        " labels)"));
  }
  const int64_t want_features = rows * kNumFeatures;
  if (static_cast<int64_t>(data.features.size()) != want_features) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": features has ", data.features.size(), " values, want ",
        want_features, " (", rows, " rows x ", kNumFeatures, " features)"));
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float label = data.labels[r];
    if (!std::isfinite(label) || label < 0.0f || label > kMaxLabel) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": labels[", r, "]=", label,
                       " is not a relevance grade in [0, ", kMaxLabel, "]"));
    }
  }
  const absl::Span<const absl::string_view> names = FeatureNames();
  for (int64_t i = 0; i < want_features; ++i) {
    if (!std::isfinite(data.features[i])) {
      const int64_t f = i % kNumFeatures;
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": row ", i / kNumFeatures, " feature ",
          static_cast<size_t>(f) < names.size() ? names[f] : "?", " (",
          f, ") is ", data.features[i], " (features must be finite)"));
    }
  }
  return absl::OkStatus();
}

std::vector<double> ListNdcg(const RankingData& data,
                             const std::vector<double>& scores, int cutoff) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> out(static_cast<size_t>(data.num_lists()), nan);
  if (static_cast<int64_t>(scores.size()) != data.num_rows() || cutoff < 1) {
    return out;
  }
  // A NaN would break the sort's ordering.
  for (const double s : scores) {
    if (std::isnan(s)) return out;
  }
  std::vector<int64_t> order;
  std::vector<float> ideal;
  for (int64_t g = 0; g + 1 < static_cast<int64_t>(data.offsets.size());
       ++g) {
    const int64_t begin = data.offsets[g];
    const int64_t end = data.offsets[g + 1];
    const int64_t n = end - begin;
    ideal.assign(data.labels.begin() + begin, data.labels.begin() + end);
    std::sort(ideal.begin(), ideal.end(), std::greater<float>());
    if (n == 0 || ideal.front() <= 0.0f) continue;  // no relevant row
    const int64_t k = std::min<int64_t>(cutoff, n);
    double idcg = 0.0;
    for (int64_t p = 0; p < k; ++p) idcg += Gain(ideal[p]) * Discount(p);

    order.resize(n);
    std::iota(order.begin(), order.end(), begin);
    // Highest score first; equal scores put the lower grade first, so a
    // constant scorer earns no credit for the input order.
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int64_t a, int64_t b) {
                        if (scores[a] != scores[b]) return scores[a] > scores[b];
                        return data.labels[a] < data.labels[b];
                      });
    double dcg = 0.0;
    for (int64_t p = 0; p < k; ++p) {
      dcg += Gain(data.labels[order[p]]) * Discount(p);
    }
    out[g] = dcg / idcg;
  }
  return out;
}

double MeanNdcg(const RankingData& data, const std::vector<double>& scores,
                int cutoff) {
  double sum = 0.0;
  int64_t counted = 0;
  for (const double v : ListNdcg(data, scores, cutoff)) {
    if (std::isnan(v)) continue;
    sum += v;
    ++counted;
  }
  if (counted == 0) return std::numeric_limits<double>::quiet_NaN();
  return sum / static_cast<double>(counted);
}

}  // namespace rerank
