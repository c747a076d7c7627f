#include "model/sha256.h"

#include <string>

#include "gtest/gtest.h"
#include "model_test_util.h"

namespace rerank {
namespace {

TEST(Sha256Test, MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, IncrementalEqualsOneShot) {
  Sha256 h;
  h.Update("a");
  h.Update("");
  h.Update("bc");
  EXPECT_EQ(h.HexDigest(), Sha256Hex("abc"));
}

TEST(Sha256Test, MovedHasherKeepsState) {
  Sha256 a;
  a.Update("ab");
  Sha256 b = std::move(a);
  b.Update("c");
  EXPECT_EQ(b.HexDigest(), Sha256Hex("abc"));
}

TEST(Sha256FileTest, HashesFileLargerThanOneChunk) {
  const std::string path = absl::StrCat(rerank::testing::MakeTempDir(), "/big");
  std::string content((3 << 20) + 17, 'x');
  rerank::testing::WriteFile(path, content);
  absl::StatusOr<std::string> h = Sha256File(path);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(*h, Sha256Hex(content));
}

TEST(Sha256FileTest, MissingFileIsNotFoundAndNamesPath) {
  const std::string path =
      absl::StrCat(rerank::testing::MakeTempDir(), "/missing");
  absl::StatusOr<std::string> h = Sha256File(path);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(h.status().message().find(path), absl::string_view::npos);
}

TEST(IsSha256HexTest, AcceptsOnly64HexDigits) {
  EXPECT_TRUE(IsSha256Hex(Sha256Hex("x")));
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'g')));
}

}  // namespace
}  // namespace rerank
