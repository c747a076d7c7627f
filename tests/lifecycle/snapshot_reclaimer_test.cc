// Retired model snapshots are freed off the serving threads: the thread that
// drops the last reference only hands the snapshot over (SnapshotReclaimer).
// Asserts on which thread the destructor runs, never on timing.

#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lifecycle/model_manager.h"
#include "model/model_snapshot.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::TempDir;
using ::rerank::testing::TinyModel;

// Records, per snapshot version, the thread that destroyed it. std::mutex
// and std::condition_variable: this test runs under ThreadSanitizer, which
// cannot see Debian's uninstrumented absl::Mutex.
class DestructionLog {
 public:
  // A real (tiny) snapshot whose deletion is recorded here.
  std::shared_ptr<const ModelSnapshot> Make(const std::string& version) {
    auto made = ModelSnapshot::FromData(TinyModel(version));
    EXPECT_TRUE(made.ok()) << made.status();
    if (!made.ok()) return nullptr;
    return std::shared_ptr<const ModelSnapshot>(
        made->release(), [this, version](const ModelSnapshot* snapshot) {
          delete snapshot;
          std::lock_guard<std::mutex> lock(mu_);
          freed_by_[version] = std::this_thread::get_id();
          changed_.notify_all();
        });
  }

  bool Freed(const std::string& version) {
    std::lock_guard<std::mutex> lock(mu_);
    return freed_by_.count(version) > 0;
  }

  // Waits (no time limit: ctest's timeout catches a hang) until `version`
  // is freed and returns the thread that freed it.
  std::thread::id WaitFreed(const std::string& version) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return freed_by_.count(version) > 0; });
    return freed_by_[version];
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, std::thread::id> freed_by_;  // guarded by mu_
};

// A one-shot flag a thread can wait for.
class Signal {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

class SnapshotReclaimerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // ResolveModelDir wants real directories; the loader is a fake.
    std::filesystem::create_directory(root_.Sub("v1"));
    std::filesystem::create_directory(root_.Sub("v2"));
    auto manager = ModelManager::Create(
        root_.path(), /*on_loaded=*/nullptr, [this](const std::string& dir) {
          return absl::StatusOr<std::shared_ptr<const ModelSnapshot>>(
              log_.Make(std::filesystem::path(dir).filename().string()));
        });
    ASSERT_TRUE(manager.ok()) << manager.status();
    manager_ = std::move(manager).value();
  }

  TempDir root_;
  DestructionLog log_;
  std::unique_ptr<ModelManager> manager_;
};

TEST_F(SnapshotReclaimerTest,
       RequestThreadDroppingTheLastReferenceDoesNotFree) {
  ASSERT_TRUE(manager_->Reload("v1").ok());
  Signal got_model;
  Signal swapped;
  std::thread::id request_thread;
  bool alive_until_released = false;
  std::thread request([&] {
    request_thread = std::this_thread::get_id();
    // A call in flight: it took the served snapshot before the reload.
    std::shared_ptr<const ModelSnapshot> model = manager_->store().Get();
    got_model.Notify();
    swapped.Wait();
    // The store and the reload no longer hold v1: this is the last
    // reference, and the snapshot is still intact for the call.
    alive_until_released = !log_.Freed("v1") && model->version() == "v1";
    model.reset();
  });
  got_model.Wait();
  // The reload's result (which names the replaced model) is dropped here.
  ASSERT_TRUE(manager_->Reload("v2").ok());
  swapped.Notify();
  request.join();

  const std::thread::id freed_by = log_.WaitFreed("v1");
  EXPECT_TRUE(alive_until_released);
  EXPECT_NE(freed_by, request_thread);
  EXPECT_NE(freed_by, std::this_thread::get_id());
  EXPECT_EQ(manager_->store().Get()->version(), "v2");
}

TEST_F(SnapshotReclaimerTest, ReloadThreadDroppingTheLastReferenceDoesNotFree) {
  ASSERT_TRUE(manager_->Reload("v1").ok());
  ASSERT_TRUE(manager_->Reload("v2").ok());  // no reader: the reload drops v1
  EXPECT_NE(log_.WaitFreed("v1"), std::this_thread::get_id());
}

TEST_F(SnapshotReclaimerTest, ServedModelIsFreedAtShutdown) {
  ASSERT_TRUE(manager_->Reload("v1").ok());
  manager_.reset();
  // Freed by the reclaimer before its thread was joined.
  EXPECT_TRUE(log_.Freed("v1"));
  EXPECT_NE(log_.WaitFreed("v1"), std::this_thread::get_id());
}

TEST(SnapshotReclaimerAloneTest, ReleaseAfterTheReclaimerIsGoneFreesInline) {
  DestructionLog log;
  std::shared_ptr<const ModelSnapshot> adopted;
  {
    SnapshotReclaimer reclaimer;
    adopted = reclaimer.Adopt(log.Make("v1"));
    EXPECT_EQ(reclaimer.Adopt(nullptr), nullptr);
  }
  ASSERT_NE(adopted, nullptr);
  EXPECT_EQ(adopted->version(), "v1");
  EXPECT_FALSE(log.Freed("v1"));
  adopted.reset();
  EXPECT_EQ(log.WaitFreed("v1"), std::this_thread::get_id());
}

TEST(SnapshotReclaimerAloneTest, ManyRetirementsFromManyThreads) {
  DestructionLog log;
  SnapshotReclaimer reclaimer;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto adopted = reclaimer.Adopt(log.Make(absl::StrCat("t", t, "-", i)));
        std::shared_ptr<const ModelSnapshot> reader = adopted;
        adopted.reset();
        reader.reset();  // last reference, on this thread
      }
    });
  }
  std::vector<std::thread::id> ids;
  for (auto& thread : threads) {
    ids.push_back(thread.get_id());
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::thread::id freed_by =
          log.WaitFreed(absl::StrCat("t", t, "-", i));
      EXPECT_NE(freed_by, ids[t]);
      EXPECT_NE(freed_by, std::this_thread::get_id());
    }
  }
}

}  // namespace
}  // namespace rerank
