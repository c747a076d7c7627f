#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rerank/v1/rerank.pb.h"

namespace rerank::loadgen {

// The ids requests are built from.
struct IdLists {
  std::vector<std::string> user_ids;
  std::vector<std::string> item_ids;
};

// Reads `user_ids.txt` and `item_ids.txt` (one id per line; blank lines and a
// trailing '\r' are ignored) from a model directory. NOT_FOUND if a file is
// missing, INVALID_ARGUMENT if item_ids.txt holds no id.
absl::StatusOr<IdLists> LoadIdsFromModelDir(const std::string& model_dir);

// Ids "item-0".."item-<num_items-1>" and "user-0".."user-<num_users-1>".
IdLists SyntheticIds(int num_items, int num_users);

// A fixed scoring moment (2025-11-28T00:00:00Z). Every request carries it as
// `now_ms` so the server never reads its clock and the same pool costs the
// same server work on every run.
inline constexpr int64_t kDefaultNowMs = 1'764'288'000'000;

struct RequestPoolOptions {
  int pool_size = 1000;
  int candidates = 200;
  int events = 20;
  // Probability that a request names a user absent from the id list.
  double unknown_user_fraction = 0.1;
  uint32_t top_k = 0;
  bool explain = false;
  uint64_t seed = 1;
  int64_t now_ms = kDefaultNowMs;
};

// A fixed set of distinct requests, built and serialized once before a run
// so that client-side request construction and encoding stay off the hot
// path.
//
// Request i:
//   request_id  "lg-<i>"
//   user_id     a random known user, or with probability
//               unknown_user_fraction "unknown-user-<random>" (also used
//               when the user list is empty);
//   candidates  `candidates` items drawn without replacement (with
//               replacement only if there are fewer items than that), each
//               with base_score uniform in [0, 1);
//   events      `events` events, half of them on one of the request's
//               candidates (so direct boosts happen) and half on any item,
//               type uniform over VIEW/CLICK/ADD_TO_CART/PURCHASE, timestamp
//               uniform in the hour before now_ms;
//   now_ms, top_k, explain from the options.
//
// Deterministic: the same ids and options (including seed) give
// byte-identical requests on every run and machine (std::mt19937_64).
//
// Immutable after Build(); safe to read from any number of threads.
class RequestPool {
 public:
  // INVALID_ARGUMENT for an empty item list or out-of-range options.
  static absl::StatusOr<RequestPool> Build(const IdLists& ids,
                                           const RequestPoolOptions& options);

  size_t size() const { return requests_.size(); }
  const v1::RerankRequest& request(size_t i) const { return requests_[i]; }
  // Protobuf wire encoding of request(i).
  const std::string& serialized(size_t i) const { return serialized_[i]; }
  const std::vector<std::string>& all_serialized() const { return serialized_; }

 private:
  RequestPool() = default;

  std::vector<v1::RerankRequest> requests_;
  std::vector<std::string> serialized_;
};

// The gRPC message framing of `message` as it appears in an HTTP/2 DATA
// frame: a 0 compression flag byte, the length as 4 bytes big-endian, then
// the message. Used for h2load's pre-encoded request bodies.
std::string EncodeGrpcFrame(absl::string_view message);

// Writes the pool into `dir` (created if missing), for external load tools:
//   request-NNNNN.bin   protobuf binary of request N
//   request-NNNNN.json  JSON of request N (proto field names)
//   request-NNNNN.grpc  EncodeGrpcFrame() of request N (h2load -d)
//   requests.bin        every request, each prefixed by its varint length
//                       (ghz --binary-file with several messages)
//   requests.json       JSON array of every request (ghz --data-file)
absl::Status DumpRequests(const RequestPool& pool, const std::string& dir);

}  // namespace rerank::loadgen
