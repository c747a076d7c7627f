// Runs the built rerankd binary as a subprocess: start-up line, a real call,
// SIGTERM -> exit 0 (also in the middle of a load, with no accepted call
// failing), kill -9 then a restart on the same port, and refusals -> exit 1
// with the reason. Bounded waits only (poll with a deadline on the child's
// stderr), never sleeps.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "tests/server/rerankd_child.h"
#include "tests/server/server_test_util.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::TempDir;
using ::rerank::testing::WriteFile;
using ::rerank::testing::WriteTinyModel;
using ::testing::HasSubstr;

using ::rerank::testing::Child;
using ::rerank::testing::kEphemeralPorts;
using ::rerank::testing::PortAfter;
using ::rerank::testing::PortFromServingLine;
using ::rerank::testing::U1Request;
using ::rerank::testing::With;

TEST(RerankdBinaryTest, ServesThenExitsZeroOnSigterm) {
  TempDir dir;
  WriteTinyModel(dir.Sub("models"), "a", "model-a");
  const std::string config = dir.Sub("config.json");
  WriteFile(config, absl::StrCat(R"({"listen_address": "127.0.0.1:0",
      "admin_listen_address": "127.0.0.1:0",
      "metrics_listen_address": "127.0.0.1:0",
      "model_root": ")",
                                 dir.Sub("models"), R"(",
      "initial_model": "a", "shutdown_grace_seconds": 5,
      "logging": {"format": "json"}})"));

  Child child({absl::StrCat("--config=", config)});
  const std::string ready = child.WaitForLine("serving on");
  ASSERT_FALSE(ready.empty()) << child.AllOutput();
  EXPECT_THAT(ready, HasSubstr("model model-a"));
  EXPECT_THAT(ready, ::testing::StartsWith(R"({"ts":")"));
  const int port = PortFromServingLine(ready);
  ASSERT_GT(port, 0) << ready;
  EXPECT_GT(PortAfter(ready, "admin on 127.0.0.1:"), 0) << ready;
  const int metrics_port = PortAfter(ready, "metrics on http://127.0.0.1:");
  ASSERT_GT(metrics_port, 0) << ready;

  {
    // Scoped: an idle client only notices the server's GOAWAY at its next
    // poll (gRPC's backup poller, 5 s), which would stretch the shutdown to
    // the full grace. Closing the channel first keeps the test fast.
    auto stub = v1::Reranker::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RerankRequest request;
    request.set_user_id("u1");
    for (const char* id : {"a", "b", "c"}) {
      request.add_candidates()->set_item_id(id);
    }
    v1::RerankResponse response;
    const grpc::Status status = stub->Rerank(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.model_version(), "model-a");
    ASSERT_EQ(response.items_size(), 3);
    EXPECT_EQ(response.items(0).item_id(), "b");
  }
  absl::StatusOr<std::string> metrics =
      testing::HttpGet(metrics_port, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(
      testing::MetricValue(
          *metrics, R"(rerank_requests_total{code="OK",method="Rerank"})"),
      ::testing::Optional(1.0));

  child.Signal(SIGTERM);
  EXPECT_EQ(child.WaitForExit(), 0) << child.AllOutput();
  EXPECT_THAT(child.AllOutput(), HasSubstr("received SIGTERM"));
  EXPECT_THAT(child.AllOutput(), HasSubstr("rerankd stopped"));
}

// SIGTERM while client threads hammer the server. A call is "accepted" when
// it reached the server's handler. A call that was not accepted fails with
// UNAVAILABLE (connection refused once the listener is closed, or a stream
// refused by GOAWAY) or CANCELLED (a stream that reached the server after
// shutdown began, before the client saw GOAWAY: gRPC kills it before any
// handler runs -- server_integration_test's
// ShutdownUnderLoadFailsNoAcceptedCall proves that by counting handler
// runs). The server itself never answers either while a model is loaded and
// the grace has not run out (checked: shutdown ends well within it). So:
// every other outcome must be OK, and the process exits 0.
TEST(RerankdBinaryTest, SigtermUnderLoadFailsNoAcceptedCall) {
  constexpr int kClients = 4;
  constexpr int kCallsBeforeSignal = 300;
  TempDir dir;
  WriteTinyModel(dir.Sub("models"), "a", "model-a");
  Child child(
      With(kEphemeralPorts, {absl::StrCat("--model_root=", dir.Sub("models")),
                             "--initial_model=a", "--log_format=json"}));
  const std::string ready = child.WaitForLine("serving on");
  ASSERT_FALSE(ready.empty()) << child.AllOutput();
  const int port = PortFromServingLine(ready);
  ASSERT_GT(port, 0) << ready;

  // Unknown candidates make each call do a little more work, so calls are
  // in flight when the signal lands.
  v1::RerankRequest request = U1Request();
  for (int i = 0; i < 200; ++i) {
    request.add_candidates()->set_item_id(absl::StrCat("unknown-", i));
  }
  std::atomic<int> ok{0};
  std::atomic<int> not_accepted{0};  // UNAVAILABLE: listener closed
  std::atomic<int> killed{0};        // CANCELLED before the handler
  std::atomic<int> failed{0};
  absl::Mutex mu;
  std::string first_failure;
  std::atomic<bool> notified{false};
  absl::Notification enough;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      // One channel (connection) per client, closed when the thread ends.
      auto stub = v1::Reranker::NewStub(
          grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                              grpc::InsecureChannelCredentials()));
      while (true) {
        grpc::ClientContext context;
        context.set_deadline(
            absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        v1::RerankResponse response;
        const grpc::Status status = stub->Rerank(&context, request, &response);
        if (status.ok()) {
          // exchange: two threads may pass the threshold at once, and
          // Notify must run exactly once.
          if (++ok >= kCallsBeforeSignal && !notified.exchange(true)) {
            enough.Notify();
          }
        } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
          // The server stopped accepting: every later call would be refused
          // the same way.
          ++not_accepted;
          return;
        } else if (status.error_code() == grpc::StatusCode::CANCELLED) {
          ++killed;
        } else {
          ++failed;
          absl::MutexLock lock(&mu);
          if (first_failure.empty()) {
            first_failure =
                absl::StrCat(status.error_code(), " ", status.error_message());
          }
        }
      }
    });
  }
  // Bounded, so that a server that stopped answering (or died) fails the
  // test with its output instead of hanging it: every client returns once
  // the server is gone, and nothing else would notify.
  const bool warmed = enough.WaitForNotificationWithTimeout(absl::Seconds(120));
  if (!warmed) {
    child.Signal(SIGKILL);
    child.WaitForExit();
    for (std::thread& t : clients) t.join();
    FAIL() << "only " << ok.load() << " calls succeeded before the signal ("
           << failed.load() << " failed: " << first_failure << ")\n"
           << child.AllOutput();
  }
  const absl::Time signalled = absl::Now();
  child.Signal(SIGTERM);
  const int exit_status = child.WaitForExit();
  const absl::Duration shutdown = absl::Now() - signalled;
  for (std::thread& t : clients) t.join();

  EXPECT_EQ(exit_status, 0) << child.AllOutput();
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GE(ok.load(), kCallsBeforeSignal);
  EXPECT_EQ(not_accepted.load(), kClients);
  RecordProperty("killed_before_the_handler", killed.load());
  // Within the default grace (10 s): in-flight calls finish in microseconds,
  // so no accepted call was cut off by the grace (which would also read
  // CANCELLED).
  EXPECT_LT(shutdown, absl::Seconds(10));
  EXPECT_THAT(child.AllOutput(), HasSubstr("received SIGTERM"));
  EXPECT_THAT(child.AllOutput(), HasSubstr("rerankd stopped"));
}

// kill -9 leaves the killed server's connections in TIME_WAIT/FIN_WAIT on
// its port. gRPC binds with SO_REUSEADDR (and rerankd turns SO_REUSEPORT
// off), so a new rerankd can bind the same port at once.
TEST(RerankdBinaryTest, RestartsOnTheSamePortAfterKill9) {
  TempDir dir;
  WriteTinyModel(dir.Sub("models"), "a", "model-a");
  const std::vector<std::string> model = {
      absl::StrCat("--model_root=", dir.Sub("models")), "--initial_model=a",
      "--admin_listen=127.0.0.1:0", "--metrics_listen=off"};
  auto call = [](int port) {
    auto stub = v1::Reranker::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RerankResponse response;
    return stub->Rerank(&context, U1Request(), &response);
  };

  int port = 0;
  {
    Child first(With({"--listen=127.0.0.1:0"}, model));
    const std::string ready = first.WaitForLine("serving on");
    ASSERT_FALSE(ready.empty()) << first.AllOutput();
    port = PortFromServingLine(ready);
    ASSERT_GT(port, 0);
    // A connection that is open when the process dies.
    auto stub = v1::Reranker::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RerankResponse response;
    ASSERT_TRUE(stub->Rerank(&context, U1Request(), &response).ok());
    first.Signal(SIGKILL);
    EXPECT_EQ(first.WaitForExit(), -1);  // killed, not exited
  }

  Child second(With({absl::StrCat("--listen=127.0.0.1:", port)}, model));
  const std::string ready = second.WaitForLine("serving on");
  ASSERT_FALSE(ready.empty()) << second.AllOutput();
  EXPECT_EQ(PortFromServingLine(ready), port);
  const grpc::Status status = call(port);
  EXPECT_TRUE(status.ok()) << status.error_message();
  second.Signal(SIGTERM);
  EXPECT_EQ(second.WaitForExit(), 0) << second.AllOutput();
}

TEST(RerankdBinaryTest, NoModelWaitsForReloadAndSigintExitsZero) {
  Child child(With(kEphemeralPorts, {"--log_format=text"}));
  const std::string ready = child.WaitForLine("serving on");
  ASSERT_FALSE(ready.empty()) << child.AllOutput();
  EXPECT_THAT(ready, HasSubstr("waiting for Reload"));
  child.Signal(SIGINT);
  EXPECT_EQ(child.WaitForExit(), 0) << child.AllOutput();
}

TEST(RerankdBinaryTest, FlagsOverrideTheFileBeforeValidation) {
  TempDir dir;
  WriteTinyModel(dir.Sub("models"), "a", "model-a");
  const std::string config = dir.Sub("config.json");
  // The file's model_root does not exist here; the flag fixes it.
  WriteFile(config, R"({"listen_address": "127.0.0.1:50051",
      "model_root": "/nonexistent/models", "initial_model": "a"})");
  Child child(With(kEphemeralPorts,
                   {absl::StrCat("--config=", config),
                    absl::StrCat("--model_root=", dir.Sub("models"))}));
  const std::string ready = child.WaitForLine("serving on");
  ASSERT_FALSE(ready.empty()) << child.AllOutput();
  EXPECT_THAT(ready, HasSubstr("model model-a"));
  EXPECT_GT(PortFromServingLine(ready), 0) << ready;
  child.Signal(SIGTERM);
  EXPECT_EQ(child.WaitForExit(), 0) << child.AllOutput();
}

TEST(RerankdBinaryTest, BadConfigExitsOneNamingTheKey) {
  TempDir dir;
  const std::string config = dir.Sub("config.json");
  WriteFile(config, R"({"limits": {"max_candidates": 0}})");
  Child child({absl::StrCat("--config=", config)});
  EXPECT_EQ(child.WaitForExit(), 1);
  EXPECT_THAT(child.AllOutput(),
              HasSubstr("limits.max_candidates must be > 0"));
}

TEST(RerankdBinaryTest, BadFlagOverrideExitsOne) {
  Child child({"--listen=no-port-here"});
  EXPECT_EQ(child.WaitForExit(), 1);
  EXPECT_THAT(child.AllOutput(), HasSubstr("listen_address"));
}

TEST(RerankdBinaryTest, MissingInitialModelExitsOneWithReason) {
  TempDir dir;
  std::filesystem::create_directories(dir.Sub("models"));
  Child child(
      With(kEphemeralPorts, {absl::StrCat("--model_root=", dir.Sub("models")),
                             "--initial_model=v9"}));
  EXPECT_EQ(child.WaitForExit(), 1);
  EXPECT_THAT(child.AllOutput(), HasSubstr("initial_model \"v9\""));
}

}  // namespace
}  // namespace rerank
