#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rerank/v1/config.pb.h"
#include "spdlog/formatter.h"
#include "spdlog/spdlog.h"

namespace rerank {

// "trace|debug|info|warn|error" (config logging.level) -> spdlog level.
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(
    absl::string_view level);

// One JSON object per line: {"ts":"2026-11-28T03:45:12.123Z","level":"info",
// "msg":"..."}; ts in UTC, msg JSON-escaped (quotes, backslashes, control
// characters) so any message yields valid JSON.
std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter();

// Replaces spdlog's default logger with one writing to stderr at the
// configured level in the configured format ("text" or "json"). Call once,
// early in main, before other threads log.
absl::Status ConfigureLogging(const v1::LoggingConfig& config);

}  // namespace rerank
