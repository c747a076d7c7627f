#include "model/text_lines.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rerank {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ParseLinesTest, TrailingNewlineIsOptional) {
  EXPECT_THAT(*ParseLines("a\nb\n", false), ElementsAre("a", "b"));
  EXPECT_THAT(*ParseLines("a\nb", false), ElementsAre("a", "b"));
}

TEST(ParseLinesTest, EmptyFileHasNoLines) {
  EXPECT_THAT(*ParseLines("", false), IsEmpty());
}

TEST(ParseLinesTest, EmptyLinesOnlyWhenAllowed) {
  EXPECT_THAT(*ParseLines("\n", true), ElementsAre(""));
  EXPECT_THAT(*ParseLines("a\n\nb\n", true), ElementsAre("a", "", "b"));
  absl::StatusOr<std::vector<std::string>> r = ParseLines("a\n\nb\n", false);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("line 2 is empty"));
}

TEST(ParseLinesTest, KeepsWhitespaceAndNonAscii) {
  EXPECT_THAT(*ParseLines(" a \n\xC3\xA9t\xC3\xA9\n", false),
              ElementsAre(" a ", "\xC3\xA9t\xC3\xA9"));
}

TEST(ParseLinesTest, RefusesCarriageReturnNulInvalidUtf8AndBom) {
  EXPECT_FALSE(ParseLines("a\r\n", false).ok());
  EXPECT_FALSE(ParseLines(std::string("a\0b\n", 4), false).ok());
  EXPECT_FALSE(ParseLines("\xC3\n", false).ok());
  EXPECT_FALSE(ParseLines("\xEF\xBB\xBF"
                          "a\n",
                          false)
                   .ok());
}

TEST(IsValidUtf8Test, RefusesOverlongSurrogatesAndOutOfRange) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));   // U+1F600
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // U+D800 surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));
}

TEST(JoinLinesTest, TerminatesEveryLine) {
  EXPECT_EQ(JoinLines({"a", "", "b"}), "a\n\nb\n");
  EXPECT_EQ(JoinLines({}), "");
  EXPECT_THAT(*ParseLines(JoinLines({""}), true), ElementsAre(""));
}

TEST(CheckLineValueTest, RefusesNewline) {
  EXPECT_EQ(CheckLineValue("a\nb", false).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckLineValue("", true).ok());
  EXPECT_FALSE(CheckLineValue("", false).ok());
}

}  // namespace
}  // namespace rerank
