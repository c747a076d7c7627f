// Cost of the learned rankers against the formula (issue 13, "Performance"):
//   BM_RerankRanker/kind:0  the formula (today's score)
//   BM_RerankRanker/kind:1  a linear ranker over rerank-train's default
//                           features (all:0) or every feature (all:1)
//   BM_RerankRanker/kind:2  gbdt: `trees` full trees of depth `depth` over
//                           the default features
// on the same requests (rerank-loadgen's RequestPool, every shopper known)
// against the same synthetic model with item counts, through RerankWire as
// rerankd calls it. Report ratios of kind 1 and 2 to kind 0 from one run:
//
//   build/bench/micro/ranker_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//
// BM_RankerRatio/kind:K measures the same ratio call by call (preferred on
// a noisy machine; see its comment).
//
// Args: kind, candidates, dim, events, trees, depth, all.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "benchmark/benchmark.h"
#include "bench/micro/bench_requests.h"
#include "bench/micro/synthetic_model.h"
#include "model/model_snapshot.h"
#include "ranking/features.h"
#include "ranking/ranker.h"
#include "scoring/scorer.h"

namespace rerank::bench {
namespace {

constexpr int64_t kUsers = 10'000;
constexpr int64_t kItems = 100'000;
constexpr int kPoolSize = 16;

// A linear ranker over rerank-train's default features, or every feature.
RankerSpec LinearRanker(bool all_features, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  RankerSpec spec;
  spec.kind = RankerKind::kLinear;
  spec.feature_set = kFeatureSetName;
  if (all_features) {
    for (absl::string_view name : FeatureNames()) {
      spec.feature_names.emplace_back(name);
    }
  } else {
    for (const char* name : kDefaultRankerFeatures) {
      spec.feature_names.emplace_back(name);
    }
  }
  for (size_t j = 0; j < spec.feature_names.size(); ++j) {
    spec.linear.weights.push_back(u(rng));
    spec.linear.means.push_back(0.1 * u(rng));
    spec.linear.scales.push_back(1.0 + 0.5 * (u(rng) + 1.0));
  }
  return spec;
}

// Depth of node i in a breadth-first full binary tree.
int Level(int i) {
  int level = 0;
  while (i > 0) {
    i = (i - 1) / 2;
    ++level;
  }
  return level;
}

// Full binary trees of `depth` splitting on random features at random
// thresholds in [-0.5, 0.5): every row walks `depth` levels of every tree.
// Over rerank-train's default features.
RankerSpec FullTrees(int trees, int depth, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  RankerSpec spec;
  spec.kind = RankerKind::kGbdt;
  spec.feature_set = kFeatureSetName;
  for (const char* name : kDefaultRankerFeatures) {
    spec.feature_names.emplace_back(name);
  }
  const int num_features = static_cast<int>(spec.feature_names.size());
  const int nodes = (1 << (depth + 1)) - 1;
  const int internal = (1 << depth) - 1;
  for (int t = 0; t < trees; ++t) {
    TreeSpec tree;
    for (int i = 0; i < nodes; ++i) {
      const bool leaf = i >= internal;
      tree.left.push_back(leaf ? -1 : 2 * i + 1);
      tree.right.push_back(leaf ? -1 : 2 * i + 2);
      tree.feature.push_back(
          leaf ? 0 : static_cast<int32_t>(rng() % num_features));
      tree.threshold.push_back(leaf ? 0.0f : static_cast<float>(u(rng)));
      tree.default_left.push_back(static_cast<uint8_t>(rng() & 1));
      tree.value.push_back(leaf ? 0.01 * u(rng) : 0.0);
      tree.cover.push_back(static_cast<double>(1 << (depth - Level(i))));
    }
    spec.gbdt.trees.push_back(std::move(tree));
  }
  return spec;
}

std::shared_ptr<const ModelSnapshot> ModelWithRankers(
    int32_t dim, int trees, int depth, bool all_features,
    int64_t items = kItems) {
  static std::mutex mu;
  static auto* cache =
      new std::map<std::tuple<int32_t, int, int, bool, int64_t>,
                   std::shared_ptr<const ModelSnapshot>>();
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = (*cache)[{dim, trees, depth, all_features, items}];
  if (slot == nullptr) {
    SyntheticModelOptions o;
    o.users = kUsers;
    o.items = items;
    o.dim = dim;
    ModelData data = MakeSyntheticModelData(o);
    data.item_counts.resize(data.item_ids.size());
    for (size_t i = 0; i < data.item_counts.size(); ++i) {
      data.item_counts[i] = static_cast<float>(i % 1000);
    }
    data.rankers = {LinearRanker(all_features, 11),
                    FullTrees(trees, depth, 13)};
    data.default_ranker = RankerKind::kFormula;
    auto model = ModelSnapshot::FromData(std::move(data));
    if (!model.ok()) {
      std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
      std::abort();
    }
    slot = std::move(*model);
  }
  return slot;
}

void BM_RerankRanker(benchmark::State& state) {
  const auto kind = static_cast<RankerKind>(state.range(0));
  const int candidates = static_cast<int>(state.range(1));
  const int32_t dim = static_cast<int32_t>(state.range(2));
  const int events = static_cast<int>(state.range(3));
  const int trees = static_cast<int>(state.range(4));
  const int depth = static_cast<int>(state.range(5));
  const bool all_features = state.range(6) != 0;
  const auto model = ModelWithRankers(dim, trees, depth, all_features);
  const auto requests =
      SyntheticRequests(kItems, kUsers, candidates, events, kPoolSize);
  ScorerOptions options;
  options.ranker = kind;
  std::string items_wire;
  size_t i = 0;
  for (auto _ : state) {
    v1::RerankResponse response;
    items_wire.clear();
    const absl::Status status =
        RerankWire(*model, requests[i], options, 0, &response, &items_wire);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(items_wire.data());
    if (++i == requests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations() * candidates);
}

// The ratio itself, paired call by call: each iteration scores one request
// with the formula and with ranker `kind` (alternating which goes first, so
// neither always finds the other's cache lines), timing each call. On a
// shared machine whose speed drifts by 2x within a minute, two medians
// taken seconds apart are not a ratio; the sums of paired calls are.
// Counters: formula_us and ranker_us per call, ratio = ranker / formula.
// Args as BM_RerankRanker's, with the model's item count last.
void BM_RankerRatio(benchmark::State& state) {
  const auto kind = static_cast<RankerKind>(state.range(0));
  const int candidates = static_cast<int>(state.range(1));
  const int32_t dim = static_cast<int32_t>(state.range(2));
  const int events = static_cast<int>(state.range(3));
  const int trees = static_cast<int>(state.range(4));
  const int depth = static_cast<int>(state.range(5));
  const int64_t items = state.range(6);
  const auto model = ModelWithRankers(dim, trees, depth, false, items);
  const auto requests =
      SyntheticRequests(items, kUsers, candidates, events, kPoolSize);
  ScorerOptions formula;
  formula.ranker = RankerKind::kFormula;
  ScorerOptions ranker;
  ranker.ranker = kind;
  std::string items_wire;
  double formula_ns = 0.0;
  double ranker_ns = 0.0;
  size_t i = 0;
  bool formula_first = true;
  auto timed = [&](const ScorerOptions& options, double* total) {
    v1::RerankResponse response;
    items_wire.clear();
    const auto start = std::chrono::steady_clock::now();
    const absl::Status status =
        RerankWire(*model, requests[i], options, 0, &response, &items_wire);
    benchmark::DoNotOptimize(items_wire.data());
    *total += std::chrono::duration<double, std::nano>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    return status;
  };
  for (auto _ : state) {
    absl::Status a, b;
    if (formula_first) {
      a = timed(formula, &formula_ns);
      b = timed(ranker, &ranker_ns);
    } else {
      b = timed(ranker, &ranker_ns);
      a = timed(formula, &formula_ns);
    }
    if (!a.ok() || !b.ok()) {
      state.SkipWithError((a.ok() ? b : a).ToString().c_str());
      break;
    }
    formula_first = !formula_first;
    if (++i == requests.size()) i = 0;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["formula_us"] = formula_ns / n / 1000.0;
  state.counters["ranker_us"] = ranker_ns / n / 1000.0;
  state.counters["ratio"] = formula_ns > 0.0 ? ranker_ns / formula_ns : 0.0;
}

BENCHMARK(BM_RankerRatio)
    ->ArgNames({"kind", "cand", "dim", "events", "trees", "depth", "items"})
    ->Args({1, 200, 64, 20, 300, 6, kItems})
    ->Args({2, 200, 64, 20, 300, 6, kItems})
    // A model small enough to stay in cache (the demo model's size): the
    // ratio without the memory stalls that both scorers share at 100K.
    ->Args({1, 200, 64, 20, 300, 6, 4000})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK(BM_RerankRanker)
    ->ArgNames({"kind", "cand", "dim", "events", "trees", "depth", "all"})
    ->Args({0, 200, 64, 20, 300, 6, 0})
    ->Args({1, 200, 64, 20, 300, 6, 0})
    ->Args({1, 200, 64, 20, 300, 6, 1})
    ->Args({2, 200, 64, 20, 300, 6, 0})
    ->Args({0, 1000, 64, 50, 300, 6, 0})
    ->Args({1, 1000, 64, 50, 300, 6, 0})
    ->Args({2, 1000, 64, 50, 300, 6, 0})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace rerank::bench

BENCHMARK_MAIN();
