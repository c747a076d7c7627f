// Prints one line per request, "<index> <sha256 of the deterministic
// serialization of the response>", for a fixed, varied set of requests
// against a synthetic model. Built against two trees, the outputs must be
// identical: the check that an optimisation of src/scoring or src/model did
// not change a single bit of any result (docs/performance.md).
//
//   scorer_golden > after.txt; <baseline>/scorer_golden > before.txt
//   cmp before.txt after.txt

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench/micro/synthetic_model.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "loadgen/request_pool.h"
#include "model/sha256.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scorer.h"

namespace rerank::bench {
namespace {

std::string Deterministic(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

int Main() {
  int index = 0;
  for (int32_t dim : {1, 3, 4, 7, 8, 12, 13, 16, 20, 64, 100, 128}) {
    SyntheticModelOptions mo;
    mo.users = 500;
    mo.items = 3000;
    mo.dim = dim;
    mo.neighbors = 15;
    const auto model = MakeSyntheticModel(mo);
    // Ids of 3600 items for 3000 in the model: ~1/6 of ids are unknown.
    const loadgen::IdLists ids = loadgen::SyntheticIds(3600, 600);
    std::mt19937_64 rng(dim);
    for (int candidates : {0, 1, 7, 64, 65, 200, 1000}) {
      for (int events : {0, 3, 20, 50}) {
        for (int variant = 0; variant < 4; ++variant) {
          loadgen::RequestPoolOptions po;
          po.pool_size = 2;
          po.candidates = candidates;
          po.events = events;
          po.unknown_user_fraction = 0.3;
          po.explain = (variant & 1) != 0;
          // 0 (all), a few (partial sort), half (full sort, then cut).
          po.top_k = variant == 1   ? 10
                     : variant == 2 ? static_cast<uint32_t>(candidates / 2 + 1)
                                    : 0;
          po.seed = rng();
          auto pool = loadgen::RequestPool::Build(ids, po);
          if (!pool.ok()) return 1;
          for (size_t r = 0; r < pool->size(); ++r) {
            v1::RerankRequest request = pool->request(r);
            // Mutations the pool does not make: duplicates, out of stock,
            // absent base scores, equal scores (ties), overrides.
            const int n = request.candidates_size();
            for (int i = 0; i < n; ++i) {
              v1::Candidate* c = request.mutable_candidates(i);
              const uint64_t x = rng();
              if (x % 11 == 0 && i > 0) {
                c->set_item_id(request.candidates(x % i).item_id());
              }
              if (x % 13 == 1) c->set_in_stock(false);
              if (x % 7 == 2) c->clear_base_score();
              if (x % 5 == 3) c->set_base_score(0.5);
            }
            if (variant == 3) {
              request.mutable_overrides()->set_factor_weight(0.0);
              request.mutable_overrides()->set_keep_out_of_stock(true);
            }
            if (variant == 2) {
              request.mutable_overrides()->set_neighbor_weight(3.0);
              request.mutable_overrides()->set_half_life_seconds(60);
            }
            for (bool null_scorer : {false, true}) {
              v1::RerankResponse response;
              const ScorerOptions options;
              const absl::Status status =
                  null_scorer
                      ? RerankNull(*model, request, options, 0, &response)
                      : Rerank(*model, request, options, 0, &response);
              std::printf("%d %s %s\n", index++, status.ok() ? "ok" : "error",
                          Sha256Hex(Deterministic(response)).c_str());
            }
          }
        }
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace rerank::bench

int main() { return rerank::bench::Main(); }
