#include "evaluation/candidates.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rerank {
namespace {

bool Better(const ScoredItem& a, const ScoredItem& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.item < b.item;
}

}  // namespace

absl::StatusOr<RetrieverKind> ParseRetrieverKind(absl::string_view name) {
  if (name == "popularity") return RetrieverKind::kPopularity;
  if (name == "cooccurrence") return RetrieverKind::kCooccurrence;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown retriever '", name, "' (expected popularity or cooccurrence)"));
}

absl::string_view RetrieverKindName(RetrieverKind kind) {
  return kind == RetrieverKind::kCooccurrence ? "cooccurrence" : "popularity";
}

PopularityRetriever::PopularityRetriever(const InteractionMatrix& matrix) {
  ranking_.reserve(matrix.num_items());
  for (int32_t i = 0; i < matrix.num_items(); ++i) {
    ranking_.push_back({i, static_cast<double>(matrix.item_indptr[i + 1] -
                                               matrix.item_indptr[i])});
  }
  std::sort(ranking_.begin(), ranking_.end(), Better);
}

std::vector<ScoredItem> PopularityRetriever::Retrieve(int count) const {
  const size_t n = std::min(ranking_.size(), static_cast<size_t>(count));
  return std::vector<ScoredItem>(ranking_.begin(), ranking_.begin() + n);
}

std::vector<ScoredItem> CooccurrenceRetriever::Retrieve(
    absl::Span<const int32_t> history_items, int count) const {
  const int64_t num_items = static_cast<int64_t>(table_.indptr.size()) - 1;
  absl::flat_hash_set<int32_t> seen;
  absl::flat_hash_map<int32_t, double> scores;
  for (int32_t h : history_items) {
    if (h < 0 || h >= num_items || !seen.insert(h).second) continue;
    for (int64_t p = table_.indptr[h]; p < table_.indptr[h + 1]; ++p) {
      scores[table_.indices[p]] += static_cast<double>(table_.scores[p]);
    }
  }
  std::vector<ScoredItem> out;
  out.reserve(std::max<size_t>(scores.size(), count));
  for (const auto& [item, score] : scores) {
    if (score > 0) out.push_back({item, score});
  }
  // Better() is a strict total order, so the hash map's iteration order
  // does not leak into the result.
  std::sort(out.begin(), out.end(), Better);
  if (out.size() > static_cast<size_t>(count)) out.resize(count);
  for (const ScoredItem& p : backfill_.ranking()) {
    if (out.size() >= static_cast<size_t>(count)) break;
    auto it = scores.find(p.item);
    if (it != scores.end() && it->second > 0) continue;
    out.push_back({p.item, 0.0});
  }
  return out;
}

CandidateList BuildCandidateList(absl::Span<const ScoredItem> retrieved,
                                 int32_t true_item, int num_candidates,
                                 EvalRng& rng) {
  // 1. The others, and where the retriever had the true item.
  std::vector<ScoredItem> others;
  others.reserve(num_candidates + 1);
  int natural = -1;
  double natural_score = 0;
  for (size_t r = 0; r < retrieved.size(); ++r) {
    if (true_item >= 0 && retrieved[r].item == true_item) {
      if (r <= static_cast<size_t>(num_candidates)) {
        natural = static_cast<int>(r);
        natural_score = retrieved[r].score;
      }
      continue;
    }
    if (others.size() < static_cast<size_t>(num_candidates)) {
      others.push_back(retrieved[r]);
    }
  }

  // 2./3. Where the true item goes, and with which raw score.
  CandidateList list;
  int position;
  double score;
  if (natural >= 0) {
    position = std::min(natural, static_cast<int>(others.size()));
    score = natural_score;
    list.true_retrieved = true;
  } else {
    position = static_cast<int>(rng.Uniform(others.size() + 1));
    if (others.empty()) {
      score = 0;
    } else if (position == 0) {
      score = others.front().score;
    } else if (position == static_cast<int>(others.size())) {
      score = others.back().score;
    } else {
      score = 0.5 * (others[position - 1].score + others[position].score);
    }
  }

  // 4. Assemble and normalise.
  const size_t n = others.size() + 1;
  list.items.reserve(n);
  list.base_scores.reserve(n);
  for (size_t k = 0, o = 0; k < n; ++k) {
    if (static_cast<int>(k) == position) {
      list.items.push_back(true_item);
      list.base_scores.push_back(score);
    } else {
      list.items.push_back(others[o].item);
      list.base_scores.push_back(others[o].score);
      ++o;
    }
  }
  list.true_position = position;
  const double top = list.base_scores.front();
  for (double& s : list.base_scores) s = top > 0 ? s / top : 0.0;
  return list;
}

}  // namespace rerank
