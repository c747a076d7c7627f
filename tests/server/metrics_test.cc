// The Prometheus metrics: AtomicHistogram and RerankMetrics directly, then a
// RerankServer with its /metrics endpoint scraped over a plain HTTP socket
// after real gRPC calls, reloads and refused admin calls.

#include "server/metrics.h"

#include <limits>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "server/config.h"
#include "server/server.h"
#include "tests/server/server_test_util.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::HttpGet;
using ::rerank::testing::MetricValue;
using ::rerank::testing::TempDir;
using ::rerank::testing::WriteFile;
using ::rerank::testing::WriteTinyModel;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

TEST(AtomicHistogramTest, BucketsAreLessOrEqualAndCumulative) {
  AtomicHistogram histogram({1, 5, 10});
  for (double v : {0.5, 1.0, 1.5, 5.0, 7.0, 11.0, 1e9}) histogram.Observe(v);
  const prometheus::ClientMetric::Histogram h = histogram.Collect();
  ASSERT_EQ(h.bucket.size(), 4u);
  EXPECT_EQ(h.bucket[0].cumulative_count, 2u);  // 0.5, 1.0 (le="1")
  EXPECT_EQ(h.bucket[1].cumulative_count, 4u);  // + 1.5, 5.0
  EXPECT_EQ(h.bucket[2].cumulative_count, 5u);  // + 7.0
  EXPECT_EQ(h.bucket[3].cumulative_count, 7u);  // + 11, 1e9
  EXPECT_EQ(h.bucket[3].upper_bound, std::numeric_limits<double>::infinity());
  EXPECT_EQ(h.sample_count, 7u);
  EXPECT_DOUBLE_EQ(h.sample_sum, 0.5 + 1 + 1.5 + 5 + 7 + 11 + 1e9);
}

TEST(AtomicHistogramTest, LatencyBucketsSpan25usTo1s) {
  EXPECT_DOUBLE_EQ(LatencyBuckets().front(), 25e-6);
  EXPECT_DOUBLE_EQ(LatencyBuckets().back(), 1.0);
  EXPECT_TRUE(std::is_sorted(LatencyBuckets().begin(), LatencyBuckets().end()));
}

TEST(RerankMetricsTest, OnRerankCountsByCodeAndFromTheResponse) {
  std::unique_ptr<RerankMetrics> metrics = RerankMetrics::Create();
  v1::RerankRequest request;
  request.set_user_id("stranger");
  for (const char* id : {"a", "b", "zz"}) {
    request.add_candidates()->set_item_id(id);
  }
  request.add_events()->set_item_id("a");
  v1::RerankResponse response;
  response.mutable_stats()->set_candidates_received(3);
  response.mutable_stats()->set_unknown_candidates(1);
  response.add_fallbacks(v1::FALLBACK_UNKNOWN_USER);
  metrics->OnRerank(request, response, absl::OkStatus(),
                    absl::Microseconds(40));
  metrics->OnRerank(request, v1::RerankResponse(),
                    absl::InvalidArgumentError("x"), absl::Microseconds(10));
  metrics->OnRerank(request, v1::RerankResponse(),
                    absl::InvalidArgumentError("y"), absl::Seconds(3));
  metrics->OnAdminCall("Reload", absl::StatusCode::kUnauthenticated);

  const std::string text = metrics->Render();
  EXPECT_THAT(
      MetricValue(text, R"(rerank_requests_total{code="OK",method="Rerank"})"),
      Optional(1.0));
  EXPECT_THAT(
      MetricValue(
          text,
          R"(rerank_requests_total{code="INVALID_ARGUMENT",method="Rerank"})"),
      Optional(2.0));
  EXPECT_THAT(
      MetricValue(
          text,
          R"(rerank_requests_total{code="UNAUTHENTICATED",method="Reload"})"),
      Optional(1.0));
  // Errors only count in the code rows: the candidate counters take OK calls.
  EXPECT_THAT(MetricValue(text, "rerank_candidates_total"), Optional(3.0));
  EXPECT_THAT(MetricValue(text, "rerank_unknown_candidates_total"),
              Optional(1.0));
  EXPECT_THAT(MetricValue(text, "rerank_unknown_users_total"), Optional(1.0));
  EXPECT_THAT(MetricValue(text, "rerank_anonymous_users_total"), Optional(0.0));
  EXPECT_THAT(MetricValue(text, "rerank_request_duration_seconds_count"),
              Optional(3.0));
  EXPECT_THAT(
      MetricValue(text,
                  R"(rerank_request_duration_seconds_bucket{le="5e-05"})"),
      Optional(2.0));
  EXPECT_THAT(
      MetricValue(text, R"(rerank_request_duration_seconds_bucket{le="+Inf"})"),
      Optional(3.0));
  EXPECT_THAT(MetricValue(text, R"(rerank_request_candidates_bucket{le="5"})"),
              Optional(3.0));
  EXPECT_THAT(MetricValue(text, R"(rerank_request_events_bucket{le="1"})"),
              Optional(3.0));
  EXPECT_THAT(MetricValue(text, "rerank_model_loaded"), Optional(0.0));
}

TEST(RerankMetricsTest, RuleActionsAreCountedByReason) {
  std::unique_ptr<RerankMetrics> metrics = RerankMetrics::Create();
  v1::RerankResponse response;
  v1::ReasonCount* boosted = response.mutable_stats()->add_reasons();
  boosted->set_code(v1::REASON_CODE_BOOSTED);
  boosted->set_count(3);
  v1::ReasonCount* pinned = response.mutable_stats()->add_reasons();
  pinned->set_code(v1::REASON_CODE_PINNED);
  pinned->set_count(1);
  metrics->OnRerank(v1::RerankRequest(), response, absl::OkStatus(),
                    absl::Microseconds(40));
  metrics->OnRerank(v1::RerankRequest(), response, absl::OkStatus(),
                    absl::Microseconds(40));
  // A refused call's response is not counted.
  metrics->OnRerank(v1::RerankRequest(), response,
                    absl::InvalidArgumentError("x"), absl::Microseconds(40));
  const std::string text = metrics->Render();
  EXPECT_THAT(
      MetricValue(text, R"(rerank_rule_actions_total{reason="boosted"})"),
      Optional(6.0));
  EXPECT_THAT(
      MetricValue(text, R"(rerank_rule_actions_total{reason="pinned"})"),
      Optional(2.0));
  // Every reason has a row from the start.
  EXPECT_THAT(
      MetricValue(text, R"(rerank_rule_actions_total{reason="out_of_stock"})"),
      Optional(0.0));
  EXPECT_THAT(
      MetricValue(text,
                  R"(rerank_rule_actions_total{reason="diversity_promoted"})"),
      Optional(0.0));
}

TEST(RerankMetricsTest, ReloadOutcomesAndModelInfoFollowTheServedModel) {
  std::unique_ptr<RerankMetrics> metrics = RerankMetrics::Create();
  ReloadResult a;
  a.model = testing::TinySnapshot("model-a");
  a.load_seconds = 0.25;
  a.warmup_seconds = 0.125;
  a.warmup_requests = 100;
  metrics->OnReloadDone(a);
  metrics->OnReloadDone(absl::DataLossError("sha256 mismatch"));
  ReloadResult b = a;
  b.model = testing::TinySnapshot("model-b");
  metrics->OnReloadDone(b);

  const std::string text = metrics->Render();
  EXPECT_THAT(MetricValue(text, R"(rerank_model_reloads_total{outcome="OK"})"),
              Optional(2.0));
  EXPECT_THAT(
      MetricValue(text, R"(rerank_model_reloads_total{outcome="DATA_LOSS"})"),
      Optional(1.0));
  EXPECT_THAT(MetricValue(text, R"(rerank_model_info{version="model-b"})"),
              Optional(1.0));
  // The old version's series is gone, not left at 1 or 0.
  EXPECT_EQ(MetricValue(text, R"(rerank_model_info{version="model-a"})"),
            std::nullopt);
  EXPECT_THAT(MetricValue(text, "rerank_model_loaded"), Optional(1.0));
  EXPECT_THAT(MetricValue(text, "rerank_model_load_duration_seconds"),
              Optional(0.25));
  EXPECT_THAT(MetricValue(text, "rerank_model_warmup_duration_seconds"),
              Optional(0.125));
  EXPECT_THAT(MetricValue(text, "rerank_model_warmup_requests"),
              Optional(100.0));
}

class MetricsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteTinyModel(root_.path(), "a", "model-a");
    WriteTinyModel(root_.path(), "b", "model-b", /*flipped=*/true);
    config_.set_listen_address("127.0.0.1:0");
    config_.set_admin_listen_address("127.0.0.1:0");
    config_.set_metrics_listen_address("127.0.0.1:0");
    config_.set_model_root(root_.path());
    config_.set_initial_model("a");
    config_.set_warmup_requests(7);
    config_.mutable_logging()->set_level("warn");
  }

  void Start() {
    auto server = RerankServer::Create(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    if (MetricsEnabled(config_)) {
      ASSERT_GT(server_->metrics_port(), 0);
    }
    reranker_ = v1::Reranker::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
    admin_ = v1::ModelAdmin::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->admin_port()),
                            grpc::InsecureChannelCredentials()));
  }

  std::string Scrape() {
    absl::StatusOr<std::string> body =
        HttpGet(server_->metrics_port(), "/metrics");
    EXPECT_TRUE(body.ok()) << body.status();
    return body.value_or("");
  }

  grpc::Status Rerank(const v1::RerankRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::RerankResponse response;
    return reranker_->Rerank(&context, request, &response);
  }

  grpc::Status Reload(const std::string& dir, const std::string& token = "") {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!token.empty()) context.AddMetadata("authorization", token);
    v1::ReloadRequest request;
    request.set_model_dir(dir);
    v1::ReloadResponse response;
    return admin_->Reload(&context, request, &response);
  }

  TempDir root_;
  v1::ServerConfig config_;
  std::unique_ptr<RerankServer> server_;
  std::unique_ptr<v1::Reranker::Stub> reranker_;
  std::unique_ptr<v1::ModelAdmin::Stub> admin_;
};

TEST_F(MetricsEndpointTest, CountersMoveAfterCalls) {
  Start();
  std::string text = Scrape();
  // The start-up load: counted, warmed up (7 requests) and described.
  EXPECT_THAT(MetricValue(text, R"(rerank_model_reloads_total{outcome="OK"})"),
              Optional(1.0));
  EXPECT_THAT(MetricValue(text, R"(rerank_model_info{version="model-a"})"),
              Optional(1.0));
  EXPECT_THAT(MetricValue(text, "rerank_model_loaded"), Optional(1.0));
  EXPECT_THAT(MetricValue(text, "rerank_model_warmup_requests"), Optional(7.0));
  EXPECT_GT(
      MetricValue(text, "rerank_model_loaded_timestamp_seconds").value_or(0),
      1.6e9);
  EXPECT_THAT(
      MetricValue(text, R"(rerank_requests_total{code="OK",method="Rerank"})"),
      Optional(0.0));
  EXPECT_THAT(MetricValue(text, "rerank_inflight_requests"), Optional(0.0));
  EXPECT_THAT(MetricValue(text, "rerank_model_snapshots"), Optional(1.0));
  EXPECT_THAT(MetricValue(text, "rerank_message_pool_holders"), Optional(0.0));

  v1::RerankRequest known;
  known.set_user_id("u1");
  for (const char* id : {"a", "b", "c"})
    known.add_candidates()->set_item_id(id);
  v1::RerankRequest stranger = known;
  stranger.set_user_id("nobody");
  stranger.add_candidates()->set_item_id("not-in-model");
  v1::RerankRequest bad = known;
  bad.add_candidates()->set_item_id("");  // refused: empty item_id
  ASSERT_TRUE(Rerank(known).ok());
  ASSERT_TRUE(Rerank(known).ok());
  ASSERT_TRUE(Rerank(stranger).ok());
  ASSERT_EQ(Rerank(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  text = Scrape();
  EXPECT_THAT(
      MetricValue(text, R"(rerank_requests_total{code="OK",method="Rerank"})"),
      Optional(3.0));
  EXPECT_THAT(
      MetricValue(
          text,
          R"(rerank_requests_total{code="INVALID_ARGUMENT",method="Rerank"})"),
      Optional(1.0));
  EXPECT_THAT(MetricValue(text, "rerank_request_duration_seconds_count"),
              Optional(4.0));
  EXPECT_GT(
      MetricValue(text, "rerank_request_duration_seconds_sum").value_or(0),
      0.0);
  EXPECT_THAT(MetricValue(text, "rerank_candidates_total"), Optional(10.0));
  EXPECT_THAT(MetricValue(text, "rerank_unknown_candidates_total"),
              Optional(1.0));
  EXPECT_THAT(MetricValue(text, "rerank_unknown_users_total"), Optional(1.0));
  // The calls' messages went back to the pool. gRPC releases them after
  // the response is sent, so the client may be ahead of that: scrape until
  // it shows (each scrape is a round trip; no sleep).
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (MetricValue(text, "rerank_message_pool_holders").value_or(0) < 1.0 &&
         absl::Now() < give_up) {
    text = Scrape();
  }
  EXPECT_GE(MetricValue(text, "rerank_message_pool_holders").value_or(0), 1.0);
  EXPECT_LE(MetricValue(text, "rerank_message_pool_holders").value_or(99),
            64.0);
  EXPECT_GT(MetricValue(text, "rerank_message_pool_bytes").value_or(0), 0.0);

  // Reloads: one good, one refused; the admin calls count too.
  ASSERT_TRUE(Reload("b").ok());
  ASSERT_EQ(Reload("nope").error_code(), grpc::StatusCode::NOT_FOUND);
  text = Scrape();
  EXPECT_THAT(MetricValue(text, R"(rerank_model_reloads_total{outcome="OK"})"),
              Optional(2.0));
  EXPECT_THAT(
      MetricValue(text, R"(rerank_model_reloads_total{outcome="NOT_FOUND"})"),
      Optional(1.0));
  EXPECT_THAT(MetricValue(text, R"(rerank_model_info{version="model-b"})"),
              Optional(1.0));
  EXPECT_EQ(MetricValue(text, R"(rerank_model_info{version="model-a"})"),
            std::nullopt);
  // model-a is freed once the swap's last reader lets go (no call is in
  // flight: as soon as the reclaimer runs); then one snapshot again.
  while (MetricValue(text, "rerank_model_snapshots").value_or(0) != 1.0 &&
         absl::Now() < give_up + absl::Seconds(10)) {
    text = Scrape();
  }
  EXPECT_THAT(MetricValue(text, "rerank_model_snapshots"), Optional(1.0));
  EXPECT_THAT(
      MetricValue(text, R"(rerank_requests_total{code="OK",method="Reload"})"),
      Optional(1.0));
  EXPECT_THAT(
      MetricValue(text,
                  R"(rerank_requests_total{code="NOT_FOUND",method="Reload"})"),
      Optional(1.0));
}

TEST_F(MetricsEndpointTest, RefusedAdminCallsAreCounted) {
  const std::string token = "0123456789abcdef0123456789abcdef";
  WriteFile(root_.Sub("token"), token + "\n");
  config_.set_admin_token_file(root_.Sub("token"));
  Start();
  EXPECT_EQ(Reload("b").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Reload("b", "Bearer " + token).ok());
  const std::string text = Scrape();
  EXPECT_THAT(
      MetricValue(
          text,
          R"(rerank_requests_total{code="UNAUTHENTICATED",method="Reload"})"),
      Optional(1.0));
  EXPECT_THAT(
      MetricValue(text, R"(rerank_requests_total{code="OK",method="Reload"})"),
      Optional(1.0));
}

TEST_F(MetricsEndpointTest, OffMeansNoEndpoint) {
  config_.set_metrics_listen_address("off");
  Start();
  EXPECT_EQ(server_->metrics_port(), 0);
  EXPECT_EQ(server_->metrics(), nullptr);
}

TEST_F(MetricsEndpointTest, PortInUseFailsCreateNamingTheKey) {
  Start();
  v1::ServerConfig clash = config_;
  clash.set_metrics_listen_address(
      absl::StrCat("127.0.0.1:", server_->metrics_port()));
  auto second = RerankServer::Create(clash);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("metrics_listen_address"));
}

TEST_F(MetricsEndpointTest, UnknownPathIsNotFound) {
  Start();
  absl::StatusOr<std::string> other = HttpGet(server_->metrics_port(), "/");
  EXPECT_FALSE(other.ok());
  EXPECT_THAT(std::string(other.status().message()), Not(HasSubstr("200")));
}

}  // namespace
}  // namespace rerank
