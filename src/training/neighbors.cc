#include "training/neighbors.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/parallel.h"
#include "common/status_macros.h"

namespace rerank {
namespace {

using RowMatrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Users' capped histories (CSR by user) and their transpose (CSR by item).
struct Histories {
  std::vector<int64_t> user_indptr;
  std::vector<int32_t> items;
  std::vector<int64_t> item_indptr;
  std::vector<int32_t> users;
};

// The histories hold only the (user, item) pairs with an event of a type in
// `types`; the cap then keeps each user's most recent of those (by the
// pair's latest event of any type).
Histories CapHistories(const InteractionMatrix& m, int max_history,
                       EventTypeMask types) {
  Histories h;
  const int32_t num_users = m.num_users();
  const int32_t num_items = m.num_items();
  const bool filter = types != kAllEventTypes;
  h.user_indptr.assign(num_users + 1, 0);
  h.items.reserve(m.nnz());
  std::vector<int64_t> order;
  for (int32_t u = 0; u < num_users; ++u) {
    const int64_t lo = m.user_indptr[u];
    const int64_t hi = m.user_indptr[u + 1];
    if (!filter && hi - lo <= max_history) {
      h.items.insert(h.items.end(), m.item_index.begin() + lo,
                     m.item_index.begin() + hi);
      h.user_indptr[u + 1] = static_cast<int64_t>(h.items.size());
      continue;
    }
    order.clear();
    for (int64_t k = lo; k < hi; ++k) {
      if (!filter || (m.user_event_types[k] & types) != 0) order.push_back(k);
    }
    if (static_cast<int64_t>(order.size()) <= max_history) {
      // Still in ascending item order.
      for (int64_t k : order) h.items.push_back(m.item_index[k]);
    } else {
      // The most recent items; ties broken by item row for determinism.
      std::nth_element(order.begin(), order.begin() + max_history, order.end(),
                       [&](int64_t a, int64_t b) {
                         const double ta = m.user_last_timestamp[a];
                         const double tb = m.user_last_timestamp[b];
                         return ta != tb ? ta > tb : a < b;
                       });
      const size_t start = h.items.size();
      for (int k = 0; k < max_history; ++k) {
        h.items.push_back(m.item_index[order[k]]);
      }
      std::sort(h.items.begin() + start, h.items.end());
    }
    h.user_indptr[u + 1] = static_cast<int64_t>(h.items.size());
  }
  h.item_indptr.assign(num_items + 1, 0);
  for (int32_t i : h.items) ++h.item_indptr[i + 1];
  for (int32_t i = 0; i < num_items; ++i) {
    h.item_indptr[i + 1] += h.item_indptr[i];
  }
  h.users.resize(h.items.size());
  std::vector<int64_t> next(h.item_indptr.begin(), h.item_indptr.end() - 1);
  for (int32_t u = 0; u < num_users; ++u) {
    for (int64_t k = h.user_indptr[u]; k < h.user_indptr[u + 1]; ++k) {
      h.users[next[h.items[k]]++] = u;
    }
  }
  return h;
}

struct Candidate {
  float score;
  int32_t item;
};

// Score descending, then item row ascending.
bool Better(const Candidate& a, const Candidate& b) {
  return a.score != b.score ? a.score > b.score : a.item < b.item;
}

// Per-chunk output, concatenated in chunk order at the end.
struct ChunkResult {
  std::vector<int64_t> counts;  // neighbours per item of the chunk
  std::vector<int32_t> indices;
  std::vector<float> scores;
};

}  // namespace

absl::StatusOr<NeighborSource> ParseNeighborSource(absl::string_view name) {
  if (name == "cooccurrence") return NeighborSource::kCooccurrence;
  if (name == "factors") return NeighborSource::kFactors;
  if (name == "both") return NeighborSource::kBoth;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown neighbour source '", name,
                   "' (expected cooccurrence, factors or both)"));
}

absl::string_view NeighborSourceName(NeighborSource source) {
  switch (source) {
    case NeighborSource::kCooccurrence:
      return "cooccurrence";
    case NeighborSource::kFactors:
      return "factors";
    case NeighborSource::kBoth:
      return "both";
  }
  return "?";
}

absl::Status ValidateNeighborOptions(const NeighborOptions& options) {
  if (options.num_neighbors < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_neighbors must be >= 0, got ", options.num_neighbors));
  }
  if (options.min_support < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_support must be >= 1, got ", options.min_support));
  }
  if (options.max_user_history < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_user_history must be >= 2, got ", options.max_user_history));
  }
  if (!(options.factor_weight >= 0 && options.factor_weight <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "factor_weight must be in [0, 1], got ", options.factor_weight));
  }
  if (options.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be >= 1, got ", options.threads));
  }
  if (options.event_types == 0 ||
      (options.event_types & ~kAllEventTypes) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("event_types must be a non-empty set of event types, "
                     "got mask ",
                     static_cast<int>(options.event_types)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ItemNeighbors> BuildItemNeighbors(
    const InteractionMatrix& matrix, const NeighborOptions& options,
    absl::Span<const float> item_factors, int dim) {
  RETURN_IF_ERROR(ValidateNeighborOptions(options));
  const int32_t num_items = matrix.num_items();
  const bool use_cooc = options.source != NeighborSource::kFactors;
  const bool use_factors = options.source != NeighborSource::kCooccurrence;
  if (use_factors && (dim < 1 || static_cast<int64_t>(item_factors.size()) !=
                                     static_cast<int64_t>(num_items) * dim)) {
    return absl::InvalidArgumentError(
        absl::StrCat("neighbour source '", NeighborSourceName(options.source),
                     "' needs item factors of ", num_items, " x dim, got ",
                     item_factors.size(), " floats with dim ", dim));
  }

  if (use_cooc && options.event_types != kAllEventTypes &&
      matrix.user_event_types.size() != static_cast<size_t>(matrix.nnz())) {
    return absl::InvalidArgumentError(
        "neighbours from some event types need the matrix's "
        "user_event_types (build it with BuildInteractionMatrix)");
  }

  ItemNeighbors out;
  out.indptr.assign(num_items + 1, 0);
  if (options.num_neighbors == 0 || num_items == 0) return out;

  Histories hist;
  if (use_cooc) {
    hist = CapHistories(matrix, options.max_user_history, options.event_types);
  }

  // Unit-length item vectors; zero vectors stay zero (and get no factor
  // neighbours).
  RowMatrix unit;
  if (use_factors) {
    unit = Eigen::Map<const RowMatrix>(item_factors.data(), num_items, dim);
    for (int32_t i = 0; i < num_items; ++i) {
      const float norm = unit.row(i).norm();
      if (norm > 0) unit.row(i) /= norm;
    }
  }

  // Balance chunks on the co-occurrence work of each item (the sum of its
  // users' history lengths) plus the factor scan of all items.
  std::vector<int64_t> cost(num_items + 1, 0);
  for (int32_t i = 0; i < num_items; ++i) {
    int64_t c = 1 + (use_factors ? num_items : 0);
    if (use_cooc) {
      for (int64_t k = hist.item_indptr[i]; k < hist.item_indptr[i + 1]; ++k) {
        const int32_t u = hist.users[k];
        c += hist.user_indptr[u + 1] - hist.user_indptr[u];
      }
    }
    cost[i + 1] = cost[i] + c;
  }
  const std::vector<int64_t> chunks = BalancedChunks(cost, options.threads, 0);
  std::vector<ChunkResult> results(chunks.size() - 1);
  const size_t k_max = static_cast<size_t>(options.num_neighbors);
  const double w_factor = use_cooc ? options.factor_weight : 1.0;
  const double w_cooc = use_factors ? 1.0 - options.factor_weight : 1.0;

  RunChunks(chunks, [&](int chunk, int64_t begin, int64_t end) {
    ChunkResult& res = results[chunk];
    std::vector<int32_t> counts(use_cooc ? num_items : 0, 0);
    std::vector<int32_t> touched;
    std::vector<Candidate> candidates;
    Eigen::VectorXf sims;
    for (int64_t i = begin; i < end; ++i) {
      candidates.clear();
      if (use_cooc) {
        for (int64_t k = hist.item_indptr[i]; k < hist.item_indptr[i + 1];
             ++k) {
          const int32_t u = hist.users[k];
          for (int64_t q = hist.user_indptr[u]; q < hist.user_indptr[u + 1];
               ++q) {
            const int32_t j = hist.items[q];
            if (counts[j]++ == 0) touched.push_back(j);
          }
        }
      }
      // n_i (users holding i) in double for the square root.
      const double n_i = use_cooc
                             ? static_cast<double>(hist.item_indptr[i + 1] -
                                                   hist.item_indptr[i])
                             : 0.0;
      auto cooc_score = [&](int32_t j) -> double {
        if (counts[j] < options.min_support) return 0.0;
        const double n_j =
            static_cast<double>(hist.item_indptr[j + 1] - hist.item_indptr[j]);
        return counts[j] / std::sqrt(n_i * n_j);
      };
      if (!use_factors) {
        for (int32_t j : touched) {
          if (j == i) continue;
          const double s = cooc_score(j);
          if (s > 0) candidates.push_back({static_cast<float>(s), j});
        }
      } else {
        sims.noalias() = unit * unit.row(i).transpose();
        for (int32_t j = 0; j < num_items; ++j) {
          if (j == i) continue;
          double s = w_factor * sims[j];
          if (use_cooc) s += w_cooc * cooc_score(j);
          if (s > 0) candidates.push_back({static_cast<float>(s), j});
        }
      }
      for (int32_t j : touched) counts[j] = 0;
      touched.clear();

      if (candidates.size() > k_max) {
        std::nth_element(candidates.begin(), candidates.begin() + k_max,
                         candidates.end(), Better);
        candidates.resize(k_max);
      }
      std::sort(candidates.begin(), candidates.end(), Better);
      res.counts.push_back(static_cast<int64_t>(candidates.size()));
      for (const Candidate& c : candidates) {
        res.indices.push_back(c.item);
        res.scores.push_back(c.score);
      }
    }
  });

  int32_t item = 0;
  for (const ChunkResult& res : results) {
    for (int64_t c : res.counts) {
      out.indptr[item + 1] = out.indptr[item] + c;
      ++item;
    }
    out.indices.insert(out.indices.end(), res.indices.begin(),
                       res.indices.end());
    out.scores.insert(out.scores.end(), res.scores.begin(), res.scores.end());
  }
  return out;
}

}  // namespace rerank
