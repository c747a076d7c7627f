#pragma once

// Requests for the micro-benchmarks: rerank-loadgen's RequestPool (the same
// generator the end-to-end runs use) over the synthetic id scheme of
// synthetic_model.h, every shopper known.

#include <cstdint>
#include <vector>

#include "rerank/v1/rerank.pb.h"

namespace rerank::bench {

// `pool_size` distinct requests of `candidates` candidates and `events`
// events against a model of `items` items and `users` users. Aborts on
// error (a benchmark has no way to report one). Thread-safe; the id lists
// are built once per (items, users).
std::vector<v1::RerankRequest> SyntheticRequests(int64_t items, int64_t users,
                                                 int candidates, int events,
                                                 int pool_size);

}  // namespace rerank::bench
