// A plain driver for profiling the scorer under callgrind (perf counters are
// not available on this VM): builds the same synthetic model and requests as
// scorer_bench, then calls Rerank --iterations times. Count only the scoring
// (the call, and the destruction of its response, as a server pays both)
// with
//
//   valgrind --tool=callgrind --toggle-collect='*RerankOnce*'
//     build-perf/bench/micro/scorer_profile --candidates=1000 --dim=64
//     --events=50 --iterations=200
//
// and divide the instruction total (callgrind_annotate) by --iterations.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/micro/synthetic_model.h"
#include "google/protobuf/arena.h"
#include "loadgen/request_pool.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"
#include "service/arena_message_allocator.h"

ABSL_FLAG(int32_t, candidates, 1000, "Candidates per request.");
ABSL_FLAG(int32_t, dim, 64, "Model dimension.");
ABSL_FLAG(int32_t, events, 50, "Events per request.");
ABSL_FLAG(int64_t, items, 100'000, "Items in the synthetic model.");
ABSL_FLAG(int64_t, users, 10'000, "Users in the synthetic model.");
ABSL_FLAG(int32_t, iterations, 200, "Rerank calls.");
ABSL_FLAG(int32_t, pool, 16, "Distinct requests cycled.");
ABSL_FLAG(bool, null_scorer, false, "Call RerankNull instead.");
ABSL_FLAG(bool, arena, false,
          "Build each response on a protobuf Arena (as a server with an "
          "arena message allocator would) instead of the heap.");
ABSL_FLAG(bool, pooled_arena, false,
          "Take each response from rerankd's pooled ArenaMessageAllocator "
          "(kept arena blocks) instead of the heap.");
ABSL_FLAG(bool, wire, false,
          "Items in wire form (RerankWire / RerankNullWire), as rerankd "
          "sends them; with --pooled_arena this is rerankd's own path.");

namespace {

using RerankAllocator =
    rerank::ArenaMessageAllocator<rerank::v1::RerankRequest,
                                  rerank::v1::RerankResponse>;

// One call as a server makes it: a fresh response, scored, then destroyed.
// Not inlined, so that callgrind can count exactly this.
ABSL_ATTRIBUTE_NOINLINE absl::Status RerankOnce(
    const rerank::ModelSnapshot& model,
    const rerank::v1::RerankRequest& request,
    const rerank::ScorerOptions& options, bool null_scorer, bool arena,
    RerankAllocator* pooled, std::string* items_wire, int64_t* checksum) {
  google::protobuf::Arena a;
  rerank::v1::RerankResponse heap_response;
  grpc::MessageHolder<rerank::v1::RerankRequest, rerank::v1::RerankResponse>*
      holder = pooled != nullptr ? pooled->AllocateMessages() : nullptr;
  rerank::v1::RerankResponse* response =
      holder != nullptr ? holder->response()
      : arena
          ? google::protobuf::Arena::CreateMessage<rerank::v1::RerankResponse>(
                &a)
          : &heap_response;
  absl::Status status;
  if (items_wire != nullptr) {
    items_wire->clear();
    status = null_scorer ? rerank::RerankNullWire(model, request, options, 0,
                                                  response, items_wire)
                         : rerank::RerankWire(model, request, options, 0,
                                              response, items_wire);
    if (status.ok()) *checksum += static_cast<int64_t>(items_wire->size());
  } else {
    status = null_scorer
                 ? rerank::RerankNull(model, request, options, 0, response)
                 : rerank::Rerank(model, request, options, 0, response);
    if (status.ok()) *checksum += response->items(0).input_position();
  }
  if (holder != nullptr) holder->Release();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  rerank::bench::SyntheticModelOptions mo;
  mo.items = absl::GetFlag(FLAGS_items);
  mo.users = absl::GetFlag(FLAGS_users);
  mo.dim = absl::GetFlag(FLAGS_dim);
  const auto model = rerank::bench::MakeSyntheticModel(mo);

  rerank::loadgen::RequestPoolOptions po;
  po.pool_size = absl::GetFlag(FLAGS_pool);
  po.candidates = absl::GetFlag(FLAGS_candidates);
  po.events = absl::GetFlag(FLAGS_events);
  po.unknown_user_fraction = 0.0;
  auto pool = rerank::loadgen::RequestPool::Build(
      rerank::loadgen::SyntheticIds(static_cast<int>(mo.items),
                                    static_cast<int>(mo.users)),
      po);
  if (!pool.ok()) {
    std::fprintf(stderr, "%s\n", pool.status().ToString().c_str());
    return 1;
  }
  const rerank::ScorerOptions options;
  const bool null_scorer = absl::GetFlag(FLAGS_null_scorer);
  const bool arena = absl::GetFlag(FLAGS_arena);
  RerankAllocator allocator;
  RerankAllocator* pooled =
      absl::GetFlag(FLAGS_pooled_arena) ? &allocator : nullptr;
  std::string items_wire;
  std::string* wire = absl::GetFlag(FLAGS_wire) ? &items_wire : nullptr;
  const int iterations = absl::GetFlag(FLAGS_iterations);
  int64_t checksum = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < iterations; ++i) {
    const absl::Status status =
        RerankOnce(*model, pool->request(i % pool->size()), options,
                   null_scorer, arena, pooled, wire, &checksum);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.ToString().c_str());
      return 1;
    }
  }
  const double us = absl::ToDoubleMicroseconds(absl::Now() - start);
  std::printf("%d calls, %.1f us/call (checksum %lld)\n", iterations,
              us / iterations, static_cast<long long>(checksum));
  return 0;
}
