#include "model/npy.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_test_util.h"

namespace rerank {
namespace {

using ::rerank::testing::RawBytes;
using ::rerank::testing::RawNpy;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Exactly what numpy 1.24 np.save writes for np.zeros((3, 4), '<f4').
const char kNumpyHeader3x4[] =
    "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, "
    "'shape': (3, 4), }"
    "                                                          \n";

TEST(EncodeNpyHeaderTest, MatchesNumpyByteForByte) {
  absl::StatusOr<std::string> h = EncodeNpyHeader("<f4", {3, 4});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, std::string(kNumpyHeader3x4, sizeof(kNumpyHeader3x4) - 1));
  EXPECT_EQ(h->size(), 128u);
}

TEST(EncodeNpyHeaderTest, PadsEveryShapeToA64ByteBoundaryEndingInNewline) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{},
                                     {0},
                                     {5},
                                     {0, 4},
                                     {123456789012, 3},
                                     {1, 2, 3}}) {
    absl::StatusOr<std::string> h = EncodeNpyHeader("<i8", shape);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->size() % 64, 0u) << NpyShapeString(shape);
    EXPECT_EQ(h->back(), '\n');
    absl::StatusOr<NpyHeader> parsed = ParseNpyHeader(*h);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->shape, shape);
    EXPECT_EQ(parsed->data_offset, static_cast<int64_t>(h->size()));
  }
}

TEST(EncodeNpyHeaderTest, RefusesNegativeExtent) {
  EXPECT_EQ(EncodeNpyHeader("<f4", {-1, 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NpyShapeStringTest, FormatsLikePythonTuples) {
  EXPECT_EQ(NpyShapeString({}), "()");
  EXPECT_EQ(NpyShapeString({5}), "(5,)");
  EXPECT_EQ(NpyShapeString({3, 4}), "(3, 4)");
}

TEST(ParseNpyHeaderTest, ParsesNumpyHeader) {
  absl::StatusOr<NpyHeader> h =
      ParseNpyHeader(std::string(kNumpyHeader3x4, sizeof(kNumpyHeader3x4) - 1));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->major_version, 1);
  EXPECT_EQ(h->descr, "<f4");
  EXPECT_FALSE(h->fortran_order);
  EXPECT_THAT(h->shape, ElementsAre(3, 4));
  EXPECT_EQ(h->item_size, 4);
  EXPECT_EQ(h->data_offset, 128);
  EXPECT_EQ(h->num_elements(), 12);
  EXPECT_EQ(h->data_bytes(), 48);
}

TEST(ParseNpyHeaderTest, ParsesVersion2And3Headers) {
  for (char major : {2, 3}) {
    absl::StatusOr<NpyHeader> h = ParseNpyHeader(
        RawNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (7,), }", "",
               major));
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->major_version, major);
    EXPECT_THAT(h->shape, ElementsAre(7));
    EXPECT_EQ(h->data_offset % 64, 0);
  }
}

TEST(ParseNpyHeaderTest, AcceptsAnyKeyOrderDoubleQuotesAndNoTrailingComma) {
  absl::StatusOr<NpyHeader> h = ParseNpyHeader(RawNpy(
      "{\"shape\": (2,3), \"fortran_order\": False, \"descr\": '<f4'}", ""));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_THAT(h->shape, ElementsAre(2, 3));
}

TEST(ParseNpyHeaderTest, AcceptsPython2LongSuffixInVersion1) {
  absl::StatusOr<NpyHeader> h = ParseNpyHeader(RawNpy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", ""));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_THAT(h->shape, ElementsAre(2, 3));
}

TEST(ParseNpyHeaderTest, ParsesZeroDimensionalShape) {
  absl::StatusOr<NpyHeader> h = ParseNpyHeader(
      RawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", ""));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_TRUE(h->shape.empty());
  EXPECT_EQ(h->num_elements(), 1);
}

struct BadHeaderCase {
  std::string name;
  std::string file;
  std::string message;
};

class ParseNpyHeaderRefusalTest
    : public ::testing::TestWithParam<BadHeaderCase> {};

TEST_P(ParseNpyHeaderRefusalTest, RefusesWithMessage) {
  absl::StatusOr<NpyHeader> h = ParseNpyHeader(GetParam().file);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(h.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Headers, ParseNpyHeaderRefusalTest,
    ::testing::Values(
        BadHeaderCase{"Empty", "", "magic"},
        BadHeaderCase{"NotNpy", "PK\x03\x04 zip file", "magic"},
        BadHeaderCase{"OnlyMagic", std::string("\x93NUMPY\x01\x00", 8),
                      "truncated .npy header"},
        BadHeaderCase{"Version1_1",
                      std::string("\x93NUMPY\x01\x01\x00\x00", 10),
                      "version 1.1"},
        BadHeaderCase{"MissingKey",
                      RawNpy("{'descr': '<f4', 'shape': (3,), }", ""),
                      "expected exactly 'descr', 'fortran_order', 'shape'"},
        BadHeaderCase{
            "ExtraKey",
            RawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), "
                   "'x': 'y'}",
                   ""),
            "expected exactly 'descr', 'fortran_order', 'shape'"},
        BadHeaderCase{
            "DuplicateKey",
            RawNpy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                   "'shape': (3,), }",
                   ""),
            "duplicate key 'descr'"},
        BadHeaderCase{
            "StructuredDtype",
            RawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, "
                   "'shape': (3,), }",
                   ""),
            "structured dtypes are not supported"},
        BadHeaderCase{
            "ObjectDtype",
            RawNpy("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
                   ""),
            "unsupported dtype descr '|O'"},
        BadHeaderCase{
            "ShapeNotATuple",
            RawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }",
                   ""),
            "missing comma"},
        BadHeaderCase{
            "NegativeExtent",
            RawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }",
                   ""),
            "non-negative integer"},
        BadHeaderCase{
            "FortranNotBool",
            RawNpy("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }", ""),
            "unsupported value for 'fortran_order'"},
        BadHeaderCase{"ShapeOverflow",
                      RawNpy("{'descr': '<f4', 'fortran_order': False, "
                             "'shape': (4294967296, 4294967296), }",
                             ""),
                      "too large"},
        BadHeaderCase{
            "TextAfterDict",
            RawNpy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x",
                ""),
            "unexpected text after the dict"}),
    [](const ::testing::TestParamInfo<BadHeaderCase>& info) {
      return info.param.name;
    });

TEST(CheckNpyArrayTest, ReturnsPointerToData) {
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  std::string file = *EncodeNpyHeader("<f4", {3, 2}) + RawBytes(v);
  absl::StatusOr<NpyArray> a = CheckNpyArray(file, "<f4", {3, 2});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->data, file.data() + 128);
  EXPECT_EQ(reinterpret_cast<const float*>(a->data)[5], 6.0f);
}

TEST(CheckNpyArrayTest, WildcardExtentMatchesAnything) {
  std::string file = *EncodeNpyHeader("<i4", {0, 7});
  EXPECT_TRUE(CheckNpyArray(file, "<i4", {-1, 7}).ok());
  EXPECT_FALSE(CheckNpyArray(file, "<i4", {-1, 8}).ok());
}

TEST(CheckNpyArrayTest, NamesBigEndianAndSuggestsConversion) {
  std::string file = *EncodeNpyHeader(">f4", {1}) + std::string(4, '\0');
  absl::Status s = CheckNpyArray(file, "<f4", {1}).status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("big-endian"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("astype('<f4')"));
}

TEST(CheckNpyArrayTest, RefusesMisalignedData) {
  // A hand-made header whose data starts at offset 12: legal .npy, but the
  // int64 data could not be used in place.
  std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (1,)}";
  std::string file("\x93NUMPY\x01\x00", 8);
  // Total header 10 + len must be 12 mod 16 -> choose len accordingly.
  size_t len = dict.size() + 1;
  while ((10 + len) % 8 != 4) ++len;
  file.push_back(static_cast<char>(len & 0xFF));
  file.push_back(static_cast<char>(len >> 8));
  file += dict;
  file.append(len - dict.size() - 1, ' ');
  file.push_back('\n');
  file.append(8, '\0');
  absl::Status s = CheckNpyArray(file, "<i8", {1}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a multiple"));
}

TEST(NpyDtypeNameTest, NamesCommonDtypes) {
  EXPECT_EQ(NpyDtypeName("<f4"), "float32");
  EXPECT_EQ(NpyDtypeName("<i8"), "int64");
  EXPECT_EQ(NpyDtypeName("|u1"), "uint8");
  EXPECT_EQ(NpyDtypeName("<M8"), "");
}

TEST(WriteNpyTest, WritesHeaderThenData) {
  const std::string path =
      absl::StrCat(rerank::testing::MakeTempDir(), "/a.npy");
  std::vector<int32_t> v = {1, -2, 3};
  ASSERT_TRUE(WriteNpy<int32_t>(path, v, {3}).ok());
  std::string file = rerank::testing::ReadFile(path);
  absl::StatusOr<NpyArray> a = CheckNpyArray(file, "<i4", {3});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(reinterpret_cast<const int32_t*>(a->data)[1], -2);
}

TEST(WriteNpyTest, RefusesSizeNotMatchingShape) {
  const std::string path =
      absl::StrCat(rerank::testing::MakeTempDir(), "/a.npy");
  std::vector<float> v = {1, 2, 3};
  EXPECT_EQ(WriteNpy<float>(path, v, {2, 2}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rerank
