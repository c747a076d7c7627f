// ModelSnapshot::FromData with and without a complement table: which table
// Neighbors() serves, and the validation of the complement table's arrays.

#include "model/model_snapshot.h"

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_test_util.h"

namespace rerank {
namespace {

using ::rerank::testing::TinyModelData;
using ::rerank::testing::TinyTwoTableModelData;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

void ExpectRefused(ModelData data, const std::string& message) {
  absl::StatusOr<std::unique_ptr<const ModelSnapshot>> m =
      ModelSnapshot::FromData(std::move(data));
  ASSERT_FALSE(m.ok()) << "expected a refusal";
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr(message));
}

TEST(ModelSnapshotTest, V1ModelServesOneTableForBothRoles) {
  absl::StatusOr<std::unique_ptr<const ModelSnapshot>> m =
      ModelSnapshot::FromData(TinyModelData());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE((*m)->has_complements());
  EXPECT_EQ((*m)->num_complements(), 0);
  EXPECT_EQ((*m)->num_neighbors(), 4);
  for (int32_t r = 0; r < 4; ++r) {
    const NeighborList plain = (*m)->Neighbors(r);
    for (NeighborTable t :
         {NeighborTable::kSubstitutes, NeighborTable::kComplements}) {
      const NeighborList n = (*m)->Neighbors(r, t);
      EXPECT_EQ(n.items.data(), plain.items.data());
      EXPECT_EQ(n.items.size(), plain.items.size());
      EXPECT_EQ(n.scores.data(), plain.scores.data());
    }
  }
  EXPECT_THAT((*m)->Neighbors(0, NeighborTable::kComplements).items,
              ElementsAre(1, 2));
}

TEST(ModelSnapshotTest, TwoTableModelServesEachTableForItsRole) {
  absl::StatusOr<std::unique_ptr<const ModelSnapshot>> m =
      ModelSnapshot::FromData(TinyTwoTableModelData());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE((*m)->has_complements());
  EXPECT_EQ((*m)->num_neighbors(), 4);
  EXPECT_EQ((*m)->num_complements(), 4);
  // Neighbors(row) stays the substitutes table.
  EXPECT_THAT((*m)->Neighbors(0).items, ElementsAre(1, 2));
  EXPECT_THAT((*m)->Neighbors(0, NeighborTable::kSubstitutes).items,
              ElementsAre(1, 2));
  EXPECT_THAT((*m)->Neighbors(0, NeighborTable::kComplements).items,
              ElementsAre(3));
  EXPECT_THAT((*m)->Neighbors(1, NeighborTable::kComplements).scores,
              ElementsAre(0.6f, 0.2f));
  EXPECT_TRUE((*m)->Neighbors(3, NeighborTable::kComplements).items.empty());
}

TEST(ModelSnapshotTest, AllZeroComplementIndptrIsAnEmptySeparateTable) {
  ModelData d = TinyModelData();
  d.complement_indptr.assign(5, 0);
  absl::StatusOr<std::unique_ptr<const ModelSnapshot>> m =
      ModelSnapshot::FromData(std::move(d));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE((*m)->has_complements());
  EXPECT_EQ((*m)->num_complements(), 0);
  EXPECT_TRUE((*m)->Neighbors(0, NeighborTable::kComplements).items.empty());
}

TEST(ModelSnapshotTest, RefusesComplementArraysOfWrongSize) {
  ModelData d = TinyTwoTableModelData();
  d.complement_indptr.pop_back();
  ExpectRefused(std::move(d),
                "complements_indptr.npy: 4 entries, expected items + 1 = 5");
  d = TinyTwoTableModelData();
  d.complement_indices.pop_back();
  ExpectRefused(std::move(d),
                "complements_indices.npy: 3 entries, but "
                "complements_indptr.npy ends at 4");
  d = TinyTwoTableModelData();
  d.complement_scores.push_back(0.1f);
  ExpectRefused(std::move(d), "complements_scores.npy: 5 entries, expected 4");
  // Scores alone are not "no table" either.
  d = TinyModelData();
  d.complement_scores = {0.5f};
  ExpectRefused(std::move(d), "complements_indptr.npy: 0 entries");
}

TEST(ModelSnapshotTest, RefusesComplementContentByTheNeighbourRules) {
  ModelData d = TinyTwoTableModelData();
  d.complement_indptr = {0, 3, 1, 4, 4};
  ExpectRefused(std::move(d),
                "complements_indptr.npy: not non-decreasing at entry 2");
  d = TinyTwoTableModelData();
  d.complement_indices[3] = -1;
  ExpectRefused(std::move(d),
                "complements_indices.npy: entry 3 (neighbour of item row 2) "
                "is -1, outside [0, 4)");
  d = TinyTwoTableModelData();
  d.complement_indices[3] = 2;
  ExpectRefused(std::move(d),
                "complements_indices.npy: entry 3: item row 2 lists itself");
  d = TinyTwoTableModelData();
  d.complement_scores[0] = std::numeric_limits<float>::quiet_NaN();
  ExpectRefused(std::move(d), "complements_scores.npy: entry 0 is not finite");
  d = TinyTwoTableModelData();
  d.complement_scores[2] = 0.65f;
  ExpectRefused(std::move(d),
                "complements_scores.npy: neighbours of item row 1 are not "
                "sorted by descending score at entry 2");
}

TEST(ModelSnapshotTest, SubstituteTableProblemsAreReportedFirst) {
  ModelData d = TinyTwoTableModelData();
  d.neighbor_indices[0] = 0;
  d.complement_indices[0] = 0;
  ExpectRefused(std::move(d), "neighbors_indices.npy: entry 0");
}

}  // namespace
}  // namespace rerank
