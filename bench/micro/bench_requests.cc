#include "bench/micro/bench_requests.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>

#include "loadgen/request_pool.h"

namespace rerank::bench {

std::vector<v1::RerankRequest> SyntheticRequests(int64_t items, int64_t users,
                                                 int candidates, int events,
                                                 int pool_size) {
  static std::mutex mu;
  static auto* cache =
      new std::map<std::pair<int64_t, int64_t>, loadgen::IdLists>();
  const loadgen::IdLists* ids;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find({items, users});
    if (it == cache->end()) {
      it = cache
               ->emplace(std::make_pair(items, users),
                         loadgen::SyntheticIds(static_cast<int>(items),
                                               static_cast<int>(users)))
               .first;
    }
    ids = &it->second;  // map nodes never move
  }
  loadgen::RequestPoolOptions o;
  o.pool_size = pool_size;
  o.candidates = candidates;
  o.events = events;
  // Every shopper known: the full formula (user vector, dot products).
  o.unknown_user_fraction = 0.0;
  auto pool = loadgen::RequestPool::Build(*ids, o);
  if (!pool.ok()) {
    std::fprintf(stderr, "%s\n", pool.status().ToString().c_str());
    std::abort();
  }
  std::vector<v1::RerankRequest> out;
  for (size_t i = 0; i < pool->size(); ++i) out.push_back(pool->request(i));
  return out;
}

}  // namespace rerank::bench
