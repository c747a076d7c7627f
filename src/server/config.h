#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rerank/v1/config.pb.h"
#include "scoring/scorer.h"

namespace rerank {

// Defaults for the fields of v1::ServerConfig (config.proto, README
// "Configuration").
inline constexpr char kDefaultListenAddress[] = "127.0.0.1:50051";
// ModelAdmin gets its own loopback listener unless admin_on_serving_port.
inline constexpr char kDefaultAdminListenAddress[] = "127.0.0.1:50052";
inline constexpr char kDefaultMetricsListenAddress[] = "127.0.0.1:9464";
// metrics_listen_address values that disable the endpoint (besides "").
inline constexpr char kMetricsOff[] = "off";
inline constexpr uint32_t kDefaultMaxCandidates = 10000;
inline constexpr uint32_t kDefaultMaxEvents = 1000;
inline constexpr uint32_t kDefaultMaxIdBytes = 256;
inline constexpr uint32_t kDefaultMaxMessageBytes = 16 * 1024 * 1024;
inline constexpr uint32_t kDefaultMaxConcurrentStreams = 256;
inline constexpr uint32_t kDefaultMaxInflightRequests = 1024;
inline constexpr uint32_t kDefaultWarmupRequests = 100;
// Upper bound for warmup_requests: warm-up delays every start and reload.
inline constexpr uint32_t kMaxWarmupRequests = 100000;
inline constexpr char kDefaultLogLevel[] = "info";
inline constexpr char kDefaultLogFormat[] = "text";
inline constexpr double kDefaultShutdownGraceSeconds = 10.0;
// Upper bound for shutdown_grace_seconds: an orchestrator kills long before.
inline constexpr double kMaxShutdownGraceSeconds = 3600.0;
// Health NOT_SERVING while still serving, before the gRPC shutdown
// (docs/operations.md "Signals and shutdown").
inline constexpr double kDefaultShutdownDrainSeconds = 1.0;
inline constexpr double kMaxShutdownDrainSeconds = 600.0;

// Whether the config asks for a /metrics endpoint (metrics_listen_address
// neither "" nor "off"). Expects a defaulted config.
bool MetricsEnabled(const v1::ServerConfig& config);

// Whether `tls` turns TLS on (cert_file set).
inline bool TlsEnabled(const v1::TlsConfig& tls) {
  return !tls.cert_file().empty();
}

// A config with every defaulted field filled in (what an empty file gives).
v1::ServerConfig DefaultServerConfig();

// Fills every unset (or, for proto3 strings, empty) field that has a
// default. Fields the file set are kept, including invalid ones, which
// ValidateServerConfig then names.
void ApplyServerConfigDefaults(v1::ServerConfig* config);

// Checks every field of a defaulted config. Errors are INVALID_ARGUMENT and
// read "<source>: <key> <problem>", e.g.
// "config.json: limits.max_candidates must be > 0".
// Touches the filesystem: model_root must be an existing directory.
absl::Status ValidateServerConfig(const v1::ServerConfig& config,
                                  absl::string_view source);

// Parses JSON (protobuf JSON mapping; unknown fields and malformed JSON
// refused) and applies the defaults, without validating: for callers that
// override fields (rerankd's flags) before ValidateServerConfig.
absl::StatusOr<v1::ServerConfig> ParseServerConfigJson(
    absl::string_view json, absl::string_view source);

// ParseServerConfigJson, then ValidateServerConfig. `source` names the input
// in error messages.
absl::StatusOr<v1::ServerConfig> ParseServerConfig(absl::string_view json,
                                                   absl::string_view source);

// Reads the file at `path` and ParseServerConfigJson's it (not validated),
// errors prefixed with `path`. NOT_FOUND if the file does not exist.
absl::StatusOr<v1::ServerConfig> ReadServerConfigFile(const std::string& path);

// ReadServerConfigFile, then ValidateServerConfig.
absl::StatusOr<v1::ServerConfig> LoadServerConfig(const std::string& path);

// The scorer's configured defaults (scoring weights and request limits) from
// a validated config. Fails only for a config ValidateServerConfig refuses.
absl::StatusOr<ScorerOptions> ScorerOptionsFromConfig(
    const v1::ServerConfig& config);

// Splits "host:port" / "[v6]:port". INVALID_ARGUMENT unless the host is
// non-empty and the port is a number in [0, 65535].
absl::Status ParseHostPort(absl::string_view address, std::string* host,
                           int* port);

}  // namespace rerank
