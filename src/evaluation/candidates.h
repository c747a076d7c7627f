#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "evaluation/random.h"
#include "training/interaction_matrix.h"
#include "training/neighbors.h"

namespace rerank {

// An item row of the train matrix with a retriever's raw score.
struct ScoredItem {
  int32_t item = -1;
  double score = 0;
};

// The baseline retrieval stages that produce the candidate lists rerankd is
// evaluated on. Both are deterministic and read only the train window.
enum class RetrieverKind {
  kPopularity,    // the most popular train items, same for everyone
  kCooccurrence,  // items co-occurring with the user's recent items
};
absl::StatusOr<RetrieverKind> ParseRetrieverKind(absl::string_view name);
absl::string_view RetrieverKindName(RetrieverKind kind);

// Popularity = number of distinct train users who interacted with the item
// (not the number of events: a few wholesalers re-ordering one item dozens
// of times should not make it "popular"). Ties by ascending item row.
class PopularityRetriever {
 public:
  explicit PopularityRetriever(const InteractionMatrix& matrix);

  // The top `count` items, best first.
  std::vector<ScoredItem> Retrieve(int count) const;
  const std::vector<ScoredItem>& ranking() const { return ranking_; }

 private:
  std::vector<ScoredItem> ranking_;  // every item, best first
};

// score(c) = sum over the distinct items h of the user's recent events of
// cos_cooc(h, c), with cos_cooc the co-occurrence cosine of
// BuildItemNeighbors (the same one rerank-train uses, but its own, longer,
// table: `table` should keep num_candidates or more neighbours per item).
// Undecayed and unweighted by event type: a retriever is coarse on purpose,
// the re-ranker is what should exploit recency. Items scored > 0 come first
// (descending, ties by row); the list is then backfilled in popularity
// order with score 0 (the retriever has no opinion about them), so a user
// without history gets the popularity list with all-zero scores.
class CooccurrenceRetriever {
 public:
  // Both must outlive the retriever.
  CooccurrenceRetriever(const ItemNeighbors& table,
                        const PopularityRetriever& backfill)
      : table_(table), backfill_(backfill) {}

  // `history_items`: item rows of the user's events before the test moment
  // (-1 and duplicates ignored).
  std::vector<ScoredItem> Retrieve(absl::Span<const int32_t> history_items,
                                   int count) const;

 private:
  const ItemNeighbors& table_;
  const PopularityRetriever& backfill_;
};

// One evaluation candidate list, in baseline (retriever) order.
struct CandidateList {
  std::vector<int32_t> items;       // train item rows; -1 = the true item
                                    // when the train window never saw it
  std::vector<double> base_scores;  // normalised retriever scores, in [0, 1]
  int true_position = -1;           // index of the true item in `items`
  // The true item was in the retriever's top num_candidates + 1, i.e. the
  // list is exactly what the retriever would have produced.
  bool true_retrieved = false;
};

// Builds the list from `retrieved` (the retriever's top num_candidates + 1
// or more, best first, scores non-increasing) and the true item (train row,
// or -1 for an item unknown to the train window):
//
//  1. others = `retrieved` without the true item, first num_candidates.
//  2. If the true item is among the first num_candidates + 1 of `retrieved`
//     it goes back where the retriever put it, with its own score: the list
//     is then the retriever's real top num_candidates + 1.
//  3. Otherwise the retriever would not have surfaced it. Appending it last
//     would hand the baseline a guaranteed worst rank (and any re-ranker a
//     free win), and putting it first the reverse; instead it is inserted at
//     a uniformly random position p in [0, |others|] drawn from `rng`, with
//     the score interpolated from its new neighbours (mean of the scores
//     around it; the neighbour's score at either end), so the base scores
//     stay non-increasing in list order and the true item cannot be told
//     apart by its base score.
//  4. base_score = raw score / the list's top raw score (so in [0, 1], the
//     first candidate 1), or all 0 when the top score is <= 0.
//
// The list holds the true item exactly once and min(num_candidates,
// available others) other items, all distinct.
CandidateList BuildCandidateList(absl::Span<const ScoredItem> retrieved,
                                 int32_t true_item, int num_candidates,
                                 EvalRng& rng);

}  // namespace rerank
