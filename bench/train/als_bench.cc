// als_bench: how fast does rerank-train's ALS (and neighbour build) run on a
// large catalogue? Generates a synthetic implicit-feedback log directly into
// an InteractionMatrix (no CSV: parsing is not what is measured), then runs
// TrainAls for a few iterations and BuildItemNeighbors, reporting seconds per
// ALS iteration and the peak RSS after each phase.
//
//   als_bench --users=1000000 --items=100000 --interactions=20000000
//       --factors=64 --iterations=3 --threads=2 --seed=42
//
// The log: `interactions` purchase events; each picks a user from a Zipf
// distribution (exponent --user_zipf, mild: a few heavy buyers) and an item
// from a Zipf distribution (exponent --item_zipf: power-law popularity), both
// over a seeded random permutation of the rows so that popularity is not
// correlated with the row order (which would flatter or hurt the chunking).
// Repeated (user, item) pairs are merged, as BuildInteractionMatrix does,
// so the matrix has fewer distinct pairs than events.

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"
#include "training/als.h"
#include "training/interaction_matrix.h"
#include "training/neighbors.h"

ABSL_FLAG(int64_t, users, 1000000, "Users.");
ABSL_FLAG(int64_t, items, 100000, "Items.");
ABSL_FLAG(int64_t, interactions, 20000000, "Events before de-duplication.");
ABSL_FLAG(double, item_zipf, 1.0, "Zipf exponent of item popularity.");
ABSL_FLAG(double, user_zipf, 0.5, "Zipf exponent of user activity.");
ABSL_FLAG(int32_t, factors, 64, "ALS factors.");
ABSL_FLAG(int32_t, iterations, 3, "ALS iterations.");
ABSL_FLAG(int32_t, cg_steps, 3, "CG steps per row (rerank-train default).");
ABSL_FLAG(int32_t, threads, 2, "Worker threads.");
ABSL_FLAG(uint64_t, seed, 42, "Seed of the generator and of ALS.");
ABSL_FLAG(int32_t, neighbors, 20,
          "Co-occurrence neighbours per item (0: skip the neighbour build).");
ABSL_FLAG(int32_t, max_user_history, 500,
          "Neighbour build: history cap per user (rerank-train default).");

namespace rerank {
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// CPU seconds (user + system, all threads) of this process so far. The
// machine the figures come from is shared, so wall time alone overstates
// the cost; CPU time / threads is what an idle machine would take.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         1e-9 * static_cast<double>(ts.tv_nsec);
}

// Peak resident set size of this process so far, in MiB.
double PeakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

// Samples row indices with P(rank r) proportional to 1 / (r + 1)^s, rank r
// mapped to a row through a seeded permutation. Inverse CDF by binary
// search: O(log n) per draw, exact and portable (no std distributions).
class ZipfSampler {
 public:
  ZipfSampler(int64_t n, double exponent, std::mt19937_64& rng)
      : cdf_(n), row_of_rank_(n) {
    double total = 0;
    for (int64_t r = 0; r < n; ++r) {
      total += std::pow(static_cast<double>(r + 1), -exponent);
      cdf_[r] = total;
    }
    for (double& c : cdf_) c /= total;
    std::iota(row_of_rank_.begin(), row_of_rank_.end(), 0);
    // Fisher-Yates with an unbiased-enough 64-bit modulo (n << 2^64).
    for (int64_t i = n - 1; i > 0; --i) {
      std::swap(row_of_rank_[i],
                row_of_rank_[rng() % static_cast<uint64_t>(i + 1)]);
    }
  }

  int32_t Next(std::mt19937_64& rng) const {
    const double u = static_cast<double>(rng() >> 11) * 0x1p-53;
    const int64_t r =
        std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin();
    return row_of_rank_[std::min<int64_t>(r, cdf_.size() - 1)];
  }

 private:
  std::vector<double> cdf_;
  std::vector<int32_t> row_of_rank_;
};

// The matrix BuildInteractionMatrix would build from such a log: rows are
// ids sorted byte-wise, which the zero-padded ids make numeric order.
InteractionMatrix Generate(int64_t num_users, int64_t num_items, int64_t events,
                           double user_zipf, double item_zipf, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const ZipfSampler users(num_users, user_zipf, rng);
  const ZipfSampler items(num_items, item_zipf, rng);
  std::vector<uint64_t> keys(events);
  for (int64_t k = 0; k < events; ++k) {
    const uint64_t u = static_cast<uint64_t>(users.Next(rng));
    keys[k] = (u << 32) | static_cast<uint32_t>(items.Next(rng));
  }
  std::sort(keys.begin(), keys.end());

  InteractionMatrix m;
  m.user_ids.resize(num_users);
  for (int64_t u = 0; u < num_users; ++u) {
    m.user_ids[u] = absl::StrFormat("u%07d", u);
  }
  m.item_ids.resize(num_items);
  for (int64_t i = 0; i < num_items; ++i) {
    m.item_ids[i] = absl::StrFormat("i%06d", i);
  }
  m.num_events = events;
  // Every event is a purchase, confidence weight 8 (EventWeights default);
  // repeats add up.
  constexpr float kPurchaseWeight = 8;
  m.user_indptr.assign(num_users + 1, 0);
  for (size_t k = 0; k < keys.size();) {
    size_t end = k;
    while (end < keys.size() && keys[end] == keys[k]) ++end;
    const int32_t u = static_cast<int32_t>(keys[k] >> 32);
    ++m.user_indptr[u + 1];
    m.item_index.push_back(static_cast<int32_t>(keys[k] & 0xffffffffu));
    m.user_weight.push_back(kPurchaseWeight * static_cast<float>(end - k));
    k = end;
  }
  keys = {};
  m.user_last_timestamp.assign(m.item_index.size(), 1.3e9);
  for (int64_t u = 0; u < num_users; ++u) {
    m.user_indptr[u + 1] += m.user_indptr[u];
  }
  // Transpose (users come out ascending per item).
  m.item_indptr.assign(num_items + 1, 0);
  for (int32_t i : m.item_index) ++m.item_indptr[i + 1];
  for (int64_t i = 0; i < num_items; ++i) {
    m.item_indptr[i + 1] += m.item_indptr[i];
  }
  m.user_index.resize(m.item_index.size());
  m.item_weight.resize(m.item_index.size());
  std::vector<int64_t> next(m.item_indptr.begin(), m.item_indptr.end() - 1);
  for (int64_t u = 0; u < num_users; ++u) {
    for (int64_t p = m.user_indptr[u]; p < m.user_indptr[u + 1]; ++p) {
      const int64_t slot = next[m.item_index[p]]++;
      m.user_index[slot] = static_cast<int32_t>(u);
      m.item_weight[slot] = m.user_weight[p];
    }
  }
  return m;
}

int Run() {
  const int64_t num_users = absl::GetFlag(FLAGS_users);
  const int64_t num_items = absl::GetFlag(FLAGS_items);
  const int64_t events = absl::GetFlag(FLAGS_interactions);
  const int threads = absl::GetFlag(FLAGS_threads);
  if (num_users < 1 || num_items < 1 || events < 1 || num_users > INT32_MAX ||
      num_items > INT32_MAX) {
    std::fprintf(stderr, "als_bench: bad sizes\n");
    return 2;
  }

  auto start = std::chrono::steady_clock::now();
  const InteractionMatrix m =
      Generate(num_users, num_items, events, absl::GetFlag(FLAGS_user_zipf),
               absl::GetFlag(FLAGS_item_zipf), absl::GetFlag(FLAGS_seed));
  const double gen_seconds = Seconds(start);
  int64_t active_users = 0, active_items = 0, max_user = 0, max_item = 0;
  for (int64_t u = 0; u < num_users; ++u) {
    const int64_t n = m.user_indptr[u + 1] - m.user_indptr[u];
    active_users += n > 0;
    max_user = std::max(max_user, n);
  }
  for (int64_t i = 0; i < num_items; ++i) {
    const int64_t n = m.item_indptr[i + 1] - m.item_indptr[i];
    active_items += n > 0;
    max_item = std::max(max_item, n);
  }
  std::printf(
      "matrix: %lld users (%lld with data, max %lld items) x %lld items "
      "(%lld with data, max %lld users), %lld events -> %lld distinct "
      "pairs; generated in %.1f s, peak RSS %.0f MiB\n",
      static_cast<long long>(num_users), static_cast<long long>(active_users),
      static_cast<long long>(max_user), static_cast<long long>(num_items),
      static_cast<long long>(active_items), static_cast<long long>(max_item),
      static_cast<long long>(events), static_cast<long long>(m.nnz()),
      gen_seconds, PeakRssMiB());
  std::fflush(stdout);

  AlsOptions als;
  als.factors = absl::GetFlag(FLAGS_factors);
  als.iterations = absl::GetFlag(FLAGS_iterations);
  als.cg_steps = absl::GetFlag(FLAGS_cg_steps);
  als.threads = threads;
  als.seed = absl::GetFlag(FLAGS_seed);
  // The loss costs about one more CG step per iteration and is not part of
  // training proper; rerank-train computes it only for its log.
  als.compute_loss = false;
  start = std::chrono::steady_clock::now();
  const double als_cpu_start = CpuSeconds();
  double last_cpu = als_cpu_start;
  double cpu_iterations = 0;
  auto result = TrainAls(m, als, [&](const AlsIterationStats& it) {
    // CPU since the previous callback: the first includes the random
    // initialisation, which is small next to an iteration.
    const double cpu = CpuSeconds();
    std::printf("ALS iteration %d: %.2f s wall, %.2f s CPU\n", it.iteration,
                it.seconds, cpu - last_cpu);
    cpu_iterations += cpu - last_cpu;
    last_cpu = cpu;
    std::fflush(stdout);
  });
  if (!result.ok()) {
    std::fprintf(stderr, "als_bench: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const double als_seconds = Seconds(start);
  double iteration_sum = 0;
  for (const AlsIterationStats& it : result->iterations) {
    iteration_sum += it.seconds;
  }
  const double iterations =
      static_cast<double>(std::max<size_t>(1, result->iterations.size()));
  std::printf(
      "ALS factors=%d cg_steps=%d threads=%d: %.2f s wall per iteration "
      "(mean of %d), %.2f s CPU per iteration, %.1f s wall total incl. "
      "init, peak RSS %.0f MiB\n",
      als.factors, als.cg_steps, threads, iteration_sum / iterations,
      static_cast<int>(result->iterations.size()), cpu_iterations / iterations,
      als_seconds, PeakRssMiB());
  std::fflush(stdout);

  const int num_neighbors = absl::GetFlag(FLAGS_neighbors);
  if (num_neighbors > 0) {
    NeighborOptions no;
    no.num_neighbors = num_neighbors;
    no.max_user_history = absl::GetFlag(FLAGS_max_user_history);
    no.threads = threads;
    start = std::chrono::steady_clock::now();
    const double cpu_start = CpuSeconds();
    auto table = BuildItemNeighbors(m, no);
    if (!table.ok()) {
      std::fprintf(stderr, "als_bench: %s\n",
                   table.status().ToString().c_str());
      return 1;
    }
    std::printf(
        "co-occurrence neighbours (top %d, min_support %d, history cap %d): "
        "%lld entries in %.1f s wall, %.1f s CPU, peak RSS %.0f MiB\n",
        num_neighbors, no.min_support, no.max_user_history,
        static_cast<long long>(table->size()), Seconds(start),
        CpuSeconds() - cpu_start, PeakRssMiB());
  }
  return 0;
}

}  // namespace
}  // namespace rerank

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Times TrainAls and BuildItemNeighbors on a synthetic power-law log.\n"
      "  als_bench --users=1000000 --items=100000 --interactions=20000000 "
      "--factors=64 --iterations=3 --threads=2");
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  return rerank::Run();
}
