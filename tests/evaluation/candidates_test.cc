#include "evaluation/candidates.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "training/interaction_matrix.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;

// A retrieved list of `n` items 100, 101, ... with strictly decreasing
// scores n, n-1, ...
std::vector<ScoredItem> Retrieved(int n) {
  std::vector<ScoredItem> out;
  for (int k = 0; k < n; ++k) out.push_back({100 + k, double(n - k)});
  return out;
}

// The invariants every list must satisfy.
void CheckList(const CandidateList& list, int32_t true_item, size_t others) {
  ASSERT_EQ(list.items.size(), others + 1);
  ASSERT_EQ(list.base_scores.size(), list.items.size());
  ASSERT_GE(list.true_position, 0);
  ASSERT_LT(list.true_position, static_cast<int>(list.items.size()));
  EXPECT_EQ(list.items[list.true_position], true_item);
  EXPECT_EQ(std::count(list.items.begin(), list.items.end(), true_item), 1);
  const std::set<int32_t> distinct(list.items.begin(), list.items.end());
  EXPECT_EQ(distinct.size(), list.items.size());
  for (size_t k = 0; k < list.base_scores.size(); ++k) {
    EXPECT_GE(list.base_scores[k], 0.0);
    EXPECT_LE(list.base_scores[k], 1.0);
    if (k > 0) {
      EXPECT_LE(list.base_scores[k], list.base_scores[k - 1]);
    }
  }
}

TEST(BuildCandidateListTest, RetrievedTrueItemKeepsItsPlaceAndScore) {
  EvalRng rng(1);
  const auto retrieved = Retrieved(11);  // N + 1 for N = 10
  const CandidateList list = BuildCandidateList(retrieved, 103, 10, rng);
  CheckList(list, 103, 10);
  EXPECT_TRUE(list.true_retrieved);
  EXPECT_EQ(list.true_position, 3);
  // Exactly the retriever's top 11, normalised by the top score.
  for (int k = 0; k < 11; ++k) {
    EXPECT_EQ(list.items[k], 100 + k);
    EXPECT_DOUBLE_EQ(list.base_scores[k], (11.0 - k) / 11.0);
  }
}

TEST(BuildCandidateListTest, TrueItemAtRankNPlusOneIsStillRetrieved) {
  EvalRng rng(1);
  const CandidateList list = BuildCandidateList(Retrieved(11), 110, 10, rng);
  CheckList(list, 110, 10);
  EXPECT_TRUE(list.true_retrieved);
  EXPECT_EQ(list.true_position, 10);
}

TEST(BuildCandidateListTest, UnretrievedTrueItemGoesToARandomPlace) {
  std::vector<int> positions(11, 0);
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    EvalRng rng(seed);
    // The true item is beyond the top N + 1, or unknown to the train window.
    const int32_t true_item = seed % 2 == 0 ? 500 : -1;
    auto retrieved = Retrieved(11);
    retrieved.push_back({500, 0.5});
    const CandidateList list =
        BuildCandidateList(retrieved, true_item, 10, rng);
    CheckList(list, true_item, 10);
    EXPECT_FALSE(list.true_retrieved);
    // The others are the retriever's top 10, in order.
    std::vector<int32_t> others = list.items;
    others.erase(others.begin() + list.true_position);
    for (int k = 0; k < 10; ++k) EXPECT_EQ(others[k], 100 + k);
    ++positions[list.true_position];
  }
  // Roughly uniform over the 11 places (expected 182 each).
  for (int p = 0; p <= 10; ++p) {
    EXPECT_GT(positions[p], 120) << p;
    EXPECT_LT(positions[p], 250) << p;
  }
}

TEST(BuildCandidateListTest, InterpolatedScoreSitsBetweenItsNeighbours) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    EvalRng rng(seed);
    const CandidateList list = BuildCandidateList(Retrieved(10), -1, 10, rng);
    CheckList(list, -1, 10);
    const int p = list.true_position;
    if (p > 0 && p < 10) {
      EXPECT_DOUBLE_EQ(list.base_scores[p], 0.5 * (list.base_scores[p - 1] +
                                                   list.base_scores[p + 1]));
    }
  }
}

TEST(BuildCandidateListTest, ShortRetrievalAndZeroScores) {
  EvalRng rng(3);
  // Only 4 items exist besides the true one.
  CandidateList list = BuildCandidateList(Retrieved(4), 7, 10, rng);
  CheckList(list, 7, 4);
  // All-zero scores (backfill only) normalise to 0, not NaN.
  std::vector<ScoredItem> zeros = {{1, 0}, {2, 0}, {3, 0}};
  list = BuildCandidateList(zeros, 9, 2, rng);
  CheckList(list, 9, 2);
  for (double s : list.base_scores) EXPECT_EQ(s, 0.0);
  // Nothing retrieved at all.
  list = BuildCandidateList({}, 9, 5, rng);
  CheckList(list, 9, 0);
}

// Items: i0 bought by 3 users, i1 by 2, i2 by 2, i3 by 1; u0 bought i0 i1.
InteractionMatrix SmallMatrix() {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"u0", "i0"}, {"u0", "i1"}, {"u1", "i0"}, {"u1", "i1"},
      {"u2", "i0"}, {"u2", "i2"}, {"u3", "i2"}, {"u3", "i3"}};
  std::vector<Interaction> xs;
  for (const auto& [u, i] : pairs) {
    Interaction x;
    x.user_id = u;
    x.item_id = i;
    x.event_type = EventType::kPurchase;
    xs.push_back(x);
  }
  return *BuildInteractionMatrix(xs);
}

TEST(RetrieverTest, PopularityCountsDistinctUsers) {
  const InteractionMatrix m = SmallMatrix();
  const PopularityRetriever pop(m);
  const auto top = pop.Retrieve(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].item, 0);
  EXPECT_EQ(top[0].score, 3);
  EXPECT_EQ(top[1].item, 1);  // tie with i2 broken by row
  EXPECT_EQ(top[2].item, 2);
  EXPECT_EQ(pop.Retrieve(10).size(), 4u);
}

TEST(RetrieverTest, CooccurrenceThenPopularityBackfill) {
  const InteractionMatrix m = SmallMatrix();
  NeighborOptions no;
  no.num_neighbors = 10;
  no.min_support = 1;
  const ItemNeighbors table = *BuildItemNeighbors(m, no);
  const PopularityRetriever pop(m);
  const CooccurrenceRetriever cooc(table, pop);
  // History i3: co-occurs only with i2 (u3). Then popularity: i0, i1, (i2
  // already in), i3.
  const auto out = cooc.Retrieve({3}, 4);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].item, 2);
  EXPECT_GT(out[0].score, 0);
  EXPECT_EQ(out[1].item, 0);
  EXPECT_EQ(out[1].score, 0);
  EXPECT_EQ(out[2].item, 1);
  EXPECT_EQ(out[3].item, 3);
  // No history: pure popularity order with zero scores.
  const auto cold = cooc.Retrieve({}, 2);
  ASSERT_EQ(cold.size(), 2u);
  EXPECT_EQ(cold[0].item, 0);
  EXPECT_EQ(cold[1].item, 1);
  EXPECT_EQ(cold[0].score, 0);
}

TEST(RetrieverTest, ParsesNames) {
  EXPECT_EQ(*ParseRetrieverKind("popularity"), RetrieverKind::kPopularity);
  EXPECT_EQ(*ParseRetrieverKind("cooccurrence"), RetrieverKind::kCooccurrence);
  EXPECT_FALSE(ParseRetrieverKind("random").ok());
}

}  // namespace
}  // namespace rerank
