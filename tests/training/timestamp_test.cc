#include "training/timestamp.h"

#include "gtest/gtest.h"

namespace rerank {
namespace {

// 2011-01-05T10:22:00Z.
constexpr double kT = 1294222920;

TEST(TimestampTest, UnixSeconds) {
  EXPECT_EQ(ParseTimestamp("1294222920"), kT);
  EXPECT_EQ(ParseTimestamp(" 1294222920.25 "), kT + 0.25);
  EXPECT_EQ(ParseTimestamp("0"), 0.0);
}

TEST(TimestampTest, Iso8601Forms) {
  EXPECT_EQ(ParseTimestamp("2011-01-05T10:22:00Z"), kT);
  EXPECT_EQ(ParseTimestamp("2011-01-05 10:22:00"), kT);
  EXPECT_EQ(ParseTimestamp("2011-01-05T10:22"), kT);
  EXPECT_EQ(ParseTimestamp("2011-01-05t10:22:00z"), kT);
  EXPECT_EQ(ParseTimestamp("2011-01-05T10:22:00.5Z"), kT + 0.5);
  EXPECT_EQ(ParseTimestamp("2011-01-05T11:22:00+01:00"), kT);
  EXPECT_EQ(ParseTimestamp("2011-01-05T11:22:00+0100"), kT);
  EXPECT_EQ(ParseTimestamp("2011-01-05T11:22:00+01"), kT);
  EXPECT_EQ(ParseTimestamp("2011-01-05T04:52:00-05:30"), kT);
  EXPECT_EQ(ParseTimestamp("2011-01-05"), kT - (10 * 3600 + 22 * 60));
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00Z"), 0.0);
  EXPECT_EQ(ParseTimestamp("2000-02-29 00:00:00"), 951782400.0);
  EXPECT_EQ(ParseTimestamp("1969-12-31T23:59:59Z"), -1.0);
}

TEST(TimestampTest, RejectsGarbage) {
  for (const char* bad :
       {"", "abc", "-5", "1e9", "12.", ".5", "1.2.3", "inf", "nan",
        "2011-13-01", "2011-02-29", "2011-01-32", "2011-01-05T25:00:00",
        "2011-01-05T10:60:00", "2011-01-05T10:22:00+",
        "2011-01-05T10:22:00+01:", "2011-01-05X10:22",
        "2011-01-05T10:22:00 UTC", "2011/01/05 10:22"}) {
    EXPECT_FALSE(ParseTimestamp(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace rerank
