// RerankerService's raw Rerank handler over gRPC (in process): it parses the
// request bytes itself and sends the response as the message without its
// items plus the items in wire form. What a client sees must not depend on
// that: the same response with wire responses on and off, with arena
// messages on and off, for requests in one slice or many; and bytes that
// are not a RerankRequest get INVALID_ARGUMENT, with the service still
// serving afterwards.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lifecycle/model_store.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "service/reranker_service.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::TinySnapshot;

// One in-process server around one RerankerService.
class RawServer {
 public:
  RawServer(bool wire_responses, bool arena_messages) {
    store_.Swap(TinySnapshot("model-a"));
    RerankerServiceOptions options;
    options.wire_responses = wire_responses;
    options.arena_messages = arena_messages;
    auto service = RerankerService::Create(store_, options);
    EXPECT_TRUE(service.ok()) << service.status();
    service_ = std::move(service).value();
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
  }
  ~RawServer() {
    server_->Shutdown();
    server_->Wait();
  }

  grpc::Status Rerank(const v1::RerankRequest& request,
                      v1::RerankResponse* response) {
    auto stub = v1::Reranker::NewStub(channel_);
    grpc::ClientContext context;
    return stub->Rerank(&context, request, response);
  }

  // Sends `slices` as the request's bytes, unchecked.
  grpc::Status RerankBytes(const std::vector<std::string>& slices,
                           grpc::ByteBuffer* response) {
    std::vector<grpc::Slice> parts(slices.begin(), slices.end());
    grpc::ByteBuffer request(parts.data(), parts.size());
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    grpc::CompletionQueue cq;
    auto call = stub.PrepareUnaryCall(&context, "/rerank.v1.Reranker/Rerank",
                                      request, &cq);
    call->StartCall();
    grpc::Status status;
    call->Finish(response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    cq.Shutdown();
    return status;
  }

 private:
  ModelStore store_;
  std::unique_ptr<RerankerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

v1::RerankRequest Request(bool explain) {
  v1::RerankRequest request;
  request.set_request_id("req-1");
  request.set_user_id("u1");
  for (const char* id : {"a", "b", "zzz", "c", "b"}) {
    request.add_candidates()->set_item_id(id);
  }
  request.mutable_candidates(0)->set_base_score(0.5);
  request.set_explain(explain);
  request.set_now_ms(1'700'000'000'000);
  return request;
}

TEST(RawRerankTest, SameResponseWithWireResponsesOnAndOff) {
  for (const bool explain : {false, true}) {
    SCOPED_TRACE(explain);
    std::vector<std::string> bytes;
    for (const bool wire : {true, false}) {
      for (const bool arena : {true, false}) {
        RawServer server(wire, arena);
        v1::RerankResponse response;
        const grpc::Status status = server.Rerank(Request(explain), &response);
        ASSERT_TRUE(status.ok()) << status.error_message();
        ASSERT_EQ(response.items_size(), 4);  // "b" collapsed
        EXPECT_EQ(response.request_id(), "req-1");
        EXPECT_EQ(response.model_version(), "model-a");
        EXPECT_EQ(response.items(0).explanation().known_item(), explain);
        bytes.push_back(response.SerializeAsString());
      }
    }
    for (size_t i = 1; i < bytes.size(); ++i) EXPECT_EQ(bytes[i], bytes[0]);
  }
}

TEST(RawRerankTest, RequestsSplitOverSlicesParse) {
  RawServer server(/*wire_responses=*/true, /*arena_messages=*/true);
  v1::RerankRequest request = Request(false);
  for (int i = 0; i < 2000; ++i) {
    request.add_candidates()->set_item_id(absl::StrCat("unknown-", i));
  }
  const std::string bytes = request.SerializeAsString();
  // Three slices, cut inside fields.
  const std::vector<std::string> slices = {
      bytes.substr(0, 7), bytes.substr(7, 10001), bytes.substr(10008)};
  grpc::ByteBuffer response_bytes;
  const grpc::Status status = server.RerankBytes(slices, &response_bytes);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> parts;
  ASSERT_TRUE(response_bytes.Dump(&parts).ok());
  std::string joined;
  for (const grpc::Slice& s : parts) {
    joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  v1::RerankResponse response;
  ASSERT_TRUE(response.ParseFromString(joined));
  EXPECT_EQ(response.items_size(), 2004);
  EXPECT_EQ(response.stats().candidates_received(), 2005u);
}

TEST(RawRerankTest, BytesThatAreNotARequestAreInvalidArgument) {
  RawServer server(/*wire_responses=*/true, /*arena_messages=*/true);
  const std::vector<std::vector<std::string>> bad = {
      {"\xff\xff\xff"},  // truncated varint tag
      {"\x0a\x05"
       "ab"},                    // request_id longer than the bytes
      {"\x0a\x02\xc3\x28"},      // request_id not UTF-8
      {"\x1a\x02", "\x0a\x7f"},  // candidate cut short, two slices
  };
  for (const auto& slices : bad) {
    SCOPED_TRACE(absl::CHexEscape(absl::StrJoin(slices, "|")));
    grpc::ByteBuffer response;
    const grpc::Status status = server.RerankBytes(slices, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_NE(status.error_message().find("rerank.v1.RerankRequest"),
              std::string::npos)
        << status.error_message();
  }
  // Still serving.
  v1::RerankResponse response;
  EXPECT_TRUE(server.Rerank(Request(false), &response).ok());
  EXPECT_EQ(response.items_size(), 4);
}

TEST(RawRerankTest, EmptyBytesAreAnEmptyRequest) {
  // Zero bytes are a valid (all-default) RerankRequest: no candidates.
  RawServer server(/*wire_responses=*/true, /*arena_messages=*/true);
  grpc::ByteBuffer response_bytes;
  const grpc::Status status = server.RerankBytes({""}, &response_bytes);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace rerank
