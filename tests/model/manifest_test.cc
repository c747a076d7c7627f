#include "model/manifest.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/sha256.h"

namespace rerank {
namespace {

using ::testing::HasSubstr;

ModelManifest ValidManifest(int32_t format_version = 1) {
  ModelManifest m;
  m.format_version = format_version;
  m.model_version = "v \"quoted\"\n\x01";
  m.dim = 8;
  m.num_users = 10;
  m.num_items = 20;
  m.num_neighbors = 30;
  if (format_version >= 2) m.num_complements = 40;
  m.description = "desc";
  for (absl::string_view role : ManifestRoles(format_version)) {
    m.files[std::string(role)] = {DefaultFileName(role), Sha256Hex(role)};
  }
  return m;
}

TEST(ManifestTest, SerializeThenParseRoundTrips) {
  ModelManifest m = ValidManifest();
  absl::StatusOr<ModelManifest> back =
      ParseModelManifest(SerializeModelManifest(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->model_version, m.model_version);
  EXPECT_EQ(back->dim, 8);
  EXPECT_EQ(back->num_users, 10);
  EXPECT_EQ(back->num_items, 20);
  EXPECT_EQ(back->num_neighbors, 30);
  EXPECT_EQ(back->description, "desc");
  EXPECT_EQ(back->created_by, "");
  ASSERT_EQ(back->files.size(), 8u);
  EXPECT_EQ(back->files.at("item_categories").path, "item_categories.txt");
  EXPECT_EQ(back->files.at("user_factors").sha256, Sha256Hex("user_factors"));
}

TEST(ManifestTest, RolesListMatchesRoleConstantsRequiredFirst) {
  EXPECT_THAT(ManifestRoles(1),
              ::testing::ElementsAre(
                  kUserFactorsRole, kItemFactorsRole, kUserIdsRole,
                  kItemIdsRole, kNeighborsIndptrRole, kNeighborsIndicesRole,
                  kNeighborsScoresRole, kItemCategoriesRole));
  EXPECT_TRUE(IsRequiredRole(kUserFactorsRole, 2));
  EXPECT_TRUE(IsRequiredRole(kComplementsScoresRole, 2));
  EXPECT_FALSE(IsRequiredRole(kItemCategoriesRole, 2));
  EXPECT_FALSE(IsRequiredRole(kComplementsScoresRole, 3));
  EXPECT_FALSE(IsRequiredRole(kRankerGbdtRole, 3));
  EXPECT_FALSE(IsRequiredRole(kItemCountsRole, 3));
}

TEST(ManifestTest, Version2AddsTheComplementRolesBeforeTheOptionalOne) {
  EXPECT_THAT(
      ManifestRoles(2),
      ::testing::ElementsAre(kUserFactorsRole, kItemFactorsRole, kUserIdsRole,
                             kItemIdsRole, kNeighborsIndptrRole,
                             kNeighborsIndicesRole, kNeighborsScoresRole,
                             kComplementsIndptrRole, kComplementsIndicesRole,
                             kComplementsScoresRole, kItemCategoriesRole));
  EXPECT_TRUE(ManifestRoles(0).empty());
  EXPECT_TRUE(ManifestRoles(5).empty());
  EXPECT_EQ(DefaultFileName(kComplementsIndptrRole), "complements_indptr.npy");
}

TEST(ManifestTest, Version2RoundTripsNumComplementsAndComplementRoles) {
  const ModelManifest m = ValidManifest(2);
  const std::string json = SerializeModelManifest(m);
  EXPECT_THAT(json, HasSubstr("\"num_complements\": 40"));
  absl::StatusOr<ModelManifest> back = ParseModelManifest(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->format_version, 2);
  EXPECT_EQ(back->num_complements, 40);
  ASSERT_EQ(back->files.size(), 11u);
  EXPECT_EQ(back->files.at(kComplementsIndicesRole).path,
            "complements_indices.npy");
}

TEST(ManifestTest, Version1IsSerializedWithoutNumComplements) {
  ModelManifest m = ValidManifest(1);
  m.num_complements = 5;  // ignored: version 1 has no such key
  EXPECT_THAT(SerializeModelManifest(m),
              ::testing::Not(HasSubstr("num_complements")));
}

TEST(ManifestTest, Version1RefusesNumComplementsNamingTheKey) {
  std::string json = absl::StrReplaceAll(
      SerializeModelManifest(ValidManifest(1)),
      {{"\"dim\": 8,", "\"dim\": 8, \"num_complements\": 0,"}});
  absl::Status s = ParseModelManifest(json).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("unknown key 'num_complements' for format_version 1 "
                        "(the complement table needs format_version 2)"));
}

TEST(ManifestTest, Version1RefusesComplementRolesNamingTheRole) {
  ModelManifest m = ValidManifest(1);
  m.files[kComplementsScoresRole] = {"complements_scores.npy", Sha256Hex("x")};
  absl::Status s = ParseModelManifest(SerializeModelManifest(m)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("unknown key 'complements_scores' in 'files' for "
                        "format_version 1"));
}

TEST(ManifestTest, Version2RequiresEveryComplementRole) {
  for (const char* role : {kComplementsIndptrRole, kComplementsIndicesRole,
                           kComplementsScoresRole}) {
    ModelManifest m = ValidManifest(2);
    m.files.erase(role);
    absl::Status s = ParseModelManifest(SerializeModelManifest(m)).status();
    EXPECT_THAT(std::string(s.message()),
                HasSubstr(absl::StrCat("missing required file role 'files.",
                                       role, "'")));
  }
}

TEST(ManifestTest, Version2RequiresNumComplements) {
  std::string json =
      absl::StrReplaceAll(SerializeModelManifest(ValidManifest(2)),
                          {{"\"num_complements\": 40,", ""}});
  EXPECT_THAT(std::string(ParseModelManifest(json).status().message()),
              HasSubstr("missing required key 'num_complements'"));
  json = absl::StrReplaceAll(
      SerializeModelManifest(ValidManifest(2)),
      {{"\"num_complements\": 40", "\"num_complements\": -1"}});
  EXPECT_THAT(std::string(ParseModelManifest(json).status().message()),
              HasSubstr("'num_complements' is -1"));
}

TEST(ManifestTest, UnsupportedVersionsNameTheSupportedOnes) {
  for (int version : {5, 0, -1}) {
    ModelManifest m = ValidManifest(1);
    m.format_version = version;
    // A newer format may have keys this reader does not know: the version
    // message must win over them.
    std::string json =
        absl::StrReplaceAll(SerializeModelManifest(m),
                            {{"\"dim\": 8,", "\"dim\": 8, \"future\": 1,"}});
    absl::Status s = ParseModelManifest(json).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(s.message()),
                HasSubstr(absl::StrCat("format_version ", version, " is ")));
    EXPECT_THAT(std::string(s.message()), HasSubstr("1 to 4"));
  }
  ModelManifest m = ValidManifest(1);
  m.format_version = 5;
  EXPECT_THAT(
      std::string(
          ParseModelManifest(SerializeModelManifest(m)).status().message()),
      HasSubstr("format_version 5 is newer than this reader supports (1 to "
                "4); upgrade rerankd"));
}

// Version 4: factor_dtype, with the per-row scale files exactly for int8.
ModelManifest DtypeManifest(const std::string& dtype) {
  ModelManifest m = ValidManifest(4);
  m.factor_dtype = dtype;
  if (dtype != "int8") {
    m.files.erase(kUserFactorScalesRole);
    m.files.erase(kItemFactorScalesRole);
  }
  return m;
}

TEST(ManifestTest, Version4RoundTripsFactorDtypeAndScaleRoles) {
  for (const std::string dtype : {"float16", "int8", "float32", ""}) {
    const std::string json = SerializeModelManifest(DtypeManifest(dtype));
    absl::StatusOr<ModelManifest> back = ParseModelManifest(json);
    ASSERT_TRUE(back.ok()) << dtype << ": " << back.status();
    EXPECT_EQ(back->format_version, 4);
    EXPECT_EQ(back->factor_dtype, dtype);
    EXPECT_EQ(back->files.contains(kItemFactorScalesRole), dtype == "int8");
  }
  EXPECT_EQ(DefaultFileName(kUserFactorScalesRole), "user_factor_scales.npy");
  EXPECT_FALSE(IsRequiredRole(kItemFactorScalesRole, 4));
}

TEST(ManifestTest, FactorDtypeAndItsScalesAreCheckedAgainstEachOther) {
  auto refusal = [](const ModelManifest& m) {
    return std::string(
        ParseModelManifest(SerializeModelManifest(m)).status().message());
  };
  ModelManifest m = DtypeManifest("int8");
  m.files.erase(kItemFactorScalesRole);
  EXPECT_THAT(refusal(m),
              HasSubstr("missing required file role "
                        "'files.item_factor_scales' (factor_dtype int8"));
  m = ValidManifest(4);  // scales, but float32
  EXPECT_THAT(refusal(m), HasSubstr("files.user_factor_scales is only for "
                                    "factor_dtype int8 (this manifest's is "
                                    "float32)"));
  m = DtypeManifest("float16");
  m.factor_dtype = "bfloat16";
  EXPECT_THAT(refusal(m), HasSubstr("key 'factor_dtype' is 'bfloat16', must "
                                    "be float32, float16 or int8"));
  // Before version 4 the key does not exist; the message says which does.
  const std::string v3 = absl::StrReplaceAll(
      SerializeModelManifest(ValidManifest(3)),
      {{"\"dim\": 8,", "\"dim\": 8, \"factor_dtype\": \"float16\","}});
  EXPECT_THAT(std::string(ParseModelManifest(v3).status().message()),
              HasSubstr("unknown key 'factor_dtype' for format_version 3 "
                        "(float16 and int8 factors need format_version 4)"));
}

TEST(ManifestTest, SerializationIsDeterministic) {
  EXPECT_EQ(SerializeModelManifest(ValidManifest()),
            SerializeModelManifest(ValidManifest()));
}

TEST(ManifestTest, CategoriesRoleIsOptional) {
  ModelManifest m = ValidManifest();
  m.files.erase(kItemCategoriesRole);
  EXPECT_TRUE(ParseModelManifest(SerializeModelManifest(m)).ok());
}

TEST(ManifestTest, LowercasesSha256) {
  ModelManifest m = ValidManifest();
  m.files.at(kUserIdsRole).sha256 = std::string(64, 'A');
  absl::StatusOr<ModelManifest> back =
      ParseModelManifest(SerializeModelManifest(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->files.at(kUserIdsRole).sha256, std::string(64, 'a'));
}

TEST(ManifestTest, RefusesCamelCaseKeys) {
  // Protobuf's JSON mapping would accept "formatVersion" for a message field;
  // parsing into Struct keeps the key names exact.
  std::string json =
      absl::StrReplaceAll(SerializeModelManifest(ValidManifest()),
                          {{"\"num_users\"", "\"numUsers\""}});
  absl::Status s = ParseModelManifest(json).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("unknown key 'numUsers'"));
}

TEST(ManifestTest, RefusesDuplicateKeys) {
  std::string json =
      absl::StrReplaceAll(SerializeModelManifest(ValidManifest()),
                          {{"\"dim\": 8,", "\"dim\": 8, \"dim\": 9,"}});
  absl::Status s = ParseModelManifest(json).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a valid JSON object"));
}

TEST(ManifestTest, RefusesUnknownKeyInFileEntry) {
  std::string json =
      absl::StrReplaceAll(SerializeModelManifest(ValidManifest()),
                          {{"{\"path\": \"user_ids.txt\"",
                            "{\"size\": 3, \"path\": \"user_ids.txt\""}});
  absl::Status s = ParseModelManifest(json).status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("unknown key 'size' in files.user_ids"));
}

TEST(ManifestTest, RefusesNonStringOptionalField) {
  std::string json = absl::StrReplaceAll(
      SerializeModelManifest(ValidManifest()),
      {{"\"description\": \"desc\"", "\"description\": 7"}});
  absl::Status s = ParseModelManifest(json).status();
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("'description' must be a string"));
}

TEST(ManifestTest, RefusesNegativeCounts) {
  std::string json =
      absl::StrReplaceAll(SerializeModelManifest(ValidManifest()),
                          {{"\"num_users\": 10", "\"num_users\": -1"}});
  EXPECT_THAT(std::string(ParseModelManifest(json).status().message()),
              HasSubstr("'num_users' is -1"));
}

TEST(ManifestTest, RefusesEmptyModelVersion) {
  ModelManifest m = ValidManifest();
  m.model_version = "";
  EXPECT_THAT(
      std::string(
          ParseModelManifest(SerializeModelManifest(m)).status().message()),
      HasSubstr("'model_version' is empty"));
}

TEST(ValidateManifestFileNameTest, AcceptsPlainNames) {
  EXPECT_TRUE(ValidateManifestFileName("item_factors.npy").ok());
  EXPECT_TRUE(ValidateManifestFileName("a b-c.v2.npy").ok());
}

TEST(ValidateManifestFileNameTest, RefusesPathTricks) {
  for (const char* bad : {"", ".", "..", "../x.npy", "a/b.npy", "/abs.npy",
                          "x..npy", "manifest.json"}) {
    EXPECT_EQ(ValidateManifestFileName(bad).code(),
              absl::StatusCode::kFailedPrecondition)
        << bad;
  }
  EXPECT_FALSE(ValidateManifestFileName(std::string(256, 'a')).ok());
  EXPECT_FALSE(ValidateManifestFileName(std::string("a\0b", 3)).ok());
}

}  // namespace
}  // namespace rerank
