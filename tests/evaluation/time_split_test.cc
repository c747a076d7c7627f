#include "evaluation/time_split.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;

std::vector<Interaction> AtTimes(const std::vector<double>& times) {
  std::vector<Interaction> xs;
  for (double t : times) {
    Interaction x;
    x.user_id = "u";
    x.item_id = "i";
    x.event_type = EventType::kPurchase;
    x.timestamp = t;
    xs.push_back(x);
  }
  return xs;
}

TEST(TimeSplitTest, StrictlyBeforeIsTrainAtOrAfterIsTest) {
  // Log order is not time order.
  const auto xs = AtTimes({50, 10, 100, 99.999, 100.001, 200});
  const TimeSplit s = SplitByTime(xs, 100);
  EXPECT_EQ(s.split_time, 100);
  EXPECT_THAT(s.train, ElementsAre(0, 1, 3));
  EXPECT_THAT(s.test, ElementsAre(2, 4, 5));
}

TEST(TimeSplitTest, GivenSplitTimeWins) {
  SplitOptions o;
  o.split_time = 42;
  o.test_fraction = 0.5;
  auto t = ComputeSplitTime(AtTimes({1, 2, 3}), o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 42);
}

TEST(TimeSplitTest, FractionOfInteractions) {
  SplitOptions o;
  o.test_fraction = 0.3;
  const auto xs = AtTimes({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  auto t = ComputeSplitTime(xs, o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 8);  // the last 3 of 10: 8, 9, 10
  EXPECT_EQ(SplitByTime(xs, *t).test.size(), 3u);
}

TEST(TimeSplitTest, FractionOfInteractionsKeepsTiesTogether) {
  SplitOptions o;
  o.test_fraction = 0.2;
  const auto xs = AtTimes({1, 2, 3, 3, 3});
  auto t = ComputeSplitTime(xs, o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 3);
  // One interaction asked for; the whole timestamp (one basket) moves.
  EXPECT_THAT(SplitByTime(xs, *t).test, ElementsAre(2, 3, 4));
}

TEST(TimeSplitTest, FractionOfTime) {
  SplitOptions o;
  o.test_fraction = 0.25;
  o.fraction_of = FractionOf::kTime;
  auto t = ComputeSplitTime(AtTimes({0, 1, 2, 3, 100}), o);
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(*t, 75);
}

TEST(TimeSplitTest, RefusesBadFractionAndEmptyLog) {
  SplitOptions o;
  o.test_fraction = 0;
  EXPECT_FALSE(ComputeSplitTime(AtTimes({1}), o).ok());
  o.test_fraction = 1;
  EXPECT_FALSE(ComputeSplitTime(AtTimes({1}), o).ok());
  o.test_fraction = 0.5;
  EXPECT_FALSE(ComputeSplitTime({}, o).ok());
}

TEST(TimeSplitTest, ParsesFractionOf) {
  EXPECT_EQ(*ParseFractionOf("time"), FractionOf::kTime);
  EXPECT_EQ(*ParseFractionOf("interactions"), FractionOf::kInteractions);
  EXPECT_FALSE(ParseFractionOf("days").ok());
}

}  // namespace
}  // namespace rerank
