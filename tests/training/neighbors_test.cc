#include "training/neighbors.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "training/interaction_matrix.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;

// Histories (items A..D are rows 0..3):
//   u1: A B C   u2: A B   u3: A B D   u4: C D   u5: A C
// n_A = 4, n_B = 3, n_C = 3, n_D = 2
// co(A,B) = 3, co(A,C) = 2, co(A,D) = co(B,C) = co(B,D) = co(C,D) = 1.
InteractionMatrix HandBuiltMatrix() {
  const std::vector<std::pair<const char*, const char*>> pairs = {
      {"u1", "A"}, {"u1", "B"}, {"u1", "C"}, {"u2", "A"},
      {"u2", "B"}, {"u3", "A"}, {"u3", "B"}, {"u3", "D"},
      {"u4", "C"}, {"u4", "D"}, {"u5", "A"}, {"u5", "C"}};
  std::vector<Interaction> log;
  double ts = 0;
  for (const auto& [u, i] : pairs) {
    log.push_back({u, i, EventType::kPurchase, ++ts, 1.0f});
  }
  // Repeated events must not count twice.
  log.push_back({"u1", "A", EventType::kView, ++ts, 1.0f});
  auto m = BuildInteractionMatrix(log);
  EXPECT_TRUE(m.ok());
  return *std::move(m);
}

struct Row {
  std::vector<int32_t> items;
  std::vector<float> scores;
};

Row RowOf(const ItemNeighbors& n, int item) {
  Row r;
  for (int64_t k = n.indptr[item]; k < n.indptr[item + 1]; ++k) {
    r.items.push_back(n.indices[k]);
    r.scores.push_back(n.scores[k]);
  }
  return r;
}

void ExpectRow(const ItemNeighbors& n, int item,
               const std::vector<int32_t>& items,
               const std::vector<double>& scores) {
  const Row r = RowOf(n, item);
  EXPECT_EQ(r.items, items) << "item " << item;
  ASSERT_EQ(r.scores.size(), scores.size()) << "item " << item;
  for (size_t k = 0; k < scores.size(); ++k) {
    EXPECT_NEAR(r.scores[k], scores[k], 1e-6) << "item " << item << " #" << k;
  }
}

constexpr int A = 0, B = 1, C = 2, D = 3;

TEST(NeighborsTest, CooccurrenceCosineExact) {
  const InteractionMatrix m = HandBuiltMatrix();
  ASSERT_THAT(m.item_ids, ElementsAre("A", "B", "C", "D"));
  NeighborOptions o;
  o.min_support = 1;
  const auto n = BuildItemNeighbors(m, o);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_THAT(n->indptr, ElementsAre(0, 3, 6, 9, 12));
  ExpectRow(*n, A, {B, C, D},
            {3 / std::sqrt(12.0), 2 / std::sqrt(12.0), 1 / std::sqrt(8.0)});
  ExpectRow(*n, B, {A, D, C},
            {3 / std::sqrt(12.0), 1 / std::sqrt(6.0), 1 / 3.0});
  ExpectRow(*n, C, {A, D, B},
            {2 / std::sqrt(12.0), 1 / std::sqrt(6.0), 1 / 3.0});
  // B and C tie exactly at 1/sqrt(6): item row order breaks the tie.
  ExpectRow(*n, D, {B, C, A},
            {1 / std::sqrt(6.0), 1 / std::sqrt(6.0), 1 / std::sqrt(8.0)});
}

TEST(NeighborsTest, MinSupportHonoured) {
  const InteractionMatrix m = HandBuiltMatrix();
  NeighborOptions o;
  o.min_support = 2;
  const auto n = BuildItemNeighbors(m, o);
  ASSERT_TRUE(n.ok());
  ExpectRow(*n, A, {B, C}, {3 / std::sqrt(12.0), 2 / std::sqrt(12.0)});
  ExpectRow(*n, B, {A}, {3 / std::sqrt(12.0)});
  ExpectRow(*n, C, {A}, {2 / std::sqrt(12.0)});
  ExpectRow(*n, D, {}, {});
  o.min_support = 3;
  const auto n3 = BuildItemNeighbors(m, o);
  ASSERT_TRUE(n3.ok());
  EXPECT_THAT(n3->indices, ElementsAre(B, A));
}

TEST(NeighborsTest, TopKHonoured) {
  const InteractionMatrix m = HandBuiltMatrix();
  NeighborOptions o;
  o.min_support = 1;
  o.num_neighbors = 1;
  const auto n = BuildItemNeighbors(m, o);
  ASSERT_TRUE(n.ok());
  EXPECT_THAT(n->indptr, ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(n->indices, ElementsAre(B, A, A, B));
  o.num_neighbors = 0;
  const auto none = BuildItemNeighbors(m, o);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(none->indptr, ElementsAre(0, 0, 0, 0, 0));
  EXPECT_TRUE(none->indices.empty());
}

TEST(NeighborsTest, IndependentOfThreads) {
  const InteractionMatrix m = HandBuiltMatrix();
  NeighborOptions o;
  o.min_support = 1;
  const auto one = BuildItemNeighbors(m, o);
  o.threads = 3;
  const auto three = BuildItemNeighbors(m, o);
  o.threads = 16;  // More threads than items.
  const auto many = BuildItemNeighbors(m, o);
  ASSERT_TRUE(one.ok() && three.ok() && many.ok());
  EXPECT_EQ(one->indptr, three->indptr);
  EXPECT_EQ(one->indices, three->indices);
  EXPECT_EQ(one->scores, three->scores);
  EXPECT_EQ(one->indptr, many->indptr);
  EXPECT_EQ(one->indices, many->indices);
  EXPECT_EQ(one->scores, many->scores);
}

TEST(NeighborsTest, HistoryCapKeepsMostRecentItems) {
  // u1 touched A (t=1), B (t=2), C (t=3); with a cap of 2 only B and C
  // co-occur. u2 holds A and B (both kept).
  std::vector<Interaction> log = {{"u1", "A", EventType::kView, 1, 1},
                                  {"u1", "B", EventType::kView, 2, 1},
                                  {"u1", "C", EventType::kView, 3, 1},
                                  {"u2", "A", EventType::kView, 1, 1},
                                  {"u2", "B", EventType::kView, 1, 1}};
  const auto m = BuildInteractionMatrix(log);
  ASSERT_TRUE(m.ok());
  NeighborOptions o;
  o.min_support = 1;
  o.max_user_history = 2;
  const auto n = BuildItemNeighbors(*m, o);
  ASSERT_TRUE(n.ok());
  // Capped: u1 = {B, C}, u2 = {A, B}; n_A = 1, n_B = 2, n_C = 1.
  ExpectRow(*n, A, {B}, {1 / std::sqrt(2.0)});
  ExpectRow(*n, B, {A, C}, {1 / std::sqrt(2.0), 1 / std::sqrt(2.0)});
  ExpectRow(*n, C, {B}, {1 / std::sqrt(2.0)});
}

// Item factors A=(1,0), B=(0.8,0.6), C=(0,2), D=(-1,0):
// cos(A,B)=0.8, cos(B,C)=0.6, cos(A,C)=cos(C,D)=0, cos(A,D)=-1, cos(B,D)=-0.8.
const std::vector<float> kFactors = {1, 0, 0.8f, 0.6f, 0, 2, -1, 0};

TEST(NeighborsTest, FromFactorsKeepsPositiveCosines) {
  const InteractionMatrix m = HandBuiltMatrix();
  NeighborOptions o;
  o.source = NeighborSource::kFactors;
  const auto n = BuildItemNeighbors(m, o, kFactors, 2);
  ASSERT_TRUE(n.ok()) << n.status();
  ExpectRow(*n, A, {B}, {0.8});
  ExpectRow(*n, B, {A, C}, {0.8, 0.6});
  ExpectRow(*n, C, {B}, {0.6});
  ExpectRow(*n, D, {}, {});
}

TEST(NeighborsTest, BothBlendsTheTwoCosines) {
  const InteractionMatrix m = HandBuiltMatrix();
  NeighborOptions o;
  o.source = NeighborSource::kBoth;
  o.min_support = 2;
  o.factor_weight = 0.25f;
  const auto n = BuildItemNeighbors(m, o, kFactors, 2);
  ASSERT_TRUE(n.ok()) << n.status();
  // A: B = .75*3/sqrt12 + .25*.8, C = .75*2/sqrt12 + 0, D: co below
  // support and cosine -1 -> negative, dropped.
  ExpectRow(*n, A, {B, C},
            {0.75 * 3 / std::sqrt(12.0) + 0.2, 0.75 * 2 / std::sqrt(12.0)});
  // B: A as above; C only through factors (co(B,C)=1 < min_support).
  ExpectRow(*n, B, {A, C}, {0.75 * 3 / std::sqrt(12.0) + 0.2, 0.25 * 0.6});
  ExpectRow(*n, D, {}, {});
}

// u1..u3 view A and B together but buy A with C; u4 views C.
InteractionMatrix ViewedTogetherBoughtTogether() {
  std::vector<Interaction> log;
  double ts = 0;
  for (const char* u : {"u1", "u2", "u3"}) {
    log.push_back({u, "A", EventType::kView, ++ts, 1.0f});
    log.push_back({u, "B", EventType::kClick, ++ts, 1.0f});
    log.push_back({u, "A", EventType::kPurchase, ++ts, 1.0f});
    log.push_back({u, "C", EventType::kAddToCart, ++ts, 1.0f});
  }
  log.push_back({"u4", "C", EventType::kView, ++ts, 1.0f});
  auto m = BuildInteractionMatrix(log);
  EXPECT_TRUE(m.ok());
  return *std::move(m);
}

TEST(NeighborsTest, EventTypesSelectWhichPairsCoOccur) {
  const InteractionMatrix m = ViewedTogetherBoughtTogether();
  ASSERT_THAT(m.item_ids, ElementsAre("A", "B", "C"));
  NeighborOptions o;
  o.event_types = kViewEventTypes;
  auto n = BuildItemNeighbors(m, o);
  ASSERT_TRUE(n.ok()) << n.status();
  // Co-viewed: n_A = n_B = 3 (viewers), co = 3. C's one viewer saw only C.
  ExpectRow(*n, A, {B}, {1.0});
  ExpectRow(*n, B, {A}, {1.0});
  ExpectRow(*n, C, {}, {});
  o.event_types = kCartEventTypes;
  n = BuildItemNeighbors(m, o);
  ASSERT_TRUE(n.ok()) << n.status();
  ExpectRow(*n, A, {C}, {1.0});
  ExpectRow(*n, B, {}, {});
  ExpectRow(*n, C, {A}, {1.0});
  // All events: B and C both co-occur with A (n_C = 4: u4 too).
  o.event_types = kAllEventTypes;
  n = BuildItemNeighbors(m, o);
  ASSERT_TRUE(n.ok()) << n.status();
  ExpectRow(*n, A, {B, C}, {1.0, 3 / std::sqrt(12.0)});
}

TEST(NeighborsTest, HistoryCapCountsOnlyTheSelectedEventTypes) {
  // One user with views of A, B (old) and purchases of C, D, E (recent):
  // with a cap of 2 over all events only D and E would remain, but the view
  // histories hold A and B.
  std::vector<Interaction> log;
  for (const char* u : {"u1", "u2"}) {
    log.push_back({u, "A", EventType::kView, 1, 1.0f});
    log.push_back({u, "B", EventType::kView, 2, 1.0f});
    log.push_back({u, "C", EventType::kPurchase, 3, 1.0f});
    log.push_back({u, "D", EventType::kPurchase, 4, 1.0f});
    log.push_back({u, "E", EventType::kPurchase, 5, 1.0f});
  }
  const auto m = BuildInteractionMatrix(log);
  ASSERT_TRUE(m.ok());
  constexpr int E = 4;
  NeighborOptions o;
  o.max_user_history = 2;
  o.event_types = kViewEventTypes;
  const auto n = BuildItemNeighbors(*m, o);
  ASSERT_TRUE(n.ok()) << n.status();
  ExpectRow(*n, A, {B}, {1.0});
  o.event_types = kCartEventTypes;
  const auto c = BuildItemNeighbors(*m, o);
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectRow(*c, C, {}, {});  // the cap keeps the two most recent: D, E
  ExpectRow(*c, D, {E}, {1.0});
}

TEST(NeighborsTest, RejectsBadOptions) {
  const InteractionMatrix m = HandBuiltMatrix();
  NeighborOptions o;
  o.min_support = 0;
  EXPECT_FALSE(BuildItemNeighbors(m, o).ok());
  o = {};
  o.num_neighbors = -1;
  EXPECT_FALSE(BuildItemNeighbors(m, o).ok());
  o = {};
  o.source = NeighborSource::kFactors;
  EXPECT_FALSE(BuildItemNeighbors(m, o).ok());  // No factors given.
  EXPECT_FALSE(BuildItemNeighbors(m, o, kFactors, 3).ok());  // Wrong shape.
  o = {};
  o.event_types = 0;
  EXPECT_FALSE(BuildItemNeighbors(m, o).ok());
  // A hand-made matrix without event types cannot be filtered by them.
  InteractionMatrix untyped = m;
  untyped.user_event_types.clear();
  o = {};
  EXPECT_TRUE(BuildItemNeighbors(untyped, o).ok());
  o.event_types = kViewEventTypes;
  EXPECT_FALSE(BuildItemNeighbors(untyped, o).ok());
  EXPECT_EQ(ParseNeighborSource("both").value(), NeighborSource::kBoth);
  EXPECT_FALSE(ParseNeighborSource("magic").ok());
}

}  // namespace
}  // namespace rerank
