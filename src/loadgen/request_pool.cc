#include "loadgen/request_pool.h"

#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace rerank::loadgen {
namespace {

constexpr int64_t kEventWindowMs = 3'600'000;  // events within the last hour

constexpr v1::EventType kEventTypes[] = {
    v1::EVENT_TYPE_VIEW, v1::EVENT_TYPE_CLICK, v1::EVENT_TYPE_ADD_TO_CART,
    v1::EVENT_TYPE_PURCHASE};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return std::move(contents).str();
}

absl::StatusOr<std::vector<std::string>> ReadIdFile(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, ReadFile(path));
  std::vector<std::string> ids;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    absl::ConsumeSuffix(&line, "\r");
    if (!line.empty()) ids.emplace_back(line);
  }
  return ids;
}

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

absl::StatusOr<std::string> ToJson(const v1::RerankRequest& request) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(request, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("JSON encoding failed: ", status.ToString()));
  }
  return json;
}

}  // namespace

absl::StatusOr<IdLists> LoadIdsFromModelDir(const std::string& model_dir) {
  IdLists ids;
  ASSIGN_OR_RETURN(ids.user_ids,
                   ReadIdFile(absl::StrCat(model_dir, "/user_ids.txt")));
  ASSIGN_OR_RETURN(ids.item_ids,
                   ReadIdFile(absl::StrCat(model_dir, "/item_ids.txt")));
  if (ids.item_ids.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_dir, "/item_ids.txt: no ids"));
  }
  return ids;
}

IdLists SyntheticIds(int num_items, int num_users) {
  IdLists ids;
  ids.item_ids.reserve(num_items);
  for (int i = 0; i < num_items; ++i) {
    ids.item_ids.push_back(absl::StrCat("item-", i));
  }
  ids.user_ids.reserve(num_users);
  for (int i = 0; i < num_users; ++i) {
    ids.user_ids.push_back(absl::StrCat("user-", i));
  }
  return ids;
}

absl::StatusOr<RequestPool> RequestPool::Build(
    const IdLists& ids, const RequestPoolOptions& options) {
  if (ids.item_ids.empty()) {
    return absl::InvalidArgumentError("no item ids to build requests from");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("request pool size must be >= 1");
  }
  if (options.candidates < 0 || options.events < 0) {
    return absl::InvalidArgumentError("candidates and events must be >= 0");
  }
  if (!(options.unknown_user_fraction >= 0.0 &&
        options.unknown_user_fraction <= 1.0)) {
    return absl::InvalidArgumentError(
        "unknown_user_fraction must be in [0, 1]");
  }

  // std::mt19937_64 is fully specified by the standard, so a seed means the
  // same requests everywhere. absl distributions are deterministic given
  // the engine's output.
  std::mt19937_64 rng(options.seed);
  const size_t num_items = ids.item_ids.size();
  const size_t num_users = ids.user_ids.size();
  // A permutation of item rows; the first `candidates` slots are re-shuffled
  // per request (partial Fisher-Yates). Any starting permutation yields a
  // uniform sample, so the array never needs resetting: O(candidates) per
  // request, not O(items).
  std::vector<uint32_t> perm(num_items);
  std::iota(perm.begin(), perm.end(), 0u);

  RequestPool pool;
  pool.requests_.resize(options.pool_size);
  pool.serialized_.resize(options.pool_size);
  std::vector<uint32_t> chosen;
  for (int r = 0; r < options.pool_size; ++r) {
    v1::RerankRequest& req = pool.requests_[r];
    req.set_request_id(absl::StrCat("lg-", r));
    req.set_now_ms(options.now_ms);
    req.set_top_k(options.top_k);
    req.set_explain(options.explain);

    const bool unknown =
        num_users == 0 || absl::Bernoulli(rng, options.unknown_user_fraction);
    if (unknown) {
      req.set_user_id(absl::StrCat(
          "unknown-user-", absl::Uniform<uint32_t>(rng, 0, 1'000'000'000)));
    } else {
      req.set_user_id(ids.user_ids[absl::Uniform<size_t>(rng, 0, num_users)]);
    }

    chosen.clear();
    for (int c = 0; c < options.candidates; ++c) {
      const size_t slot = static_cast<size_t>(c) % num_items;
      if (static_cast<size_t>(c) < num_items) {
        std::swap(perm[slot],
                  perm[absl::Uniform<size_t>(rng, slot, num_items)]);
        chosen.push_back(perm[slot]);
      } else {
        // More candidates than items: repeat items (the server collapses
        // duplicates, which is still a valid request).
        chosen.push_back(perm[absl::Uniform<size_t>(rng, 0, num_items)]);
      }
    }
    req.mutable_candidates()->Reserve(options.candidates);
    for (uint32_t row : chosen) {
      v1::Candidate* candidate = req.add_candidates();
      candidate->set_item_id(ids.item_ids[row]);
      candidate->set_base_score(absl::Uniform<double>(rng, 0.0, 1.0));
    }

    req.mutable_events()->Reserve(options.events);
    for (int e = 0; e < options.events; ++e) {
      v1::Event* event = req.add_events();
      const bool on_candidate = !chosen.empty() && absl::Bernoulli(rng, 0.5);
      const uint32_t row =
          on_candidate
              ? chosen[absl::Uniform<size_t>(rng, 0, chosen.size())]
              : static_cast<uint32_t>(absl::Uniform<size_t>(rng, 0, num_items));
      event->set_item_id(ids.item_ids[row]);
      event->set_type(
          kEventTypes[absl::Uniform<size_t>(rng, 0, std::size(kEventTypes))]);
      event->set_timestamp_ms(options.now_ms -
                              absl::Uniform<int64_t>(rng, 0, kEventWindowMs));
    }
    if (!req.SerializeToString(&pool.serialized_[r])) {
      return absl::InternalError("request serialization failed");
    }
  }
  return pool;
}

std::string EncodeGrpcFrame(absl::string_view message) {
  const uint32_t n = static_cast<uint32_t>(message.size());
  std::string frame;
  frame.reserve(5 + message.size());
  frame.push_back('\0');  // not compressed
  frame.push_back(static_cast<char>((n >> 24) & 0xff));
  frame.push_back(static_cast<char>((n >> 16) & 0xff));
  frame.push_back(static_cast<char>((n >> 8) & 0xff));
  frame.push_back(static_cast<char>(n & 0xff));
  frame.append(message.data(), message.size());
  return frame;
}

absl::Status DumpRequests(const RequestPool& pool, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat(dir, ": cannot create directory: ", ec.message()));
  }
  std::string delimited;
  std::string json_array = "[";
  for (size_t i = 0; i < pool.size(); ++i) {
    const std::string base = absl::StrFormat("%s/request-%05d", dir, i);
    const std::string& bin = pool.serialized(i);
    ASSIGN_OR_RETURN(const std::string json, ToJson(pool.request(i)));
    RETURN_IF_ERROR(WriteFile(base + ".bin", bin));
    RETURN_IF_ERROR(WriteFile(base + ".json", json));
    RETURN_IF_ERROR(WriteFile(base + ".grpc", EncodeGrpcFrame(bin)));
    AppendVarint(bin.size(), &delimited);
    delimited += bin;
    absl::StrAppend(&json_array, i == 0 ? "\n" : ",\n", json);
  }
  json_array += "\n]\n";
  RETURN_IF_ERROR(WriteFile(dir + "/requests.bin", delimited));
  return WriteFile(dir + "/requests.json", json_array);
}

}  // namespace rerank::loadgen
