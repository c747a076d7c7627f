#include "evaluation/user_knn.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "training/interaction_matrix.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;

// u0: A B        (the query user)
// u1: A B C      sim(u0) = 2 / sqrt(2 * 3) = 0.816
// u2: A D        sim(u0) = 1 / sqrt(2 * 2) = 0.5
// u3: E F        sim(u0) = 0
// u4: B C D E    sim(u0) = 1 / sqrt(2 * 4) = 0.354
// u1 bought A twice: the weight must not matter (binary vectors).
InteractionMatrix HandBuilt() {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"u0", "A"}, {"u0", "B"}, {"u1", "A"}, {"u1", "A"}, {"u1", "B"},
      {"u1", "C"}, {"u2", "A"}, {"u2", "D"}, {"u3", "E"}, {"u3", "F"},
      {"u4", "B"}, {"u4", "C"}, {"u4", "D"}, {"u4", "E"}};
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

// Rows are sorted ids: users u0..u4 are rows 0..4, items A..F rows 0..5.
constexpr int32_t kA = 0, kB = 1, kC = 2, kD = 3, kE = 4, kF = 5;

TEST(UserKnnTest, CosineNeighboursInOrder) {
  const InteractionMatrix m = HandBuilt();
  ASSERT_EQ(m.item_ids[kA], "A");
  ASSERT_EQ(m.item_ids[kF], "F");
  const UserKnn knn(m);
  const auto n = knn.Neighbors(knn.UserItems(0), /*exclude_user=*/0, 10);
  ASSERT_EQ(n.size(), 3u);  // u3 shares nothing
  EXPECT_EQ(n[0].user, 1);
  EXPECT_NEAR(n[0].similarity, 2 / std::sqrt(6.0), 1e-12);
  EXPECT_EQ(n[1].user, 2);
  EXPECT_NEAR(n[1].similarity, 0.5, 1e-12);
  EXPECT_EQ(n[2].user, 4);
  EXPECT_NEAR(n[2].similarity, 1 / std::sqrt(8.0), 1e-12);
}

TEST(UserKnnTest, KNearestOnlyAndExpectedItemOrder) {
  const InteractionMatrix m = HandBuilt();
  const UserKnn knn(m);
  const std::vector<int32_t> candidates = {kF, kE, kD, kC};
  // k = 2: u1, u2. C = 0.816, D = 0.5, E = F = 0 (tie: input order).
  auto n2 = knn.Neighbors(knn.UserItems(0), 0, 2);
  auto s2 = knn.ScoreItems(n2, candidates);
  EXPECT_NEAR(s2[3], 2 / std::sqrt(6.0), 1e-12);
  EXPECT_NEAR(s2[2], 0.5, 1e-12);
  EXPECT_EQ(s2[1], 0.0);
  EXPECT_EQ(s2[0], 0.0);
  // ranks of F, E, D, C
  EXPECT_THAT(RanksByScore(s2), ElementsAre(3, 4, 2, 1));
  // k = 3 adds u4: C = 0.816 + 0.354, D = 0.5 + 0.354, E = 0.354.
  auto n3 = knn.Neighbors(knn.UserItems(0), 0, 3);
  EXPECT_THAT(RanksByScore(knn.ScoreItems(n3, candidates)),
              ElementsAre(4, 3, 2, 1));
}

TEST(UserKnnTest, QueryByItemsForAColdUser) {
  const InteractionMatrix m = HandBuilt();
  const UserKnn knn(m);
  // Someone who only has E (plus an unknown item and a duplicate): u3 and
  // u4 share it; u3 is closer (1/sqrt(2) vs 1/sqrt(4)).
  const auto n = knn.Neighbors({kE, -1, kE}, /*exclude_user=*/-1, 5);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].user, 3);
  EXPECT_EQ(n[1].user, 4);
  const auto s = knn.ScoreItems(n, {kF, kC, -1});
  EXPECT_GT(s[0], s[1]);
  EXPECT_EQ(s[2], 0.0);
  EXPECT_TRUE(knn.Neighbors({}, -1, 5).empty());
}

TEST(UserKnnTest, RanksByScoreBreaksTiesByPosition) {
  EXPECT_THAT(RanksByScore({0.0, 1.0, 0.0, 1.0, 2.0}),
              ElementsAre(4, 2, 5, 3, 1));
}

}  // namespace
}  // namespace rerank
