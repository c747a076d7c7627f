#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ranking/features.h"
#include "ranking/ranker.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Bitwise equality: -0.0 vs 0.0 and every last bit of a double count.
template <typename T>
bool SameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool SameBits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

void ExpectSameSpec(const RankerSpec& a, const RankerSpec& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.feature_set, b.feature_set);
  EXPECT_EQ(a.feature_names, b.feature_names);
  EXPECT_EQ(a.description, b.description);
  EXPECT_TRUE(SameBits(a.linear.bias, b.linear.bias));
  EXPECT_TRUE(SameBits(a.linear.weights, b.linear.weights));
  EXPECT_TRUE(SameBits(a.linear.means, b.linear.means));
  EXPECT_TRUE(SameBits(a.linear.scales, b.linear.scales));
  EXPECT_TRUE(SameBits(a.gbdt.base_score, b.gbdt.base_score));
  ASSERT_EQ(a.gbdt.trees.size(), b.gbdt.trees.size());
  for (size_t i = 0; i < a.gbdt.trees.size(); ++i) {
    const TreeSpec& x = a.gbdt.trees[i];
    const TreeSpec& y = b.gbdt.trees[i];
    EXPECT_EQ(x.left, y.left) << i;
    EXPECT_EQ(x.right, y.right) << i;
    EXPECT_EQ(x.feature, y.feature) << i;
    EXPECT_EQ(x.default_left, y.default_left) << i;
    EXPECT_TRUE(SameBits(x.threshold, y.threshold)) << i;
    EXPECT_TRUE(SameBits(x.value, y.value)) << i;
    EXPECT_TRUE(SameBits(x.cover, y.cover)) << i;
  }
}

// Doubles and floats that need all their digits, span the exponent range,
// or are otherwise awkward to print.
double AwkwardDouble(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return std::uniform_real_distribution<double>(-1, 1)(rng);
    case 1:
      return 1.0 / static_cast<double>(1 + rng() % 1000);
    case 2:
      return std::ldexp(std::uniform_real_distribution<double>(0.5, 1)(rng),
                        static_cast<int>(rng() % 2000) - 1000);
    case 3:
      return std::nextafter(0.1 * static_cast<double>(rng() % 100), 1e300);
    case 4:
      return std::numeric_limits<double>::denorm_min() *
             static_cast<double>(1 + rng() % 5);
    default:
      return -std::numeric_limits<double>::max() / (1 + rng() % 3);
  }
}

float AwkwardFloat(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return std::uniform_real_distribution<float>(-1, 1)(rng);
    case 1:
      return std::ldexp(std::uniform_real_distribution<float>(0.5f, 1)(rng),
                        static_cast<int>(rng() % 250) - 125);
    case 2:
      return std::nextafter(0.1f * static_cast<float>(rng() % 100), 1e30f);
    default:
      return std::numeric_limits<float>::denorm_min() *
             static_cast<float>(1 + rng() % 5);
  }
}

RankerSpec LinearSpec(std::mt19937_64& rng) {
  RankerSpec spec;
  spec.kind = RankerKind::kLinear;
  spec.feature_set = kFeatureSetName;
  spec.description = "linear, caf\u00e9 \"quoted\" \\ \n tab\t";
  for (int32_t f = 0; f < kNumFeatures; f += 3) {
    spec.feature_names.emplace_back(FeatureNames()[f]);
    spec.linear.weights.push_back(AwkwardDouble(rng));
    spec.linear.means.push_back(AwkwardDouble(rng));
    spec.linear.scales.push_back(std::abs(AwkwardDouble(rng)) + 1e-300);
  }
  spec.linear.bias = 1.0 / 3.0;
  return spec;
}

void AddNode(TreeSpec* t, int32_t left, int32_t right, int32_t feature,
             float threshold, uint8_t default_left, double value,
             double cover) {
  t->left.push_back(left);
  t->right.push_back(right);
  t->feature.push_back(feature);
  t->threshold.push_back(threshold);
  t->default_left.push_back(default_left);
  t->value.push_back(value);
  t->cover.push_back(cover);
}

// Full trees of depth 3 over 3 features, with awkward numbers.
RankerSpec GbdtSpec(std::mt19937_64& rng, int trees) {
  RankerSpec spec;
  spec.kind = RankerKind::kGbdt;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = {"base_score", "user_dot", "log_events"};
  spec.gbdt.base_score = AwkwardDouble(rng);
  for (int i = 0; i < trees; ++i) {
    TreeSpec t;
    for (int32_t n = 0; n < 15; ++n) {
      const double cover = std::abs(AwkwardDouble(rng)) + 1e-300;
      if (n < 7) {
        AddNode(&t, 2 * n + 1, 2 * n + 2, static_cast<int32_t>(rng() % 3),
                AwkwardFloat(rng), rng() % 2, 0.0, cover);
      } else {
        AddNode(&t, -1, -1, 0, 0.0f, 0, AwkwardDouble(rng), cover);
      }
    }
    spec.gbdt.trees.push_back(t);
  }
  spec.description = "gbdt: 2 trees";
  return spec;
}

TEST(RankerFileTest, LinearRoundTripIsExact) {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 50; ++trial) {
    const RankerSpec spec = LinearSpec(rng);
    const std::string json = RankerSpecToJson(spec);
    const absl::StatusOr<RankerSpec> back =
        ParseRankerSpecJson(json, "ranker_linear.json");
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSameSpec(spec, *back);
    EXPECT_EQ(RankerSpecToJson(*back), json);
  }
}

TEST(RankerFileTest, GbdtRoundTripIsExact) {
  std::mt19937_64 rng(2);
  for (int trial = 0; trial < 20; ++trial) {
    const RankerSpec spec = GbdtSpec(rng, 10);
    const std::string json = RankerSpecToJson(spec);
    const absl::StatusOr<RankerSpec> back =
        ParseRankerSpecJson(json, "ranker_gbdt.json");
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSameSpec(spec, *back);
    EXPECT_EQ(RankerSpecToJson(*back), json);
  }
}

// Protobuf reads "-0" back as +0, so the writer writes signed zeros as 0:
// the JSON is still a fixed point, and no score changes.
TEST(RankerFileTest, NegativeZeroIsWrittenAsZero) {
  std::mt19937_64 rng(5);
  RankerSpec spec = GbdtSpec(rng, 1);
  spec.gbdt.base_score = -0.0;
  spec.gbdt.trees[0].threshold[0] = -0.0f;
  spec.gbdt.trees[0].value[7] = -0.0;
  const std::string json = RankerSpecToJson(spec);
  EXPECT_THAT(json, ::testing::Not(HasSubstr("-0,")));
  EXPECT_THAT(json, ::testing::Not(HasSubstr("-0]")));
  const absl::StatusOr<RankerSpec> back = ParseRankerSpecJson(json, "r.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameBits(back->gbdt.base_score, 0.0));
  EXPECT_EQ(back->gbdt.trees[0].threshold[0], 0.0f);
  EXPECT_FALSE(std::signbit(back->gbdt.trees[0].threshold[0]));
  EXPECT_TRUE(SameBits(back->gbdt.trees[0].value[7], 0.0));
  EXPECT_EQ(RankerSpecToJson(*back), json);
  // The same file the fuzzer found: "-0.1e-4525" underflows to -0.
  const absl::StatusOr<RankerSpec> tiny = ParseRankerSpecJson(
      R"({"format_version": 1, "kind": "linear",
          "linear": {"bias": -0.1e-4525}})",
      "r.json");
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  const std::string canonical = RankerSpecToJson(*tiny);
  const absl::StatusOr<RankerSpec> again = ParseRankerSpecJson(canonical, "r.json");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(RankerSpecToJson(*again), canonical);
}

TEST(RankerFileTest, ParsedRankerScoresAsTheOriginal) {
  std::mt19937_64 rng(3);
  RankerSpec spec = GbdtSpec(rng, 2);
  // Scoring needs finite sums: tame the leaves.
  for (TreeSpec& t : spec.gbdt.trees) {
    for (double& v : t.value) v = std::fmod(v, 10.0);
  }
  spec.gbdt.base_score = 0.5;
  const auto original = Ranker::Create(spec);
  ASSERT_TRUE(original.ok()) << original.status();
  const auto parsed = ParseRankerJson(RankerSpecToJson(spec), "ranker_gbdt.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  std::vector<float> rows(50 * kNumFeatures);
  for (float& x : rows) x = AwkwardFloat(rng);
  std::vector<double> a(50), b(50);
  (*original)->Score(rows.data(), 50, kNumFeatures, a.data());
  (*parsed)->Score(rows.data(), 50, kNumFeatures, b.data());
  EXPECT_EQ(a, b);
}

TEST(RankerFileTest, WritesProtoFieldNames) {
  std::mt19937_64 rng(4);
  const std::string json = RankerSpecToJson(GbdtSpec(rng, 1));
  EXPECT_THAT(json, HasSubstr("\"format_version\":1"));
  EXPECT_THAT(json, HasSubstr("\"kind\":\"gbdt\""));
  EXPECT_THAT(json, HasSubstr("\"feature_set\":\"rerank.features.v1\""));
  EXPECT_THAT(json, HasSubstr("\"base_score\":"));
  EXPECT_THAT(json, HasSubstr("\"default_left\":["));
  // A gbdt file has no linear section.
  EXPECT_THAT(json, ::testing::Not(HasSubstr("\"linear\"")));
  const std::string linear = RankerSpecToJson(LinearSpec(rng));
  EXPECT_THAT(linear, ::testing::Not(HasSubstr("\"gbdt\"")));
}

TEST(RankerFileTest, ReadsLowerCamelNamesToo) {
  const std::string json = R"({"formatVersion": 1, "kind": "linear",
      "featureSet": "rerank.features.v1", "features": ["base_score"],
      "linear": {"bias": 1, "weights": [2], "means": [0], "scales": [1]}})";
  const auto ranker = ParseRankerJson(json, "ranker_linear.json");
  ASSERT_TRUE(ranker.ok()) << ranker.status();
  std::vector<float> row(kNumFeatures, 0.0f);
  row[kBaseScore] = 3.0f;
  double score = 0.0;
  (*ranker)->Score(row.data(), 1, kNumFeatures, &score);
  EXPECT_EQ(score, 7.0);
}

void ExpectRefused(const std::string& json, const std::string& substr) {
  const auto spec = ParseRankerSpecJson(json, "ranker_x.json");
  ASSERT_FALSE(spec.ok()) << "accepted; want an error with: " << substr;
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), StartsWith("ranker_x.json: "));
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr(substr));
  // ParseRankerJson refuses it the same way.
  const auto ranker = ParseRankerJson(json, "ranker_x.json");
  ASSERT_FALSE(ranker.ok());
  EXPECT_EQ(ranker.status(), spec.status());
}

constexpr char kValidLinear[] =
    R"({"format_version": 1, "kind": "linear",
        "feature_set": "rerank.features.v1", "features": ["base_score"],
        "linear": {"bias": 1, "weights": [2], "means": [0], "scales": [1]}})";

TEST(RankerFileTest, RefusesBadJson) {
  ExpectRefused("{", "not a rerank.v1.RankerFile in JSON");
  ExpectRefused("", "not a rerank.v1.RankerFile in JSON");
  ExpectRefused("[1, 2]", "not a rerank.v1.RankerFile in JSON");
  ExpectRefused(absl::StrReplaceAll(kValidLinear, {{"[2]", "[\"two\"]"}}),
                "not a rerank.v1.RankerFile in JSON");
  ExpectRefused(absl::StrReplaceAll(kValidLinear, {{"\"kind\": \"linear\"",
                                                    "\"kind\": 3"}}),
                "not a rerank.v1.RankerFile in JSON");
}

TEST(RankerFileTest, RefusesUnknownField) {
  ExpectRefused(absl::StrReplaceAll(kValidLinear, {{"\"kind\"", "\"colour\": 1, \"kind\""}}),
                "colour");
  ExpectRefused(absl::StrReplaceAll(kValidLinear, {{"\"bias\"", "\"bais\""}}),
                "bais");
}

TEST(RankerFileTest, RefusesOtherFormatVersions) {
  ExpectRefused(absl::StrReplaceAll(kValidLinear, {{"\"format_version\": 1",
                                                    "\"format_version\": 2"}}),
                "format_version=2 is not 1");
  ExpectRefused(absl::StrReplaceAll(kValidLinear,
                                    {{"\"format_version\": 1,", ""}}),
                "format_version=0 is not 1");
}

TEST(RankerFileTest, RefusesUnknownKind) {
  ExpectRefused(absl::StrReplaceAll(kValidLinear, {{"\"linear\",", "\"forest\","}}),
                "ranker kind \"forest\" is not one of formula, linear, gbdt");
  ExpectRefused(absl::StrReplaceAll(kValidLinear, {{"\"kind\": \"linear\",", ""}}),
                "ranker kind \"\"");
}

TEST(RankerFileTest, RefusesOversizeInputBeforeParsing) {
  // Valid JSON padded past the limit with whitespace.
  std::string json = kValidLinear;
  json.resize(static_cast<size_t>(kMaxRankerFileBytes) + 1, ' ');
  ExpectRefused(json, "268435457 bytes is above kMaxRankerFileBytes=268435456");
}

TEST(RankerFileTest, ValidationErrorsNameTheFileAndTheField) {
  const std::string json = R"({"format_version": 1, "kind": "gbdt",
      "feature_set": "rerank.features.v1", "features": ["base_score"],
      "gbdt": {"base_score": 0.5, "trees": [
        {"left": [-1], "right": [-1], "feature": [0], "threshold": [0],
         "default_left": [false], "value": [1], "cover": [1]},
        {"left": [99, -1, -1], "right": [2, -1, -1], "feature": [0, 0, 0],
         "threshold": [0.5, 0, 0], "default_left": [true, false, false],
         "value": [0, 1, 2], "cover": [2, 1, 1]}]}})";
  // Parses as a spec...
  ASSERT_TRUE(ParseRankerSpecJson(json, "ranker_gbdt.json").ok());
  // ...but is not a valid ranker.
  const auto ranker = ParseRankerJson(json, "ranker_gbdt.json");
  ASSERT_FALSE(ranker.ok());
  EXPECT_EQ(ranker.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ranker.status().message(),
            "ranker_gbdt.json: gbdt.trees[1].left[0]=99 is out of range [0, 3)");
  // The fixed file loads.
  EXPECT_TRUE(
      ParseRankerJson(absl::StrReplaceAll(json, {{"[99,", "[1,"}}), "f").ok());
  // A formula "ranker" parses as a spec, and is refused as a ranker.
  const std::string formula =
      absl::StrReplaceAll(kValidLinear, {{"\"linear\",", "\"formula\","}});
  ASSERT_TRUE(ParseRankerSpecJson(formula, "r.json").ok());
  EXPECT_THAT(std::string(ParseRankerJson(formula, "r.json").status().message()),
              HasSubstr("r.json: kind \"formula\" is not a learned ranker"));
}

}  // namespace
}  // namespace rerank
