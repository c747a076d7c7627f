#include "loadgen/runner.h"

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"
#include "loadgen/request_pool.h"
#include "rerank/v1/rerank.grpc.pb.h"

namespace rerank::loadgen {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Marker user ids the fake service reacts to.
constexpr char kInvalidUser[] = "marked-invalid";
constexpr char kHangUser[] = "marked-hang";
constexpr char kWrongEchoUser[] = "marked-wrong-echo";

// Echoes the candidates in input order. kInvalidUser -> INVALID_ARGUMENT,
// kHangUser -> no answer until the client gives up, kWrongEchoUser -> OK
// with a wrong request_id. Counts calls and remembers client peers.
class FakeReranker final : public v1::Reranker::Service {
 public:
  grpc::Status Rerank(grpc::ServerContext* context,
                      const v1::RerankRequest* request,
                      v1::RerankResponse* response) override {
    calls_.fetch_add(1);
    {
      absl::MutexLock lock(&mu_);
      peers_.insert(context->peer());
    }
    if (request->user_id() == kInvalidUser) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "user_id: marked invalid");
    }
    if (request->user_id() == kHangUser) {
      // Simulates a stuck backend: the client's deadline must end the call.
      while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(1));
      return grpc::Status(grpc::StatusCode::CANCELLED, "hung");
    }
    response->set_request_id(
        request->user_id() == kWrongEchoUser ? "wrong" : request->request_id());
    for (int i = 0; i < request->candidates_size(); ++i) {
      v1::RankedItem* item = response->add_items();
      item->set_item_id(request->candidates(i).item_id());
      item->set_score(request->candidates(i).base_score());
      item->set_input_position(i);
    }
    return grpc::Status::OK;
  }

  int64_t calls() const { return calls_.load(); }
  std::set<std::string> peers() {
    absl::MutexLock lock(&mu_);
    return peers_;
  }

 private:
  std::atomic<int64_t> calls_{0};
  absl::Mutex mu_;
  std::set<std::string> peers_ ABSL_GUARDED_BY(mu_);
};

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(5));
    }
  }

  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }

  // `n` serialized requests (5 candidates, 2 events); request i gets user
  // `marks[i]` when present.
  static std::vector<std::string> Payloads(
      int n, const std::map<int, std::string>& marks = {}) {
    RequestPoolOptions o;
    o.pool_size = n;
    o.candidates = 5;
    o.events = 2;
    auto pool = RequestPool::Build(SyntheticIds(100, 10), o);
    EXPECT_TRUE(pool.ok());
    std::vector<std::string> payloads;
    for (int i = 0; i < n; ++i) {
      v1::RerankRequest request = pool->request(i);
      auto it = marks.find(i);
      if (it != marks.end()) request.set_user_id(it->second);
      payloads.push_back(request.SerializeAsString());
    }
    return payloads;
  }

  absl::StatusOr<RunResult> Run(int connections,
                                const std::vector<std::string>& payloads,
                                const RunnerOptions& options) {
    auto channels = CreateChannels(target(), connections);
    // As rerank-loadgen does: connection setup stays out of the first calls.
    EXPECT_TRUE(WaitForConnected(channels, absl::Seconds(30)).ok());
    return RunLoad(channels, payloads, options);
  }

  FakeReranker service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Tests that are not about deadlines use one far beyond any slowdown
// (sanitizers, a loaded CI machine), so their counts cannot depend on timing.
constexpr absl::Duration kGenerousDeadline = absl::Seconds(60);

RunnerOptions ClosedOptions(int concurrency, int64_t requests) {
  RunnerOptions o;
  o.deadline = kGenerousDeadline;
  o.mode = LoadMode::kClosed;
  o.concurrency = concurrency;
  o.requests = requests;
  o.threads = 2;
  return o;
}

RunnerOptions OpenOptions(double rate, int64_t requests) {
  RunnerOptions o;
  o.deadline = kGenerousDeadline;
  o.mode = LoadMode::kOpen;
  o.rate = rate;
  o.requests = requests;
  o.threads = 2;
  return o;
}

TEST_F(RunnerTest, ClosedLoopWithRequestCountCompletesExactlyThatMany) {
  // 10 payloads cycled over 100 calls: payload 3 (invalid) is sent 10 times.
  auto result = Run(2, Payloads(10, {{3, kInvalidUser}}),
                    ClosedOptions(/*concurrency=*/8, /*requests=*/100));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->mode, "closed");
  EXPECT_EQ(result->count, 100);
  EXPECT_EQ(result->latency.Count(), 100);
  EXPECT_THAT(result->status_counts,
              ElementsAre(Pair("INVALID_ARGUMENT", 10), Pair("OK", 90)));
  EXPECT_THAT(
      result->error_messages,
      ElementsAre(Pair("INVALID_ARGUMENT: user_id: marked invalid", 10)));
  EXPECT_EQ(result->ok(), 90);
  EXPECT_EQ(result->errors(), 10);
  EXPECT_EQ(service_.calls(), 100);
  EXPECT_GT(result->total, absl::ZeroDuration());
}

TEST_F(RunnerTest, ClosedLoopWithMoreSlotsThanRequestsSendsOnlyTheCount) {
  auto result = Run(1, Payloads(3), ClosedOptions(50, 7));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->count, 7);
  EXPECT_THAT(result->status_counts, ElementsAre(Pair("OK", 7)));
  EXPECT_EQ(service_.calls(), 7);
}

TEST_F(RunnerTest, ClosedLoopSpreadsCallsOverDistinctConnections) {
  auto result = Run(3, Payloads(5), ClosedOptions(6, 60));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->count, 60);
  EXPECT_EQ(result->connections, 3);
  // One client address:port per TCP connection.
  EXPECT_EQ(service_.peers().size(), 3u);
}

TEST_F(RunnerTest, VerifyResponsesCountsWrongEchoAsBadResponse) {
  RunnerOptions o = ClosedOptions(4, 40);
  o.verify_responses = true;
  auto result = Run(1, Payloads(4, {{0, kWrongEchoUser}}), o);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->count, 40);
  EXPECT_THAT(result->status_counts,
              ElementsAre(Pair("BAD_RESPONSE", 10), Pair("OK", 30)));
  EXPECT_THAT(result->error_messages,
              ElementsAre(Pair("BAD_RESPONSE: request_id not echoed", 10)));
}

TEST_F(RunnerTest, DeadlineExceededIsCountedByCode) {
  RunnerOptions o = ClosedOptions(3, 3);
  o.deadline = absl::Milliseconds(50);
  auto result = Run(1, Payloads(1, {{0, kHangUser}}), o);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->count, 3);
  EXPECT_THAT(result->status_counts, ElementsAre(Pair("DEADLINE_EXCEEDED", 3)));
  EXPECT_EQ(result->ok(), 0);
}

TEST_F(RunnerTest, DurationModeEndsAndExcludesWarmupCalls) {
  RunnerOptions o = ClosedOptions(2, 0);
  o.duration = absl::Milliseconds(100);
  o.warmup = absl::Milliseconds(50);
  auto result = Run(1, Payloads(5), o);
  ASSERT_TRUE(result.ok()) << result.status();
  // How many calls fit into 100 ms depends on the machine; that the run
  // ends, and what it counts, does not.
  EXPECT_EQ(result->count, result->ok());
  EXPECT_EQ(result->latency.Count(), result->count);
  // The first two calls start at time 0, inside the warm-up, so the server
  // saw at least two calls more than were measured; every call it saw
  // completed, measured or not.
  EXPECT_GE(service_.calls(), result->count + 2);
  EXPECT_GE(result->unmeasured, 2);
  EXPECT_EQ(service_.calls(), result->count + result->unmeasured);
}

TEST_F(RunnerTest, OpenLoopWithRequestCountCompletes) {
  auto result = Run(2, Payloads(10, {{3, kInvalidUser}}),
                    OpenOptions(/*rate=*/1000, /*requests=*/40));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->mode, "open");
  EXPECT_EQ(result->count, 40);
  EXPECT_EQ(result->latency.Count(), 40);
  EXPECT_THAT(result->status_counts,
              ElementsAre(Pair("INVALID_ARGUMENT", 4), Pair("OK", 36)));
  EXPECT_EQ(service_.calls(), 40);
}

TEST_F(RunnerTest, OpenLoopDropsCallsBeyondMaxOutstanding) {
  // Every call hangs until its 2 s deadline, while the 20 calls are
  // scheduled within 20 ms: the first 5 fill the cap and the other 15 are
  // dropped, never sent.
  RunnerOptions o = OpenOptions(1000, 20);
  o.max_outstanding = 5;
  o.deadline = absl::Seconds(2);
  auto result = Run(1, Payloads(1, {{0, kHangUser}}), o);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->count, 20);
  EXPECT_THAT(result->status_counts,
              ElementsAre(Pair("DEADLINE_EXCEEDED", 5), Pair("DROPPED", 15)));
  EXPECT_EQ(result->error_messages.at("DROPPED: too many outstanding"), 15);
  EXPECT_EQ(result->latency.Count(), 5);  // dropped calls have no latency
  EXPECT_EQ(service_.calls(), 5);
}

TEST_F(RunnerTest, WaitForConnectedSucceedsForLiveServer) {
  auto channels = CreateChannels(target(), 2);
  EXPECT_TRUE(WaitForConnected(channels, absl::Seconds(5)).ok());
}

TEST_F(RunnerTest, WaitForConnectedFailsWhenNothingListens) {
  const std::string dead = target();
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  server_.reset();
  auto channels = CreateChannels(dead, 1);
  const absl::Status status =
      WaitForConnected(channels, absl::Milliseconds(300));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST_F(RunnerTest, RejectsInconsistentOptions) {
  auto channels = CreateChannels(target(), 1);
  const std::vector<std::string> payloads = Payloads(1);
  EXPECT_EQ(RunLoad(channels, payloads, OpenOptions(0, 10)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunLoad(channels, {}, ClosedOptions(1, 10)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunLoad({}, payloads, ClosedOptions(1, 10)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunLoad(channels, payloads, ClosedOptions(0, 10)).status().code(),
            absl::StatusCode::kInvalidArgument);
  RunnerOptions no_end = ClosedOptions(1, 0);
  no_end.duration = absl::ZeroDuration();
  EXPECT_EQ(RunLoad(channels, payloads, no_end).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(service_.calls(), 0);
}

TEST(StatusCodeNameTest, NamesMatchGrpcSpelling) {
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::INVALID_ARGUMENT),
               "INVALID_ARGUMENT");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED),
               "UNAUTHENTICATED");
  EXPECT_STREQ(StatusCodeName(static_cast<grpc::StatusCode>(99)), "UNKNOWN");
}

}  // namespace
}  // namespace rerank::loadgen
