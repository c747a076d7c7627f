// RerankServer in-process on 127.0.0.1:0 with a temp model root, exercised
// over a real gRPC channel: Reranker, ModelAdmin, health, reflection, limits
// (in-flight cap, deadlines), the admin port (own or shared) and graceful
// shutdown. No sleeps: every wait is a Notification, a health Watch, or an
// RPC deadline.

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "protos/reflection_wire.pb.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "server/config.h"
#include "server/server.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::rerank::testing::TempDir;
using ::rerank::testing::WriteFile;
using ::rerank::testing::WriteTinyModel;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

constexpr absl::Duration kRpcDeadline = absl::Seconds(10);

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kRpcDeadline));
}

std::shared_ptr<grpc::Channel> Connect(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureChannelCredentials());
}

v1::RerankRequest U1Request(std::vector<std::string> ids = {"a", "b", "c"}) {
  v1::RerankRequest request;
  request.set_request_id("it-1");
  request.set_user_id("u1");
  for (const std::string& id : ids) request.add_candidates()->set_item_id(id);
  return request;
}

std::vector<std::string> Order(const v1::RerankResponse& response) {
  std::vector<std::string> ids;
  for (const auto& item : response.items()) ids.push_back(item.item_id());
  return ids;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteTinyModel(root_.path(), "a", "model-a");
    WriteTinyModel(root_.path(), "b", "model-b", /*flipped=*/true);
    WriteTinyModel(root_.path(), "corrupt", "model-corrupt");
    WriteFile(root_.Sub("corrupt/item_factors.npy"), "garbage");
    config_.set_listen_address("127.0.0.1:0");
    // Never the fixed default ports: tests run in parallel.
    config_.set_admin_listen_address("127.0.0.1:0");
    config_.set_metrics_listen_address("off");
    config_.set_model_root(root_.path());
    config_.mutable_logging()->set_level("warn");
  }

  // Starts the server and connects the stubs (to the admin port for
  // ModelAdmin).
  void Start(RerankServer::Hooks hooks = {}) {
    auto server = RerankServer::Create(config_, std::move(hooks));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    channel_ = Connect(server_->port());
    reranker_ = v1::Reranker::NewStub(channel_);
    health_ = Health::NewStub(channel_);
    admin_channel_ = Connect(server_->admin_port());
    admin_ = v1::ModelAdmin::NewStub(admin_channel_);
  }

  grpc::Status Rerank(const v1::RerankRequest& request,
                      v1::RerankResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return reranker_->Rerank(&context, request, response);
  }

  grpc::Status Reload(const std::string& dir, v1::ReloadResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ReloadRequest request;
    request.set_model_dir(dir);
    return admin_->Reload(&context, request, response);
  }

  grpc::Status GetModelInfo(v1::ModelInfo* info) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return admin_->GetModelInfo(&context, v1::GetModelInfoRequest(), info);
  }

  HealthCheckResponse::ServingStatus HealthOf(const std::string& service,
                                              Health::Stub* stub = nullptr) {
    grpc::ClientContext context;
    SetDeadline(&context);
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    const grpc::Status status =
        (stub ? stub : health_.get())->Check(&context, request, &response);
    EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
    return response.status();
  }

  void TearDown() override {
    // A call held by BlockingClock must be let go before the server (in its
    // destructor) waits for it.
    if (!clock_release_.HasBeenNotified()) clock_release_.Notify();
    server_.reset();
  }

  // A clock whose first reading blocks until clock_release_: holds one
  // Rerank call in flight, inside the handler, after admission. It reads
  // `now_ms` (default: a fixed moment in 2023, before any deadline).
  RerankerService::Clock BlockingClock(std::function<int64_t()> now_ms = [] {
    return 1'700'000'000'000;
  }) {
    return [this, now_ms]() -> int64_t {
      if (clock_calls_.fetch_add(1) == 0) {
        clock_entered_.Notify();
        clock_release_.WaitForNotification();
      }
      return now_ms();
    };
  }

  absl::Notification clock_entered_;
  absl::Notification clock_release_;
  std::atomic<int> clock_calls_{0};
  TempDir root_;
  v1::ServerConfig config_;
  std::unique_ptr<RerankServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<grpc::Channel> admin_channel_;
  std::unique_ptr<v1::Reranker::Stub> reranker_;
  std::unique_ptr<v1::ModelAdmin::Stub> admin_;
  std::unique_ptr<Health::Stub> health_;
};

TEST_F(ServerTest, RerankReturnsExpectedOrderForTinyModel) {
  config_.set_initial_model("a");
  Start();
  EXPECT_NE(server_->port(), 0);
  // ModelAdmin has its own listener by default.
  EXPECT_NE(server_->admin_port(), server_->port());

  v1::RerankResponse response;
  ASSERT_TRUE(Rerank(U1Request(), &response).ok());
  EXPECT_EQ(response.request_id(), "it-1");
  EXPECT_EQ(response.model_version(), "model-a");
  EXPECT_TRUE(response.user_known());
  EXPECT_THAT(Order(response), ElementsAre("b", "c", "a"));
  EXPECT_EQ(response.items(0).input_position(), 1u);

  v1::RerankRequest top1 = U1Request();
  top1.set_top_k(1);
  ASSERT_TRUE(Rerank(top1, &response).ok());
  EXPECT_THAT(Order(response), ElementsAre("b"));
}

TEST_F(ServerTest, NoModelIsUnavailableAndNotServing) {
  Start();
  v1::RerankResponse response;
  const grpc::Status status = Rerank(U1Request(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "no model loaded");

  EXPECT_EQ(HealthOf(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(HealthOf("rerank.v1.Reranker"), HealthCheckResponse::NOT_SERVING);
  // ModelAdmin's health lives on its own listener.
  auto admin_health = Health::NewStub(admin_channel_);
  EXPECT_EQ(HealthOf("rerank.v1.ModelAdmin", admin_health.get()),
            HealthCheckResponse::SERVING);

  v1::ModelInfo info;
  EXPECT_EQ(GetModelInfo(&info).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerTest, ReloadMakesServingAndGetModelInfoMatches) {
  Start();
  v1::ReloadResponse reloaded;
  const grpc::Status status = Reload("a", &reloaded);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reloaded.model().version(), "model-a");
  EXPECT_EQ(reloaded.previous_version(), "");
  EXPECT_GE(reloaded.load_seconds(), 0.0);
  EXPECT_EQ(reloaded.model().source_dir(),
            std::filesystem::canonical(root_.Sub("a")).string());

  // on_loaded flips health before the Reload reply is sent.
  EXPECT_EQ(HealthOf(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthOf("rerank.v1.Reranker"), HealthCheckResponse::SERVING);

  v1::ModelInfo info;
  ASSERT_TRUE(GetModelInfo(&info).ok());
  EXPECT_EQ(info.SerializeAsString(), reloaded.model().SerializeAsString());
  EXPECT_EQ(info.num_items(), 3u);

  // Swapping to B changes the served order and reports A as previous.
  ASSERT_TRUE(Reload("b", &reloaded).ok());
  EXPECT_EQ(reloaded.previous_version(), "model-a");
  v1::RerankResponse response;
  ASSERT_TRUE(Rerank(U1Request(), &response).ok());
  EXPECT_EQ(response.model_version(), "model-b");
  EXPECT_THAT(Order(response), ElementsAre("a", "c", "b"));
}

TEST_F(ServerTest, BadReloadReturnsCodeAndOldModelKeepsServing) {
  config_.set_initial_model("a");
  Start();
  struct Case {
    std::string dir;
    std::vector<grpc::StatusCode> codes;
  };
  const std::vector<Case> cases = {
      {"corrupt",
       {grpc::StatusCode::DATA_LOSS, grpc::StatusCode::FAILED_PRECONDITION}},
      {"../x", {grpc::StatusCode::INVALID_ARGUMENT}},
      {"/etc", {grpc::StatusCode::INVALID_ARGUMENT}},
      {"", {grpc::StatusCode::INVALID_ARGUMENT}},
      {"missing", {grpc::StatusCode::NOT_FOUND}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dir);
    v1::ReloadResponse reloaded;
    const grpc::Status status = Reload(c.dir, &reloaded);
    EXPECT_THAT(c.codes, ::testing::Contains(status.error_code()))
        << status.error_code() << " " << status.error_message();
    EXPECT_FALSE(status.error_message().empty());

    v1::RerankResponse response;
    ASSERT_TRUE(Rerank(U1Request(), &response).ok());
    EXPECT_EQ(response.model_version(), "model-a");
    EXPECT_EQ(HealthOf(""), HealthCheckResponse::SERVING);
  }
}

// ListServices through the v1alpha reflection service with wire-compatible
// messages (see protos/reflection_wire.proto).
std::vector<std::string> ListServices(grpc::Channel* channel) {
  using Request = rerank::testing::reflection::ServerReflectionRequest;
  using Response = rerank::testing::reflection::ServerReflectionResponse;
  const grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING);
  grpc::ClientContext context;
  SetDeadline(&context);
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream(
      grpc::internal::ClientReaderWriterFactory<Request, Response>::Create(
          channel, method, &context));
  Request request;
  request.set_list_services("*");
  EXPECT_TRUE(stream->Write(request));
  EXPECT_TRUE(stream->WritesDone());
  Response response;
  std::vector<std::string> names;
  if (stream->Read(&response)) {
    for (const auto& service : response.list_services_response().service()) {
      names.push_back(service.name());
    }
  }
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  return names;
}

TEST_F(ServerTest, ReflectionListsServices) {
  Start();
  EXPECT_THAT(ListServices(channel_.get()),
              IsSupersetOf({"rerank.v1.Reranker", "grpc.health.v1.Health"}));
  EXPECT_THAT(ListServices(admin_channel_.get()),
              IsSupersetOf({"rerank.v1.ModelAdmin", "grpc.health.v1.Health"}));
}

TEST_F(ServerTest, AdminOnServingPortSharesTheListener) {
  config_.clear_admin_listen_address();
  config_.set_admin_on_serving_port(true);
  Start();
  EXPECT_EQ(server_->admin_port(), server_->port());
  v1::ReloadResponse reloaded;
  ASSERT_TRUE(Reload("a", &reloaded).ok());
  EXPECT_EQ(HealthOf("rerank.v1.ModelAdmin"), HealthCheckResponse::SERVING);
  EXPECT_THAT(ListServices(channel_.get()),
              IsSupersetOf({"rerank.v1.Reranker", "rerank.v1.ModelAdmin"}));
}

TEST_F(ServerTest, TooManyCandidatesNamesTheLimit) {
  config_.set_initial_model("a");
  config_.mutable_limits()->set_max_candidates(2);
  Start();
  v1::RerankResponse response;
  const grpc::Status status = Rerank(U1Request(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("limits.max_candidates"));
}

TEST_F(ServerTest, UserVectorOverTheWireReordersOrIsRefusedNamingTheDim) {
  config_.set_initial_model("a");
  Start();
  // u1's model row orders b, c, a; the opposite vector reverses that.
  v1::RerankRequest request = U1Request();
  request.add_user_vector(-1);
  request.add_user_vector(0);
  v1::RerankResponse response;
  ASSERT_TRUE(Rerank(request, &response).ok());
  EXPECT_THAT(Order(response), ElementsAre("a", "c", "b"));
  EXPECT_EQ(response.user_vector_source(), v1::USER_VECTOR_SOURCE_REQUEST);

  request.add_user_vector(0);
  const grpc::Status status = Rerank(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "user_vector: 3 values, the served model's dim is 2");
  // The refusal left the model alone.
  ASSERT_TRUE(Rerank(U1Request(), &response).ok());
  EXPECT_THAT(Order(response), ElementsAre("b", "c", "a"));
  EXPECT_EQ(response.user_vector_source(), v1::USER_VECTOR_SOURCE_MODEL);
}

TEST_F(ServerTest, TransportFloorReplaysTheFirstResponseParsingNothing) {
  config_.set_initial_model("a");
  config_.set_scorer("transport");
  Start();
  v1::RerankResponse first;
  ASSERT_TRUE(Rerank(U1Request(), &first).ok());
  EXPECT_THAT(Order(first), ElementsAre("b", "c", "a"));
  // Another request, even one the full scorer would refuse, gets the same
  // bytes back: nothing of it is read.
  v1::RerankRequest other = U1Request();
  other.set_request_id("other");
  other.set_top_k(1);
  other.mutable_candidates(0)->clear_item_id();  // INVALID_ARGUMENT in full
  v1::RerankResponse replayed;
  ASSERT_TRUE(Rerank(other, &replayed).ok());
  EXPECT_EQ(replayed.SerializeAsString(), first.SerializeAsString());
}

TEST_F(ServerTest, EmptyCandidatesIsOkAndEmpty) {
  config_.set_initial_model("a");
  Start();
  v1::RerankResponse response;
  const grpc::Status status = Rerank(U1Request({}), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.items_size(), 0);
  EXPECT_EQ(response.model_version(), "model-a");
}

TEST_F(ServerTest, OversizedMessageIsRefusedByTransport) {
  config_.set_initial_model("a");
  config_.mutable_limits()->set_max_message_bytes(1024);
  Start();
  v1::RerankRequest request = U1Request();
  request.set_request_id(std::string(4096, 'x'));
  v1::RerankResponse response;
  EXPECT_EQ(Rerank(request, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(ServerTest, AdminOnSeparatePortByDefault) {
  Start();
  ASSERT_NE(server_->admin_port(), 0);
  EXPECT_NE(server_->admin_port(), server_->port());

  v1::ReloadResponse reloaded;
  ASSERT_TRUE(Reload("a", &reloaded).ok());

  // Not on the main port...
  auto admin_on_main = v1::ModelAdmin::NewStub(channel_);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::ModelInfo info;
  EXPECT_EQ(admin_on_main->GetModelInfo(&context, {}, &info).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // ...and Reranker is not on the admin port.
  auto reranker_on_admin = v1::Reranker::NewStub(admin_channel_);
  grpc::ClientContext context2;
  SetDeadline(&context2);
  v1::RerankResponse response;
  EXPECT_EQ(
      reranker_on_admin->Rerank(&context2, U1Request(), &response).error_code(),
      grpc::StatusCode::UNIMPLEMENTED);

  EXPECT_EQ(HealthOf(""), HealthCheckResponse::SERVING);
  auto admin_health = Health::NewStub(admin_channel_);
  EXPECT_EQ(HealthOf("rerank.v1.ModelAdmin", admin_health.get()),
            HealthCheckResponse::SERVING);
  EXPECT_THAT(ListServices(admin_channel_.get()),
              ::testing::Contains("rerank.v1.ModelAdmin"));
}

TEST_F(ServerTest, InitialModelFailureFailsCreateWithReason) {
  config_.set_initial_model("corrupt");
  auto server = RerankServer::Create(config_);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().code(),
              AnyOf(absl::StatusCode::kDataLoss,
                    absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(server.status().message(),
              HasSubstr("initial_model \"corrupt\""));

  config_.set_initial_model("nope");
  EXPECT_EQ(RerankServer::Create(config_).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ServerTest, PortInUseFailsCreate) {
  Start();
  v1::ServerConfig clash = config_;
  clash.set_listen_address(absl::StrCat("127.0.0.1:", server_->port()));
  auto second = RerankServer::Create(clash);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable)
      << second.status();
}

TEST_F(ServerTest, InvalidConfigFailsCreate) {
  config_.mutable_limits()->set_max_events(0);
  auto server = RerankServer::Create(config_);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("limits.max_events"));
}

class CountingObserver : public RerankObserver {
 public:
  void OnRerank(const v1::RerankRequest& request, const v1::RerankResponse&,
                const absl::Status& status, absl::Duration) override {
    absl::MutexLock lock(&mu);
    ids.push_back(request.request_id());
    codes.push_back(status.code());
  }
  absl::Mutex mu;
  std::vector<std::string> ids;
  std::vector<absl::StatusCode> codes;
};

TEST_F(ServerTest, ObserverSeesEveryCall) {
  CountingObserver observer;
  RerankServer::Hooks hooks;
  hooks.observer = &observer;
  Start(std::move(hooks));
  v1::RerankResponse response;
  EXPECT_FALSE(Rerank(U1Request(), &response).ok());
  v1::ReloadResponse reloaded;
  ASSERT_TRUE(Reload("a", &reloaded).ok());
  EXPECT_TRUE(Rerank(U1Request(), &response).ok());
  absl::MutexLock lock(&observer.mu);
  EXPECT_THAT(observer.ids, ElementsAre("it-1", "it-1"));
  EXPECT_THAT(observer.codes, ElementsAre(absl::StatusCode::kUnavailable,
                                          absl::StatusCode::kOk));
}

TEST_F(ServerTest, ShutdownCompletesInFlightCall) {
  config_.set_initial_model("a");
  absl::Notification in_call;
  absl::Notification release;
  RerankServer::Hooks hooks;
  // The clock is read inside the handler: blocking it holds the call
  // in flight for as long as the test wants.
  hooks.clock = [&]() -> int64_t {
    if (!in_call.HasBeenNotified()) in_call.Notify();
    release.WaitForNotification();
    return 1'700'000'000'000;
  };
  Start(std::move(hooks));

  // Watch "" so the test knows when Shutdown has begun (it flips health to
  // NOT_SERVING first).
  grpc::ClientContext watch_context;
  SetDeadline(&watch_context);
  HealthCheckRequest watch_request;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> watch =
      health_->Watch(&watch_context, watch_request);
  HealthCheckResponse health;
  ASSERT_TRUE(watch->Read(&health));
  ASSERT_EQ(health.status(), HealthCheckResponse::SERVING);

  // The in-flight call.
  grpc::ClientContext call_context;
  SetDeadline(&call_context);
  const v1::RerankRequest request = U1Request();
  v1::RerankResponse response;
  absl::Notification call_done;
  grpc::Status call_status;
  reranker_->async()->Rerank(&call_context, &request, &response,
                             [&](grpc::Status status) {
                               call_status = std::move(status);
                               call_done.Notify();
                             });
  in_call.WaitForNotification();

  const absl::Duration grace = absl::Seconds(30);
  const absl::Time shutdown_start = absl::Now();
  std::thread shutdown([this, grace] { server_->Shutdown(grace); });

  ASSERT_TRUE(watch->Read(&health));
  EXPECT_EQ(health.status(), HealthCheckResponse::NOT_SERVING);
  // The Watch is a call too; end it so Shutdown only waits for the Rerank.
  watch_context.TryCancel();
  watch->Finish().IgnoreError();

  release.Notify();
  call_done.WaitForNotification();
  EXPECT_TRUE(call_status.ok()) << call_status.error_message();
  EXPECT_EQ(response.model_version(), "model-a");
  EXPECT_THAT(Order(response), ElementsAre("b", "c", "a"));

  shutdown.join();
  server_->Wait();
  // Returned because the call finished, not because the grace ran out.
  EXPECT_LT(absl::Now() - shutdown_start, grace);

  // New calls are refused once shut down.
  v1::RerankRequest late = U1Request();
  grpc::ClientContext late_context;
  late_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  EXPECT_FALSE(reranker_->Rerank(&late_context, late, &response).ok());
}

// Records the status code of every call and notifies on the first.
class FirstCallObserver : public RerankObserver {
 public:
  void OnRerank(const v1::RerankRequest&, const v1::RerankResponse&,
                const absl::Status& status, absl::Duration) override {
    absl::MutexLock lock(&mu_);
    codes_.push_back(status.code());
    if (!first_.HasBeenNotified()) first_.Notify();
  }
  absl::StatusCode WaitForFirst() {
    first_.WaitForNotification();
    absl::MutexLock lock(&mu_);
    return codes_.front();
  }

 private:
  absl::Mutex mu_;
  std::vector<absl::StatusCode> codes_ ABSL_GUARDED_BY(mu_);
  absl::Notification first_;
};

TEST_F(ServerTest, OverInflightCapIsResourceExhaustedAtOnce) {
  config_.set_initial_model("a");
  config_.mutable_limits()->set_max_inflight_requests(1);
  RerankServer::Hooks hooks;
  hooks.clock = BlockingClock();
  Start(std::move(hooks));

  // Call 1 takes the only slot and is held inside the handler.
  grpc::ClientContext first_context;
  SetDeadline(&first_context);
  const v1::RerankRequest request = U1Request();
  v1::RerankResponse first_response;
  absl::Notification first_done;
  grpc::Status first_status;
  reranker_->async()->Rerank(&first_context, &request, &first_response,
                             [&](grpc::Status status) {
                               first_status = std::move(status);
                               first_done.Notify();
                             });
  clock_entered_.WaitForNotification();

  // Call 2 is refused without waiting for call 1.
  v1::RerankResponse refused_response;
  const grpc::Status refused = Rerank(U1Request(), &refused_response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("limits.max_inflight_requests=1"));
  EXPECT_FALSE(first_done.HasBeenNotified());

  clock_release_.Notify();
  first_done.WaitForNotification();
  EXPECT_TRUE(first_status.ok()) << first_status.error_message();
  EXPECT_THAT(Order(first_response), ElementsAre("b", "c", "a"));

  // The slot is free again once call 1 is done.
  v1::RerankResponse again;
  EXPECT_TRUE(Rerank(U1Request(), &again).ok());
}

TEST_F(ServerTest, DeadlinePassedBeforeScoringIsDeadlineExceeded) {
  config_.set_initial_model("a");
  FirstCallObserver observer;
  RerankServer::Hooks hooks;
  // The server's clock, read once the call is released, is past the
  // client's deadline. (Reading the real time there would race: the
  // server's copy of the deadline is the client's plus the transit time.)
  const absl::Time deadline = absl::Now() + absl::Milliseconds(500);
  hooks.clock = BlockingClock(
      [deadline] { return absl::ToUnixMillis(deadline + absl::Seconds(1)); });
  hooks.observer = &observer;
  Start(std::move(hooks));

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  const v1::RerankRequest request = U1Request();
  v1::RerankResponse response;
  absl::Notification done;
  grpc::Status status;
  reranker_->async()->Rerank(&context, &request, &response,
                             [&](grpc::Status s) {
                               status = std::move(s);
                               done.Notify();
                             });
  // The server holds the call until after the client's deadline...
  clock_entered_.WaitForNotification();
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  clock_release_.Notify();
  // ...and then does not score it: the handler's own verdict.
  EXPECT_EQ(observer.WaitForFirst(), absl::StatusCode::kDeadlineExceeded);
}

// Counts what the Reranker handler saw, by outcome.
class OutcomeCounter : public RerankObserver {
 public:
  void OnRerank(const v1::RerankRequest&, const v1::RerankResponse&,
                const absl::Status& status, absl::Duration) override {
    (status.ok() ? ok_ : not_ok_).fetch_add(1);
  }
  std::atomic<int> ok_{0};
  std::atomic<int> not_ok_{0};
};

// Shutdown while client threads keep calling. "Accepted" = the handler ran
// (the observer saw it). Every accepted call must succeed; calls that were
// not accepted fail UNAVAILABLE (listener closed / stream refused) or
// CANCELLED (a stream that reached the server after shutdown began, which
// gRPC kills before any handler runs) -- the observer proves they never ran.
TEST_F(ServerTest, ShutdownUnderLoadFailsNoAcceptedCall) {
  constexpr int kClients = 4;
  constexpr int kCallsBeforeShutdown = 200;
  config_.set_initial_model("a");
  OutcomeCounter handled;
  RerankServer::Hooks hooks;
  hooks.observer = &handled;
  Start(std::move(hooks));

  std::atomic<int> ok{0};
  std::atomic<int> refused{0};  // UNAVAILABLE
  std::atomic<int> killed{0};   // CANCELLED, never asked for by the client
  std::atomic<int> other{0};
  absl::Notification enough;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto stub = v1::Reranker::NewStub(Connect(server_->port()));
      const v1::RerankRequest request = U1Request();
      while (true) {
        grpc::ClientContext context;
        SetDeadline(&context);
        v1::RerankResponse response;
        const grpc::Status status = stub->Rerank(&context, request, &response);
        if (status.ok()) {
          // Exactly one thread sees the count reach it: checking
          // HasBeenNotified() first let two threads both Notify (abort).
          if (++ok == kCallsBeforeShutdown) enough.Notify();
          continue;
        }
        if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
          ++refused;
          return;  // the listener is gone: every later call is refused too
        }
        if (status.error_code() == grpc::StatusCode::CANCELLED) {
          ++killed;
        } else {
          ++other;
        }
      }
    });
  }
  enough.WaitForNotification();
  const absl::Duration grace = absl::Seconds(30);
  const absl::Time start = absl::Now();
  server_->Shutdown(grace);
  server_->Wait();
  EXPECT_LT(absl::Now() - start, grace);  // nothing was cut off by the grace
  for (std::thread& t : clients) t.join();

  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(refused.load(), kClients);
  RecordProperty("killed_before_the_handler", killed.load());
  // Every call the handler ran succeeded, and the client got each answer.
  EXPECT_EQ(handled.not_ok_.load(), 0);
  EXPECT_EQ(handled.ok_.load(), ok.load());
}

// limits.max_concurrent_streams=1: while one call is held in the handler, a
// second call on the same connection is not even sent -- it waits in the
// client until its deadline.
TEST_F(ServerTest, ConcurrentStreamsLimitQueuesCallsInTheClient) {
  config_.set_initial_model("a");
  config_.mutable_limits()->set_max_concurrent_streams(1);
  std::atomic<int> handled{0};
  RerankServer::Hooks hooks;
  // Blocks the second call to reach the handler (the first is a round trip
  // that makes sure the client has the server's SETTINGS).
  hooks.clock = [&]() -> int64_t {
    if (handled.fetch_add(1) == 1) {
      clock_entered_.Notify();
      clock_release_.WaitForNotification();
    }
    return 1'700'000'000'000;
  };
  Start(std::move(hooks));
  v1::RerankResponse response;
  ASSERT_TRUE(Rerank(U1Request(), &response).ok());

  grpc::ClientContext held_context;
  SetDeadline(&held_context);
  const v1::RerankRequest request = U1Request();
  v1::RerankResponse held_response;
  absl::Notification held_done;
  grpc::Status held_status;
  reranker_->async()->Rerank(&held_context, &request, &held_response,
                             [&](grpc::Status status) {
                               held_status = std::move(status);
                               held_done.Notify();
                             });
  clock_entered_.WaitForNotification();

  grpc::ClientContext queued_context;
  queued_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  EXPECT_EQ(reranker_->Rerank(&queued_context, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(handled.load(), 2);  // the queued call never reached the server

  clock_release_.Notify();
  held_done.WaitForNotification();
  EXPECT_TRUE(held_status.ok()) << held_status.error_message();
  server_.reset();  // before `handled`, which the clock uses, goes away
}

TEST_F(ServerTest, AdminPortInUseFailsCreate) {
  Start();
  v1::ServerConfig clash = config_;
  clash.set_admin_listen_address(
      absl::StrCat("127.0.0.1:", server_->admin_port()));
  auto second = RerankServer::Create(clash);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable)
      << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr("admin_listen_address"));
}

}  // namespace
}  // namespace rerank
