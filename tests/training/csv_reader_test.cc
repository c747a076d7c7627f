#include "training/csv_reader.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;

struct Record {
  std::vector<std::string> fields;
  std::string error;
  int64_t line;
};

std::vector<Record> ReadAll(const std::string& data) {
  CsvReader reader(data);
  std::vector<Record> out;
  Record r;
  while (reader.Next(r.fields, r.error)) {
    r.line = reader.record_line();
    out.push_back(r);
  }
  return out;
}

TEST(CsvReaderTest, PlainFieldsAndLineEndings) {
  const auto records = ReadAll("a,b,c\r\n1,,3\n\nx");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_THAT(records[0].fields, ElementsAre("a", "b", "c"));
  EXPECT_THAT(records[1].fields, ElementsAre("1", "", "3"));
  EXPECT_TRUE(IsBlankRecord(records[2].fields));
  EXPECT_THAT(records[3].fields, ElementsAre("x"));
  EXPECT_EQ(records[3].line, 4);
}

TEST(CsvReaderTest, QuotedFieldsWithCommasQuotesAndNewlines) {
  const auto records = ReadAll(
      "\"a,b\",\"say \"\"hi\"\"\",\"\"\n\"two\nlines\",z\r\nlast,\"q\"");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_THAT(records[0].fields, ElementsAre("a,b", "say \"hi\"", ""));
  EXPECT_THAT(records[1].fields, ElementsAre("two\nlines", "z"));
  EXPECT_EQ(records[1].line, 2);
  EXPECT_THAT(records[2].fields, ElementsAre("last", "q"));
  EXPECT_EQ(records[2].line, 4);  // The quoted newline counts as a line.
}

TEST(CsvReaderTest, TrailingCommaGivesEmptyLastField) {
  const auto records = ReadAll("a,\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_THAT(records[0].fields, ElementsAre("a", ""));
}

TEST(CsvReaderTest, MalformedRecordsAreReportedAndSkipped) {
  const auto records = ReadAll("\"ab\"x,1\nok,2\n\"open,3\nmore");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].error, "unexpected character after closing quote");
  EXPECT_EQ(records[0].line, 1);
  EXPECT_TRUE(records[1].error.empty());
  EXPECT_THAT(records[1].fields, ElementsAre("ok", "2"));
  EXPECT_EQ(records[1].line, 2);
  EXPECT_EQ(records[2].error, "unterminated quoted field");
  EXPECT_EQ(records[2].line, 3);
}

TEST(CsvReaderTest, EmptyInputHasNoRecords) {
  EXPECT_TRUE(ReadAll("").empty());
}

}  // namespace
}  // namespace rerank
