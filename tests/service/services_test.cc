// The service handlers without a network: ToGrpcStatus, RerankerService and
// ModelAdminService called directly (the RPC methods are thin wrappers that
// server_integration_test covers end to end).

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lifecycle/model_manager.h"
#include "lifecycle/warmup.h"
#include "service/grpc_status.h"
#include "service/model_admin_service.h"
#include "service/model_info.h"
#include "service/reranker_service.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::TempDir;
using ::rerank::testing::TinyModel;
using ::rerank::testing::TinySnapshot;
using ::rerank::testing::WriteTinyModel;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ToGrpcStatusTest, MapsEveryCodeAndKeepsMessage) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  const struct {
    absl::StatusCode absl_code;
    grpc::StatusCode grpc_code;
  } kCases[] = {
      {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
      {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {absl::StatusCode::kDeadlineExceeded,
       grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {absl::StatusCode::kPermissionDenied,
       grpc::StatusCode::PERMISSION_DENIED},
      {absl::StatusCode::kResourceExhausted,
       grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::StatusCode::kFailedPrecondition,
       grpc::StatusCode::FAILED_PRECONDITION},
      {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
      {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
      {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
      {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
      {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
  };
  for (const auto& c : kCases) {
    const grpc::Status s =
        ToGrpcStatus(absl::Status(c.absl_code, "events[3].type is bad"));
    EXPECT_EQ(s.error_code(), c.grpc_code)
        << absl::StatusCodeToString(c.absl_code);
    EXPECT_EQ(s.error_message(), "events[3].type is bad");
  }
}

v1::RerankRequest U1Request() {
  v1::RerankRequest request;
  request.set_request_id("req-1");
  request.set_user_id("u1");
  for (const char* id : {"a", "b", "c"}) {
    request.add_candidates()->set_item_id(id);
  }
  return request;
}

std::vector<std::string> Order(const v1::RerankResponse& response) {
  std::vector<std::string> ids;
  for (const auto& item : response.items()) ids.push_back(item.item_id());
  return ids;
}

TEST(ModelInfoTest, SaysHowTheFactorsAreStored) {
  for (FactorDtype dtype : {FactorDtype::kFloat16, FactorDtype::kInt8}) {
    ModelData data = TinyModel("compact");
    data.factor_dtype = dtype;
    auto model = ModelSnapshot::FromData(std::move(data));
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ(ModelInfoFromSnapshot(**model).factor_dtype(),
              FactorDtypeName(dtype));
  }
}

TEST(RerankerServiceTest, NoModelIsUnavailable) {
  ModelStore store;
  auto service = RerankerService::Create(store, ScorerOptions{});
  ASSERT_TRUE(service.ok());
  v1::RerankResponse response;
  response.set_request_id("stale");
  const absl::Status status = (*service)->HandleRerank(U1Request(), &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "no model loaded");
  EXPECT_EQ(response.request_id(), "");
}

TEST(RerankerServiceTest, ScoresWithServedModelAndInjectedClock) {
  ModelStore store;
  store.Swap(TinySnapshot("model-a"));
  auto service = RerankerService::Create(store, ScorerOptions{},
                                         [] { return int64_t{1234567}; });
  ASSERT_TRUE(service.ok());
  v1::RerankResponse response;
  ASSERT_TRUE((*service)->HandleRerank(U1Request(), &response).ok());
  EXPECT_EQ(response.model_version(), "model-a");
  EXPECT_EQ(response.request_id(), "req-1");
  EXPECT_EQ(response.now_ms(), 1234567);
  EXPECT_THAT(Order(response), ElementsAre("b", "c", "a"));

  // The next call sees the swapped-in model.
  store.Swap(TinySnapshot("model-b", /*flipped=*/true));
  ASSERT_TRUE((*service)->HandleRerank(U1Request(), &response).ok());
  EXPECT_EQ(response.model_version(), "model-b");
  EXPECT_THAT(Order(response), ElementsAre("a", "c", "b"));
}

TEST(RerankerServiceTest, NullScorerAnswersInInputOrderWithTheSameValidation) {
  ModelStore store;
  store.Swap(TinySnapshot("model-a"));
  ScorerOptions options;
  options.null_scorer = true;
  auto service = RerankerService::Create(store, options);
  ASSERT_TRUE(service.ok());
  v1::RerankResponse response;
  ASSERT_TRUE((*service)->HandleRerank(U1Request(), &response).ok());
  EXPECT_EQ(response.model_version(), "model-a");
  // The full scorer orders these b, c, a (above); the floor keeps input order.
  EXPECT_THAT(Order(response), ElementsAre("a", "b", "c"));

  options.limits.max_candidates = 2;
  auto limited = RerankerService::Create(store, options);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ((*limited)->HandleRerank(U1Request(), &response).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RerankerServiceTest, LimitErrorNamesTheLimit) {
  ModelStore store;
  store.Swap(TinySnapshot("model-a"));
  ScorerOptions options;
  options.limits.max_candidates = 2;
  auto service = RerankerService::Create(store, options);
  ASSERT_TRUE(service.ok());
  v1::RerankResponse response;
  const absl::Status status = (*service)->HandleRerank(U1Request(), &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("limits.max_candidates"));
}

TEST(ModelAdminServiceTest, WithoutManagerReloadIsFailedPrecondition) {
  ModelStore store;
  auto service = ModelAdminService::Create(nullptr, store);
  ASSERT_TRUE(service.ok());
  v1::ReloadRequest request;
  request.set_model_dir("v1");
  auto reloaded = (*service)->HandleReload(request);
  EXPECT_EQ(reloaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(reloaded.status().message(), HasSubstr("model_root"));
  EXPECT_EQ((*service)->HandleGetModelInfo().status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ModelAdminServiceTest, ReloadReportsModelPreviousVersionAndTime) {
  TempDir root;
  WriteTinyModel(root.path(), "a", "model-a");
  WriteTinyModel(root.path(), "nested/b", "model-b", /*flipped=*/true);
  auto manager = ModelManager::Create(root.path());
  ASSERT_TRUE(manager.ok());
  auto service = ModelAdminService::Create(manager->get(), (*manager)->store());
  ASSERT_TRUE(service.ok());

  EXPECT_EQ((*service)->HandleGetModelInfo().status().code(),
            absl::StatusCode::kUnavailable);

  v1::ReloadRequest request;
  request.set_model_dir("a");
  auto first = (*service)->HandleReload(request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->model().version(), "model-a");
  EXPECT_EQ(first->previous_version(), "");
  EXPECT_GE(first->load_seconds(), 0.0);

  request.set_model_dir("nested/b");
  auto second = (*service)->HandleReload(request);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->previous_version(), "model-a");
  const v1::ModelInfo& info = second->model();
  EXPECT_EQ(info.version(), "model-b");
  EXPECT_EQ(info.dim(), 2u);
  EXPECT_EQ(info.num_users(), 2u);
  EXPECT_EQ(info.num_items(), 3u);
  EXPECT_EQ(info.num_neighbors(), 2u);
  EXPECT_EQ(info.source_dir(),
            std::filesystem::canonical(root.Sub("nested/b")).string());
  EXPECT_EQ(info.checksum().size(), 64u);  // hex sha256
  EXPECT_EQ(info.format_version(), 1u);
  EXPECT_FALSE(info.has_categories());
  EXPECT_EQ(info.factor_dtype(), "float32");
  EXPECT_GT(info.loaded_at_ms(), 0);

  auto current = (*service)->HandleGetModelInfo();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->SerializeAsString(), info.SerializeAsString());

  request.set_model_dir("../a");
  EXPECT_EQ((*service)->HandleReload(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*service)->HandleGetModelInfo()->version(), "model-b");
}

TEST(WarmupTest, RequestsAreValidAndCoverUsersItemsAndFallbacks) {
  const auto model = TinySnapshot("model-a");
  const RequestLimits limits;
  const std::vector<v1::RerankRequest> requests =
      MakeWarmupRequests(*model, 8, limits);
  ASSERT_EQ(requests.size(), 8u);
  std::set<std::string> users;
  std::set<std::string> items;
  int anonymous = 0;
  for (const v1::RerankRequest& request : requests) {
    EXPECT_TRUE(ValidateRequest(request, limits).ok())
        << request.ShortDebugString();
    EXPECT_EQ(request.candidates_size(), 3);  // the whole tiny model
    EXPECT_GT(request.events_size(), 0);
    if (request.user_id().empty()) ++anonymous;
    users.insert(request.user_id());
    for (const auto& c : request.candidates()) items.insert(c.item_id());
  }
  EXPECT_GT(anonymous, 0);
  EXPECT_TRUE(users.contains("u1"));
  EXPECT_TRUE(users.contains("u2"));
  EXPECT_TRUE(users.contains("rerank-warmup-unknown-user"));
  EXPECT_EQ(items, (std::set<std::string>{"a", "b", "c"}));
  // Deterministic.
  EXPECT_EQ(MakeWarmupRequests(*model, 8, limits)[5].SerializeAsString(),
            requests[5].SerializeAsString());
  EXPECT_TRUE(MakeWarmupRequests(*model, 0, limits).empty());
}

TEST(WarmupTest, RequestsStayWithinTheLimits) {
  const auto model = TinySnapshot("model-a");
  RequestLimits limits;
  limits.max_candidates = 2;
  limits.max_events = 1;
  limits.max_id_bytes = 1;  // "u1" is too long: those become anonymous
  for (const v1::RerankRequest& request :
       MakeWarmupRequests(*model, 6, limits)) {
    EXPECT_TRUE(ValidateRequest(request, limits).ok())
        << request.ShortDebugString();
    EXPECT_LE(request.candidates_size(), 2);
    EXPECT_LE(request.events_size(), 1);
  }
}

TEST(WarmupTest, WarmUpScoresEveryRequestWithEitherScorer) {
  const auto model = TinySnapshot("model-a");
  ScorerOptions options;
  WarmupStats stats = WarmUp(*model, options, 50);
  EXPECT_EQ(stats.requests, 50);
  EXPECT_EQ(stats.failures, 0);
  options.null_scorer = true;
  stats = WarmUp(*model, options, 5);
  EXPECT_EQ(stats.requests, 5);
  EXPECT_EQ(stats.failures, 0);
}

TEST(RerankerServiceTest, CapOfOneAdmitsSequentialCalls) {
  // The slot is released when a call ends: sequential calls never hit it.
  ModelStore store;
  store.Swap(TinySnapshot("model-a"));
  RerankerServiceOptions options;
  options.max_inflight_requests = 1;
  auto service = RerankerService::Create(store, std::move(options));
  ASSERT_TRUE(service.ok());
  v1::RerankResponse response;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE((*service)->HandleRerank(U1Request(), &response).ok());
  }
  EXPECT_EQ((*service)->inflight(), 0);
}

}  // namespace
}  // namespace rerank
