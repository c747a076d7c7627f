// ArenaMessageAllocator on its own, and registered by RerankerService: a
// Rerank call served through gRPC gets its request and response on an arena.

#include "service/arena_message_allocator.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lifecycle/model_store.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "service/reranker_service.h"
#include "tests/service/test_models.h"

namespace rerank {
namespace {

using ::rerank::testing::TinySnapshot;
using Allocator = ArenaMessageAllocator<v1::RerankRequest, v1::RerankResponse>;
using Holder = grpc::MessageHolder<v1::RerankRequest, v1::RerankResponse>;

void FillResponse(int items, v1::RerankResponse* response) {
  response->set_request_id("r");
  for (int i = 0; i < items; ++i) {
    v1::RankedItem* item = response->add_items();
    // Some ids longer than std::string's inline buffer: their heap buffers
    // must be freed with the arena (ASan would report a leak).
    item->set_item_id(i % 2 ? absl::StrCat("item-", i)
                            : absl::StrCat("a-rather-long-item-id-", i));
    item->set_score(i);
  }
}

TEST(ArenaMessageAllocatorTest, MessagesAreEmptyAndOnAnArena) {
  Allocator allocator;
  Holder* holder = allocator.AllocateMessages();
  ASSERT_NE(holder->request(), nullptr);
  ASSERT_NE(holder->response(), nullptr);
  EXPECT_NE(holder->request()->GetArena(), nullptr);
  EXPECT_EQ(holder->request()->GetArena(), holder->response()->GetArena());
  EXPECT_EQ(holder->request()->ByteSizeLong(), 0u);
  EXPECT_EQ(holder->response()->ByteSizeLong(), 0u);
  holder->Release();
}

TEST(ArenaMessageAllocatorTest, ReusesHoldersWithFreshMessages) {
  Allocator allocator;
  Holder* first = allocator.AllocateMessages();
  first->request()->set_user_id("u1");
  FillResponse(3000, first->response());  // outgrows the first block
  first->Release();
  EXPECT_EQ(allocator.pooled(), 1u);

  Holder* second = allocator.AllocateMessages();
  EXPECT_EQ(second, first);  // the same holder, recycled
  EXPECT_EQ(allocator.pooled(), 0u);
  EXPECT_EQ(second->request()->ByteSizeLong(), 0u);
  EXPECT_EQ(second->response()->ByteSizeLong(), 0u);
  FillResponse(3000, second->response());
  EXPECT_EQ(second->response()->items_size(), 3000);
  EXPECT_EQ(second->response()->items(2999).item_id(), "item-2999");
  second->Release();
}

TEST(ArenaMessageAllocatorTest, CallsLargerThanTheKeptBlockStillWork) {
  ArenaMessageAllocatorOptions options;
  options.initial_block_bytes = 4096;
  options.max_kept_block_bytes = 8192;
  Allocator allocator(options);
  for (int round = 0; round < 3; ++round) {
    Holder* holder = allocator.AllocateMessages();
    FillResponse(5000, holder->response());
    EXPECT_EQ(holder->response()->items(4999).score(), 4999);
    holder->Release();
  }
}

TEST(ArenaMessageAllocatorTest, PoolIsBounded) {
  ArenaMessageAllocatorOptions options;
  options.max_pooled = 2;
  Allocator allocator(options);
  std::vector<Holder*> out;
  for (int i = 0; i < 5; ++i) out.push_back(allocator.AllocateMessages());
  for (Holder* holder : out) holder->Release();
  EXPECT_EQ(allocator.pooled(), 2u);
}

// gRPC may release a call on another thread than the one that allocated it.
TEST(ArenaMessageAllocatorTest, ReleasedOnAnotherThread) {
  Allocator allocator;
  for (int round = 0; round < 20; ++round) {
    Holder* holder = allocator.AllocateMessages();
    FillResponse(100, holder->response());
    std::thread([holder] { holder->Release(); }).join();
  }
  EXPECT_EQ(allocator.pooled(), 1u);
}

// What the service's handler saw.
class ArenaObserver final : public RerankObserver {
 public:
  void OnRerank(const v1::RerankRequest& request,
                const v1::RerankResponse& response, const absl::Status& status,
                absl::Duration) override {
    on_arena = request.GetArena() != nullptr &&
               response.GetArena() == request.GetArena();
    ok = status.ok();
  }
  bool on_arena = false;
  bool ok = false;
};

void ServeOneCall(bool arena_messages, ArenaObserver* observer,
                  v1::RerankResponse* response, grpc::Status* status) {
  ModelStore store;
  store.Swap(TinySnapshot("model-a"));
  RerankerServiceOptions options;
  options.observer = observer;
  options.arena_messages = arena_messages;
  auto service = RerankerService::Create(store, options);
  ASSERT_TRUE(service.ok()) << service.status();
  grpc::ServerBuilder builder;
  builder.RegisterService(service->get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub =
      v1::Reranker::NewStub(server->InProcessChannel(grpc::ChannelArguments()));
  v1::RerankRequest request;
  request.set_request_id("req-1");
  request.set_user_id("u1");
  for (const char* id : {"a", "b", "c"}) {
    request.add_candidates()->set_item_id(id);
  }
  grpc::ClientContext context;
  *status = stub->Rerank(&context, request, response);
  server->Shutdown();
  server->Wait();
}

TEST(RerankerServiceArenaTest, CallsAreServedFromAnArena) {
  ArenaObserver observer;
  v1::RerankResponse response;
  grpc::Status status;
  ServeOneCall(/*arena_messages=*/true, &observer, &response, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(observer.ok);
  EXPECT_TRUE(observer.on_arena);
  // TinyModel: u1's order is b, c, a.
  ASSERT_EQ(response.items_size(), 3);
  EXPECT_EQ(response.items(0).item_id(), "b");
  EXPECT_EQ(response.items(1).item_id(), "c");
  EXPECT_EQ(response.items(2).item_id(), "a");
  EXPECT_EQ(response.request_id(), "req-1");
}

TEST(RerankerServiceArenaTest, HeapMessagesWhenDisabled) {
  ArenaObserver observer;
  v1::RerankResponse response;
  grpc::Status status;
  ServeOneCall(/*arena_messages=*/false, &observer, &response, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(observer.ok);
  EXPECT_FALSE(observer.on_arena);
  ASSERT_EQ(response.items_size(), 3);
  EXPECT_EQ(response.items(0).item_id(), "b");
}

}  // namespace
}  // namespace rerank
