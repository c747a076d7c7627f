#pragma once

// Helpers shared by the parts of rerank-cli's library (cli_request.cc,
// cli_output.cc, rerank_cli_lib.cc); not part of its API.

#include <istream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "rerank/v1/rerank.pb.h"

namespace rerank::cli_internal {

inline constexpr absl::string_view kEventTypePrefix = "EVENT_TYPE_";

// Enum value name without its proto prefix, or the number for values this
// build of the CLI does not know (a newer server may send them).
std::string ShortEnumName(const google::protobuf::EnumDescriptor* descriptor,
                          int value, absl::string_view prefix);

std::string EventTypeName(v1::EventType type);

// All of `path`, or of `in` when `path` is "-" (--request=-). NOT_FOUND
// naming the path when it cannot be read.
absl::StatusOr<std::string> ReadAll(const std::string& path, std::istream& in);

}  // namespace rerank::cli_internal
