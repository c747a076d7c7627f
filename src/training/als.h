#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "training/interaction_matrix.h"

namespace rerank {

// How a (user, item) pair's aggregated weight w becomes its confidence.
enum class ConfidenceScaling {
  kLinear,  // c = 1 + alpha * w                 (Hu, Koren & Volinsky eq. 2)
  kLog,     // c = 1 + alpha * log(1 + w)        (their eq. 3, epsilon = 1)
};
absl::StatusOr<ConfidenceScaling> ParseConfidenceScaling(absl::string_view);

struct AlsOptions {
  int factors = 32;
  int iterations = 15;
  float regularization = 0.05f;  // lambda, applied as lambda * I (unscaled)
  // With the default event weights a purchase already contributes w = 8, so
  // alpha = 1 gives c = 9 per purchase. On Online Retail (train < Nov 2011,
  // test after) alpha 0.5-2 gave recall@20 0.10-0.11 against 0.07 at
  // alpha = 10 (popularity: 0.04).
  float alpha = 1.0f;
  ConfidenceScaling scaling = ConfidenceScaling::kLinear;
  // Conjugate-gradient steps per row and half-iteration.
  int cg_steps = 3;
  int threads = 1;
  uint64_t seed = 42;
  // Initial factors are N(0, init_stddev^2).
  float init_stddev = 0.01f;
  // Compute the training loss after every iteration (costs about one CG
  // step's worth of work).
  bool compute_loss = true;
};

absl::Status ValidateAlsOptions(const AlsOptions& options);

struct AlsIterationStats {
  int iteration = 0;   // 1-based
  double seconds = 0;  // wall time of the two half-iterations (not loss)
  // The full implicit-feedback objective (see TrainAls), or NaN when
  // compute_loss is off.
  double loss = 0;
  // loss divided by the sum of all confidences (every cell of the
  // users x items matrix, the unobserved ones counting 1): a weighted mean
  // squared error that is comparable across data sets.
  double normalized_loss = 0;
};

struct AlsResult {
  int32_t dim = 0;
  std::vector<float> user_factors;  // num_users x dim, row-major
  std::vector<float> item_factors;  // num_items x dim, row-major
  std::vector<AlsIterationStats> iterations;
};

using AlsProgressCallback = std::function<void(const AlsIterationStats&)>;

// Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008):
// minimises
//
//   sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2 + lambda (|X|^2 + |Y|^2)
//
// with p_ui = 1 for observed pairs and 0 otherwise, c_ui from
// options.scaling (1 for unobserved pairs). Each half-iteration updates
// every row with a few conjugate-gradient steps warm-started from its
// previous value (Takacs, Pilaszy & Tikk 2011), using the shared Gram
// matrix Y'Y + lambda I plus the row's sparse correction, so a row costs
// O(cg_steps * (nnz_row * d + d^2)) instead of a d x d solve.
//
// The loss is evaluated without touching the unobserved cells:
//   sum_u [ x_u' (Y'Y) x_u + sum_{i in I_u} ((c-1)(x_u.y_i)^2
//           - 2 c (x_u.y_i) + c) ] + lambda (|X|^2 + |Y|^2).
//
// Deterministic: the result depends only on the matrix and the options, and
// not even on options.threads, because every row is updated from the same
// inputs whichever thread does it and the loss is summed in row order.
// `progress` (optional) is called after each iteration, on the calling
// thread.
absl::StatusOr<AlsResult> TrainAls(const InteractionMatrix& matrix,
                                   const AlsOptions& options,
                                   const AlsProgressCallback& progress = {});

}  // namespace rerank
