#pragma once

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "training/interaction_matrix.h"

namespace rerank {

// A neighbouring user and its similarity to the query.
struct ScoredUser {
  int32_t user = -1;  // row of the train matrix
  double similarity = 0;
};

// Classic user-based collaborative filtering (e.g. Herlocker et al. 1999,
// in its implicit-feedback form), the comparison point for the factor
// model:
//
//   * Users are binary vectors over items: user v "has" item i when the
//     train matrix has a (v, i) entry, whatever its weight. Binary because
//     on purchase logs the weight mostly counts repeat orders, and letting a
//     wholesaler's 40 re-orders of one item dominate the cosine would make
//     the neighbourhood about volume rather than taste.
//   * sim(u, v) = |I_u ∩ I_v| / sqrt(|I_u| |I_v|) (cosine of binary
//     vectors), over the train interactions only.
//   * The k most similar users (ties: lower row first) are u's neighbours;
//     u itself is excluded.
//   * score(u, c) = sum over neighbours v that have c of sim(u, v).
//
// The query is a set of item rows rather than a user row so that a cold
// user can be described by the items of their events before the test
// moment (the caller decides; see evaluator.h).
//
// Holds a reference to `matrix`, which must outlive it. All methods are
// const and thread-safe.
class UserKnn {
 public:
  explicit UserKnn(const InteractionMatrix& matrix) : matrix_(matrix) {}

  // The distinct train items of `user` (a matrix row), ascending.
  absl::Span<const int32_t> UserItems(int32_t user) const;

  // The k nearest users to the user whose items are `items` (item rows,
  // duplicates and -1 ignored), excluding `exclude_user` (-1: none), by
  // descending similarity, ties by ascending row. Users with no common item
  // are never neighbours, so fewer than k may come back.
  std::vector<ScoredUser> Neighbors(absl::Span<const int32_t> items,
                                    int32_t exclude_user, int k) const;

  // score(u, c) for each item row in `items` (-1: an item the train window
  // never saw, score 0), given the neighbours from Neighbors().
  std::vector<double> ScoreItems(absl::Span<const ScoredUser> neighbors,
                                 absl::Span<const int32_t> items) const;

 private:
  const InteractionMatrix& matrix_;
};

// Ranks for `scores` (higher is better), ties by position: out[p] is the
// 1-based rank of position p. The same "score descending, then input order"
// rule Rerank applies, so every strategy breaks ties in baseline order.
std::vector<int> RanksByScore(absl::Span<const double> scores);

}  // namespace rerank
