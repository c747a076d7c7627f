// FuzzServerConfig: rerankd's JSON config (profiles, rules, limits, TLS
// keys) on hostile bytes: parse, validate, compile the scorer options, and
// round-trip every config that parses.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/same_message.h"
#include "google/protobuf/util/json_util.h"
#include "server/config.h"

namespace rerank::fuzz {

int FuzzServerConfig(const uint8_t* data, size_t size) {
  // Config files are small; larger inputs only slow the fuzzer down.
  if (size > 64 * 1024) return -1;
  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<v1::ServerConfig> parsed =
      ParseServerConfigJson(json, "fuzz.json");
  if (!parsed.ok()) {
    // Errors name their source.
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(parsed.status().message(), "fuzz.json"));
    return 0;
  }
  // The defaults are applied.
  FUZZ_CHECK(parsed->has_shutdown_grace_seconds());
  FUZZ_CHECK(parsed->has_shutdown_drain_seconds());
  FUZZ_CHECK(!parsed->scorer().empty());

  // The parsed message survives a JSON round trip unchanged.
  std::string canonical;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  FUZZ_CHECK(google::protobuf::util::MessageToJsonString(*parsed, &canonical,
                                                         print)
                 .ok());
  absl::StatusOr<v1::ServerConfig> again =
      ParseServerConfigJson(canonical, "canonical");
  if (!again.ok()) {
    std::fprintf(stderr, "canonical config refused: %s\n%s\n",
                 std::string(again.status().message()).c_str(),
                 canonical.c_str());
  }
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(SameMessage(*parsed, *again));

  const absl::Status valid = ValidateServerConfig(*parsed, "fuzz.json");
  if (!valid.ok()) {
    FUZZ_CHECK(valid.code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(valid.message(), "fuzz.json"));
    return 0;
  }
  // Documented: fails only for a config ValidateServerConfig refuses.
  FUZZ_CHECK(ScorerOptionsFromConfig(*parsed).ok());
  return 0;
}

}  // namespace rerank::fuzz
