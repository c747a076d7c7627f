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
#include "tests/server/server_test_util.h"
#include "tests/service/test_models.h"

extern char** environ;

namespace rerank {
namespace {

using ::rerank::testing::TempDir;
using ::rerank::testing::WriteFile;
using ::rerank::testing::WriteTinyModel;
using ::testing::HasSubstr;

constexpr absl::Duration kTimeout = absl::Seconds(60);

std::string RerankdPath() {
  return std::string(RERANK_BINARY_DIR) + "/src/server/rerankd";
}

// A rerankd child process with its stderr on a pipe.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    std::vector<std::string> argv_storage = {RerankdPath()};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc =
        posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    EXPECT_EQ(rc, 0) << "posix_spawn " << argv[0];
    if (rc != 0) pid_ = -1;
    read_fd_ = fds[0];
  }

  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(read_fd_);
  }

  // Reads stderr until a line contains `needle` (returns it) or EOF/timeout
  // (returns "").
  std::string WaitForLine(absl::string_view needle) {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (true) {
      size_t nl;
      while ((nl = buffer_.find('\n')) != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        lines_.push_back(line);
        if (absl::StrContains(line, needle)) return line;
      }
      if (!ReadSome(deadline)) return "";
    }
  }

  // Reads until EOF (the child closed stderr, i.e. exited) and reaps it.
  // Returns the exit status, or -1 on timeout or a signal death.
  int WaitForExit() {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (ReadSome(deadline)) {
    }
    if (!eof_) return -1;
    for (absl::string_view line : absl::StrSplit(buffer_, '\n')) {
      if (!line.empty()) lines_.emplace_back(line);
    }
    buffer_.clear();
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void Signal(int sig) { kill(pid_, sig); }
  const std::vector<std::string>& lines() const { return lines_; }
  std::string AllOutput() const { return absl::StrJoin(lines_, "\n"); }

 private:
  bool ReadSome(absl::Time deadline) {
    if (eof_) return false;
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd pfd{read_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(ms)) <= 0) return false;
    char chunk[4096];
    const ssize_t n = read(read_fd_, chunk, sizeof(chunk));
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int read_fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
  std::vector<std::string> lines_;
};

// The port after `marker` in `line` (e.g. "serving on 127.0.0.1:"), or 0.
int PortAfter(const std::string& line, const std::string& marker) {
  const size_t at = line.find(marker);
  if (at == std::string::npos) return 0;
  const std::string rest = line.substr(at + marker.size());
  int port = 0;
  const std::string digits =
      rest.substr(0, rest.find_first_not_of("0123456789"));
  return absl::SimpleAtoi(digits, &port) ? port : 0;
}

// "... serving on 127.0.0.1:PORT (...)..." -> PORT.
int PortFromServingLine(const std::string& line) {
  return PortAfter(line, "serving on 127.0.0.1:");
}

// Flags that keep a test rerankd off the fixed default admin and metrics
// ports (tests run in parallel).
const std::vector<std::string> kEphemeralPorts = {"--listen=127.0.0.1:0",
                                                  "--admin_listen=127.0.0.1:0",
                                                  "--metrics_listen=off"};

std::vector<std::string> With(std::vector<std::string> args,
                              const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

v1::RerankRequest U1Request() {
  v1::RerankRequest request;
  request.set_user_id("u1");
  for (const char* id : {"a", "b", "c"}) {
    request.add_candidates()->set_item_id(id);
  }
  return request;
}

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
          if (++ok >= kCallsBeforeSignal && !enough.HasBeenNotified()) {
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
