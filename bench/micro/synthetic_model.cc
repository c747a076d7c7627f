#include "bench/micro/synthetic_model.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rerank::bench {
namespace {

// splitmix64: the generator only has to be fast and deterministic (a 10M-user
// model needs 640M floats; std::mt19937 would take longer than the write).
class FastRng {
 public:
  explicit FastRng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 bits, exact in float.
  float Unit() { return static_cast<float>(Next() >> 40) * 0x1.0p-24f; }
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

void FillFactors(int64_t rows, int32_t dim, uint64_t seed,
                 std::vector<float>* out) {
  out->resize(static_cast<size_t>(rows) * dim);
  FastRng rng(seed);
  for (float& v : *out) v = (rng.Unit() - 0.5f) * 0.2f;
}

}  // namespace

ModelData MakeSyntheticModelData(const SyntheticModelOptions& o) {
  ModelData d;
  d.version = absl::StrCat("synthetic-u", o.users, "-i", o.items, "-d", o.dim);
  d.dim = o.dim;
  d.factor_dtype = o.factor_dtype;
  d.user_ids.reserve(o.users);
  for (int64_t u = 0; u < o.users; ++u) {
    d.user_ids.push_back(absl::StrCat("user-", u));
  }
  d.item_ids.reserve(o.items);
  for (int64_t i = 0; i < o.items; ++i) {
    d.item_ids.push_back(absl::StrCat("item-", i));
  }
  FillFactors(o.users, o.dim, o.seed, &d.user_factors);
  FillFactors(o.items, o.dim, o.seed + 1, &d.item_factors);
  if (o.neighbors > 0) {
    const int64_t k = o.neighbors;
    d.neighbor_indptr.resize(o.items + 1);
    d.neighbor_indices.reserve(o.items * k);
    d.neighbor_scores.reserve(o.items * k);
    FastRng rng(o.seed + 2);
    std::vector<int32_t> picked;
    std::vector<float> scores;
    for (int64_t i = 0; i < o.items; ++i) {
      d.neighbor_indptr[i] = static_cast<int64_t>(d.neighbor_indices.size());
      picked.clear();
      while (static_cast<int64_t>(picked.size()) < k) {
        const int32_t j = static_cast<int32_t>(rng.Below(o.items));
        if (j == i ||
            std::find(picked.begin(), picked.end(), j) != picked.end()) {
          continue;
        }
        picked.push_back(j);
      }
      scores.clear();
      for (int64_t n = 0; n < k; ++n) scores.push_back(1.0f - rng.Unit());
      std::sort(scores.begin(), scores.end(), std::greater<float>());
      d.neighbor_indices.insert(d.neighbor_indices.end(), picked.begin(),
                                picked.end());
      d.neighbor_scores.insert(d.neighbor_scores.end(), scores.begin(),
                               scores.end());
    }
    d.neighbor_indptr[o.items] =
        static_cast<int64_t>(d.neighbor_indices.size());
  }
  return d;
}

std::shared_ptr<const ModelSnapshot> MakeSyntheticModel(
    const SyntheticModelOptions& options) {
  auto model = ModelSnapshot::FromData(MakeSyntheticModelData(options));
  if (!model.ok()) {
    std::fprintf(stderr, "synthetic model: %s\n",
                 model.status().ToString().c_str());
    std::abort();
  }
  return std::shared_ptr<const ModelSnapshot>(std::move(model).value());
}

}  // namespace rerank::bench
