#include "loadgen/request_pool.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rerank/v1/rerank.pb.h"

namespace rerank::loadgen {
namespace {

using ::testing::HasSubstr;

RequestPoolOptions SmallOptions() {
  RequestPoolOptions o;
  o.pool_size = 50;
  o.candidates = 30;
  o.events = 7;
  o.unknown_user_fraction = 0.1;
  o.seed = 42;
  return o;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh per-test directory under the test's temp dir.
std::string TestDir(const std::string& name) {
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/loadgen_", name, "_",
                   ::testing::UnitTest::GetInstance()->random_seed());
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(RequestPoolTest, SameSeedGivesIdenticalRequests) {
  const IdLists ids = SyntheticIds(1000, 100);
  auto a = RequestPool::Build(ids, SmallOptions());
  auto b = RequestPool::Build(ids, SmallOptions());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->size(), 50u);
  EXPECT_EQ(a->all_serialized(), b->all_serialized());
}

TEST(RequestPoolTest, DifferentSeedGivesDifferentRequests) {
  const IdLists ids = SyntheticIds(1000, 100);
  RequestPoolOptions other = SmallOptions();
  other.seed = 43;
  auto a = RequestPool::Build(ids, SmallOptions());
  auto b = RequestPool::Build(ids, other);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->all_serialized(), b->all_serialized());
}

TEST(RequestPoolTest, RequestsAreDistinct) {
  auto pool = RequestPool::Build(SyntheticIds(1000, 100), SmallOptions());
  ASSERT_TRUE(pool.ok());
  const std::set<std::string> unique(pool->all_serialized().begin(),
                                     pool->all_serialized().end());
  EXPECT_EQ(unique.size(), pool->size());
}

TEST(RequestPoolTest, RespectsCandidateAndEventCountsAndFields) {
  RequestPoolOptions o = SmallOptions();
  o.top_k = 10;
  o.explain = true;
  o.now_ms = 1'700'000'000'000;
  const IdLists ids = SyntheticIds(1000, 100);
  const std::set<std::string> items(ids.item_ids.begin(), ids.item_ids.end());
  auto pool = RequestPool::Build(ids, o);
  ASSERT_TRUE(pool.ok());
  for (size_t i = 0; i < pool->size(); ++i) {
    const v1::RerankRequest& r = pool->request(i);
    EXPECT_EQ(r.request_id(), absl::StrCat("lg-", i));
    EXPECT_EQ(r.candidates_size(), 30);
    EXPECT_EQ(r.events_size(), 7);
    EXPECT_EQ(r.top_k(), 10u);
    EXPECT_TRUE(r.explain());
    EXPECT_EQ(r.now_ms(), o.now_ms);
    std::set<std::string> seen;
    for (const v1::Candidate& c : r.candidates()) {
      EXPECT_TRUE(items.contains(c.item_id())) << c.item_id();
      EXPECT_TRUE(seen.insert(c.item_id()).second)
          << "duplicate candidate " << c.item_id();
      ASSERT_TRUE(c.has_base_score());
      EXPECT_GE(c.base_score(), 0.0);
      EXPECT_LT(c.base_score(), 1.0);
    }
    for (const v1::Event& e : r.events()) {
      EXPECT_TRUE(items.contains(e.item_id())) << e.item_id();
      EXPECT_GE(e.type(), v1::EVENT_TYPE_VIEW);
      EXPECT_LE(e.type(), v1::EVENT_TYPE_PURCHASE);
      EXPECT_LE(e.timestamp_ms(), o.now_ms);
      EXPECT_GT(e.timestamp_ms(), o.now_ms - 3'600'000);
    }
    v1::RerankRequest parsed;
    ASSERT_TRUE(parsed.ParseFromString(pool->serialized(i)));
    EXPECT_EQ(parsed.SerializeAsString(), pool->serialized(i));
  }
}

TEST(RequestPoolTest, UnknownUserFractionIsApproximatelyRespected) {
  RequestPoolOptions o = SmallOptions();
  o.pool_size = 4000;
  o.candidates = 1;
  o.events = 0;
  o.unknown_user_fraction = 0.25;
  const IdLists ids = SyntheticIds(10, 500);
  const std::set<std::string> users(ids.user_ids.begin(), ids.user_ids.end());
  auto pool = RequestPool::Build(ids, o);
  ASSERT_TRUE(pool.ok());
  int unknown = 0;
  for (size_t i = 0; i < pool->size(); ++i) {
    const std::string& user = pool->request(i).user_id();
    EXPECT_FALSE(user.empty());
    if (!users.contains(user)) ++unknown;
  }
  // Binomial(4000, 0.25): sd ~27; +-150 is > 5 sd.
  EXPECT_NEAR(unknown, 1000, 150);
}

TEST(RequestPoolTest, ZeroAndFullUnknownFractionsAreExact) {
  const IdLists ids = SyntheticIds(10, 5);
  const std::set<std::string> users(ids.user_ids.begin(), ids.user_ids.end());
  RequestPoolOptions o = SmallOptions();
  o.unknown_user_fraction = 0.0;
  auto known = RequestPool::Build(ids, o);
  o.unknown_user_fraction = 1.0;
  auto unknown = RequestPool::Build(ids, o);
  ASSERT_TRUE(known.ok() && unknown.ok());
  for (size_t i = 0; i < known->size(); ++i) {
    EXPECT_TRUE(users.contains(known->request(i).user_id()));
    EXPECT_FALSE(users.contains(unknown->request(i).user_id()));
  }
}

TEST(RequestPoolTest, MoreCandidatesThanItemsRepeatsItems) {
  RequestPoolOptions o = SmallOptions();
  o.candidates = 25;
  auto pool = RequestPool::Build(SyntheticIds(10, 5), o);
  ASSERT_TRUE(pool.ok());
  const v1::RerankRequest& r = pool->request(0);
  ASSERT_EQ(r.candidates_size(), 25);
  std::set<std::string> first_ten;
  for (int c = 0; c < 10; ++c) first_ten.insert(r.candidates(c).item_id());
  EXPECT_EQ(first_ten.size(), 10u);  // every item once before any repeat
}

TEST(RequestPoolTest, NoUsersMeansEveryUserIsUnknown) {
  RequestPoolOptions o = SmallOptions();
  o.unknown_user_fraction = 0.0;
  auto pool = RequestPool::Build(SyntheticIds(10, 0), o);
  ASSERT_TRUE(pool.ok());
  EXPECT_TRUE(absl::StartsWith(pool->request(0).user_id(), "unknown-user-"));
}

TEST(RequestPoolTest, RejectsNoItemsAndBadOptions) {
  EXPECT_EQ(
      RequestPool::Build(SyntheticIds(0, 5), SmallOptions()).status().code(),
      absl::StatusCode::kInvalidArgument);
  RequestPoolOptions o = SmallOptions();
  o.unknown_user_fraction = 1.5;
  EXPECT_EQ(RequestPool::Build(SyntheticIds(10, 5), o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = SmallOptions();
  o.pool_size = 0;
  EXPECT_EQ(RequestPool::Build(SyntheticIds(10, 5), o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RequestPoolTest, SyntheticIdsFollowNamingScheme) {
  const IdLists ids = SyntheticIds(3, 2);
  EXPECT_THAT(ids.item_ids,
              ::testing::ElementsAre("item-0", "item-1", "item-2"));
  EXPECT_THAT(ids.user_ids, ::testing::ElementsAre("user-0", "user-1"));
}

TEST(RequestPoolTest, LoadsIdsFromModelDirIgnoringBlankLinesAndCr) {
  const std::string dir = TestDir("ids");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/user_ids.txt") << "u1\nu2\r\n\n";
  std::ofstream(dir + "/item_ids.txt") << "i1\ni2\ni3";
  auto ids = LoadIdsFromModelDir(dir);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(ids->user_ids, ::testing::ElementsAre("u1", "u2"));
  EXPECT_THAT(ids->item_ids, ::testing::ElementsAre("i1", "i2", "i3"));
}

TEST(RequestPoolTest, MissingIdFileIsNotFound) {
  const std::string dir = TestDir("missing");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/user_ids.txt") << "u1\n";
  auto ids = LoadIdsFromModelDir(dir);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ids.status().message(), HasSubstr("item_ids.txt"));
}

TEST(RequestPoolTest, GrpcFrameHasFlagAndBigEndianLength) {
  const std::string message(300, 'x');  // length 0x0000012c
  const std::string frame = EncodeGrpcFrame(message);
  ASSERT_EQ(frame.size(), 305u);
  EXPECT_EQ(frame[0], '\0');
  EXPECT_EQ(static_cast<unsigned char>(frame[1]), 0x00);
  EXPECT_EQ(static_cast<unsigned char>(frame[2]), 0x00);
  EXPECT_EQ(static_cast<unsigned char>(frame[3]), 0x01);
  EXPECT_EQ(static_cast<unsigned char>(frame[4]), 0x2c);
  EXPECT_EQ(frame.substr(5), message);
  EXPECT_EQ(EncodeGrpcFrame(""), std::string("\0\0\0\0\0", 5));
}

TEST(RequestPoolTest, DumpWritesBinaryJsonFramesAndDelimitedFiles) {
  RequestPoolOptions o = SmallOptions();
  o.pool_size = 3;
  auto pool = RequestPool::Build(SyntheticIds(100, 10), o);
  ASSERT_TRUE(pool.ok());
  const std::string dir = TestDir("dump");
  ASSERT_TRUE(DumpRequests(*pool, dir).ok());

  std::string delimited_expected;
  for (size_t i = 0; i < 3; ++i) {
    const std::string base = dir + "/request-0000" + std::to_string(i);
    EXPECT_EQ(ReadAll(base + ".bin"), pool->serialized(i));
    EXPECT_EQ(ReadAll(base + ".grpc"), EncodeGrpcFrame(pool->serialized(i)));
    const std::string json = ReadAll(base + ".json");
    EXPECT_THAT(json, HasSubstr(absl::StrCat("\"request_id\":\"lg-", i)));
    EXPECT_THAT(json, HasSubstr("\"candidates\""));
  }
  // requests.bin: varint length + message, repeated.
  const std::string delimited = ReadAll(dir + "/requests.bin");
  size_t pos = 0;
  for (size_t i = 0; i < 3; ++i) {
    uint64_t len = 0;
    int shift = 0;
    while (true) {
      ASSERT_LT(pos, delimited.size());
      const auto byte = static_cast<unsigned char>(delimited[pos++]);
      len |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
      shift += 7;
    }
    EXPECT_EQ(delimited.substr(pos, len), pool->serialized(i));
    pos += len;
  }
  EXPECT_EQ(pos, delimited.size());
  const std::string array = ReadAll(dir + "/requests.json");
  EXPECT_EQ(array.front(), '[');
  EXPECT_THAT(array, HasSubstr("\"lg-2\""));
}

}  // namespace
}  // namespace rerank::loadgen
