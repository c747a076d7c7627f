#include "training/als.h"

#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/parallel.h"
#include "common/status_macros.h"

namespace rerank {
namespace {

using RowMatrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;

// Below this squared residual norm a row is considered solved; stopping
// avoids dividing by ~0 in the CG step size.
constexpr float kResidualEpsilon = 1e-20f;

// One side of the sparse matrix in compressed form: row r owns entries
// [indptr[r], indptr[r+1]) of `index` (the other side's rows) and
// `conf_minus_one` (c - 1 of that pair).
struct SparseSide {
  const int64_t* indptr;
  const int32_t* index;
  const float* conf_minus_one;
  int64_t rows;
};

std::vector<float> ConfidenceMinusOne(const std::vector<float>& weights,
                                      const AlsOptions& options) {
  std::vector<float> out(weights.size());
  for (size_t k = 0; k < weights.size(); ++k) {
    const double w = weights[k];
    out[k] = static_cast<float>(
        options.alpha *
        (options.scaling == ConfidenceScaling::kLog ? std::log1p(w) : w));
  }
  return out;
}

// Y'Y accumulated in double: it sums one product per item, and float would
// lose digits for large catalogues.
Eigen::MatrixXf Gram(const ConstMatrixMap& y) {
  return (y.cast<double>().transpose() * y.cast<double>()).cast<float>();
}

// Updates every row of `x` given the fixed other side `y` with a few CG
// steps on  (Y'Y + lambda I + Y' (C_u - I) Y) x_u = Y' C_u p_u.
void SolveSide(const SparseSide& side, const ConstMatrixMap& y, MatrixMap& x,
               const AlsOptions& options, const std::vector<int64_t>& chunks) {
  const int d = static_cast<int>(y.cols());
  Eigen::MatrixXf yty = Gram(y);
  yty.diagonal().array() += options.regularization;

  RunChunks(chunks, [&](int, int64_t begin, int64_t end) {
    Eigen::VectorXf xu(d), r(d), p(d), ap(d);
    for (int64_t u = begin; u < end; ++u) {
      const int64_t lo = side.indptr[u];
      const int64_t hi = side.indptr[u + 1];
      xu = x.row(u).transpose();
      // r = b - A x, with b = sum_i c_ui y_i (preference 1).
      r.noalias() = -(yty * xu);
      for (int64_t k = lo; k < hi; ++k) {
        const auto yi = y.row(side.index[k]).transpose();
        const float cm1 = side.conf_minus_one[k];
        r += (cm1 + 1.0f - cm1 * yi.dot(xu)) * yi;
      }
      p = r;
      float rs_old = r.squaredNorm();
      if (rs_old < kResidualEpsilon) continue;
      for (int step = 0; step < options.cg_steps; ++step) {
        ap.noalias() = yty * p;
        for (int64_t k = lo; k < hi; ++k) {
          const auto yi = y.row(side.index[k]).transpose();
          ap += (side.conf_minus_one[k] * yi.dot(p)) * yi;
        }
        const float step_size = rs_old / p.dot(ap);
        xu += step_size * p;
        r -= step_size * ap;
        const float rs_new = r.squaredNorm();
        if (rs_new < kResidualEpsilon) break;
        p = r + (rs_new / rs_old) * p;
        rs_old = rs_new;
      }
      x.row(u) = xu.transpose();
    }
  });
}

// The full objective (see als.h); per-row terms summed in row order so the
// value does not depend on the chunking.
double Loss(const SparseSide& users, const ConstMatrixMap& x,
            const ConstMatrixMap& y, const AlsOptions& options,
            const std::vector<int64_t>& chunks) {
  const Eigen::MatrixXf yty = Gram(y);
  std::vector<double> per_user(users.rows, 0.0);
  RunChunks(chunks, [&](int, int64_t begin, int64_t end) {
    Eigen::VectorXf t(yty.rows());
    for (int64_t u = begin; u < end; ++u) {
      const auto xu = x.row(u).transpose();
      t.noalias() = yty * xu;
      double loss = xu.dot(t);
      for (int64_t k = users.indptr[u]; k < users.indptr[u + 1]; ++k) {
        const double s = x.row(u).dot(y.row(users.index[k]));
        const double cm1 = users.conf_minus_one[k];
        loss += cm1 * s * s - 2.0 * (cm1 + 1.0) * s + (cm1 + 1.0);
      }
      per_user[u] = loss;
    }
  });
  double total = 0;
  for (double v : per_user) total += v;
  const double reg = static_cast<double>(x.cast<double>().squaredNorm()) +
                     static_cast<double>(y.cast<double>().squaredNorm());
  return total + options.regularization * reg;
}

// Standard normal deviates from a mt19937_64 by Box-Muller. Hand-rolled
// because std::normal_distribution's output differs between standard
// libraries, and a seed should mean the same model everywhere.
class NormalSource {
 public:
  explicit NormalSource(uint64_t seed) : engine_(seed) {}
  float Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    // u1 in (0, 1], u2 in [0, 1), 53 random bits each.
    const double u1 = static_cast<double>((engine_() >> 11) + 1) * 0x1p-53;
    const double u2 = static_cast<double>(engine_() >> 11) * 0x1p-53;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_ = static_cast<float>(radius * std::sin(angle));
    has_spare_ = true;
    return static_cast<float>(radius * std::cos(angle));
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  float spare_ = 0;
};

}  // namespace

absl::StatusOr<ConfidenceScaling> ParseConfidenceScaling(
    absl::string_view name) {
  if (name == "linear") return ConfidenceScaling::kLinear;
  if (name == "log") return ConfidenceScaling::kLog;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown confidence scaling '", name, "' (expected linear or log)"));
}

absl::Status ValidateAlsOptions(const AlsOptions& o) {
  if (o.factors < 1 || o.factors > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("factors must be in [1, 1024], got ", o.factors));
  }
  if (o.iterations < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("iterations must be >= 0, got ", o.iterations));
  }
  if (!(o.regularization >= 0) || !std::isfinite(o.regularization)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "regularization must be finite and >= 0, got ", o.regularization));
  }
  if (!(o.alpha >= 0) || !std::isfinite(o.alpha)) {
    return absl::InvalidArgumentError(
        absl::StrCat("alpha must be finite and >= 0, got ", o.alpha));
  }
  if (o.cg_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cg_steps must be >= 1, got ", o.cg_steps));
  }
  if (o.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be >= 1, got ", o.threads));
  }
  if (!(o.init_stddev > 0) || !std::isfinite(o.init_stddev)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "init_stddev must be finite and > 0, got ", o.init_stddev));
  }
  return absl::OkStatus();
}

absl::StatusOr<AlsResult> TrainAls(const InteractionMatrix& matrix,
                                   const AlsOptions& options,
                                   const AlsProgressCallback& progress) {
  RETURN_IF_ERROR(ValidateAlsOptions(options));
  const int64_t num_users = matrix.num_users();
  const int64_t num_items = matrix.num_items();
  if (num_users == 0 || num_items == 0) {
    return absl::InvalidArgumentError("empty interaction matrix");
  }
  const int d = options.factors;

  AlsResult result;
  result.dim = d;
  result.user_factors.resize(num_users * d);
  result.item_factors.resize(num_items * d);
  {
    // Items first, then users, from one stream.
    NormalSource normal(options.seed);
    for (float& v : result.item_factors)
      v = normal.Next() * options.init_stddev;
    for (float& v : result.user_factors)
      v = normal.Next() * options.init_stddev;
  }
  MatrixMap x(result.user_factors.data(), num_users, d);
  MatrixMap y(result.item_factors.data(), num_items, d);
  const ConstMatrixMap cx(result.user_factors.data(), num_users, d);
  const ConstMatrixMap cy(result.item_factors.data(), num_items, d);

  const std::vector<float> user_cm1 =
      ConfidenceMinusOne(matrix.user_weight, options);
  const std::vector<float> item_cm1 =
      ConfidenceMinusOne(matrix.item_weight, options);
  const SparseSide users{matrix.user_indptr.data(), matrix.item_index.data(),
                         user_cm1.data(), num_users};
  const SparseSide items{matrix.item_indptr.data(), matrix.user_index.data(),
                         item_cm1.data(), num_items};
  // A row costs ~nnz * d for the sparse part and ~d^2 for the Gram product,
  // per CG step; balance chunks on that rather than on row counts because
  // a few heavy users would otherwise leave one thread working alone.
  const std::vector<int64_t> user_chunks =
      BalancedChunks(matrix.user_indptr, options.threads, d);
  const std::vector<int64_t> item_chunks =
      BalancedChunks(matrix.item_indptr, options.threads, d);

  // Sum of all confidences, for normalized_loss.
  double total_confidence =
      static_cast<double>(num_users) * static_cast<double>(num_items);
  for (float v : user_cm1) total_confidence += v;

  for (int it = 1; it <= options.iterations; ++it) {
    const auto start = std::chrono::steady_clock::now();
    SolveSide(users, cy, x, options, user_chunks);
    SolveSide(items, cx, y, options, item_chunks);
    AlsIterationStats stats;
    stats.iteration = it;
    stats.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (options.compute_loss) {
      stats.loss = Loss(users, cx, cy, options, user_chunks);
      stats.normalized_loss = stats.loss / total_confidence;
    } else {
      stats.loss = stats.normalized_loss =
          std::numeric_limits<double>::quiet_NaN();
    }
    for (float v : result.user_factors) {
      if (!std::isfinite(v)) {
        return absl::InternalError(absl::StrCat(
            "ALS diverged (non-finite user factor) at iteration ", it,
            "; try a larger regularization or a smaller alpha"));
      }
    }
    for (float v : result.item_factors) {
      if (!std::isfinite(v)) {
        return absl::InternalError(absl::StrCat(
            "ALS diverged (non-finite item factor) at iteration ", it,
            "; try a larger regularization or a smaller alpha"));
      }
    }
    result.iterations.push_back(stats);
    if (progress) progress(stats);
  }
  return result;
}

}  // namespace rerank
