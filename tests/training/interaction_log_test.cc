#include "training/interaction_log.h"

#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kHeader[] = "user_id,item_id,event_type,timestamp\n";

TEST(InteractionLogTest, ParsesAllColumnsAndBothTimestampForms) {
  const std::string csv =
      std::string(kHeader) +
      "u1,i1,view,1294222920\n"
      "u2,\"item, with comma\",purchase,2011-01-05T10:22:00Z\n"
      "\"u\"\"3\",i3,ADD_TO_CART,2011-01-05 10:22:00\n"
      "u4,i4,wishlist,1294222920.5\r\n"
      "u5,i5,click,2011-01-05T11:22:00+01:00\n";
  const auto log = ParseInteractionLog(csv, "log.csv");
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->interactions.size(), 5u);
  EXPECT_EQ(log->records, 5);
  EXPECT_EQ(log->skipped_lines, 0);
  EXPECT_FALSE(log->has_weight_column);
  const auto& x = log->interactions;
  EXPECT_EQ(x[0].user_id, "u1");
  EXPECT_EQ(x[0].item_id, "i1");
  EXPECT_EQ(x[0].event_type, EventType::kView);
  EXPECT_EQ(x[0].timestamp, 1294222920.0);
  EXPECT_EQ(x[0].weight, 1.0f);
  EXPECT_EQ(x[1].item_id, "item, with comma");
  EXPECT_EQ(x[1].event_type, EventType::kPurchase);
  EXPECT_EQ(x[1].timestamp, 1294222920.0);
  EXPECT_EQ(x[2].user_id, "u\"3");
  EXPECT_EQ(x[2].event_type, EventType::kAddToCart);
  EXPECT_EQ(x[2].timestamp, 1294222920.0);
  EXPECT_EQ(x[3].event_type, EventType::kWishlist);
  EXPECT_EQ(x[3].timestamp, 1294222920.5);
  EXPECT_EQ(x[4].event_type, EventType::kClick);
  EXPECT_EQ(x[4].timestamp, 1294222920.0);
}

TEST(InteractionLogTest, WeightColumnAnyColumnOrderAndExtraColumns) {
  const auto log = ParseInteractionLog(
      "\xEF\xBB\xBFtimestamp,session,weight,event_type,item_id,user_id\n"
      "1,s1,2.5,view,i,u\n"
      "2,s2,,click,i,u\n"
      "3,s3,0,click,i,u\n",
      "log.csv");
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(log->has_weight_column);
  ASSERT_EQ(log->interactions.size(), 3u);
  EXPECT_EQ(log->interactions[0].weight, 2.5f);
  EXPECT_EQ(log->interactions[0].user_id, "u");
  EXPECT_EQ(log->interactions[0].item_id, "i");
  EXPECT_EQ(log->interactions[1].weight, 1.0f);  // Empty means 1.
  EXPECT_EQ(log->interactions[2].weight, 0.0f);
}

TEST(InteractionLogTest, BadLineIsRefusedWithItsLineNumber) {
  std::string csv = kHeader;
  for (int k = 2; k < 17; ++k) csv += "u,i,view,1\n";
  csv += "u,i,buy,1\n";  // line 17
  csv += "u,i,view,1\n";
  const auto log = ParseInteractionLog(csv, "log.csv");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log.status().message(), "log.csv:17: unknown event_type 'buy'");
}

TEST(InteractionLogTest, EachKindOfBadLineHasAnExactMessage) {
  const std::pair<const char*, const char*> cases[] = {
      {",i,view,1", "log.csv:2: empty user_id"},
      {"  ,i,view,1", "log.csv:2: empty user_id"},
      {"u,,view,1", "log.csv:2: empty item_id"},
      {"u,i,view", "log.csv:2: expected 4 fields, got 3"},
      {"u,i,view,1,extra", "log.csv:2: expected 4 fields, got 5"},
      {"u,i,view,yesterday", "log.csv:2: bad timestamp 'yesterday'"},
      {"u,i,view,2011-02-30", "log.csv:2: bad timestamp '2011-02-30'"},
      {"u,\"i\"x,view,1",
       "log.csv:2: unexpected character after closing quote"},
      {"u,\"i,view,1", "log.csv:2: unterminated quoted field"},
  };
  for (const auto& [line, message] : cases) {
    const auto log =
        ParseInteractionLog(std::string(kHeader) + line + "\n", "log.csv");
    ASSERT_FALSE(log.ok()) << line;
    EXPECT_EQ(log.status().message(), message) << line;
  }
  const auto weight = ParseInteractionLog(
      "user_id,item_id,event_type,timestamp,weight\nu,i,view,1,-2\n"
      "u,i,view,1,abc\n",
      "w.csv");
  ASSERT_FALSE(weight.ok());
  EXPECT_EQ(weight.status().message(), "w.csv:2: negative weight '-2'");
}

TEST(InteractionLogTest, LineNumbersCountQuotedNewlinesAndBlankLines) {
  // A quoted newline in an ignored extra column (ids may not hold one).
  const auto log = ParseInteractionLog(
      "user_id,item_id,event_type,timestamp,note\n"
      "u,i,view,1,\"multi\nline\"\n"
      "\n"
      "u,i,oops,1,\n",
      "log.csv");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().message(), "log.csv:5: unknown event_type 'oops'");
}

TEST(InteractionLogTest, SkipModeCountsAndReportsBadLines) {
  LogReadOptions options;
  options.skip_bad_lines = true;
  options.max_bad_line_messages = 2;
  const auto log = ParseInteractionLog(std::string(kHeader) +
                                           "u1,i1,view,1\n"
                                           ",i1,view,1\n"
                                           "u2,i2,buy,1\n"
                                           "u3,i3,view,never\n"
                                           "u4,i4,purchase,2\n",
                                       "log.csv", options);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->records, 5);
  EXPECT_EQ(log->skipped_lines, 3);
  EXPECT_THAT(log->bad_lines,
              ElementsAre("log.csv:3: empty user_id",
                          "log.csv:4: unknown event_type 'buy'"));
  ASSERT_EQ(log->interactions.size(), 2u);
  EXPECT_EQ(log->interactions[0].user_id, "u1");
  EXPECT_EQ(log->interactions[1].user_id, "u4");
}

TEST(InteractionLogTest, HeaderProblemsAreFatalEvenInSkipMode) {
  LogReadOptions options;
  options.skip_bad_lines = true;
  auto log = ParseInteractionLog("", "log.csv", options);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().message(), "log.csv: empty log (no header line)");
  log = ParseInteractionLog("user_id,item_id,timestamp\nu,i,1\n", "log.csv",
                            options);
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.status().message(),
              HasSubstr("log.csv:1: header lacks column 'event_type'"));
  log = ParseInteractionLog("user_id,item_id,event_type,timestamp,user_id\n",
                            "log.csv", options);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().message(),
            "log.csv:1: duplicate column 'user_id' in header");
}

TEST(InteractionLogTest, HeaderOnlyLogIsEmptyNotAnError) {
  const auto log = ParseInteractionLog(kHeader, "log.csv");
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(log->interactions.empty());
}

TEST(InteractionLogTest, ReadsPlainAndGzipFiles) {
  const std::string content = std::string(kHeader) + "u1,i1,view,1\n";
  const std::string plain = ::testing::TempDir() + "/plain_log.csv";
  const std::string gz = ::testing::TempDir() + "/gz_log.csv.gz";
  {
    std::ofstream out(plain, std::ios::binary);
    out << content;
  }
  {
    gzFile f = gzopen(gz.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, content.data(), content.size()),
              static_cast<int>(content.size()));
    gzclose(f);
  }
  for (const std::string& path : {plain, gz}) {
    const auto log = ReadInteractionLog(path);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_EQ(log->interactions.size(), 1u);
    EXPECT_EQ(log->interactions[0].item_id, "i1");
  }
  // Errors name the path as given.
  {
    std::ofstream out(plain, std::ios::binary);
    out << kHeader << "u1,i1,nope,1\n";
  }
  const auto bad = ReadInteractionLog(plain);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), plain + ":2: unknown event_type 'nope'");

  const auto missing = ReadInteractionLog(::testing::TempDir() + "/nope.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(InteractionLogTest, TruncatedGzipIsDataLoss) {
  std::string content = kHeader;
  for (int k = 0; k < 2000; ++k)
    content += "user" + std::to_string(k) + ",i,view,1\n";
  const std::string gz = ::testing::TempDir() + "/truncated.csv.gz";
  {
    gzFile f = gzopen(gz.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    gzwrite(f, content.data(), content.size());
    gzclose(f);
  }
  std::string bytes;
  {
    std::ifstream in(gz, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  {
    std::ofstream out(gz, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), bytes.size() / 2);
  }
  const auto log = ReadInteractionLog(gz);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
}

TEST(InteractionLogTest, EventTypeNamesRoundTrip) {
  for (int k = 0; k < kNumEventTypes; ++k) {
    const auto type = static_cast<EventType>(k);
    EXPECT_EQ(ParseEventType(EventTypeName(type)), type);
  }
  EXPECT_FALSE(ParseEventType("buy").has_value());
}

TEST(InteractionLogTest, IdsWithLineBreaksAreRefused) {
  const auto log = ParseInteractionLog(
      std::string(kHeader) + "\"a\nb\",i,view,1\n", "log.csv");
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.status().message(), HasSubstr("log.csv:2: user_id"));
}

}  // namespace
}  // namespace rerank
