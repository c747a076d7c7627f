// RerankServer in-process on 127.0.0.1:0 with a temp model root, exercised
// over a real gRPC channel: Reranker, ModelAdmin, health, reflection, limits,
// the separate admin port and graceful shutdown. No sleeps: every wait is a
// Notification, a health Watch, or an RPC deadline.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "protos/health.grpc.pb.h"
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
  EXPECT_EQ(server_->admin_port(), server_->port());

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
  EXPECT_EQ(HealthOf("rerank.v1.ModelAdmin"), HealthCheckResponse::SERVING);

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
              IsSupersetOf({"rerank.v1.Reranker", "rerank.v1.ModelAdmin",
                            "grpc.health.v1.Health"}));
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

TEST_F(ServerTest, AdminOnSeparatePortWhenConfigured) {
  config_.set_admin_listen_address("127.0.0.1:0");
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

}  // namespace
}  // namespace rerank
