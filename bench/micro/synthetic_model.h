#pragma once

// Synthetic models for the benchmarks: the same id scheme as
// rerank-loadgen's --synthetic_items/--synthetic_users ("item-N", "user-N"),
// so loadgen's RequestPool can build requests against them.

#include <cstdint>
#include <memory>

#include "model/model_snapshot.h"

namespace rerank::bench {

struct SyntheticModelOptions {
  int64_t users = 10'000;
  int64_t items = 100'000;
  int32_t dim = 64;
  // Neighbours per item (distinct, not itself, descending scores). 0: no
  // neighbour table.
  int32_t neighbors = 20;
  uint64_t seed = 7;
  // How the snapshot stores the factors (encoded from the same floats).
  FactorDtype factor_dtype = FactorDtype::kFloat32;
};

// Factors are uniform in [-0.1, 0.1), like a small-norm ALS model; scores in
// (0, 1]. Deterministic for a given seed. Needs items > neighbors.
ModelData MakeSyntheticModelData(const SyntheticModelOptions& options);

// MakeSyntheticModelData + ModelSnapshot::FromData; aborts on error (a
// benchmark has no way to report one).
std::shared_ptr<const ModelSnapshot> MakeSyntheticModel(
    const SyntheticModelOptions& options);

}  // namespace rerank::bench
