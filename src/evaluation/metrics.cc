#include "evaluation/metrics.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/parallel.h"
#include "evaluation/random.h"

namespace rerank {
namespace {

// Tag of the bootstrap's random streams (see DeriveSeed).
constexpr uint64_t kBootstrapStream = 0xb0075;

// Linear interpolation between order statistics of sorted `v` at quantile q
// (the "type 7" definition of R and numpy's default).
double Quantile(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return v[lo] + frac * (v[hi] - v[lo]);
}

}  // namespace

RankMetrics MetricsForRank(int rank, int cutoff) {
  RankMetrics m;
  if (rank <= 0) return m;
  m.reciprocal_rank = 1.0 / rank;
  if (rank <= cutoff) {
    m.hit = 1.0;
    m.ndcg = 1.0 / std::log2(static_cast<double>(rank) + 1.0);
  }
  return m;
}

std::optional<double> IntraListDiversity(absl::Span<const float* const> vectors,
                                         int dim) {
  // Items with a non-zero vector, and their norms.
  std::vector<const float*> known;
  std::vector<double> norms;
  for (const float* v : vectors) {
    if (v == nullptr) continue;
    double sq = 0;
    for (int d = 0; d < dim; ++d) sq += static_cast<double>(v[d]) * v[d];
    if (!(sq > 0)) continue;
    known.push_back(v);
    norms.push_back(std::sqrt(sq));
  }
  if (known.size() < 2) return std::nullopt;
  double sum = 0;
  int64_t pairs = 0;
  for (size_t i = 0; i < known.size(); ++i) {
    for (size_t j = i + 1; j < known.size(); ++j) {
      double dot = 0;
      for (int d = 0; d < dim; ++d) {
        dot += static_cast<double>(known[i][d]) * known[j][d];
      }
      sum += 1.0 - dot / (norms[i] * norms[j]);
      ++pairs;
    }
  }
  return sum / static_cast<double>(pairs);
}

std::optional<double> CategoryCoverage(
    absl::Span<const absl::string_view> categories) {
  if (categories.empty()) return std::nullopt;
  const absl::flat_hash_set<absl::string_view> distinct(categories.begin(),
                                                        categories.end());
  return static_cast<double>(distinct.size()) /
         static_cast<double>(categories.size());
}

absl::StatusOr<BootstrapUnit> ParseBootstrapUnit(absl::string_view name) {
  if (name == "case") return BootstrapUnit::kCase;
  if (name == "user") return BootstrapUnit::kUser;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown bootstrap unit '", name, "' (expected case or user)"));
}

absl::string_view BootstrapUnitName(BootstrapUnit unit) {
  return unit == BootstrapUnit::kUser ? "user" : "case";
}

absl::StatusOr<std::vector<double>> BootstrapMeans(
    absl::Span<const double> values, int num_series,
    const BootstrapOptions& options, absl::Span<const int32_t> clusters) {
  if (num_series < 1) {
    return absl::InvalidArgumentError("bootstrap: num_series must be >= 1");
  }
  if (values.empty() || values.size() % num_series != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bootstrap: ", values.size(), " values is not a positive multiple of ",
        num_series, " series"));
  }
  if (options.resamples < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bootstrap: resamples must be >= 1, got ", options.resamples));
  }
  if (options.threads < 1) {
    return absl::InvalidArgumentError("bootstrap: threads must be >= 1");
  }
  const int64_t n = static_cast<int64_t>(values.size()) / num_series;
  // Draw units: cases, or clusters of cases.
  int64_t units = n;
  if (!clusters.empty()) {
    if (static_cast<int64_t>(clusters.size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bootstrap: ", clusters.size(), " cluster ids for ", n, " cases"));
    }
    std::vector<bool> used;
    for (int32_t c : clusters) {
      if (c < 0) {
        return absl::InvalidArgumentError("bootstrap: negative cluster id");
      }
      if (static_cast<size_t>(c) >= used.size()) used.resize(c + 1, false);
      used[c] = true;
    }
    if (std::find(used.begin(), used.end(), false) != used.end()) {
      return absl::InvalidArgumentError(
          "bootstrap: cluster ids must be dense (every id in [0, C) used)");
    }
    units = static_cast<int64_t>(used.size());
  }
  const int b_count = options.resamples;
  std::vector<double> out(static_cast<size_t>(b_count) * num_series, 0.0);
  RunChunks(EvenChunks(b_count, options.threads),
            [&](int, int64_t begin, int64_t end) {
              // Each resample is a vector of multiplicities (how often each
              // case was drawn) followed by one sequential weighted pass
              // over the values: the same estimator as summing the drawn
              // rows, but without a cache miss per draw.
              std::vector<uint32_t> counts(units);
              std::vector<double> sums(num_series);
              for (int64_t b = begin; b < end; ++b) {
                EvalRng rng(DeriveSeed(options.seed, kBootstrapStream,
                                       static_cast<uint64_t>(b)));
                std::fill(counts.begin(), counts.end(), 0u);
                for (int64_t k = 0; k < units; ++k) {
                  ++counts[rng.Uniform(static_cast<uint64_t>(units))];
                }
                std::fill(sums.begin(), sums.end(), 0.0);
                double total = 0;
                for (int64_t i = 0; i < n; ++i) {
                  const uint32_t count =
                      clusters.empty() ? counts[i] : counts[clusters[i]];
                  if (count == 0) continue;
                  const double w = count;
                  total += w;
                  const double* row = values.data() + i * num_series;
                  for (int s = 0; s < num_series; ++s) sums[s] += w * row[s];
                }
                for (int s = 0; s < num_series; ++s) {
                  out[b * num_series + s] = sums[s] / total;
                }
              }
            });
  return out;
}

double SeriesMean(absl::Span<const double> values, int num_series, int s) {
  const size_t n = values.size() / num_series;
  if (n == 0) return 0;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += values[i * num_series + s];
  return sum / static_cast<double>(n);
}

Interval PercentileInterval(std::vector<double> samples, double point,
                            double confidence) {
  std::sort(samples.begin(), samples.end());
  const double alpha = 1.0 - confidence;
  Interval out;
  out.point = point;
  out.lo = Quantile(samples, alpha / 2.0);
  out.hi = Quantile(samples, 1.0 - alpha / 2.0);
  return out;
}

}  // namespace rerank
