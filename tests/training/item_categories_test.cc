#include "training/item_categories.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(ItemCategoriesTest, ParsesWithAndWithoutHeader) {
  auto m = ParseItemCategories(
      "item_id,category\na,mug\n\"b,2\",\"lantern\"\nc,\n", "cats.csv");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(*m, UnorderedElementsAre(Pair("a", "mug"), Pair("b,2", "lantern"),
                                       Pair("c", "")));
  m = ParseItemCategories("a,mug\na,mug\n", "cats.csv");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(*m, UnorderedElementsAre(Pair("a", "mug")));
}

TEST(ItemCategoriesTest, RefusesConflictsAndBadRecords) {
  auto m = ParseItemCategories("a,mug\na,cup\n", "cats.csv");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "cats.csv:2: item 'a' already has category 'mug', now 'cup'");
  m = ParseItemCategories("a,mug,x\n", "cats.csv");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "cats.csv:1: expected 2 fields (item_id,category), got 3");
  m = ParseItemCategories("item_id,category\n,mug\n", "cats.csv");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "cats.csv:2: empty item_id");
}

}  // namespace
}  // namespace rerank
