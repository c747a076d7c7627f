#pragma once

// Synthetic ranking lists for the learner tests: a few features uniform in
// [0, 1], the rest constant 0, and relevance from a hidden utility of the
// features plus noise (the top rows of each list by utility are relevant).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include "learning/ranker_fit.h"
#include "ranking/features.h"

namespace rerank::testing {

// The features that vary in the synthetic lists; all others are 0.
inline const std::vector<int32_t>& VaryingFeatures() {
  static const std::vector<int32_t> kVarying = {
      kBaseScore, kUserDot, kSessionDot, kSessionCosine, kPopularity,
      kCategoryShare};
  return kVarying;
}

// Utility of a row (feature-set layout), before noise.
using Utility = std::function<double(const float* x)>;

// Nonlinear: a monotone part in base_score, an interaction of user_dot and
// session_dot, and a step in session_cosine. popularity and category_share
// are noise.
inline double NonlinearUtility(const float* x) {
  return 1.5 * x[kBaseScore] + 2.0 * x[kUserDot] * x[kSessionDot] +
         (x[kSessionCosine] > 0.7f ? 1.0 : 0.0);
}

// `lists` lists of `rows` rows; in each, the row of highest noisy utility
// gets grade `top_grade`, the next `relevant - 1` grade 1, the rest 0.
inline RankingData MakeLists(int lists, int rows, int relevant,
                             float top_grade, uint64_t seed,
                             const Utility& utility, double noise = 0.25) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::normal_distribution<double> gauss(0.0, noise);
  RankingData data;
  std::vector<double> u(rows);
  std::vector<int> order(rows);
  for (int g = 0; g < lists; ++g) {
    const size_t first = data.labels.size();
    for (int r = 0; r < rows; ++r) {
      std::vector<float> x(kNumFeatures, 0.0f);
      for (const int32_t f : VaryingFeatures()) x[f] = uniform(rng);
      u[r] = utility(x.data()) + gauss(rng);
      data.features.insert(data.features.end(), x.begin(), x.end());
      data.labels.push_back(0.0f);
    }
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return u[a] > u[b]; });
    for (int k = 0; k < relevant && k < rows; ++k) {
      data.labels[first + order[k]] = k == 0 ? top_grade : 1.0f;
    }
    data.offsets.push_back(static_cast<int64_t>(data.labels.size()));
  }
  return data;
}

// Scores that order each row by feature `f` (feature-set index).
inline std::vector<double> FeatureScores(const RankingData& data, int32_t f) {
  std::vector<double> s(data.num_rows());
  for (int64_t r = 0; r < data.num_rows(); ++r) {
    s[r] = data.features[r * kNumFeatures + f];
  }
  return s;
}

inline std::vector<double> RandomScores(const RankingData& data,
                                        uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> s(data.num_rows());
  for (double& v : s) v = uniform(rng);
  return s;
}

}  // namespace rerank::testing
