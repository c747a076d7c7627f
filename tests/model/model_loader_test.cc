#include "model/model_loader.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/manifest.h"
#include "model/mapped_file.h"
#include "model/model_writer.h"
#include "model/npy.h"
#include "model/sha256.h"
#include "model_test_util.h"
#include "ranking/features.h"
#include "ranking/ranker.h"

namespace rerank {
namespace {

using ::rerank::testing::EditManifest;
using ::rerank::testing::MakeTempDir;
using ::rerank::testing::ManifestPath;
using ::rerank::testing::RawBytes;
using ::rerank::testing::RawNpy;
using ::rerank::testing::ReadFile;
using ::rerank::testing::ReplaceRoleFile;
using ::rerank::testing::TinyModelData;
using ::rerank::testing::TinyTwoTableModelData;
using ::rerank::testing::WriteFile;
using ::testing::HasSubstr;

// Each test starts from a freshly written valid model and breaks one thing.
class ModelLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    data_ = TinyModelData();
    ASSERT_TRUE(WriteModel(data_, dir_).ok());
  }

  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }

  // Loads dir_ and expects failure with `code` and a message containing
  // every string in `parts`.
  void ExpectRefused(absl::StatusCode code,
                     std::initializer_list<std::string> parts,
                     const LoadOptions& options = {}) {
    absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model =
        LoadModel(dir_, options);
    ASSERT_FALSE(model.ok()) << "expected a refusal";
    EXPECT_EQ(model.status().code(), code) << model.status();
    for (const std::string& p : parts) {
      EXPECT_THAT(std::string(model.status().message()), HasSubstr(p));
    }
  }

  void ReplaceManifestText(const std::string& from, const std::string& to) {
    std::string text = ReadFile(ManifestPath(dir_));
    ASSERT_NE(text.find(from), std::string::npos) << from;
    WriteFile(ManifestPath(dir_), absl::StrReplaceAll(text, {{from, to}}));
  }

  std::string dir_;
  ModelData data_;
};

// --- Accepted models ------------------------------------------------------

TEST_F(ModelLoaderTest, RoundTripPreservesIdsFactorsNeighborsAndCategories) {
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSnapshot& m = **model;
  EXPECT_EQ(m.version(), data_.version);
  EXPECT_EQ(m.dim(), data_.dim);
  ASSERT_EQ(m.num_users(), 3);
  ASSERT_EQ(m.num_items(), 4);
  EXPECT_EQ(m.num_neighbors(), 4);
  for (int32_t r = 0; r < 3; ++r) {
    EXPECT_EQ(m.user_id(r), data_.user_ids[r]);
    EXPECT_EQ(m.FindUser(data_.user_ids[r]), r);
    for (int32_t c = 0; c < 2; ++c) {
      EXPECT_EQ(m.UserFactors(r)[c], data_.user_factors[r * 2 + c]);
    }
  }
  for (int32_t r = 0; r < 4; ++r) {
    EXPECT_EQ(m.item_id(r), data_.item_ids[r]);
    EXPECT_EQ(m.FindItem(data_.item_ids[r]), r);
    EXPECT_EQ(m.ItemCategory(r), data_.item_categories[r]);
    for (int32_t c = 0; c < 2; ++c) {
      EXPECT_EQ(m.ItemFactors(r)[c], data_.item_factors[r * 2 + c]);
    }
    NeighborList n = m.Neighbors(r);
    const int64_t b = data_.neighbor_indptr[r];
    const int64_t e = data_.neighbor_indptr[r + 1];
    EXPECT_THAT(n.items, ::testing::ElementsAreArray(
                             data_.neighbor_indices.data() + b, e - b));
    EXPECT_THAT(n.scores, ::testing::ElementsAreArray(
                              data_.neighbor_scores.data() + b, e - b));
  }
  EXPECT_TRUE(m.has_categories());
  EXPECT_EQ(m.FindUser("nobody"), -1);
}

TEST_F(ModelLoaderTest, FillsMetadataFromDirectoryAndManifest) {
  const std::string link = absl::StrCat(MakeTempDir(), "/link");
  ASSERT_EQ(::symlink(dir_.c_str(), link.c_str()), 0);
  const int64_t before_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(link);
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelMetadata& md = (*model)->metadata();
  char real[PATH_MAX];
  ASSERT_NE(::realpath(dir_.c_str(), real), nullptr);
  EXPECT_EQ(md.source_dir, real);
  EXPECT_EQ(md.checksum, Sha256Hex(ReadFile(ManifestPath(dir_))));
  EXPECT_EQ(md.version, "tiny-1");
  // A model with one neighbour table is written as version 1.
  EXPECT_EQ(md.format_version, 1);
  EXPECT_GE(md.loaded_at_ms, before_ms);
}

TEST_F(ModelLoaderTest, LoadsModelWithZeroUsers) {
  data_.user_ids.clear();
  data_.user_factors.clear();
  ASSERT_TRUE(WriteModel(data_, dir_).ok());
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->num_users(), 0);
  EXPECT_EQ((*model)->num_items(), 4);
}

TEST_F(ModelLoaderTest, LoadsModelWithoutCategoriesOrNeighbors) {
  data_.item_categories.clear();
  data_.neighbor_indptr.clear();
  data_.neighbor_indices.clear();
  data_.neighbor_scores.clear();
  ASSERT_TRUE(WriteModel(data_, dir_).ok());
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE((*model)->has_categories());
  EXPECT_EQ((*model)->num_neighbors(), 0);
  EXPECT_TRUE((*model)->Neighbors(0).items.empty());
}

TEST_F(ModelLoaderTest, AcceptsIdFileWithoutTrailingNewline) {
  ReplaceRoleFile(dir_, kUserIdsRole, "u1\nu2\nu3");
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->user_id(2), "u3");
}

TEST_F(ModelLoaderTest, AcceptsFileNamesOtherThanTheDefaults) {
  ASSERT_EQ(::rename(Path("item_factors.npy").c_str(),
                     Path("items-v7.f32.npy").c_str()),
            0);
  EditManifest(dir_, [](ModelManifest& m) {
    m.files.at(kItemFactorsRole).path = "items-v7.f32.npy";
  });
  EXPECT_TRUE(LoadModel(dir_).ok());
}

TEST_F(ModelLoaderTest, AcceptsOptionalProvenanceKeys) {
  ReplaceManifestText(
      "\"format_version\": 1,",
      "\"format_version\": 1, \"created_at\": \"2024-06-01T00:00:00Z\", "
      "\"description\": \"nightly ALS\",");
  EXPECT_TRUE(LoadModel(dir_).ok());
}

TEST_F(ModelLoaderTest, SnapshotStaysValidAfterFilesAreDeleted) {
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  for (const char* f :
       {"user_factors.npy", "item_factors.npy", "neighbors_indptr.npy",
        "neighbors_indices.npy", "neighbors_scores.npy"}) {
    ASSERT_EQ(::unlink(Path(f).c_str()), 0);
  }
  // The mappings, held by the snapshot, outlive the directory entries.
  EXPECT_EQ((*model)->ItemFactors(3)[0], 3.0f);
  EXPECT_EQ((*model)->Neighbors(0).scores[1], 0.5f);
}

// The default private copy: a served model's files truncated or rewritten
// in place (cp over them, np.save to the same path) do not reach it. With
// mapped files the first access after a truncation would be SIGBUS.
TEST_F(ModelLoaderTest, PrivateCopySurvivesFilesTruncatedAndRewrittenInPlace) {
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  for (const char* f : {"user_factors.npy", "item_factors.npy",
                        "neighbors_indptr.npy", "neighbors_indices.npy"}) {
    ASSERT_EQ(::truncate(Path(f).c_str(), 0), 0) << f;
  }
  WriteFile(Path("neighbors_scores.npy"), std::string(4096, 'x'));
  EXPECT_EQ((*model)->ItemFactors(3)[0], 3.0f);
  EXPECT_EQ((*model)->Neighbors(0).scores[1], 0.5f);
}

TEST_F(ModelLoaderTest, CopyLimitChoosesCopyOrMapping) {
  auto copied = MappedFile::OpenAt(AT_FDCWD, Path("item_factors.npy"));
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_TRUE((*copied)->is_copy());
  auto mapped = MappedFile::OpenAt(AT_FDCWD, Path("item_factors.npy"), 0);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_FALSE((*mapped)->is_copy());
  EXPECT_EQ((*copied)->bytes(), (*mapped)->bytes());
  // Both serve the same model.
  EXPECT_TRUE(LoadModel(dir_, {.copy_max_bytes = 0}).ok());
}

TEST_F(ModelLoaderTest, SkipsChecksumsWhenDisabled) {
  // A flipped factor value that is still a finite float.
  std::string npy = ReadFile(Path("item_factors.npy"));
  npy[npy.size() - 1] ^= 0x01;
  WriteFile(Path("item_factors.npy"), npy);
  EXPECT_TRUE(LoadModel(dir_, {.verify_checksums = false}).ok());
  ExpectRefused(absl::StatusCode::kDataLoss, {"item_factors.npy"});
}

TEST_F(ModelLoaderTest, V1ModelServesOneTableForBothRoles) {
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSnapshot& m = **model;
  EXPECT_EQ(m.metadata().format_version, 1);
  EXPECT_FALSE(m.has_complements());
  EXPECT_EQ(m.num_complements(), 0);
  for (int32_t r = 0; r < m.num_items(); ++r) {
    const NeighborList plain = m.Neighbors(r);
    const NeighborList subs = m.Neighbors(r, NeighborTable::kSubstitutes);
    const NeighborList comps = m.Neighbors(r, NeighborTable::kComplements);
    // The very same arrays, not copies.
    EXPECT_EQ(comps.items.data(), plain.items.data()) << r;
    EXPECT_EQ(comps.scores.data(), plain.scores.data()) << r;
    EXPECT_EQ(comps.items.size(), plain.items.size()) << r;
    EXPECT_EQ(subs.items.data(), plain.items.data()) << r;
    EXPECT_EQ(subs.items.size(), plain.items.size()) << r;
  }
}

TEST(ModelLoaderTestdataTest, LoadsTinyModelWrittenByNumpy) {
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model =
      LoadModel(absl::StrCat(RERANK_SOURCE_DIR, "/tests/testdata/model_tiny"));
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSnapshot& m = **model;
  EXPECT_EQ(m.version(), "tiny-2024-06-01");
  EXPECT_EQ(m.dim(), 4);
  ASSERT_EQ(m.num_users(), 3);
  ASSERT_EQ(m.num_items(), 5);
  EXPECT_EQ(m.num_neighbors(), 6);
  const int32_t alice = m.FindUser("alice");
  ASSERT_EQ(alice, 0);
  EXPECT_EQ(m.UserFactors(alice)[0], 0.5f);
  EXPECT_EQ(m.UserFactors(alice)[3], -0.25f);
  const int32_t boots = m.FindItem("sku-boots");
  ASSERT_GE(boots, 0);
  EXPECT_EQ(m.ItemCategory(boots), "shoes");
  EXPECT_EQ(m.ItemCategory(m.FindItem("sku-gift-card")), "");
  NeighborList n = m.Neighbors(boots);
  ASSERT_EQ(n.items.size(), 2u);
  EXPECT_EQ(m.item_id(n.items[0]), "sku-sneakers");
  EXPECT_FLOAT_EQ(n.scores[0], 0.8f);
}

// --- Directory and manifest -----------------------------------------------

TEST(ModelLoaderDirTest, RefusesMissingDirectory) {
  const std::string dir = absl::StrCat(MakeTempDir(), "/does-not-exist");
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr(dir));
}

TEST(ModelLoaderDirTest, RefusesPathThatIsAFile) {
  const std::string file = absl::StrCat(MakeTempDir(), "/plain");
  WriteFile(file, "x");
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(file);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr(file));
}

TEST_F(ModelLoaderTest, RefusesMissingManifest) {
  ASSERT_EQ(::unlink(ManifestPath(dir_).c_str()), 0);
  ExpectRefused(absl::StatusCode::kNotFound, {"manifest.json"});
}

TEST_F(ModelLoaderTest, RefusesManifestThatIsNotJson) {
  WriteFile(ManifestPath(dir_), "format_version = 1\n");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "not a valid JSON object"});
}

TEST_F(ModelLoaderTest, RefusesManifestThatIsAJsonArray) {
  WriteFile(ManifestPath(dir_), "[1, 2, 3]\n");
  ExpectRefused(absl::StatusCode::kFailedPrecondition, {"manifest.json"});
}

TEST_F(ModelLoaderTest, RefusesManifestMissingKey) {
  ReplaceManifestText("\"dim\": 2,", "");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "missing required key 'dim'"});
}

TEST_F(ModelLoaderTest, RefusesManifestKeyOfWrongType) {
  ReplaceManifestText("\"dim\": 2,", "\"dim\": \"2\",");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "'dim' must be an integer"});
}

TEST_F(ModelLoaderTest, RefusesFractionalCount) {
  ReplaceManifestText("\"dim\": 2,", "\"dim\": 2.5,");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "'dim' must be an integer"});
}

TEST_F(ModelLoaderTest, RefusesNewerFormatVersion) {
  // A newer format may add keys; the version message must win over them.
  ReplaceManifestText("\"format_version\": 1,",
                      "\"format_version\": 5, \"new_feature\": true,");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json: format_version 5 is newer than this reader "
                 "supports (1 to 4); upgrade rerankd"});
}

TEST_F(ModelLoaderTest, RefusesFormatVersionZero) {
  ReplaceManifestText("\"format_version\": 1,", "\"format_version\": 0,");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json: format_version 0 is not a format version "
                 "(this reader supports 1 to 4)"});
}

TEST_F(ModelLoaderTest, RefusesUnknownManifestKey) {
  ReplaceManifestText("\"dim\": 2,", "\"dim\": 2, \"dims\": 2,");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "unknown key 'dims'"});
}

TEST_F(ModelLoaderTest, RefusesUnknownFileRole) {
  ReplaceManifestText(
      "\"files\": {",
      absl::StrCat("\"files\": {\"user_bias\": {\"path\": \"user_bias.npy\", "
                   "\"sha256\": \"",
                   std::string(64, '0'), "\"},"));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "unknown key 'user_bias' in 'files'"});
}

TEST_F(ModelLoaderTest, RefusesMissingFileRole) {
  EditManifest(dir_,
               [](ModelManifest& m) { m.files.erase(kNeighborsScoresRole); });
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "files.neighbors_scores"});
}

TEST_F(ModelLoaderTest, RefusesZeroItems) {
  ReplaceManifestText("\"num_items\": 4,", "\"num_items\": 0,");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "'num_items' is 0"});
}

TEST_F(ModelLoaderTest, RefusesMalformedSha256) {
  EditManifest(
      dir_, [](ModelManifest& m) { m.files.at(kItemIdsRole).sha256 = "abc"; });
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "files.item_ids.sha256"});
}

TEST_F(ModelLoaderTest, RefusesPathWithSlash) {
  EditManifest(dir_, [](ModelManifest& m) {
    m.files.at(kItemFactorsRole).path = "sub/item_factors.npy";
  });
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "files.item_factors.path", "'/'"});
}

TEST_F(ModelLoaderTest, RefusesAbsolutePath) {
  EditManifest(dir_, [](ModelManifest& m) {
    m.files.at(kItemIdsRole).path = "/etc/passwd";
  });
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "files.item_ids.path"});
}

TEST_F(ModelLoaderTest, RefusesPathWithDotDot) {
  EditManifest(dir_,
               [](ModelManifest& m) { m.files.at(kUserIdsRole).path = ".."; });
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "files.user_ids.path", "'..'"});
}

TEST_F(ModelLoaderTest, RefusesTwoRolesSharingAFile) {
  EditManifest(dir_, [](ModelManifest& m) {
    m.files.at(kUserFactorsRole) = m.files.at(kItemFactorsRole);
  });
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "item_factors.npy", "also used by"});
}

// --- Data files -------------------------------------------------------------

TEST_F(ModelLoaderTest, RefusesMissingDataFile) {
  ASSERT_EQ(::unlink(Path("item_factors.npy").c_str()), 0);
  ExpectRefused(absl::StatusCode::kNotFound, {"item_factors.npy"});
}

TEST_F(ModelLoaderTest, RefusesMissingIdFile) {
  ASSERT_EQ(::unlink(Path("user_ids.txt").c_str()), 0);
  ExpectRefused(absl::StatusCode::kNotFound, {"user_ids.txt"});
}

TEST_F(ModelLoaderTest, RefusesSymlinkedDataFile) {
  const std::string elsewhere = absl::StrCat(MakeTempDir(), "/f.npy");
  ASSERT_EQ(::rename(Path("item_factors.npy").c_str(), elsewhere.c_str()), 0);
  ASSERT_EQ(::symlink(elsewhere.c_str(), Path("item_factors.npy").c_str()), 0);
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy", "symbolic link"});
}

TEST_F(ModelLoaderTest, RefusesChecksumMismatch) {
  std::string ids = ReadFile(Path("item_ids.txt"));
  ids[0] = 'j';
  WriteFile(Path("item_ids.txt"), ids);
  ExpectRefused(absl::StatusCode::kDataLoss, {"item_ids.txt", "sha256"});
}

TEST_F(ModelLoaderTest, RefusesChecksumMismatchInFactors) {
  std::string npy = ReadFile(Path("user_factors.npy"));
  npy.back() ^= 0x40;
  WriteFile(Path("user_factors.npy"), npy);
  ExpectRefused(absl::StatusCode::kDataLoss, {"user_factors.npy", "sha256"});
}

TEST_F(ModelLoaderTest, RefusesWrongDtype) {
  std::vector<double> f64(data_.item_factors.begin(), data_.item_factors.end());
  ReplaceRoleFile(dir_, kItemFactorsRole,
                  *EncodeNpyHeader("<f8", {4, 2}) + RawBytes(f64));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy: dtype is '<f8', expected '<f4' (float32)"});
}

// --- float16 / int8 factor storage (format_version 4) -----------------------

// TinyModelData written as `dtype` into a fresh directory.
std::string WriteCompact(FactorDtype dtype) {
  ModelData data = TinyModelData();
  data.factor_dtype = dtype;
  const std::string dir = rerank::testing::MakeTempDir();
  EXPECT_TRUE(WriteModel(data, dir).ok());
  return dir;
}

absl::Status LoadStatus(const std::string& dir) {
  return LoadModel(dir).status();
}

TEST_F(ModelLoaderTest, CompactFactorsRoundTripWithinTheirErrorBound) {
  for (FactorDtype dtype : {FactorDtype::kFloat16, FactorDtype::kInt8}) {
    const std::string dir = WriteCompact(dtype);
    auto model = LoadModel(dir);
    ASSERT_TRUE(model.ok()) << model.status();
    const ModelSnapshot& m = **model;
    EXPECT_EQ(m.factor_dtype(), dtype);
    EXPECT_EQ(m.metadata().format_version, 4);
    const std::string manifest = ReadFile(dir + "/manifest.json");
    EXPECT_THAT(manifest,
                HasSubstr(absl::StrCat("\"factor_dtype\": \"",
                                       FactorDtypeName(dtype), "\"")));
    EXPECT_EQ(manifest.find("item_factor_scales") != std::string::npos,
              dtype == FactorDtype::kInt8);
    std::vector<float> row(m.dim());
    for (int32_t r = 0; r < m.num_items(); ++r) {
      DecodeRow(m.ItemMatrix(), r, row.data());
      for (int i = 0; i < m.dim(); ++i) {
        // float16: 2^-11 relative; int8: half a level of the row's max.
        EXPECT_NEAR(row[i], data_.item_factors[r * m.dim() + i], 0.01)
            << FactorDtypeName(dtype) << " item " << r;
      }
    }
    for (int32_t r = 0; r < m.num_users(); ++r) {
      DecodeRow(m.UserMatrix(), r, row.data());
      EXPECT_NEAR(row[0], data_.user_factors[r * m.dim()], 0.01);
    }
  }
}

TEST_F(ModelLoaderTest, RefusesFactorFileOfAnotherDtypeThanDeclared) {
  const std::string dir = WriteCompact(FactorDtype::kFloat16);
  ReplaceRoleFile(
      dir, kItemFactorsRole,
      *EncodeNpyHeader("<f4", {4, 2}) + RawBytes(data_.item_factors));
  const absl::Status s = LoadStatus(dir);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(),
              HasSubstr("item_factors.npy: dtype is '<f4', expected '<f2' "
                        "(float16) (factor_dtype float16 in manifest.json)"));
}

TEST_F(ModelLoaderTest, RefusesFloat16FactorsHoldingNaNOrInf) {
  for (const auto& [bits, what] :
       {std::pair<uint16_t, const char*>{0x7e00, "NaN"}, {0xfc00, "Inf"}}) {
    const std::string dir = WriteCompact(FactorDtype::kFloat16);
    std::vector<uint16_t> halves(6, 0x3c00);
    halves[3] = bits;  // row 1, column 1
    ReplaceRoleFile(dir, kUserFactorsRole,
                    *EncodeNpyHeader("<f2", {3, 2}) + RawBytes(halves));
    const absl::Status s = LoadStatus(dir);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(),
                HasSubstr(absl::StrCat("user_factors.npy: row 1 column 1 is ",
                                       what, " (float16)")));
  }
}

TEST_F(ModelLoaderTest, RefusesMissingShortOrNonFiniteInt8Scales) {
  std::string dir = WriteCompact(FactorDtype::kInt8);
  EditManifest(dir,
               [](ModelManifest& m) { m.files.erase(kItemFactorScalesRole); });
  EXPECT_THAT(LoadStatus(dir).message(),
              HasSubstr("missing required file role "
                        "'files.item_factor_scales'"));

  dir = WriteCompact(FactorDtype::kInt8);
  ReplaceRoleFile(
      dir, kItemFactorScalesRole,
      *EncodeNpyHeader("<f4", {3}) + RawBytes(std::vector<float>{1, 1, 1}));
  EXPECT_THAT(LoadStatus(dir).message(),
              HasSubstr("item_factor_scales.npy: shape is (3,), expected "
                        "(4,) (num_items in manifest.json)"));

  for (float bad : {std::numeric_limits<float>::quiet_NaN(), -1.0f}) {
    dir = WriteCompact(FactorDtype::kInt8);
    ReplaceRoleFile(dir, kItemFactorScalesRole,
                    *EncodeNpyHeader("<f4", {4}) +
                        RawBytes(std::vector<float>{1, 1, bad, 1}));
    const absl::Status s = LoadStatus(dir);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(), HasSubstr("item_factor_scales.npy: row 2 is "));
    EXPECT_THAT(s.message(), HasSubstr("must be finite and >= 0"));
  }
}

TEST_F(ModelLoaderTest, RefusesInt32Indptr) {
  std::vector<int32_t> i32(data_.neighbor_indptr.begin(),
                           data_.neighbor_indptr.end());
  ReplaceRoleFile(dir_, kNeighborsIndptrRole,
                  *EncodeNpyHeader("<i4", {5}) + RawBytes(i32));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_indptr.npy: dtype is '<i4', expected '<i8'"});
}

TEST_F(ModelLoaderTest, RefusesBigEndianFactors) {
  std::string data = RawBytes(data_.user_factors);
  for (size_t i = 0; i < data.size(); i += 4) {
    std::swap(data[i], data[i + 3]);
    std::swap(data[i + 1], data[i + 2]);
  }
  ReplaceRoleFile(dir_, kUserFactorsRole,
                  *EncodeNpyHeader(">f4", {3, 2}) + data);
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"user_factors.npy", "big-endian"});
}

TEST_F(ModelLoaderTest, RefusesFortranOrder) {
  ReplaceRoleFile(
      dir_, kItemFactorsRole,
      RawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (4, 2), }",
             RawBytes(data_.item_factors)));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy", "fortran_order"});
}

TEST_F(ModelLoaderTest, RefusesOneDimensionalFactors) {
  ReplaceRoleFile(dir_, kItemFactorsRole,
                  *EncodeNpyHeader("<f4", {8}) + RawBytes(data_.item_factors));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy", "shape is (8,)",
                 "(1-D, expected 2-D; num_items x dim"});
}

TEST_F(ModelLoaderTest, RefusesFactorsWithWrongDim) {
  ReplaceRoleFile(
      dir_, kItemFactorsRole,
      *EncodeNpyHeader("<f4", {2, 4}) + RawBytes(data_.item_factors));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy", "shape is (2, 4), expected (4, 2)"});
}

TEST_F(ModelLoaderTest, RefusesManifestCountThatDisagreesWithArrays) {
  // Drop the last user from the id file and the manifest, not the array.
  ReplaceRoleFile(dir_, kUserIdsRole, "u1\nu2\n");
  ReplaceManifestText("\"num_users\": 3,", "\"num_users\": 2,");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"user_factors.npy", "shape is (3, 2), expected (2, 2)",
                 "num_users x dim in manifest.json"});
}

TEST_F(ModelLoaderTest, RefusesIdCountNotMatchingManifest) {
  ReplaceRoleFile(dir_, kItemIdsRole, "i1\ni2\ni3\n");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_ids.txt", "has 3 lines", "num_items"});
}

TEST_F(ModelLoaderTest, RefusesTruncatedData) {
  std::string npy = ReadFile(Path("item_factors.npy"));
  npy.resize(npy.size() - 3);
  ReplaceRoleFile(dir_, kItemFactorsRole, npy);
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy", "truncated"});
}

TEST_F(ModelLoaderTest, RefusesTrailingBytes) {
  ReplaceRoleFile(dir_, kNeighborsScoresRole,
                  ReadFile(Path("neighbors_scores.npy")) + "junk");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_scores.npy", "4 trailing bytes"});
}

TEST_F(ModelLoaderTest, RefusesBadNpyMagic) {
  std::string npy = ReadFile(Path("item_factors.npy"));
  npy[1] = 'X';
  ReplaceRoleFile(dir_, kItemFactorsRole, npy);
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy", "magic"});
}

TEST_F(ModelLoaderTest, RefusesEmptyNpyFile) {
  ReplaceRoleFile(dir_, kNeighborsIndicesRole, "");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_indices.npy", "magic"});
}

TEST_F(ModelLoaderTest, RefusesMalformedNpyHeader) {
  ReplaceRoleFile(
      dir_, kItemFactorsRole,
      RawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2) ",
             RawBytes(data_.item_factors)));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy", "npy header"});
}

TEST_F(ModelLoaderTest, RefusesNpyHeaderLongerThanFile) {
  std::string npy = ReadFile(Path("neighbors_scores.npy"));
  npy[8] = '\xff';
  npy[9] = '\x7f';
  ReplaceRoleFile(dir_, kNeighborsScoresRole, npy);
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_scores.npy", "truncated .npy header"});
}

TEST_F(ModelLoaderTest, RefusesUnsupportedNpyVersion) {
  std::string npy = ReadFile(Path("item_factors.npy"));
  npy[6] = '\x04';
  ReplaceRoleFile(dir_, kItemFactorsRole, npy);
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy", "format version 4.0"});
}

// --- Id and category files ---------------------------------------------------

TEST_F(ModelLoaderTest, RefusesEmptyId) {
  ReplaceRoleFile(dir_, kUserIdsRole, "u1\n\nu3\n");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"user_ids.txt", "line 2 is empty"});
}

TEST_F(ModelLoaderTest, RefusesDuplicateIds) {
  ReplaceRoleFile(dir_, kItemIdsRole, "i1\ni2\ni1\ni4\n");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_ids.txt", "duplicate id 'i1'"});
}

TEST_F(ModelLoaderTest, RefusesCrlfLineEndings) {
  ReplaceRoleFile(dir_, kUserIdsRole, "u1\r\nu2\r\nu3\r\n");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"user_ids.txt", "line 1", "\\r"});
}

TEST_F(ModelLoaderTest, RefusesInvalidUtf8Id) {
  ReplaceRoleFile(dir_, kItemIdsRole, "i1\ni2\n\xff\xfe\ni4\n");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_ids.txt", "line 3", "UTF-8"});
}

TEST_F(ModelLoaderTest, RefusesByteOrderMark) {
  ReplaceRoleFile(dir_, kUserIdsRole, "\xEF\xBB\xBFu1\nu2\nu3\n");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"user_ids.txt", "byte order mark"});
}

TEST_F(ModelLoaderTest, RefusesCategoriesCountMismatch) {
  ReplaceRoleFile(dir_, kItemCategoriesRole, "shoes\n\nhats\n");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_categories.txt", "has 3 lines", "num_items"});
}

// --- Neighbour table -------------------------------------------------------

TEST_F(ModelLoaderTest, RefusesIndptrWrongLength) {
  std::vector<int64_t> indptr = {0, 2, 3, 4};
  ReplaceRoleFile(dir_, kNeighborsIndptrRole,
                  *EncodeNpyHeader("<i8", {4}) + RawBytes(indptr));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_indptr.npy", "shape is (4,), expected (5,)"});
}

TEST_F(ModelLoaderTest, RefusesIndptrNotEndingAtNumNeighbors) {
  std::vector<int64_t> indptr = {0, 2, 3, 3, 3};
  ReplaceRoleFile(dir_, kNeighborsIndptrRole,
                  *EncodeNpyHeader("<i8", {5}) + RawBytes(indptr));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_indptr.npy", "last entry is 3", "num_neighbors"});
}

TEST_F(ModelLoaderTest, RefusesIndptrNotStartingAtZero) {
  std::vector<int64_t> indptr = {1, 2, 3, 3, 4};
  ReplaceRoleFile(dir_, kNeighborsIndptrRole,
                  *EncodeNpyHeader("<i8", {5}) + RawBytes(indptr));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_indptr.npy", "first entry is 1"});
}

TEST_F(ModelLoaderTest, RefusesDecreasingIndptr) {
  std::vector<int64_t> indptr = {0, 3, 2, 3, 4};
  ReplaceRoleFile(dir_, kNeighborsIndptrRole,
                  *EncodeNpyHeader("<i8", {5}) + RawBytes(indptr));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_indptr.npy"});
}

TEST_F(ModelLoaderTest, RefusesNeighborIndexOutOfBounds) {
  std::vector<int32_t> indices = {1, 2, 0, 4};
  ReplaceRoleFile(dir_, kNeighborsIndicesRole,
                  *EncodeNpyHeader("<i4", {4}) + RawBytes(indices));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_indices.npy", "is 4"});
}

TEST_F(ModelLoaderTest, RefusesNegativeNeighborIndex) {
  std::vector<int32_t> indices = {1, -1, 0, 2};
  ReplaceRoleFile(dir_, kNeighborsIndicesRole,
                  *EncodeNpyHeader("<i4", {4}) + RawBytes(indices));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_indices.npy", "is -1"});
}

// --- Content validated by ModelSnapshot::Create ------------------------------

TEST_F(ModelLoaderTest, RefusesNanInFactors) {
  std::vector<float> f = data_.item_factors;
  f[5] = std::numeric_limits<float>::quiet_NaN();
  ReplaceRoleFile(dir_, kItemFactorsRole,
                  *EncodeNpyHeader("<f4", {4, 2}) + RawBytes(f));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_factors.npy", "row 2 column 1 is NaN"});
}

TEST_F(ModelLoaderTest, RefusesInfInFactors) {
  std::vector<float> f = data_.user_factors;
  f[0] = -std::numeric_limits<float>::infinity();
  ReplaceRoleFile(dir_, kUserFactorsRole,
                  *EncodeNpyHeader("<f4", {3, 2}) + RawBytes(f));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"user_factors.npy", "row 0 column 0 is Inf"});
}

TEST_F(ModelLoaderTest, RefusesNanNeighborScore) {
  std::vector<float> s = data_.neighbor_scores;
  s[2] = std::numeric_limits<float>::quiet_NaN();
  ReplaceRoleFile(dir_, kNeighborsScoresRole,
                  *EncodeNpyHeader("<f4", {4}) + RawBytes(s));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"neighbors_scores.npy"});
}

// --- Format version 2: the complement table ----------------------------------

// Like ModelLoaderTest, from a model with a complement table.
class ModelLoaderV2Test : public ModelLoaderTest {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    data_ = TinyTwoTableModelData();
    ASSERT_TRUE(WriteModel(data_, dir_).ok());
  }

  // Rewrites complements_indices.npy with `indices` (checksum updated).
  void ReplaceComplementIndices(const std::vector<int32_t>& indices) {
    ReplaceRoleFile(
        dir_, kComplementsIndicesRole,
        *EncodeNpyHeader("<i4", {static_cast<int64_t>(indices.size())}) +
            RawBytes(indices));
  }
};

TEST_F(ModelLoaderV2Test, LoadsBothTablesAndReportsVersion2) {
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSnapshot& m = **model;
  EXPECT_EQ(m.metadata().format_version, 2);
  EXPECT_TRUE(m.has_complements());
  EXPECT_EQ(m.num_neighbors(), 4);
  EXPECT_EQ(m.num_complements(), 4);
  for (int32_t r = 0; r < 4; ++r) {
    const NeighborList subs = m.Neighbors(r, NeighborTable::kSubstitutes);
    const NeighborList plain = m.Neighbors(r);
    EXPECT_THAT(subs.items, ::testing::ElementsAreArray(plain.items)) << r;
    int64_t b = data_.neighbor_indptr[r];
    int64_t e = data_.neighbor_indptr[r + 1];
    EXPECT_THAT(subs.items, ::testing::ElementsAreArray(
                                data_.neighbor_indices.data() + b, e - b));
    const NeighborList comps = m.Neighbors(r, NeighborTable::kComplements);
    b = data_.complement_indptr[r];
    e = data_.complement_indptr[r + 1];
    EXPECT_THAT(comps.items, ::testing::ElementsAreArray(
                                 data_.complement_indices.data() + b, e - b));
    EXPECT_THAT(comps.scores, ::testing::ElementsAreArray(
                                  data_.complement_scores.data() + b, e - b));
  }
  // i2's substitute is i1, its complements i3 then i4.
  EXPECT_THAT(m.Neighbors(1).items, ::testing::ElementsAre(0));
  EXPECT_THAT(m.Neighbors(1, NeighborTable::kComplements).items,
              ::testing::ElementsAre(2, 3));
}

TEST_F(ModelLoaderV2Test, LoadsEmptyComplementTable) {
  data_.complement_indptr.assign(5, 0);
  data_.complement_indices.clear();
  data_.complement_scores.clear();
  ASSERT_TRUE(WriteModel(data_, dir_).ok());
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->metadata().format_version, 2);
  EXPECT_TRUE((*model)->has_complements());
  EXPECT_EQ((*model)->num_complements(), 0);
  // A separate but empty table does not fall back to the substitutes.
  EXPECT_TRUE(
      (*model)->Neighbors(0, NeighborTable::kComplements).items.empty());
  EXPECT_FALSE((*model)->Neighbors(0).items.empty());
}

TEST_F(ModelLoaderV2Test, RefusesMissingComplementRole) {
  for (const char* role : {kComplementsIndptrRole, kComplementsIndicesRole,
                           kComplementsScoresRole}) {
    ASSERT_TRUE(WriteModel(data_, dir_).ok());
    EditManifest(dir_, [&](ModelManifest& m) { m.files.erase(role); });
    ExpectRefused(absl::StatusCode::kFailedPrecondition,
                  {"manifest.json", absl::StrCat("files.", role)});
  }
}

TEST_F(ModelLoaderV2Test, RefusesMissingNumComplements) {
  ReplaceManifestText("\"num_complements\": 4,", "");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "missing required key 'num_complements'"});
}

TEST_F(ModelLoaderV2Test, RefusesComplementRolesInVersion1Manifest) {
  // A writer that added the table but did not bump the version.
  ReplaceManifestText("\"format_version\": 2,", "\"format_version\": 1,");
  ReplaceManifestText("\"num_complements\": 4,", "");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "unknown key 'complements_", "in 'files'",
                 "format_version 1"});
}

TEST_F(ModelLoaderV2Test, RefusesNumComplementsInVersion1Manifest) {
  ReplaceManifestText("\"format_version\": 2,", "\"format_version\": 1,");
  ExpectRefused(
      absl::StatusCode::kFailedPrecondition,
      {"manifest.json", "unknown key 'num_complements'", "format_version 1"});
}

TEST_F(ModelLoaderV2Test, RefusesMissingComplementFile) {
  ASSERT_EQ(::unlink(Path("complements_scores.npy").c_str()), 0);
  ExpectRefused(absl::StatusCode::kNotFound, {"complements_scores.npy"});
}

TEST_F(ModelLoaderV2Test, RefusesComplementChecksumMismatch) {
  std::string npy = ReadFile(Path("complements_scores.npy"));
  npy.back() ^= 0x01;
  WriteFile(Path("complements_scores.npy"), npy);
  ExpectRefused(absl::StatusCode::kDataLoss,
                {"complements_scores.npy", "sha256"});
}

TEST_F(ModelLoaderV2Test, RefusesInt32ComplementIndptr) {
  std::vector<int32_t> i32(data_.complement_indptr.begin(),
                           data_.complement_indptr.end());
  ReplaceRoleFile(dir_, kComplementsIndptrRole,
                  *EncodeNpyHeader("<i4", {5}) + RawBytes(i32));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_indptr.npy: dtype is '<i4', expected '<i8'"});
}

TEST_F(ModelLoaderV2Test, RefusesFloat64ComplementScores) {
  std::vector<double> f64(data_.complement_scores.begin(),
                          data_.complement_scores.end());
  ReplaceRoleFile(dir_, kComplementsScoresRole,
                  *EncodeNpyHeader("<f8", {4}) + RawBytes(f64));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_scores.npy: dtype is '<f8', expected '<f4'"});
}

TEST_F(ModelLoaderV2Test, RefusesComplementIndptrWrongLength) {
  std::vector<int64_t> indptr = {0, 1, 3, 4};
  ReplaceRoleFile(dir_, kComplementsIndptrRole,
                  *EncodeNpyHeader("<i8", {4}) + RawBytes(indptr));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_indptr.npy", "shape is (4,), expected (5,)",
                 "num_items + 1"});
}

TEST_F(ModelLoaderV2Test, RefusesComplementIndicesNotMatchingNumComplements) {
  ReplaceComplementIndices({3, 2, 3});
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_indices.npy", "shape is (3,), expected (4,)",
                 "num_complements in manifest.json"});
}

TEST_F(ModelLoaderV2Test, RefusesComplementIndptrNotEndingAtNumComplements) {
  std::vector<int64_t> indptr = {0, 1, 3, 3, 3};
  ReplaceRoleFile(dir_, kComplementsIndptrRole,
                  *EncodeNpyHeader("<i8", {5}) + RawBytes(indptr));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_indptr.npy: last entry is 3, but "
                 "num_complements in manifest.json is 4"});
}

TEST_F(ModelLoaderV2Test, RefusesComplementIndptrNotStartingAtZero) {
  std::vector<int64_t> indptr = {1, 1, 3, 4, 4};
  ReplaceRoleFile(dir_, kComplementsIndptrRole,
                  *EncodeNpyHeader("<i8", {5}) + RawBytes(indptr));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_indptr.npy: first entry is 1"});
}

TEST_F(ModelLoaderV2Test, RefusesDecreasingComplementIndptr) {
  std::vector<int64_t> indptr = {0, 3, 1, 4, 4};
  ReplaceRoleFile(dir_, kComplementsIndptrRole,
                  *EncodeNpyHeader("<i8", {5}) + RawBytes(indptr));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_indptr.npy: not non-decreasing at entry 2"});
}

TEST_F(ModelLoaderV2Test, RefusesComplementIndexOutOfBounds) {
  ReplaceComplementIndices({3, 2, 4, 0});
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_indices.npy: entry 2 (neighbour of item row 1) "
                 "is 4, outside [0, 4)"});
}

TEST_F(ModelLoaderV2Test, RefusesComplementListingItself) {
  ReplaceComplementIndices({3, 1, 3, 0});
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_indices.npy: entry 1: item row 1 lists itself"});
}

TEST_F(ModelLoaderV2Test, RefusesUnsortedComplementScores) {
  std::vector<float> s = {0.7f, 0.2f, 0.6f, 0.4f};
  ReplaceRoleFile(dir_, kComplementsScoresRole,
                  *EncodeNpyHeader("<f4", {4}) + RawBytes(s));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_scores.npy: neighbours of item row 1 are not "
                 "sorted by descending score at entry 2"});
}

TEST_F(ModelLoaderV2Test, RefusesNonFiniteComplementScore) {
  std::vector<float> s = data_.complement_scores;
  s[3] = std::numeric_limits<float>::infinity();
  ReplaceRoleFile(dir_, kComplementsScoresRole,
                  *EncodeNpyHeader("<f4", {4}) + RawBytes(s));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"complements_scores.npy: entry 3 is not finite"});
}

TEST(ModelLoaderTestdataTest, LoadsTinyVersion2ModelWrittenByNumpy) {
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> model = LoadModel(
      absl::StrCat(RERANK_SOURCE_DIR, "/tests/testdata/model_tiny_v2"));
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSnapshot& m = **model;
  EXPECT_EQ(m.metadata().format_version, 2);
  EXPECT_EQ(m.version(), "tiny-v2-2024-06-01");
  ASSERT_TRUE(m.has_complements());
  // Boots: substitute sneakers (co-viewed), complement socks (co-bought).
  const int32_t boots = m.FindItem("sku-boots");
  ASSERT_GE(boots, 0);
  const NeighborList subs = m.Neighbors(boots, NeighborTable::kSubstitutes);
  ASSERT_FALSE(subs.items.empty());
  EXPECT_EQ(m.item_id(subs.items[0]), "sku-sneakers");
  const NeighborList comps = m.Neighbors(boots, NeighborTable::kComplements);
  ASSERT_FALSE(comps.items.empty());
  EXPECT_EQ(m.item_id(comps.items[0]), "sku-socks");
  EXPECT_FLOAT_EQ(comps.scores[0], 0.9f);
}

// --- Format version 3: item counts and rankers -------------------------------

RankerSpec TinyLinearRanker() {
  RankerSpec spec;
  spec.kind = RankerKind::kLinear;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = {"user_dot", "popularity"};
  spec.linear.bias = 0.5;
  spec.linear.weights = {1.0, -2.0};
  spec.linear.means = {0.0, 0.25};
  spec.linear.scales = {1.0, 0.5};
  return spec;
}

RankerSpec TinyStumpRanker() {
  RankerSpec spec;
  spec.kind = RankerKind::kGbdt;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = {"user_dot"};
  TreeSpec tree;
  tree.left = {1, -1, -1};
  tree.right = {2, -1, -1};
  tree.feature = {0, 0, 0};
  tree.threshold = {0.5f, 0, 0};
  tree.default_left = {1, 0, 0};
  tree.value = {0, -1.0, 1.0};
  tree.cover = {2, 1, 1};
  spec.gbdt.base_score = 0.25;
  spec.gbdt.trees.push_back(tree);
  return spec;
}

// Like ModelLoaderTest, from a model with item counts and both rankers.
class ModelLoaderV3Test : public ModelLoaderTest {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    data_ = TinyModelData();
    data_.item_counts.assign(data_.item_ids.size(), 1.0f);
    data_.item_counts[0] = 7.0f;
    data_.rankers = {TinyLinearRanker(), TinyStumpRanker()};
    data_.default_ranker = RankerKind::kGbdt;
    ASSERT_TRUE(WriteModel(data_, dir_).ok());
  }
};

TEST_F(ModelLoaderV3Test, LoadsCountsRankersAndDefault) {
  auto model = LoadModel(dir_);
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSnapshot& m = **model;
  EXPECT_EQ(m.metadata().format_version, 3);
  EXPECT_TRUE(m.has_item_counts());
  EXPECT_FLOAT_EQ(m.ItemPopularity(0), 1.0f);
  EXPECT_FLOAT_EQ(m.ItemPopularity(1),
                  static_cast<float>(std::log1p(1.0) / std::log1p(7.0)));
  EXPECT_EQ(m.default_ranker(), RankerKind::kGbdt);
  ASSERT_NE(m.ranker(RankerKind::kLinear), nullptr);
  ASSERT_NE(m.ranker(RankerKind::kGbdt), nullptr);
  EXPECT_EQ(m.ranker(RankerKind::kFormula), nullptr);
  EXPECT_EQ(m.ranker(RankerKind::kLinear)->spec().feature_names,
            TinyLinearRanker().feature_names);
  EXPECT_EQ(m.ranker(RankerKind::kGbdt)->spec().gbdt.base_score, 0.25);
  const std::string manifest = ReadFile(ManifestPath(dir_));
  EXPECT_THAT(manifest, HasSubstr("\"default_ranker\": \"gbdt\""));
  EXPECT_THAT(manifest, HasSubstr("ranker_linear.json"));
}

TEST_F(ModelLoaderV3Test, ModelsWithoutCountsOrRankersStayOlderVersions) {
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  auto model = LoadModel(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->metadata().format_version, 1);
  EXPECT_FALSE((*model)->has_item_counts());
  EXPECT_EQ((*model)->ItemPopularity(0), 0.0f);
  EXPECT_EQ((*model)->default_ranker(), RankerKind::kFormula);
  EXPECT_EQ((*model)->ranker(RankerKind::kLinear), nullptr);
}

TEST_F(ModelLoaderV3Test, RefusesRankerWithUnknownFeatureSet) {
  RankerSpec spec = TinyLinearRanker();
  spec.feature_set = "rerank.features.v99";
  ReplaceRoleFile(dir_, kRankerLinearRole, RankerSpecToJson(spec));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"ranker_linear.json", "rerank.features.v99"});
}

TEST_F(ModelLoaderV3Test, RefusesRankerWithNanWeight) {
  std::string json = RankerSpecToJson(TinyLinearRanker());
  json = absl::StrReplaceAll(json, {{"-2", "\"NaN\""}});
  ReplaceRoleFile(dir_, kRankerLinearRole, json);
  ExpectRefused(absl::StatusCode::kFailedPrecondition, {"ranker_linear.json"});
}

TEST_F(ModelLoaderV3Test, RefusesTreeChildOutOfRange) {
  RankerSpec spec = TinyStumpRanker();
  spec.gbdt.trees[0].left[0] = 99;
  ReplaceRoleFile(dir_, kRankerGbdtRole, RankerSpecToJson(spec));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"ranker_gbdt.json", "99"});
}

TEST_F(ModelLoaderV3Test, RefusesTreeCycle) {
  RankerSpec spec = TinyStumpRanker();
  spec.gbdt.trees[0].left = {1, -1, 0};
  spec.gbdt.trees[0].right = {2, -1, 1};
  ReplaceRoleFile(dir_, kRankerGbdtRole, RankerSpecToJson(spec));
  ExpectRefused(absl::StatusCode::kFailedPrecondition, {"ranker_gbdt.json"});
}

TEST_F(ModelLoaderV3Test, RefusesRankerOfTheWrongKindForItsRole) {
  ReplaceRoleFile(dir_, kRankerLinearRole,
                  RankerSpecToJson(TinyStumpRanker()));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"ranker_linear.json", "gbdt ranker"});
}

TEST_F(ModelLoaderV3Test, RefusesRankerChecksumMismatch) {
  WriteFile(Path("ranker_gbdt.json"),
            RankerSpecToJson(TinyStumpRanker()) + " ");
  ExpectRefused(absl::StatusCode::kDataLoss, {"ranker_gbdt.json", "sha256"});
}

TEST_F(ModelLoaderV3Test, RefusesDefaultRankerWithoutItsFile) {
  EditManifest(dir_, [](ModelManifest& m) { m.files.erase("ranker_gbdt"); });
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "default_ranker", "ranker_gbdt"});
}

TEST_F(ModelLoaderV3Test, RefusesUnknownDefaultRanker) {
  ReplaceManifestText("\"default_ranker\": \"gbdt\"",
                      "\"default_ranker\": \"neural\"");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "default_ranker", "neural"});
}

TEST_F(ModelLoaderV3Test, RefusesNegativeItemCount) {
  std::vector<float> counts(data_.item_ids.size(), 1.0f);
  counts[1] = -3.0f;
  ReplaceRoleFile(
      dir_, kItemCountsRole,
      *EncodeNpyHeader("<f4", {static_cast<int64_t>(counts.size())}) +
          RawBytes(counts));
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"item_counts.npy", "row 1"});
}

TEST_F(ModelLoaderV3Test, RefusesItemCountsOfTheWrongLength) {
  std::vector<float> counts(data_.item_ids.size() + 1, 1.0f);
  ReplaceRoleFile(
      dir_, kItemCountsRole,
      *EncodeNpyHeader("<f4", {static_cast<int64_t>(counts.size())}) +
          RawBytes(counts));
  ExpectRefused(absl::StatusCode::kFailedPrecondition, {"item_counts.npy"});
}

TEST_F(ModelLoaderV3Test, RefusesRankerRoleInVersion2Manifest) {
  ReplaceManifestText("\"format_version\": 3", "\"format_version\": 2");
  ExpectRefused(absl::StatusCode::kFailedPrecondition,
                {"manifest.json", "default_ranker"});
}

TEST(WriteModelV3Test, RefusesDefaultRankerTheModelLacks) {
  ModelData data = TinyModelData();
  data.rankers = {TinyLinearRanker()};
  data.default_ranker = RankerKind::kGbdt;
  const absl::Status st = WriteModel(data, MakeTempDir());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("default_ranker"));
}

TEST(WriteModelV3Test, RefusesInvalidRankerBeforeWritingAnything) {
  ModelData data = TinyModelData();
  RankerSpec bad = TinyLinearRanker();
  bad.linear.scales[0] = 0.0;
  data.rankers = {bad};
  const std::string dir = MakeTempDir();
  const absl::Status st = WriteModel(data, dir);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("ranker_linear.json"));
  EXPECT_FALSE(LoadModel(dir).ok());
}

}  // namespace
}  // namespace rerank
