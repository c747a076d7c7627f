// Micro-benchmarks of the hot path pieces (GitHub issue 4):
//   BM_Rerank        the scoring function alone: candidates x dim x events,
//                    the response on the heap (gRPC's default holder)
//   BM_RerankArena   the same, the response on a fresh protobuf Arena
//   BM_RerankPooledArena  the same, the response from rerankd's pooled
//                    ArenaMessageAllocator (round 2)
//   BM_RerankWire    the same with the items in wire form (RerankWire):
//                    what rerankd does since round 3
//   BM_ServeCall     parse the request from the wire, score, free both:
//                    heap messages vs the pooled arena allocator
//   BM_RerankNull    the null scorer on the same requests (parse-free floor)
//   BM_ParseRequest  protobuf ParseFromString of a 200-candidate request
//   BM_SerializeResponse  the matching 200-item response
//   BM_FindItem      id lookup in a 1M-item model
//   BM_SortKeys      OrderCandidates' key sort: std::sort vs SortKeys
//
// Requests come from rerank-loadgen's RequestPool (the same generator the
// end-to-end runs use) against a synthetic model with the same id scheme.
// Each benchmark cycles through a pool of distinct requests so that the
// candidates' id-table slots and factor rows are not all hot in cache, as
// they would not be in a server handling different shoppers.
//
//   build-perf/bench/micro/scorer_bench --benchmark_filter=BM_Rerank/1000/64/50
//
// Args of BM_Rerank / BM_RerankNull: candidates, dim, events, model items.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/micro/bench_requests.h"
#include "bench/micro/synthetic_model.h"
#include "google/protobuf/arena.h"
#include "loadgen/request_pool.h"
#include "model/model_snapshot.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/radix_sort.h"
#include "scoring/scorer.h"
#include "scoring/scoring_context.h"
#include "service/arena_message_allocator.h"

namespace rerank::bench {
namespace {

constexpr int64_t kUsers = 10'000;
constexpr int64_t kDefaultItems = 100'000;
constexpr int kNeighbors = 20;
constexpr int kPoolSize = 16;

// Models are expensive to build; one per (items, dim), kept for the process.
std::shared_ptr<const ModelSnapshot> ModelFor(
    int64_t items, int32_t dim, int32_t neighbors = kNeighbors,
    int64_t users = kUsers, FactorDtype dtype = FactorDtype::kFloat32) {
  static std::mutex mu;
  static auto* cache =
      new std::map<std::tuple<int64_t, int32_t, int32_t, int64_t, FactorDtype>,
                   std::shared_ptr<const ModelSnapshot>>();
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = (*cache)[{items, dim, neighbors, users, dtype}];
  if (slot == nullptr) {
    SyntheticModelOptions o;
    o.users = users;
    o.items = items;
    o.dim = dim;
    o.neighbors = neighbors;
    o.factor_dtype = dtype;
    slot = MakeSyntheticModel(o);
  }
  return slot;
}

std::vector<v1::RerankRequest> Requests(int64_t items, int candidates,
                                        int events, int pool_size) {
  return SyntheticRequests(items, kUsers, candidates, events, pool_size);
}

ScorerOptions DefaultScorerOptions() {
  ScorerOptions o;  // the configured defaults of deploy/config/rerankd.json
  return o;
}

using RerankAllocator =
    ArenaMessageAllocator<v1::RerankRequest, v1::RerankResponse>;

enum class ResponseOn {
  kHeap,        // a heap message per call: gRPC's default message holder
  kFreshArena,  // a default-constructed protobuf Arena per call
  kPooled,      // rerankd's ArenaMessageAllocator (kept blocks, pooled)
  kPooledWire,  // the same, items in wire form (RerankWire): rerankd now
};

// What a fifth benchmark argument means, if any.
enum class Fifth {
  kNone,
  kDtype,  // the factor storage: 0 float32, 1 float16, 2 int8
  kTopK,   // request.top_k
};

template <bool kNull, ResponseOn kOn = ResponseOn::kHeap,
          Fifth kFifth = Fifth::kNone>
void RunScorer(benchmark::State& state) {
  const int candidates = static_cast<int>(state.range(0));
  const int32_t dim = static_cast<int32_t>(state.range(1));
  const int events = static_cast<int>(state.range(2));
  const int64_t items = state.range(3);
  const FactorDtype dtype = kFifth == Fifth::kDtype
                                ? static_cast<FactorDtype>(state.range(4))
                                : FactorDtype::kFloat32;
  const auto model = ModelFor(items, dim, kNeighbors, kUsers, dtype);
  auto requests = Requests(items, candidates, events, kPoolSize);
  if constexpr (kFifth == Fifth::kTopK) {
    for (v1::RerankRequest& r : requests) {
      r.set_top_k(static_cast<uint32_t>(state.range(4)));
    }
  }
  const ScorerOptions options = DefaultScorerOptions();
  RerankAllocator allocator;
  std::string items_wire;  // kept across calls, as rerankd's per thread
  size_t i = 0;
  for (auto _ : state) {
    // A fresh response per call, destroyed inside the timed loop, as the
    // server's callback handler gets and frees one per call.
    google::protobuf::Arena arena;
    v1::RerankResponse heap_response;
    grpc::MessageHolder<v1::RerankRequest, v1::RerankResponse>* holder =
        nullptr;
    v1::RerankResponse* response = &heap_response;
    if constexpr (kOn == ResponseOn::kFreshArena) {
      response =
          google::protobuf::Arena::CreateMessage<v1::RerankResponse>(&arena);
    } else if constexpr (kOn == ResponseOn::kPooled ||
                         kOn == ResponseOn::kPooledWire) {
      holder = allocator.AllocateMessages();
      response = holder->response();
    }
    absl::Status status;
    if constexpr (kOn == ResponseOn::kPooledWire) {
      items_wire.clear();
      status = kNull ? RerankNullWire(*model, requests[i], options, 0, response,
                                      &items_wire)
                     : RerankWire(*model, requests[i], options, 0, response,
                                  &items_wire);
      benchmark::DoNotOptimize(items_wire.data());
    } else {
      status = kNull ? RerankNull(*model, requests[i], options, 0, response)
                     : Rerank(*model, requests[i], options, 0, response);
    }
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(response->items_size());
    if (holder != nullptr) holder->Release();
    if (++i == requests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations() * candidates);
  state.counters["ns_per_candidate"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * candidates,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Rerank(benchmark::State& state) { RunScorer<false>(state); }
void BM_RerankNull(benchmark::State& state) { RunScorer<true>(state); }
void BM_RerankArena(benchmark::State& state) {
  RunScorer<false, ResponseOn::kFreshArena>(state);
}
void BM_RerankPooledArena(benchmark::State& state) {
  RunScorer<false, ResponseOn::kPooled>(state);
}
void BM_RerankNullPooledArena(benchmark::State& state) {
  RunScorer<true, ResponseOn::kPooled>(state);
}
void BM_RerankWire(benchmark::State& state) {
  RunScorer<false, ResponseOn::kPooledWire>(state);
}
void BM_RerankNullWire(benchmark::State& state) {
  RunScorer<true, ResponseOn::kPooledWire>(state);
}

// rerankd's path (pooled arena, wire items) on float32 / float16 / int8
// factor storage: the long-list and the end-to-end shapes.
void BM_RerankFactorDtype(benchmark::State& state) {
  RunScorer<false, ResponseOn::kPooledWire, Fifth::kDtype>(state);
}
// Long lists cut to a short page: partial ordering only.
void BM_RerankTopK(benchmark::State& state) {
  RunScorer<false, ResponseOn::kPooledWire, Fifth::kTopK>(state);
}

void ScorerArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"cand", "dim", "events", "items"});
  for (int64_t candidates : {100, 1000, 10000}) {
    for (int64_t dim : {32, 64, 128}) {
      for (int64_t events : {0, 50}) {
        b->Args({candidates, dim, events, kDefaultItems});
      }
    }
  }
  // Sensitivity: the headline case on a 1M-item model, whose id table and
  // factors (256 MB at dim 64) do not fit in the last-level cache.
  b->Args({1000, 64, 50, 1'000'000});
  // The end-to-end scenario's shape.
  b->Args({200, 64, 20, kDefaultItems});
}

BENCHMARK(BM_Rerank)->Apply(ScorerArgs)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RerankFactorDtype)
    ->ArgNames({"cand", "dim", "events", "items", "dtype"})
    ->ArgsProduct({{1000}, {64}, {50}, {kDefaultItems, 1'000'000}, {0, 1, 2}})
    ->ArgsProduct({{200}, {64}, {20}, {kDefaultItems}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RerankTopK)
    ->ArgNames({"cand", "dim", "events", "items", "top_k"})
    ->ArgsProduct({{10000}, {64}, {50}, {kDefaultItems}, {0, 100}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RerankPooledArena)
    ->Apply(ScorerArgs)
    ->Unit(benchmark::kMicrosecond);

// Merchandising rules on top of the end-to-end shape (README
// "Merchandising"): the cost of each stage alone and of all of them. Every
// candidate gets one of 20 categories so that category rules have work.
//   rules: 0 none (categories set), 1 filters + boosts (10 excluded items,
//   a category exclusion, 3 boosts), 2 diversity (top 10, pool 50),
//   3 caps (2 per category in the first 10), 4 two pins, 5 all of them.
void BM_RerankWithRules(benchmark::State& state) {
  const int candidates = static_cast<int>(state.range(0));
  const int kind = static_cast<int>(state.range(1));
  constexpr int32_t kDim = 64;
  const auto model = ModelFor(kDefaultItems, kDim);
  std::vector<v1::RerankRequest> requests =
      Requests(kDefaultItems, candidates, /*events=*/20, kPoolSize);
  for (v1::RerankRequest& request : requests) {
    for (int c = 0; c < request.candidates_size(); ++c) {
      request.mutable_candidates(c)->set_category(absl::StrCat("c", c % 20));
    }
    v1::Rules* rules = request.mutable_rules();
    if (kind == 1 || kind == 5) {
      for (int c = 0; c < 10; ++c) {
        rules->add_exclude_items(request.candidates(c * 7).item_id());
      }
      rules->add_exclude_categories("c19");
      v1::BoostRule* b = rules->add_boosts();
      b->set_category("c3");
      b->set_mode(v1::BOOST_MODE_ADD);
      b->set_value(0.5);
      b = rules->add_boosts();
      b->set_item_id(request.candidates(5).item_id());
      b->set_mode(v1::BOOST_MODE_MULTIPLY);
      b->set_value(2);
      b = rules->add_boosts();
      b->set_category("c4");
      b->set_mode(v1::BOOST_MODE_MULTIPLY);
      b->set_value(0.5);
    }
    if (kind == 2 || kind == 5) {
      rules->mutable_diversity()->set_lambda(0.7);
      rules->mutable_diversity()->set_top(10);
      rules->mutable_diversity()->set_pool(50);
    }
    if (kind == 3 || kind == 5) {
      v1::Cap* cap = rules->add_caps();
      cap->set_field(v1::CAP_FIELD_CATEGORY);
      cap->set_max_items(2);
      cap->set_within_top(10);
    }
    if (kind == 4 || kind == 5) {
      v1::Pin* pin = rules->add_pins();
      pin->set_item_id(request.candidates(candidates - 1).item_id());
      pin->set_slot(0);
      pin = rules->add_pins();
      pin->set_item_id(request.candidates(candidates - 2).item_id());
      pin->set_slot(3);
    }
    if (kind == 0) request.clear_rules();
  }
  const ScorerOptions options = DefaultScorerOptions();
  RerankAllocator allocator;
  size_t i = 0;
  for (auto _ : state) {
    grpc::MessageHolder<v1::RerankRequest, v1::RerankResponse>* holder =
        allocator.AllocateMessages();
    const absl::Status status =
        Rerank(*model, requests[i], options, 0, holder->response());
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      holder->Release();
      break;
    }
    benchmark::DoNotOptimize(holder->response()->items_size());
    holder->Release();
    if (++i == requests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations() * candidates);
}
BENCHMARK(BM_RerankWithRules)
    ->ArgNames({"cand", "rules"})
    ->ArgsProduct({{200, 1000}, {0, 1, 2, 3, 4, 5}})
    ->Unit(benchmark::kMicrosecond);

// A context with this thread's reusable buffers where the tree has them.
template <typename Ctx>
Ctx MakeContext(const ModelSnapshot& model, const v1::RerankRequest& request) {
  if constexpr (requires { typename Ctx::Buffers; }) {
    thread_local typename Ctx::Buffers buffers;
    return Ctx(model, request, request.now_ms(), &buffers);
  } else {
    return Ctx(model, request, request.now_ms());
  }
}

// Every stage of Rerank except EmitResponse: validation, lookups, scoring
// and ordering, without building the protobuf response (one RankedItem and
// one std::string allocation per candidate, which the null scorer pays too).
// Built from the stages of scoring_context.h exactly as Rerank calls them.
// Ctx is scoring_internal::ScoringContext; a template so that this also
// builds against the tree before ScoringBuffers existed (no buffer reuse).
template <typename Ctx>
void RunScoreOnly(benchmark::State& state) {
  namespace si = scoring_internal;
  const int candidates = static_cast<int>(state.range(0));
  const int32_t dim = static_cast<int32_t>(state.range(1));
  const int events = static_cast<int>(state.range(2));
  const int64_t items = state.range(3);
  const auto model = ModelFor(items, dim);
  const auto requests = Requests(items, candidates, events, kPoolSize);
  const ScorerOptions options = DefaultScorerOptions();
  size_t i = 0;
  for (auto _ : state) {
    const v1::RerankRequest& request = requests[i];
    if (!ValidateRequest(request, options.limits).ok()) {
      state.SkipWithError("invalid request");
      break;
    }
    Ctx ctx = MakeContext<Ctx>(*model, request);
    if (!si::ResolveWeights(options, &ctx).ok()) break;
    (void)si::ResolveUser(&ctx);  // no user_vector: cannot fail
    si::ResolveCandidates(&ctx);
    si::ResolveEvents(&ctx);
    si::DropCandidates(&ctx);
    si::BuildUserVector(&ctx);
    si::ScoreCandidates(&ctx);
    si::OrderCandidates(request.top_k(), &ctx);
    benchmark::DoNotOptimize(ctx.order.data());
    if (++i == requests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations() * candidates);
}
void BM_ScoreOnly(benchmark::State& state) {
  RunScoreOnly<scoring_internal::ScoringContext>(state);
}
BENCHMARK(BM_ScoreOnly)
    ->ArgNames({"cand", "dim", "events", "items"})
    ->Args({1000, 64, 50, kDefaultItems})
    ->Args({200, 64, 20, kDefaultItems})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RerankArena)
    ->ArgNames({"cand", "dim", "events", "items"})
    ->Args({1000, 64, 50, kDefaultItems})
    ->Args({200, 64, 20, kDefaultItems})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RerankNull)
    ->ArgNames({"cand", "dim", "events", "items"})
    ->Args({1000, 64, 50, kDefaultItems})
    ->Args({200, 64, 20, kDefaultItems})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RerankNullPooledArena)
    ->ArgNames({"cand", "dim", "events", "items"})
    ->Args({1000, 64, 50, kDefaultItems})
    ->Args({200, 64, 20, kDefaultItems})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RerankWire)->Apply(ScorerArgs)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RerankNullWire)
    ->ArgNames({"cand", "dim", "events", "items"})
    ->Args({1000, 64, 50, kDefaultItems})
    ->Args({200, 64, 20, kDefaultItems})
    ->Unit(benchmark::kMicrosecond);

// The 200 -> 1000 candidate "superlinearity": per-candidate cost against
// how many distinct candidates the cycled requests touch (pool x
// candidates). Arg 2 is the pool size: 1 keeps one request's items hot in
// L1/L2; 16 x 1000 candidates (16K items, 4 MB of factor rows at dim 64
// plus their id-table slots and ids) no longer fit in this machine's 2 MB
// L2, 16 x 200 do. Response on the pooled arena, to leave malloc out.
void BM_WorkingSet(benchmark::State& state) {
  const int candidates = static_cast<int>(state.range(0));
  const int events = static_cast<int>(state.range(1));
  const int pool = static_cast<int>(state.range(2));
  const auto model = ModelFor(kDefaultItems, 64);
  const auto requests = Requests(kDefaultItems, candidates, events, pool);
  const ScorerOptions options = DefaultScorerOptions();
  RerankAllocator allocator;
  size_t i = 0;
  for (auto _ : state) {
    auto* holder = allocator.AllocateMessages();
    if (!Rerank(*model, requests[i], options, 0, holder->response()).ok()) {
      state.SkipWithError("rerank failed");
      break;
    }
    holder->Release();
    if (++i == requests.size()) i = 0;
  }
  state.counters["ns_per_candidate"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * candidates,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_WorkingSet)
    ->ArgNames({"cand", "events", "pool"})
    ->Args({200, 20, 1})
    ->Args({200, 20, 16})
    ->Args({200, 20, 80})
    ->Args({1000, 20, 1})
    ->Args({1000, 20, 16})
    ->Args({1000, 50, 1})
    ->Args({1000, 50, 16})
    ->Unit(benchmark::kMicrosecond);

// One call's message work as the server does it: the request parsed from
// its wire bytes, scored, the response serialized, then request and
// response freed. Arg "mode" 0: heap messages (gRPC's default holder: a
// message object per message); 1: rerankd's pooled ArenaMessageAllocator
// (round 2); 2: the pooled allocator with the items in wire form, the
// response bytes being the serialized rest plus the items (rerankd's raw
// handler since round 3).
void BM_ServeCall(benchmark::State& state) {
  const int candidates = static_cast<int>(state.range(0));
  const int events = static_cast<int>(state.range(1));
  const int mode = static_cast<int>(state.range(2));
  const bool pooled = mode != 0;
  const auto model = ModelFor(kDefaultItems, 64);
  std::vector<std::string> wire;
  for (const auto& r : Requests(kDefaultItems, candidates, events, kPoolSize)) {
    wire.push_back(r.SerializeAsString());
  }
  const ScorerOptions options = DefaultScorerOptions();
  RerankAllocator allocator;
  std::string items_wire;
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    absl::Status status;
    out.clear();
    if (pooled) {
      auto* holder = allocator.AllocateMessages();
      if (!holder->request()->ParseFromString(wire[i])) {
        status = absl::InternalError("parse");
      } else if (mode == 2) {
        items_wire.clear();
        status = RerankWire(*model, *holder->request(), options, 0,
                            holder->response(), &items_wire);
        holder->response()->AppendToString(&out);
        out.append(items_wire);
      } else {
        status =
            Rerank(*model, *holder->request(), options, 0, holder->response());
        holder->response()->AppendToString(&out);
      }
      holder->Release();
    } else {
      auto request = std::make_unique<v1::RerankRequest>();
      auto response = std::make_unique<v1::RerankResponse>();
      if (request->ParseFromString(wire[i])) {
        status = Rerank(*model, *request, options, 0, response.get());
        response->AppendToString(&out);
      } else {
        status = absl::InternalError("parse");
      }
    }
    benchmark::DoNotOptimize(out.data());
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    if (++i == wire.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations() * candidates);
}
BENCHMARK(BM_ServeCall)
    ->ArgNames({"cand", "events", "mode"})
    ->Args({1000, 50, 0})
    ->Args({1000, 50, 1})
    ->Args({1000, 50, 2})
    ->Args({200, 20, 0})
    ->Args({200, 20, 1})
    ->Args({200, 20, 2})
    ->Unit(benchmark::kMicrosecond);

// ParseFromString of a 200-candidate x 20-event request, as the server's
// gRPC layer does for every call. arg 0: a fresh heap message per call,
// destroyed in the loop (what rerankd's callback handler does); arg 1: a
// fresh message on an arena per call (a server with an arena message
// allocator); arg 2: one heap message reused (Clear keeps the sub-messages:
// a lower bound).
void BM_ParseRequest(benchmark::State& state) {
  const auto requests = Requests(kDefaultItems, 200, 20, kPoolSize);
  std::vector<std::string> wire;
  size_t bytes = 0;
  for (const auto& r : requests) {
    wire.push_back(r.SerializeAsString());
    bytes += wire.back().size();
  }
  const int64_t mode = state.range(0);
  v1::RerankRequest reused;
  size_t i = 0;
  size_t processed = 0;
  for (auto _ : state) {
    bool ok;
    if (mode == 0) {
      v1::RerankRequest fresh;
      ok = fresh.ParseFromString(wire[i]);
      benchmark::DoNotOptimize(fresh);
    } else if (mode == 1) {
      google::protobuf::Arena arena;
      auto* msg =
          google::protobuf::Arena::CreateMessage<v1::RerankRequest>(&arena);
      ok = msg->ParseFromString(wire[i]);
      benchmark::DoNotOptimize(msg);
    } else {
      ok = reused.ParseFromString(wire[i]);
      benchmark::DoNotOptimize(reused);
    }
    if (!ok) {
      state.SkipWithError("parse failed");
      break;
    }
    processed += wire[i].size();
    if (++i == wire.size()) i = 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(processed));
  state.counters["request_bytes"] =
      static_cast<double>(bytes) / static_cast<double>(wire.size());
}
BENCHMARK(BM_ParseRequest)
    ->ArgName("fresh0_arena1_reused2")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond);

// SerializeToString of the response to a 200-candidate request.
void BM_SerializeResponse(benchmark::State& state) {
  const auto requests = Requests(kDefaultItems, 200, 20, 1);
  const auto model = ModelFor(kDefaultItems, 64);
  v1::RerankResponse response;
  if (!Rerank(*model, requests[0], DefaultScorerOptions(), 0, &response).ok()) {
    state.SkipWithError("rerank failed");
    return;
  }
  std::string out;
  for (auto _ : state) {
    out.clear();
    response.SerializeToString(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_SerializeResponse)->Unit(benchmark::kMicrosecond);

// FindItem on a 1M-item model: arg 0 = known ids in random order, 1 = ids
// the model does not have. Per lookup.
void BM_FindItem(benchmark::State& state) {
  constexpr int64_t kItems = 1'000'000;
  const auto model = ModelFor(kItems, 8, /*neighbors=*/0, /*users=*/0);
  const bool unknown = state.range(0) != 0;
  // 64K probe ids in a fixed pseudo-random order: the probes walk the whole
  // table, so they measure cache misses as a server would see them.
  std::vector<std::string> probes;
  uint64_t x = 12345;
  for (int i = 0; i < 65536; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const int64_t row = static_cast<int64_t>((x >> 33) % kItems);
    probes.push_back(unknown ? absl::StrCat("nope-", row)
                             : absl::StrCat("item-", row));
  }
  size_t i = 0;
  int64_t found = 0;
  for (auto _ : state) {
    found += model->FindItem(probes[i]) >= 0;
    i = (i + 1) & 65535;
  }
  benchmark::DoNotOptimize(found);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FindItem)->ArgName("unknown")->Arg(0)->Arg(1);

// Sorting OrderCandidates' packed keys (score bits, slot in the low bits):
// arg 1 = RadixSortKeys, 0 = std::sort (SortKeys switches between them at
// kRadixSortMinKeys). Keys
// are built as the scorer builds them from scores spread like the
// synthetic model's (a normal-ish sum), so that the high bytes repeat as
// real scores' exponents do. Per call, including the copy of the keys.
void BM_SortKeys(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const bool radix = state.range(1) != 0;
  // Many distinct key sets: with a few, repeated, the branch predictor
  // learns std::sort's comparisons outright (a 512-key sort then ran 4x
  // faster than on fresh keys), which no server sees.
  const size_t kPool = std::max<size_t>(16, (size_t{1} << 19) / n);
  std::vector<std::vector<uint64_t>> pool(kPool);
  uint64_t x = 99;
  const int slot_bits = std::max<int>(1, std::bit_width(n - 1));
  for (auto& keys : pool) {
    for (size_t s = 0; s < n; ++s) {
      double score = 0.0;
      for (int t = 0; t < 4; ++t) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        score += static_cast<double>(x >> 11) * 0x1.0p-53;
      }
      uint64_t bits;
      std::memcpy(&bits, &score, sizeof(bits));
      const uint64_t key = ~(bits | (uint64_t{1} << 63));  // descending
      keys.push_back((key & ~((uint64_t{1} << slot_bits) - 1)) | s);
    }
  }
  std::vector<uint64_t> keys;
  std::vector<uint64_t> scratch;
  size_t i = 0;
  for (auto _ : state) {
    keys = pool[i];
    i = (i + 1) % kPool;
    if (radix) {
      scoring_internal::RadixSortKeys(&keys, &scratch);
    } else {
      std::sort(keys.begin(), keys.end());
    }
    benchmark::DoNotOptimize(keys.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_SortKeys)
    ->ArgNames({"keys", "radix"})
    ->ArgsProduct({{50, 100, 150, 200, 300, 1000, 10000}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace rerank::bench

BENCHMARK_MAIN();
