// The "linear" learner (ranker_fit.h): pairwise logistic loss over
// (higher-graded, lower-graded) pairs of a list, optionally weighted by the
// |delta NDCG@cutoff| of swapping the pair under the current scores
// (LambdaRank), plus L2, on standardised features. Optimised by mini-batch
// Adam over shuffled lists; single-threaded, so a seed fixes the result.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "learning/fit_util.h"
#include "learning/ranker_fit.h"
#include "ranking/features.h"
#include "ranking/ranker.h"

namespace rerank {
namespace {

using learning_internal::FeatureNamesOf;
using learning_internal::JoinFeatureNames;
using learning_internal::NowSeconds;
using learning_internal::SelectFeatures;

// Lists per Adam step: small enough for a few thousand steps over 30 epochs
// of 20k lists, large enough that a step's gradient is not one list's noise.
constexpr int64_t kBatchLists = 128;
// Each row of a grade is paired with at most this many rows of a lower grade
// (sampled when there are more), which bounds the cost of lists with many
// relevant rows; typical lists (a few relevant of ~100) use all pairs.
constexpr int64_t kMaxLowerPerRow = 128;
constexpr double kAdamBeta1 = 0.9;
constexpr double kAdamBeta2 = 0.999;
constexpr double kAdamEpsilon = 1e-8;

absl::Status CheckOptions(const LinearFitOptions& o) {
  if (o.epochs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("epochs=", o.epochs, " must be at least 1"));
  }
  if (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "learning_rate=", o.learning_rate, " must be positive and finite"));
  }
  if (!(o.l2 >= 0.0) || !std::isfinite(o.l2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("l2=", o.l2, " must be >= 0 and finite"));
  }
  if (o.ndcg_cutoff < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ndcg_cutoff=", o.ndcg_cutoff, " must be at least 1"));
  }
  return absl::OkStatus();
}

// Standardisation and the model's weights over the selected features.
struct Model {
  std::vector<int32_t> features;  // feature-set indices
  std::vector<double> means;
  std::vector<double> scales;
  std::vector<double> inv_scales;
  std::vector<double> weights;
};

// Writes the standardised features of rows [begin, end) to z (row-major,
// features.size() per row).
void Standardise(const RankingData& data, const Model& m, int64_t begin,
                 int64_t end, std::vector<double>* z) {
  const size_t d = m.features.size();
  z->resize(static_cast<size_t>(end - begin) * d);
  double* out = z->data();
  for (int64_t r = begin; r < end; ++r) {
    const float* x = &data.features[r * kNumFeatures];
    for (size_t j = 0; j < d; ++j) {
      *out++ = (static_cast<double>(x[m.features[j]]) - m.means[j]) *
               m.inv_scales[j];
    }
  }
}

std::vector<double> ScoreAll(const RankingData& data, const Model& m) {
  const size_t d = m.features.size();
  std::vector<double> scores(data.num_rows());
  for (int64_t r = 0; r < data.num_rows(); ++r) {
    const float* x = &data.features[r * kNumFeatures];
    double s = 0.0;
    for (size_t j = 0; j < d; ++j) {
      s += m.weights[j] *
           ((static_cast<double>(x[m.features[j]]) - m.means[j]) *
            m.inv_scales[j]);
    }
    scores[r] = s;
  }
  return scores;
}

double Gain(float label) { return std::exp2(static_cast<double>(label)) - 1.0; }

// log(1 + exp(-x)) without overflow.
double LogisticLoss(double x) {
  return x > 0.0 ? std::log1p(std::exp(-x)) : -x + std::log1p(std::exp(x));
}

// One list's fixed facts.
struct ListInfo {
  int64_t begin = 0;
  int64_t end = 0;
  double inv_idcg = 0.0;  // 1 / ideal DCG@cutoff
};

// Lists that can produce a pair: at least two rows of different grades.
std::vector<ListInfo> PairLists(const RankingData& data, int cutoff) {
  std::vector<ListInfo> lists;
  std::vector<float> ideal;
  for (int64_t g = 0; g < data.num_lists(); ++g) {
    const int64_t begin = data.offsets[g];
    const int64_t end = data.offsets[g + 1];
    if (end - begin < 2) continue;
    ideal.assign(data.labels.begin() + begin, data.labels.begin() + end);
    std::sort(ideal.begin(), ideal.end(), std::greater<float>());
    if (ideal.front() <= 0.0f || ideal.front() == ideal.back()) continue;
    double idcg = 0.0;
    const int64_t k = std::min<int64_t>(cutoff, end - begin);
    for (int64_t p = 0; p < k; ++p) {
      idcg += Gain(ideal[p]) / std::log2(static_cast<double>(p) + 2.0);
    }
    lists.push_back({begin, end, 1.0 / idcg});
  }
  return lists;
}

// Scratch of one step, reused across lists.
struct Scratch {
  std::vector<double> z;
  std::vector<double> scores;
  std::vector<double> lambdas;
  std::vector<double> discount;  // per row: discount of its current rank
  std::vector<int64_t> order;
  std::vector<int64_t> lower;
  std::vector<std::pair<int64_t, int64_t>> pairs;  // (higher, lower grade)
};

// Adds the list's loss gradient (w.r.t. the weights) to `grad` and returns
// its loss.
double ListGradient(const RankingData& data, const ListInfo& list,
                    const Model& m, const LinearFitOptions& options,
                    std::mt19937_64& rng, Scratch& s,
                    std::vector<double>& grad) {
  const size_t d = m.features.size();
  const int64_t n = list.end - list.begin;
  Standardise(data, m, list.begin, list.end, &s.z);
  s.scores.assign(n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double* zi = &s.z[i * d];
    double v = 0.0;
    for (size_t j = 0; j < d; ++j) v += m.weights[j] * zi[j];
    s.scores[i] = v;
  }
  const float* labels = &data.labels[list.begin];
  if (options.lambda_weights) {
    // Rank by current score (ties by position: any fixed order will do).
    s.order.resize(n);
    std::iota(s.order.begin(), s.order.end(), 0);
    std::stable_sort(s.order.begin(), s.order.end(), [&](int64_t a, int64_t b) {
      return s.scores[a] > s.scores[b];
    });
    s.discount.assign(n, 0.0);
    const int64_t k = std::min<int64_t>(options.ndcg_cutoff, n);
    for (int64_t p = 0; p < k; ++p) {
      s.discount[s.order[p]] = 1.0 / std::log2(static_cast<double>(p) + 2.0);
    }
  }

  // The pairs: each row with a positive grade against (up to
  // kMaxLowerPerRow of) the rows of a lower grade.
  std::vector<std::pair<int64_t, int64_t>>& pairs = s.pairs;
  pairs.clear();
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] <= 0.0f) continue;
    s.lower.clear();
    for (int64_t j = 0; j < n; ++j) {
      if (labels[j] < labels[i]) s.lower.push_back(j);
    }
    int64_t take = static_cast<int64_t>(s.lower.size());
    if (take > kMaxLowerPerRow) {
      // Partial Fisher-Yates: the first kMaxLowerPerRow become a uniform
      // sample. rng() % m is biased by < 2^-50 for these sizes.
      for (int64_t t = 0; t < kMaxLowerPerRow; ++t) {
        const int64_t pick =
            t + static_cast<int64_t>(rng() % static_cast<uint64_t>(take - t));
        std::swap(s.lower[t], s.lower[pick]);
      }
      take = kMaxLowerPerRow;
    }
    for (int64_t t = 0; t < take; ++t) pairs.push_back({i, s.lower[t]});
  }
  if (pairs.empty()) return 0.0;

  s.lambdas.assign(n, 0.0);
  const double plain_weight = 1.0 / static_cast<double>(pairs.size());
  double loss = 0.0;
  for (const auto& [hi, lo] : pairs) {
    double weight = plain_weight;
    if (options.lambda_weights) {
      weight = std::abs(Gain(labels[hi]) - Gain(labels[lo])) *
               std::abs(s.discount[hi] - s.discount[lo]) * list.inv_idcg;
      if (weight == 0.0) continue;
    }
    const double diff = s.scores[hi] - s.scores[lo];
    const double rho = 1.0 / (1.0 + std::exp(diff));  // -dloss/ddiff
    loss += weight * LogisticLoss(diff);
    s.lambdas[hi] -= weight * rho;
    s.lambdas[lo] += weight * rho;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double l = s.lambdas[i];
    if (l == 0.0) continue;
    const double* zi = &s.z[i * d];
    for (size_t j = 0; j < d; ++j) grad[j] += l * zi[j];
  }
  return loss;
}

}  // namespace

absl::StatusOr<RankerSpec> FitLinear(const RankingData& train,
                                     const RankingData& validation,
                                     const LinearFitOptions& options,
                                     const FitProgress& progress,
                                     FitReport* report) {
  const double start = NowSeconds();
  RETURN_IF_ERROR(CheckOptions(options));
  RETURN_IF_ERROR(ValidateRankingData(train, "training lists"));
  RETURN_IF_ERROR(ValidateRankingData(validation, "validation lists"));
  const int cutoff = options.ndcg_cutoff;
  const bool has_validation = validation.num_lists() > 0;
  if (has_validation &&
      std::isnan(MeanNdcg(validation,
                          std::vector<double>(validation.num_rows(), 0.0),
                          cutoff))) {
    return absl::InvalidArgumentError(
        "validation lists: no list has a relevant row (label > 0), so "
        "validation NDCG is undefined");
  }
  const std::vector<ListInfo> lists = PairLists(train, cutoff);
  if (lists.empty()) {
    return absl::InvalidArgumentError(
        "training lists: no list has two rows of different grades with one "
        "relevant (label > 0), so there is no pair to learn from");
  }

  Model m;
  ASSIGN_OR_RETURN(m.features, SelectFeatures(options.features, train));
  const size_t d = m.features.size();
  m.means.assign(d, 0.0);
  m.scales.assign(d, 1.0);
  m.inv_scales.assign(d, 1.0);
  m.weights.assign(d, 0.0);
  {
    // Two passes (mean, then squared deviations) for accuracy on features
    // with a large offset.
    const int64_t rows = train.num_rows();
    std::vector<double> sq(d, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = &train.features[r * kNumFeatures];
      for (size_t j = 0; j < d; ++j) m.means[j] += x[m.features[j]];
    }
    for (size_t j = 0; j < d; ++j) m.means[j] /= static_cast<double>(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = &train.features[r * kNumFeatures];
      for (size_t j = 0; j < d; ++j) {
        const double dev = x[m.features[j]] - m.means[j];
        sq[j] += dev * dev;
      }
    }
    for (size_t j = 0; j < d; ++j) {
      const double sd = std::sqrt(sq[j] / static_cast<double>(rows));
      // A feature named explicitly but constant here keeps scale 1: its
      // standardised value is 0 on every training row, so its weight stays
      // 0 (L2) and the spec is still valid.
      m.scales[j] = sd > 0.0 ? sd : 1.0;
      m.inv_scales[j] = 1.0 / m.scales[j];
    }
  }

  std::mt19937_64 rng(options.seed);
  std::vector<double> adam_m(d, 0.0);
  std::vector<double> adam_v(d, 0.0);
  std::vector<double> grad(d);
  std::vector<int64_t> list_order(lists.size());
  std::iota(list_order.begin(), list_order.end(), 0);
  Scratch scratch;
  int64_t step = 0;

  std::vector<double> best_weights = m.weights;
  double best_validation = -std::numeric_limits<double>::infinity();
  int best_epoch = options.epochs;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    // Deterministic shuffle (std::shuffle's use of the engine is
    // implementation-defined; this is not).
    for (size_t i = list_order.size(); i > 1; --i) {
      std::swap(list_order[i - 1], list_order[rng() % i]);
    }
    double epoch_loss = 0.0;
    for (size_t b = 0; b < list_order.size(); b += kBatchLists) {
      const size_t e = std::min(list_order.size(), b + kBatchLists);
      std::fill(grad.begin(), grad.end(), 0.0);
      for (size_t i = b; i < e; ++i) {
        epoch_loss += ListGradient(train, lists[list_order[i]], m, options,
                                   rng, scratch, grad);
      }
      const double inv_batch = 1.0 / static_cast<double>(e - b);
      ++step;
      const double c1 = 1.0 - std::pow(kAdamBeta1, static_cast<double>(step));
      const double c2 = 1.0 - std::pow(kAdamBeta2, static_cast<double>(step));
      for (size_t j = 0; j < d; ++j) {
        const double g = grad[j] * inv_batch + options.l2 * m.weights[j];
        adam_m[j] = kAdamBeta1 * adam_m[j] + (1.0 - kAdamBeta1) * g;
        adam_v[j] = kAdamBeta2 * adam_v[j] + (1.0 - kAdamBeta2) * g * g;
        m.weights[j] -= options.learning_rate * (adam_m[j] / c1) /
                        (std::sqrt(adam_v[j] / c2) + kAdamEpsilon);
      }
    }
    epoch_loss /= static_cast<double>(lists.size());
    std::string line = absl::StrFormat("linear: epoch %d/%d, train loss %.6f",
                                       epoch, options.epochs, epoch_loss);
    if (has_validation) {
      const double v = MeanNdcg(validation, ScoreAll(validation, m), cutoff);
      absl::StrAppendFormat(&line, ", validation ndcg@%d %.4f", cutoff, v);
      if (v > best_validation) {
        best_validation = v;
        best_weights = m.weights;
        best_epoch = epoch;
      }
    }
    if (progress) progress(line);
  }
  if (has_validation) m.weights = best_weights;

  FitReport r;
  r.train_ndcg = MeanNdcg(train, ScoreAll(train, m), cutoff);
  r.validation_ndcg = has_validation
                          ? best_validation
                          : std::numeric_limits<double>::quiet_NaN();
  r.iterations = best_epoch;

  RankerSpec spec;
  spec.kind = RankerKind::kLinear;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = FeatureNamesOf(m.features);
  spec.linear.bias = 0.0;
  spec.linear.weights = m.weights;
  spec.linear.means = m.means;
  spec.linear.scales = m.scales;
  spec.description = absl::StrFormat(
      "linear: pairwise logistic%s, l2 %g, learning_rate %g, epochs %d "
      "(kept %d), seed %u; %d training lists, train ndcg@%d %.4f, "
      "validation ndcg@%d %s; features %s",
      options.lambda_weights
          ? absl::StrFormat(" with LambdaRank weights (ndcg@%d)", cutoff)
          : std::string(),
      options.l2, options.learning_rate, options.epochs, best_epoch,
      options.seed, train.num_lists(), cutoff, r.train_ndcg, cutoff,
      has_validation ? absl::StrFormat("%.4f", r.validation_ndcg)
                     : std::string("n/a"),
      JoinFeatureNames(m.features));
  r.seconds = NowSeconds() - start;
  if (progress) {
    progress(absl::StrFormat(
        "linear: done in %.2f s, kept epoch %d, train ndcg@%d %.4f%s",
        r.seconds, best_epoch, cutoff, r.train_ndcg,
        has_validation
            ? absl::StrFormat(", validation ndcg@%d %.4f", cutoff,
                              r.validation_ndcg)
            : std::string()));
  }
  if (report != nullptr) *report = r;
  return spec;
}

}  // namespace rerank
