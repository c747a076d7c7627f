// Faults end to end through an in-process RerankServer over gRPC: broken
// model directories and a symlink out of the model root are refused by
// Reload while the old model keeps serving, 100 reloads under continuous
// Rerank load fail no call, and neither does rewriting or deleting the served
// model's files under load.

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "server/server.h"
#include "spdlog/spdlog.h"
#include "tests/server/server_test_util.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::BrokenModel;
using ::rerank::testing::TempDir;
using ::rerank::testing::U1Request;
using ::rerank::testing::WriteBrokenModels;
using ::rerank::testing::WriteTinyModel;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(10);

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteTinyModel(root_.path(), "a", "model-a");
    WriteTinyModel(root_.path(), "b", "model-b", /*flipped=*/true);
    config_.set_listen_address("127.0.0.1:0");
    config_.set_admin_listen_address("127.0.0.1:0");
    config_.set_metrics_listen_address("off");
    config_.set_model_root(root_.path());
    config_.set_initial_model("a");
    // Every log line of 100 reloads is noise here.
    config_.mutable_logging()->set_level("error");
    spdlog::set_level(spdlog::level::err);
  }

  void Start() {
    auto server = RerankServer::Create(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    admin_ = v1::ModelAdmin::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->admin_port()),
                            grpc::InsecureChannelCredentials()));
  }

  grpc::Status Reload(const std::string& dir) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
    v1::ReloadRequest request;
    request.set_model_dir(dir);
    v1::ReloadResponse response;
    return admin_->Reload(&context, request, &response);
  }

  // OK and internally consistent: model A ranks b first, model B ranks a
  // first (TinyModel). Anything else is a failed call.
  static bool ConsistentAnswer(const grpc::Status& status,
                               const v1::RerankResponse& response) {
    if (!status.ok() || response.items_size() != 3) return false;
    const std::string& top = response.items(0).item_id();
    return (response.model_version() == "model-a" && top == "b") ||
           (response.model_version() == "model-b" && top == "a");
  }

  std::string ServedVersion() {
    auto stub = v1::Reranker::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
    v1::RerankResponse response;
    const grpc::Status status = stub->Rerank(&context, U1Request(), &response);
    EXPECT_TRUE(ConsistentAnswer(status, response))
        << status.error_message() << " " << response.ShortDebugString();
    return response.model_version();
  }

  TempDir root_;
  TempDir outside_;
  v1::ServerConfig config_;
  std::unique_ptr<RerankServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ModelAdmin::Stub> admin_;
};

TEST_F(FaultTest, BrokenModelFilesAreRefusedAndOldModelKeepsServing) {
  const std::vector<BrokenModel> broken = WriteBrokenModels(root_.path());
  Start();
  for (const BrokenModel& b : broken) {
    SCOPED_TRACE(b.dir);
    const grpc::Status status = Reload(b.dir);
    EXPECT_EQ(static_cast<int>(status.error_code()), static_cast<int>(b.code))
        << status.error_message();
    EXPECT_FALSE(status.error_message().empty());
    EXPECT_EQ(ServedVersion(), "model-a");
  }
  // And a good reload still works afterwards.
  ASSERT_TRUE(Reload("b").ok());
  EXPECT_EQ(ServedVersion(), "model-b");
}

TEST_F(FaultTest, SymlinkOutOfTheRootIsRefused) {
  WriteTinyModel(outside_.path(), "secret", "model-outside");
  std::filesystem::create_directory_symlink(outside_.Sub("secret"),
                                            root_.Sub("evil"));
  // A link inside the root to a directory that is itself a link out.
  std::filesystem::create_directories(root_.Sub("nested"));
  std::filesystem::create_directory_symlink("../evil", root_.Sub("nested/up"));
  Start();
  for (const char* dir : {"evil", "nested/up"}) {
    SCOPED_TRACE(dir);
    const grpc::Status status = Reload(dir);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("outside the model root"));
    EXPECT_EQ(ServedVersion(), "model-a");
  }
}

TEST_F(FaultTest, HundredReloadsUnderLoadFailNoCall) {
  constexpr int kClients = 4;
  constexpr int kReloads = 100;
  // Every client keeps calling until the reloads are done and it has made
  // at least this many calls, so each overlaps with swaps.
  constexpr int kMinCallsPerClient = 50;
  Start();

  struct ClientStats {
    int calls = 0;
    int failures = 0;
    int saw_a = 0;
    int saw_b = 0;
    std::string first_failure;
  };
  std::vector<ClientStats> stats(kClients);
  std::atomic<bool> reloads_done{false};
  absl::BlockingCounter ready(kClients);
  absl::Notification go;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      ClientStats& s = stats[c];
      auto stub = v1::Reranker::NewStub(channel_);
      const v1::RerankRequest request = U1Request();
      ready.DecrementCount();
      go.WaitForNotification();
      while (!reloads_done.load() || s.calls < kMinCallsPerClient) {
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
        v1::RerankResponse response;
        const grpc::Status status = stub->Rerank(&context, request, &response);
        ++s.calls;
        if (!ConsistentAnswer(status, response)) {
          if (s.failures++ == 0) {
            s.first_failure =
                absl::StrCat(status.error_code(), " ", status.error_message(),
                             " ", response.ShortDebugString());
          }
        } else if (response.model_version() == "model-a") {
          ++s.saw_a;
        } else {
          ++s.saw_b;
        }
      }
    });
  }

  ready.Wait();
  go.Notify();
  int reload_failures = 0;
  for (int i = 0; i < kReloads; ++i) {
    const grpc::Status status = Reload(i % 2 == 0 ? "b" : "a");
    if (!status.ok()) ++reload_failures;
  }
  reloads_done.store(true);
  for (std::thread& t : clients) t.join();

  EXPECT_EQ(reload_failures, 0);
  int calls = 0;
  for (int c = 0; c < kClients; ++c) {
    SCOPED_TRACE(c);
    EXPECT_EQ(stats[c].failures, 0) << stats[c].first_failure;
    calls += stats[c].calls;
  }
  EXPECT_GE(calls, kClients * kMinCallsPerClient);
  // 100 reloads end on "a" (the last, i = 99, is odd).
  EXPECT_EQ(ServedVersion(), "model-a");
}

// The served model's files are truncated, then overwritten in place, then
// deleted while four clients call without pause: rerankd read them into
// private memory at load (model_copy_max_bytes unset: copy every file), so
// every call still gets model A's right answer; reloading the deleted
// directory is refused cleanly, and later reloads work.
TEST_F(FaultTest, ServedFilesTruncatedOverwrittenAndDeletedUnderLoadFailNoCall) {
  constexpr int kClients = 4;
  // Calls every client makes after each fault before the next.
  constexpr int kCallsBetweenFaults = 20;
  Start();
  ASSERT_EQ(ServedVersion(), "model-a");

  absl::Mutex mu;
  std::vector<int> calls(kClients, 0);  // guarded by mu
  int failures = 0;                     // guarded by mu
  std::string first_failure;            // guarded by mu
  std::atomic<bool> done{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::Reranker::NewStub(channel_);
      const v1::RerankRequest request = U1Request();
      while (!done.load()) {
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
        v1::RerankResponse response;
        const grpc::Status status = stub->Rerank(&context, request, &response);
        const bool right = ConsistentAnswer(status, response) &&
                           response.model_version() == "model-a";
        absl::MutexLock lock(&mu);
        ++calls[c];
        if (!right && failures++ == 0) {
          first_failure =
              absl::StrCat(status.error_code(), " ", status.error_message(),
                           " ", response.ShortDebugString());
        }
      }
    });
  }
  // Returns once every client has made kCallsBetweenFaults more calls.
  auto let_clients_call = [&] {
    std::vector<int> target;
    {
      absl::MutexLock lock(&mu);
      for (int n : calls) target.push_back(n + kCallsBetweenFaults);
    }
    struct Wait {
      const std::vector<int>* calls;
      const std::vector<int>* target;
    } wait{&calls, &target};
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](Wait* w) {
          for (size_t c = 0; c < w->calls->size(); ++c) {
            if ((*w->calls)[c] < (*w->target)[c]) return false;
          }
          return true;
        },
        &wait));
  };

  let_clients_call();
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(root_.Sub("a"))) {
    files.push_back(entry.path());
  }
  ASSERT_GE(files.size(), 5u);
  // 1. Every file truncated to nothing.
  std::vector<uintmax_t> sizes;
  for (const auto& file : files) {
    sizes.push_back(std::filesystem::file_size(file));
    std::filesystem::resize_file(file, 0);
  }
  let_clients_call();
  // 2. Every file rewritten in place (same inode, as `cp` over it does)
  // with bytes that are no model at all.
  for (size_t i = 0; i < files.size(); ++i) {
    std::FILE* f = std::fopen(files[i].c_str(), "r+b");
    ASSERT_NE(f, nullptr) << files[i];
    const std::string junk(static_cast<size_t>(sizes[i]) + 4096, '\xff');
    ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
    ASSERT_EQ(std::fclose(f), 0);
  }
  let_clients_call();
  // 3. The whole directory deleted.
  std::filesystem::remove_all(root_.Sub("a"));
  let_clients_call();

  // Reloading what is gone is refused and changes nothing; other reloads
  // work, including the directory written again.
  const grpc::Status gone = Reload("a");
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::NOT_FOUND)
      << gone.error_message();
  let_clients_call();
  done.store(true);
  for (std::thread& t : clients) t.join();
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(failures, 0) << first_failure;
    for (int c = 0; c < kClients; ++c) {
      EXPECT_GE(calls[c], 5 * kCallsBetweenFaults) << c;
    }
  }
  EXPECT_EQ(ServedVersion(), "model-a");
  ASSERT_TRUE(Reload("b").ok());
  EXPECT_EQ(ServedVersion(), "model-b");
  WriteTinyModel(root_.path(), "a", "model-a");
  ASSERT_TRUE(Reload("a").ok());
  EXPECT_EQ(ServedVersion(), "model-a");
}

}  // namespace
}  // namespace rerank
