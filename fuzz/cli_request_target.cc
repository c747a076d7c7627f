// FuzzCliRequest: rerank-cli's request inputs on hostile bytes. The first
// byte picks the parser: 0 the --request JSON, 1 --events, 2 --candidates,
// 3 --overrides; the rest is the text.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/same_message.h"
#include "google/protobuf/util/json_util.h"
#include "rerank/v1/rerank.pb.h"
#include "tools/rerank_cli_lib.h"

namespace rerank::fuzz {

int FuzzCliRequest(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return -1;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  constexpr int64_t kNowMs = 1764288000000;
  switch (data[0] % 4) {
    case 0: {
      absl::StatusOr<v1::RerankRequest> request = ParseRequestJson(text);
      if (!request.ok()) {
        FUZZ_CHECK(request.status().code() ==
                   absl::StatusCode::kInvalidArgument);
        FUZZ_CHECK(!request.status().message().empty());
        return 0;
      }
      // What the CLI prints with --dry_run parses back to the same request.
      std::string json;
      FUZZ_CHECK(
          google::protobuf::util::MessageToJsonString(*request, &json).ok());
      absl::StatusOr<v1::RerankRequest> again = ParseRequestJson(json);
      FUZZ_CHECK(again.ok());
      FUZZ_CHECK(SameMessage(*request, *again));
      return 0;
    }
    case 1: {
      absl::StatusOr<std::vector<v1::Event>> events = ParseEvents(text, kNowMs);
      if (!events.ok()) {
        FUZZ_CHECK(!events.status().message().empty());
        return 0;
      }
      for (const v1::Event& e : *events) FUZZ_CHECK(!e.item_id().empty());
      return 0;
    }
    case 2: {
      absl::StatusOr<std::vector<v1::Candidate>> candidates =
          ParseCandidates(text);
      if (!candidates.ok()) {
        FUZZ_CHECK(!candidates.status().message().empty());
        return 0;
      }
      for (const v1::Candidate& c : *candidates) {
        FUZZ_CHECK(!c.item_id().empty());
      }
      return 0;
    }
    default: {
      v1::ScoringParams params;
      const absl::Status status = ApplyOverrides(text, &params);
      FUZZ_CHECK(status.ok() || !status.message().empty());
      return 0;
    }
  }
}

}  // namespace rerank::fuzz
