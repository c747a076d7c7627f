#include "model/model_writer.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <limits>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/manifest.h"
#include "model/model_loader.h"
#include "model/npy.h"
#include "model/sha256.h"
#include "model_test_util.h"

namespace rerank {
namespace {

using ::rerank::testing::MakeTempDir;
using ::rerank::testing::ReadFile;
using ::rerank::testing::TinyModelData;
using ::rerank::testing::TinyTwoTableModelData;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::set<std::string> ListDir(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.insert(n);
  }
  ::closedir(d);
  return names;
}

void ExpectInvalid(const ModelData& data, absl::StatusCode code,
                   const std::string& message) {
  const std::string dir = MakeTempDir();
  absl::Status s = WriteModel(data, dir);
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(message));
  // Validation happens before anything is written.
  EXPECT_TRUE(ListDir(dir).empty());
}

TEST(WriteModelTest, WritesExactlyTheDocumentedFiles) {
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  EXPECT_THAT(
      ListDir(dir),
      UnorderedElementsAre("manifest.json", "user_factors.npy",
                           "item_factors.npy", "user_ids.txt", "item_ids.txt",
                           "neighbors_indptr.npy", "neighbors_indices.npy",
                           "neighbors_scores.npy", "item_categories.txt"));
  EXPECT_EQ(ReadFile(absl::StrCat(dir, "/user_ids.txt")), "u1\nu2\nu3\n");
  EXPECT_EQ(ReadFile(absl::StrCat(dir, "/item_categories.txt")),
            "shoes\n\nhats\nshoes\n");
}

TEST(WriteModelTest, WritesNumpyFormatHeaders) {
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  const std::string npy = ReadFile(absl::StrCat(dir, "/user_factors.npy"));
  const std::string header = *EncodeNpyHeader("<f4", {3, 2});
  EXPECT_EQ(npy.substr(0, header.size()), header);
  EXPECT_EQ(npy.size(), 128u + 3 * 2 * 4);
  EXPECT_THAT(header, HasSubstr("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (3, 2), }"));
}

TEST(WriteModelTest, ManifestRecordsCountsAndChecksumsOfWrittenFiles) {
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  absl::StatusOr<ModelManifest> m =
      ParseModelManifest(ReadFile(absl::StrCat(dir, "/manifest.json")));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->format_version, 1);
  EXPECT_EQ(m->model_version, "tiny-1");
  EXPECT_EQ(m->dim, 2);
  EXPECT_EQ(m->num_users, 3);
  EXPECT_EQ(m->num_items, 4);
  EXPECT_EQ(m->num_neighbors, 4);
  ASSERT_EQ(m->files.size(), 8u);
  for (const auto& [role, file] : m->files) {
    EXPECT_EQ(file.path, DefaultFileName(role));
    EXPECT_EQ(*Sha256File(absl::StrCat(dir, "/", file.path)), file.sha256)
        << role;
  }
}

TEST(WriteModelTest, OutputIsDeterministic) {
  const std::string a = MakeTempDir();
  const std::string b = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), a).ok());
  ASSERT_TRUE(WriteModel(TinyModelData(), b).ok());
  EXPECT_EQ(ReadFile(absl::StrCat(a, "/manifest.json")),
            ReadFile(absl::StrCat(b, "/manifest.json")));
}

TEST(WriteModelTest, CreatesMissingParentDirectories) {
  const std::string dir = absl::StrCat(MakeTempDir(), "/a/b/model-7");
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  EXPECT_TRUE(LoadModel(dir).ok());
}

TEST(WriteModelTest, OverwritesPreviousModelAndLeavesNoTempFiles) {
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  ModelData next = TinyModelData();
  next.version = "tiny-2";
  next.item_categories.clear();
  next.item_factors[0] = 42.0f;
  ASSERT_TRUE(WriteModel(next, dir).ok());
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> m = LoadModel(dir);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->version(), "tiny-2");
  EXPECT_EQ((*m)->ItemFactors(0)[0], 42.0f);
  EXPECT_FALSE((*m)->has_categories());
  // The stale categories file is gone, and no *.tmp.* file is left, in
  // the model or beside it.
  EXPECT_EQ(ListDir(dir).size(), 8u);
  for (const std::string& name : ListDir(dir)) {
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
  }
  const std::string parent = std::filesystem::path(dir).parent_path();
  for (const std::string& name : ListDir(parent)) {
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
  }
}

// The steps WriteModel reports for `data` written to `dir`.
std::vector<std::string> StepsOf(const ModelData& data, const std::string& dir) {
  std::vector<std::string> steps;
  EXPECT_TRUE(WriteModel(data, dir, [&](absl::string_view step) {
                steps.emplace_back(step);
              }).ok());
  return steps;
}

// Writes `data` to `dir` in a forked child that SIGKILLs itself right after
// step number `kill_at` (kill -9 mid-write, deterministically).
void WriteAndKillAfterStep(const ModelData& data, const std::string& dir,
                           int kill_at) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int step = 0;
    const absl::Status s = WriteModel(data, dir, [&](absl::string_view) {
      if (step++ == kill_at) ::raise(SIGKILL);
    });
    ::_exit(s.ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child was not killed at step " << kill_at;
}

// kill -9 after every step of a write, into an empty place and over an
// existing model: the directory is then absent or a complete model (the
// old or the new one), and a later write works.
TEST(WriteModelTest, KillAtAnyStepLeavesNoModelOrACompleteOne) {
  ModelData next = TinyTwoTableModelData();
  next.version = "tiny-next";
  const std::vector<std::string> fresh_steps =
      StepsOf(next, absl::StrCat(MakeTempDir(), "/m"));
  ASSERT_GE(fresh_steps.size(), 9u);
  EXPECT_EQ(fresh_steps.back(), "published");
  const std::string replaced = absl::StrCat(MakeTempDir(), "/m");
  ASSERT_TRUE(WriteModel(TinyModelData(), replaced).ok());
  EXPECT_EQ(StepsOf(next, replaced).back(), "old removed");

  for (bool over_old : {false, true}) {
    // Over a model there is one more step, "old removed".
    const int steps = static_cast<int>(fresh_steps.size()) + (over_old ? 1 : 0);
    for (int k = 0; k < steps; ++k) {
      SCOPED_TRACE(absl::StrCat(over_old ? "over a model" : "fresh",
                                ", killed after step ", k));
      const std::string dir = absl::StrCat(MakeTempDir(), "/model");
      if (over_old) {
        ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
      }
      WriteAndKillAfterStep(next, dir, k);
      // Published from step "published" (index size()-1) on.
      const bool published = k >= static_cast<int>(fresh_steps.size()) - 1;
      if (!over_old && !published) {
        EXPECT_FALSE(std::filesystem::exists(dir));
      } else {
        absl::StatusOr<std::shared_ptr<const ModelSnapshot>> m =
            LoadModel(dir);
        ASSERT_TRUE(m.ok()) << m.status();
        EXPECT_EQ((*m)->version(), published ? "tiny-next" : "tiny-1");
        EXPECT_EQ((*m)->has_complements(), published);
      }
      // The debris of the killed write does not stand in the way.
      ASSERT_TRUE(WriteModel(next, dir).ok());
      EXPECT_EQ((*LoadModel(dir))->version(), "tiny-next");
    }
  }
}

TEST(WriteModelTest, WritesThroughASymlinkIntoItsTarget) {
  const std::string root = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), absl::StrCat(root, "/v1")).ok());
  std::filesystem::create_directory_symlink("v1", absl::StrCat(root, "/current"));
  ModelData next = TinyModelData();
  next.version = "tiny-2";
  ASSERT_TRUE(WriteModel(next, absl::StrCat(root, "/current")).ok());
  EXPECT_TRUE(std::filesystem::is_symlink(absl::StrCat(root, "/current")));
  EXPECT_EQ((*LoadModel(absl::StrCat(root, "/v1")))->version(), "tiny-2");
}

TEST(WriteModelTest, RefusesAPathThatIsAFile) {
  const std::string root = MakeTempDir();
  const std::string file = absl::StrCat(root, "/model");
  std::FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  const absl::Status s = WriteModel(TinyModelData(), file);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a directory"));
  // The file is untouched and no staging directory is left.
  EXPECT_THAT(ListDir(root), UnorderedElementsAre("model"));
}

TEST(WriteModelTest, WritesEmptyNeighborTableWhenIndptrIsEmpty) {
  ModelData d = TinyModelData();
  d.neighbor_indptr.clear();
  d.neighbor_indices.clear();
  d.neighbor_scores.clear();
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(d, dir).ok());
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> m = LoadModel(dir);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->num_neighbors(), 0);
}

TEST(WriteModelTest, WritesVersion1WithoutComplementTable) {
  // So that servers that predate version 2 keep loading such models.
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  const std::string manifest = ReadFile(absl::StrCat(dir, "/manifest.json"));
  EXPECT_THAT(manifest, HasSubstr("\"format_version\": 1,"));
  EXPECT_THAT(manifest, ::testing::Not(HasSubstr("complements")));
}

TEST(WriteModelTest, WritesVersion2WithComplementTable) {
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyTwoTableModelData(), dir).ok());
  EXPECT_THAT(ListDir(dir),
              UnorderedElementsAre(
                  "manifest.json", "user_factors.npy", "item_factors.npy",
                  "user_ids.txt", "item_ids.txt", "neighbors_indptr.npy",
                  "neighbors_indices.npy", "neighbors_scores.npy",
                  "complements_indptr.npy", "complements_indices.npy",
                  "complements_scores.npy", "item_categories.txt"));
  absl::StatusOr<ModelManifest> m =
      ParseModelManifest(ReadFile(absl::StrCat(dir, "/manifest.json")));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->format_version, 2);
  EXPECT_EQ(m->num_neighbors, 4);
  EXPECT_EQ(m->num_complements, 4);
  ASSERT_EQ(m->files.size(), 11u);
  for (const auto& [role, file] : m->files) {
    EXPECT_EQ(file.path, DefaultFileName(role));
    EXPECT_EQ(*Sha256File(absl::StrCat(dir, "/", file.path)), file.sha256)
        << role;
  }
}

TEST(WriteModelTest, Version2RoundTripsBothTables) {
  const ModelData d = TinyTwoTableModelData();
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(d, dir).ok());
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> m = LoadModel(dir);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->metadata().format_version, 2);
  EXPECT_EQ((*m)->version(), d.version);
  for (int32_t r = 0; r < 4; ++r) {
    for (const auto& [table, indptr, indices, scores] :
         {std::tuple(NeighborTable::kSubstitutes, &d.neighbor_indptr,
                     &d.neighbor_indices, &d.neighbor_scores),
          std::tuple(NeighborTable::kComplements, &d.complement_indptr,
                     &d.complement_indices, &d.complement_scores)}) {
      const NeighborList n = (*m)->Neighbors(r, table);
      const int64_t b = (*indptr)[r];
      const int64_t e = (*indptr)[r + 1];
      EXPECT_THAT(n.items,
                  ::testing::ElementsAreArray(indices->data() + b, e - b));
      EXPECT_THAT(n.scores,
                  ::testing::ElementsAreArray(scores->data() + b, e - b));
    }
  }
}

TEST(WriteModelTest, Version1OverVersion2RemovesComplementFiles) {
  const std::string dir = MakeTempDir();
  ASSERT_TRUE(WriteModel(TinyTwoTableModelData(), dir).ok());
  ASSERT_TRUE(WriteModel(TinyModelData(), dir).ok());
  EXPECT_EQ(ListDir(dir).size(), 9u);
  EXPECT_FALSE(ListDir(dir).contains("complements_indptr.npy"));
  absl::StatusOr<std::shared_ptr<const ModelSnapshot>> m = LoadModel(dir);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->metadata().format_version, 1);
  EXPECT_FALSE((*m)->has_complements());
}

TEST(WriteModelTest, RefusesComplementArraysNotMatchingIndptr) {
  ModelData d = TinyTwoTableModelData();
  d.complement_scores.pop_back();
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument,
                "complement_indptr ends at 4");
  d = TinyTwoTableModelData();
  d.complement_indptr.pop_back();
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument,
                "complement_indptr has 4 entries, expected 5");
  // Indices without an indptr are not "no table".
  d = TinyTwoTableModelData();
  d.complement_indptr.clear();
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument,
                "complement_indptr has 0 entries");
}

TEST(WriteModelTest, RefusesComplementContentThatSnapshotValidationRefuses) {
  ModelData d = TinyTwoTableModelData();
  d.complement_indices[0] = 0;  // i1 lists itself
  ExpectInvalid(d, absl::StatusCode::kFailedPrecondition,
                "complements_indices.npy: entry 0: item row 0 lists itself");
}

TEST(WriteModelTest, RefusesEmptyVersion) {
  ModelData d = TinyModelData();
  d.version = "";
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument, "version is empty");
}

TEST(WriteModelTest, RefusesZeroItems) {
  ModelData d = TinyModelData();
  d.item_ids.clear();
  d.item_factors.clear();
  d.item_categories.clear();
  d.neighbor_indptr = {0};
  d.neighbor_indices.clear();
  d.neighbor_scores.clear();
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument, "no items");
}

TEST(WriteModelTest, RefusesFactorCountNotMatchingIds) {
  ModelData d = TinyModelData();
  d.user_factors.pop_back();
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument, "user_factors has 5");
}

TEST(WriteModelTest, RefusesIdsThatCannotBeALine) {
  ModelData d = TinyModelData();
  d.item_ids[1] = "two\nlines";
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument, "item_ids[1]");
  d = TinyModelData();
  d.user_ids[0] = "crlf\r";
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument, "user_ids[0]");
}

TEST(WriteModelTest, RefusesCategoriesCountMismatch) {
  ModelData d = TinyModelData();
  d.item_categories.pop_back();
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument, "item_categories has 3");
}

TEST(WriteModelTest, RefusesNeighborArraysNotMatchingIndptr) {
  ModelData d = TinyModelData();
  d.neighbor_scores.pop_back();
  ExpectInvalid(d, absl::StatusCode::kInvalidArgument,
                "neighbor_indptr ends at 4");
}

TEST(WriteModelTest, RefusesContentThatSnapshotValidationRefuses) {
  ModelData d = TinyModelData();
  d.item_factors[3] = std::numeric_limits<float>::quiet_NaN();
  ExpectInvalid(d, absl::StatusCode::kFailedPrecondition, "item_factors.npy");
  d = TinyModelData();
  d.user_ids[2] = "u1";
  ExpectInvalid(d, absl::StatusCode::kFailedPrecondition, "duplicate id 'u1'");
  d = TinyModelData();
  d.neighbor_scores = {0.5f, 0.9f, 0.9f, 0.3f};  // not descending
  ExpectInvalid(d, absl::StatusCode::kFailedPrecondition,
                "neighbors_scores.npy");
}

}  // namespace
}  // namespace rerank
