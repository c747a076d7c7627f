#include "lifecycle/model_manager.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_loader.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::TempDir;
using ::rerank::testing::TinySnapshot;
using ::rerank::testing::WriteFile;
using ::rerank::testing::WriteTinyModel;
using ::testing::HasSubstr;

std::string Canonical(const std::string& path) {
  return std::filesystem::canonical(path).string();
}

class ResolveModelDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(root_.Sub("v1"));
    std::filesystem::create_directories(root_.Sub("2026-11-28/als64"));
    std::filesystem::create_directories(outside_.Sub("secret"));
  }

  TempDir root_;
  TempDir outside_;
};

TEST_F(ResolveModelDirTest, AcceptsDirectAndNestedDirs) {
  auto v1 = ResolveModelDir(root_.path(), "v1");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, Canonical(root_.Sub("v1")));

  auto nested = ResolveModelDir(root_.path(), "2026-11-28/als64");
  ASSERT_TRUE(nested.ok()) << nested.status();
  EXPECT_EQ(*nested, Canonical(root_.Sub("2026-11-28/als64")));

  // Trailing slash and "./" are harmless spellings of the same directory.
  auto dotted = ResolveModelDir(root_.path(), "./v1/");
  ASSERT_TRUE(dotted.ok()) << dotted.status();
  EXPECT_EQ(*dotted, Canonical(root_.Sub("v1")));
}

TEST_F(ResolveModelDirTest, AcceptsSymlinkStayingInsideRoot) {
  // The usual "current -> v1" deployment pattern.
  std::filesystem::create_directory_symlink("v1", root_.Sub("current"));
  auto current = ResolveModelDir(root_.path(), "current");
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(*current, Canonical(root_.Sub("v1")));
}

TEST_F(ResolveModelDirTest, RefusesEmpty) {
  EXPECT_EQ(ResolveModelDir(root_.path(), "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ResolveModelDirTest, RefusesDotDot) {
  for (const char* dir : {"..", "../x", "v1/../v1", "v1/..", "a/../../x"}) {
    auto resolved = ResolveModelDir(root_.path(), dir);
    EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument)
        << dir;
    EXPECT_THAT(resolved.status().message(), HasSubstr("..")) << dir;
  }
}

TEST_F(ResolveModelDirTest, RefusesAbsolutePaths) {
  for (const std::string& dir : {root_.Sub("v1"), std::string("/etc")}) {
    auto resolved = ResolveModelDir(root_.path(), dir);
    EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument)
        << dir;
    EXPECT_THAT(resolved.status().message(), HasSubstr("absolute")) << dir;
  }
}

TEST_F(ResolveModelDirTest, RefusesSymlinkEscapingRoot) {
  std::filesystem::create_directory_symlink(outside_.Sub("secret"),
                                            root_.Sub("evil"));
  auto resolved = ResolveModelDir(root_.path(), "evil");
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(resolved.status().message(), HasSubstr("outside the model root"));

  // A link deeper in the path, and a relative link climbing out.
  std::filesystem::create_directory_symlink("../../", root_.Sub("v1/up"));
  auto deep = ResolveModelDir(root_.path(), "v1/up");
  EXPECT_EQ(deep.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ResolveModelDirTest, MissingDirIsNotFound) {
  EXPECT_EQ(ResolveModelDir(root_.path(), "v9").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveModelDir(root_.path(), "v1/missing").status().code(),
            absl::StatusCode::kNotFound);
  // A file where a directory is expected.
  WriteFile(root_.Sub("file"), "x");
  EXPECT_EQ(ResolveModelDir(root_.path(), "file").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ModelManagerCreateTest, RefusesMissingOrEmptyRoot) {
  EXPECT_EQ(ModelManager::Create("").status().code(),
            absl::StatusCode::kInvalidArgument);
  TempDir root;
  EXPECT_EQ(ModelManager::Create(root.Sub("nope")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ModelManagerCreateTest, CanonicalizesRoot) {
  TempDir root;
  std::filesystem::create_directories(root.Sub("models"));
  auto manager = ModelManager::Create(root.Sub("./models/"));
  ASSERT_TRUE(manager.ok()) << manager.status();
  EXPECT_EQ((*manager)->model_root(), Canonical(root.Sub("models")));
  EXPECT_EQ((*manager)->store().Get(), nullptr);
}

class ModelManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteTinyModel(root_.path(), "a", "model-a");
    WriteTinyModel(root_.path(), "b", "model-b", /*flipped=*/true);
    auto manager =
        ModelManager::Create(root_.path(), [this](const ModelSnapshot& model) {
          loaded_versions_.push_back(model.version());
        });
    ASSERT_TRUE(manager.ok()) << manager.status();
    manager_ = std::move(manager).value();
  }

  TempDir root_;
  std::vector<std::string> loaded_versions_;
  std::unique_ptr<ModelManager> manager_;
};

TEST_F(ModelManagerTest, ReloadReturnsNewSnapshotAndFiresOnLoaded) {
  auto a = manager_->Reload("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->version(), "model-a");
  EXPECT_EQ((*a)->metadata().source_dir, Canonical(root_.Sub("a")));
  EXPECT_EQ(manager_->store().Get(), *a);

  auto b = manager_->ReloadWithResult("b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->model->version(), "model-b");
  EXPECT_EQ(b->previous, *a);
  EXPECT_EQ(b->dir, Canonical(root_.Sub("b")));
  EXPECT_GE(b->load_seconds, 0.0);
  EXPECT_EQ(manager_->store().Get(), b->model);

  EXPECT_THAT(loaded_versions_, ::testing::ElementsAre("model-a", "model-b"));
}

TEST_F(ModelManagerTest, FailedReloadKeepsOldModel) {
  ASSERT_TRUE(manager_->Reload("a").ok());
  const std::shared_ptr<const ModelSnapshot> served = manager_->store().Get();

  // A model that fails validation: a truncated factor file.
  WriteTinyModel(root_.path(), "corrupt", "model-corrupt");
  WriteFile(root_.Sub("corrupt/item_factors.npy"), "not an npy file");
  // A model whose manifest is not JSON.
  WriteTinyModel(root_.path(), "bad_manifest", "model-bad");
  WriteFile(root_.Sub("bad_manifest/manifest.json"), "{");

  struct Case {
    const char* dir;
    absl::StatusCode code;
  };
  for (const Case& c :
       {Case{"corrupt", absl::StatusCode::kDataLoss},
        Case{"bad_manifest", absl::StatusCode::kFailedPrecondition},
        Case{"missing", absl::StatusCode::kNotFound},
        Case{"../a", absl::StatusCode::kInvalidArgument},
        Case{"", absl::StatusCode::kInvalidArgument}}) {
    auto reloaded = manager_->Reload(c.dir);
    EXPECT_FALSE(reloaded.ok()) << c.dir;
    // Corrupt content may be caught as DATA_LOSS (checksum) or
    // FAILED_PRECONDITION (format) depending on which check runs first.
    if (c.code == absl::StatusCode::kDataLoss) {
      EXPECT_THAT(reloaded.status().code(),
                  ::testing::AnyOf(absl::StatusCode::kDataLoss,
                                   absl::StatusCode::kFailedPrecondition))
          << c.dir << ": " << reloaded.status();
    } else {
      EXPECT_EQ(reloaded.status().code(), c.code)
          << c.dir << ": " << reloaded.status();
    }
    EXPECT_EQ(manager_->store().Get(), served) << c.dir;
  }
  EXPECT_THAT(loaded_versions_, ::testing::ElementsAre("model-a"));
}

TEST_F(ModelManagerTest, RequestHoldingOldSnapshotKeepsItAliveAfterSwap) {
  ASSERT_TRUE(manager_->Reload("a").ok());
  // What a request does at its top: take the snapshot once.
  std::shared_ptr<const ModelSnapshot> held = manager_->store().Get();
  std::weak_ptr<const ModelSnapshot> watch = held;

  ASSERT_TRUE(manager_->Reload("b").ok());
  EXPECT_EQ(manager_->store().Get()->version(), "model-b");

  // The request still sees a complete, usable model A.
  ASSERT_FALSE(watch.expired());
  EXPECT_EQ(held->version(), "model-a");
  const int32_t row = held->FindItem("b");
  ASSERT_GE(row, 0);
  EXPECT_FLOAT_EQ(held->ItemFactors(row)[0], 0.9f);

  // ...and A is freed as soon as the last request drops it.
  held.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(ModelManagerFakeLoaderTest, LoaderGetsResolvedDirAndNullIsInternal) {
  TempDir root;
  std::filesystem::create_directories(root.Sub("x"));
  std::string seen;
  auto manager = ModelManager::Create(
      root.path(), nullptr,
      [&seen](const std::string& dir)
          -> absl::StatusOr<std::shared_ptr<const ModelSnapshot>> {
        seen = dir;
        return nullptr;
      });
  ASSERT_TRUE(manager.ok());
  EXPECT_EQ((*manager)->Reload("x").status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(seen, Canonical(root.Sub("x")));
  EXPECT_EQ((*manager)->store().Get(), nullptr);
}

TEST(ModelManagerFakeLoaderTest, ReadersAreNotBlockedDuringLoad) {
  TempDir root;
  std::filesystem::create_directories(root.Sub("a"));
  std::filesystem::create_directories(root.Sub("b"));
  auto model_a = TinySnapshot("model-a");
  auto model_b = TinySnapshot("model-b", true);
  absl::Notification loading_b;
  absl::Notification release_b;
  auto manager = ModelManager::Create(
      root.path(), nullptr,
      [&](const std::string& dir)
          -> absl::StatusOr<std::shared_ptr<const ModelSnapshot>> {
        if (dir.ends_with("/a")) return model_a;
        loading_b.Notify();
        release_b.WaitForNotification();
        return model_b;
      });
  ASSERT_TRUE(manager.ok());
  ModelManager& m = **manager;
  ASSERT_TRUE(m.Reload("a").ok());

  std::thread reload([&m] { EXPECT_TRUE(m.Reload("b").ok()); });
  loading_b.WaitForNotification();
  // A slow load is in progress under reload_mu_; readers still get A at once
  // (this would hang if Get() waited for the load).
  EXPECT_EQ(m.store().Get(), model_a);
  release_b.Notify();
  reload.join();
  EXPECT_EQ(m.store().Get(), model_b);
}

TEST(ModelManagerFakeLoaderTest, OnLoadedRunsOutsideLocks) {
  TempDir root;
  std::filesystem::create_directories(root.Sub("a"));
  std::filesystem::create_directories(root.Sub("b"));
  ModelManager* self = nullptr;
  std::vector<std::string> seen;
  auto manager = ModelManager::Create(
      root.path(),
      [&](const ModelSnapshot& model) {
        // Both would deadlock if on_loaded ran under the store's mutex or
        // reload_mu_ (absl::Mutex is not reentrant).
        seen.push_back(self->store().Get()->version());
        if (model.version() == "model-a") {
          EXPECT_TRUE(self->Reload("b").ok());
        }
      },
      [](const std::string& dir)
          -> absl::StatusOr<std::shared_ptr<const ModelSnapshot>> {
        return TinySnapshot(dir.ends_with("/a") ? "model-a" : "model-b");
      });
  ASSERT_TRUE(manager.ok());
  self = manager->get();
  ASSERT_TRUE(self->Reload("a").ok());
  EXPECT_THAT(seen, ::testing::ElementsAre("model-a", "model-b"));
}

// A loader returning TinySnapshot "model-<last path component>".
ModelManager::Loader FakeLoader() {
  return [](const std::string& dir)
             -> absl::StatusOr<std::shared_ptr<const ModelSnapshot>> {
    return TinySnapshot("model-" + dir.substr(dir.rfind('/') + 1));
  };
}

TEST(ModelManagerHooksTest, WarmerRunsOnTheNewModelBeforeTheSwap) {
  TempDir root;
  std::filesystem::create_directories(root.Sub("a"));
  std::filesystem::create_directories(root.Sub("b"));
  ModelManager* self = nullptr;
  std::vector<std::string> warmed;  // "<new> while serving <old>"
  ModelManagerHooks hooks;
  hooks.loader = FakeLoader();
  hooks.warmer = [&](const ModelSnapshot& model) {
    const auto served = self->store().Get();
    warmed.push_back(model.version() + " while serving " +
                     (served ? served->version() : "none"));
    return WarmupOutcome{5};
  };
  auto manager = ModelManager::Create(root.path(), std::move(hooks));
  ASSERT_TRUE(manager.ok()) << manager.status();
  self = manager->get();

  auto a = self->ReloadWithResult("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->warmup_requests, 5);
  EXPECT_GE(a->warmup_seconds, 0.0);
  ASSERT_TRUE(self->Reload("b").ok());
  EXPECT_THAT(warmed, ::testing::ElementsAre("model-a while serving none",
                                             "model-b while serving model-a"));
  EXPECT_EQ(self->store().Get()->version(), "model-b");
}

TEST(ModelManagerHooksTest, OnReloadDoneSeesEveryOutcomeInOrder) {
  TempDir root;
  std::filesystem::create_directories(root.Sub("a"));
  std::filesystem::create_directories(root.Sub("b"));
  std::vector<std::string> outcomes;
  ModelManagerHooks hooks;
  hooks.loader = FakeLoader();
  hooks.on_reload_done = [&](const absl::StatusOr<ReloadResult>& result) {
    outcomes.push_back(result.ok()
                           ? result->model->version()
                           : absl::StatusCodeToString(result.status().code()));
  };
  auto manager = ModelManager::Create(root.path(), std::move(hooks));
  ASSERT_TRUE(manager.ok()) << manager.status();
  ASSERT_TRUE((*manager)->Reload("a").ok());
  EXPECT_FALSE((*manager)->Reload("missing").ok());
  EXPECT_FALSE((*manager)->Reload("../a").ok());
  ASSERT_TRUE((*manager)->Reload("b").ok());
  EXPECT_THAT(outcomes, ::testing::ElementsAre("model-a", "NOT_FOUND",
                                               "INVALID_ARGUMENT", "model-b"));
}

// The resolve-then-load window: the directory checked by ResolveModelDir
// is turned into a link out of the root before the loader opens it. The
// loader would read outside; the post-load check refuses the result.
TEST(ModelManagerHooksTest, DirectoryTurnedIntoLinkOutOfRootIsRefused) {
  TempDir root;
  TempDir outside;
  WriteTinyModel(root.path(), "a", "model-a");
  WriteTinyModel(root.path(), "v", "model-v");
  WriteTinyModel(outside.path(), "secret", "model-outside");
  ModelManagerHooks hooks;
  hooks.loader = [&](const std::string& dir) {
    if (dir.ends_with("/v")) {
      std::filesystem::rename(dir, dir + ".old");
      std::filesystem::create_directory_symlink(outside.Sub("secret"), dir);
    }
    return LoadModel(dir);
  };
  auto manager = ModelManager::Create(root.path(), std::move(hooks));
  ASSERT_TRUE(manager.ok()) << manager.status();
  ASSERT_TRUE((*manager)->Reload("a").ok());
  auto refused = (*manager)->Reload("v");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("outside the model root while loading"));
  EXPECT_EQ((*manager)->store().Get()->version(), "model-a");
}

// What a file swapped inside the directory after the manifest was read
// would give the loader: the manifest of one model and a file of another.
// Checksums catch it; the model is never served half old, half new.
TEST(ModelManagerHooksTest, MixedModelDirectoryIsRefused) {
  TempDir root;
  WriteTinyModel(root.path(), "a", "model-a");
  WriteTinyModel(root.path(), "mixed", "model-mixed");
  WriteTinyModel(root.path(), "other", "model-other", /*flipped=*/true);
  std::filesystem::copy_file(root.Sub("other/item_factors.npy"),
                             root.Sub("mixed/item_factors.npy"),
                             std::filesystem::copy_options::overwrite_existing);
  auto manager = ModelManager::Create(root.path());
  ASSERT_TRUE(manager.ok()) << manager.status();
  ASSERT_TRUE((*manager)->Reload("a").ok());
  auto refused = (*manager)->Reload("mixed");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(refused.status().message(), HasSubstr("item_factors.npy"));
  EXPECT_EQ((*manager)->store().Get()->version(), "model-a");
}

}  // namespace
}  // namespace rerank
