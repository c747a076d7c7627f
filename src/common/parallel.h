#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/types/span.h"

namespace rerank {

// Splits rows [0, n) into `chunks` contiguous ranges of roughly equal cost,
// where row r costs `base_cost + (indptr[r+1] - indptr[r])` (its number of
// non-zeros plus a fixed per-row part). Returns chunks+1 boundaries. The
// split depends only on its arguments, which keeps the work assignment (and
// everything that depends on it) reproducible.
std::vector<int64_t> BalancedChunks(absl::Span<const int64_t> indptr,
                                    int chunks, int64_t base_cost);

// Same, for rows of equal cost.
std::vector<int64_t> EvenChunks(int64_t n, int chunks);

// Runs fn(chunk, begin, end) for every range of `boundaries`, one std::thread
// per chunk beyond the first (which runs on the calling thread), and waits
// for all. Threads are started per call: a training run makes a few dozen
// calls, each doing milliseconds to seconds of work, so a persistent pool
// would buy nothing measurable.
void RunChunks(
    absl::Span<const int64_t> boundaries,
    const std::function<void(int chunk, int64_t begin, int64_t end)>& fn);

}  // namespace rerank
