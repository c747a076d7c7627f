#include "evaluation/user_knn.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/container/flat_hash_map.h"

namespace rerank {

absl::Span<const int32_t> UserKnn::UserItems(int32_t user) const {
  const int64_t lo = matrix_.user_indptr[user];
  const int64_t hi = matrix_.user_indptr[user + 1];
  return absl::MakeConstSpan(matrix_.item_index.data() + lo, hi - lo);
}

std::vector<ScoredUser> UserKnn::Neighbors(absl::Span<const int32_t> items,
                                           int32_t exclude_user, int k) const {
  std::vector<int32_t> query;
  query.reserve(items.size());
  for (int32_t i : items) {
    if (i >= 0 && i < matrix_.num_items()) query.push_back(i);
  }
  std::sort(query.begin(), query.end());
  query.erase(std::unique(query.begin(), query.end()), query.end());
  std::vector<ScoredUser> out;
  if (query.empty() || k <= 0) return out;

  // Overlap counts through the item -> users index: only users sharing an
  // item are touched, so a query costs the sum of its items' popularity,
  // not the number of users.
  absl::flat_hash_map<int32_t, int32_t> overlap;
  for (int32_t i : query) {
    for (int64_t p = matrix_.item_indptr[i]; p < matrix_.item_indptr[i + 1];
         ++p) {
      const int32_t v = matrix_.user_index[p];
      if (v != exclude_user) ++overlap[v];
    }
  }
  out.reserve(overlap.size());
  const double query_norm = std::sqrt(static_cast<double>(query.size()));
  for (const auto& [v, common] : overlap) {
    const double size_v = static_cast<double>(matrix_.user_indptr[v + 1] -
                                              matrix_.user_indptr[v]);
    out.push_back({v, common / (query_norm * std::sqrt(size_v))});
  }
  auto better = [](const ScoredUser& a, const ScoredUser& b) {
    if (a.similarity != b.similarity) return a.similarity > b.similarity;
    return a.user < b.user;
  };
  // The hash map's iteration order is arbitrary, but `better` is a strict
  // total order, so the result is not.
  if (static_cast<size_t>(k) < out.size()) {
    std::partial_sort(out.begin(), out.begin() + k, out.end(), better);
    out.resize(k);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
  return out;
}

std::vector<double> UserKnn::ScoreItems(absl::Span<const ScoredUser> neighbors,
                                        absl::Span<const int32_t> items) const {
  std::vector<double> scores(items.size(), 0.0);
  // Candidates sorted by item row, so that each neighbour's (sorted) item
  // list is intersected with them in one merge pass, or by binary searches
  // when the neighbour's list is much longer than the candidate list. Heavy
  // buyers own thousands of items, and a binary search per candidate and
  // neighbour was most of rerank-eval's run time.
  std::vector<std::pair<int32_t, int32_t>> sorted;  // (item row, position)
  sorted.reserve(items.size());
  for (size_t c = 0; c < items.size(); ++c) {
    if (items[c] >= 0) sorted.emplace_back(items[c], static_cast<int32_t>(c));
  }
  std::sort(sorted.begin(), sorted.end());
  for (const ScoredUser& v : neighbors) {
    const absl::Span<const int32_t> owned = UserItems(v.user);
    if (owned.size() > 16 * sorted.size()) {
      for (const auto& [item, c] : sorted) {
        if (std::binary_search(owned.begin(), owned.end(), item)) {
          scores[c] += v.similarity;
        }
      }
      continue;
    }
    size_t a = 0, b = 0;
    while (a < owned.size() && b < sorted.size()) {
      if (owned[a] < sorted[b].first) {
        ++a;
      } else if (sorted[b].first < owned[a]) {
        ++b;
      } else {
        // Equal rows: every candidate with this row (normally one).
        const int32_t item = owned[a];
        for (; b < sorted.size() && sorted[b].first == item; ++b) {
          scores[sorted[b].second] += v.similarity;
        }
        ++a;
      }
    }
  }
  return scores;
}

std::vector<int> RanksByScore(absl::Span<const double> scores) {
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return scores[a] > scores[b]; });
  std::vector<int> ranks(scores.size());
  for (size_t r = 0; r < order.size(); ++r) {
    ranks[order[r]] = static_cast<int>(r) + 1;
  }
  return ranks;
}

}  // namespace rerank
