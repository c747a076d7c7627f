#include "server/config.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "ranking/ranker.h"
#include "scoring/scoring_params.h"

namespace rerank {
namespace {

constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn",
                                      "error"};
constexpr const char* kLogFormats[] = {"text", "json"};
constexpr const char* kScorers[] = {"full", "null", "transport"};

template <size_t N>
bool OneOf(const std::string& value, const char* const (&allowed)[N]) {
  for (const char* a : allowed) {
    if (value == a) return true;
  }
  return false;
}

absl::Status Refuse(absl::string_view source, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", problem));
}

absl::Status CheckAddress(absl::string_view source, absl::string_view key,
                          const std::string& address) {
  std::string host;
  int port = 0;
  absl::Status status = ParseHostPort(address, &host, &port);
  if (!status.ok()) {
    return Refuse(source, absl::StrCat(key, " ", status.message()));
  }
  return absl::OkStatus();
}

absl::Status CheckLimit(absl::string_view source, absl::string_view key,
                        uint32_t value) {
  if (value == 0) return Refuse(source, absl::StrCat(key, " must be > 0"));
  return absl::OkStatus();
}

// Only the shape of a TLS section; the files are read (and checked with
// OpenSSL) when the server starts, see server/credentials.h.
// A duration in seconds: finite and in [0, max].
absl::Status CheckSeconds(absl::string_view source, absl::string_view key,
                          double value, double max) {
  if (!std::isfinite(value) || value < 0 || value > max) {
    return Refuse(source, absl::StrCat(key, "=", value, " must be in [0, ",
                                       max, "]"));
  }
  return absl::OkStatus();
}

absl::Status CheckTls(absl::string_view source, absl::string_view key,
                      const v1::TlsConfig& tls) {
  if (tls.cert_file().empty() != tls.key_file().empty()) {
    return Refuse(source, absl::StrCat(key, ".cert_file and ", key,
                                       ".key_file must be set together"));
  }
  if (!tls.client_ca_file().empty() && tls.cert_file().empty()) {
    return Refuse(
        source,
        absl::StrCat(key, ".client_ca_file needs ", key, ".cert_file and ", key,
                     ".key_file (mutual TLS is TLS plus a client "
                     "certificate check)"));
  }
  return absl::OkStatus();
}

// Two listeners on the same fixed port would fail at bind time with a less
// helpful message; port 0 (pick a free one) never clashes.
absl::Status CheckDistinct(absl::string_view source, absl::string_view key_a,
                           const std::string& a, absl::string_view key_b,
                           const std::string& b) {
  std::string host;
  int port = 0;
  if (a == b && ParseHostPort(a, &host, &port).ok() && port != 0) {
    return Refuse(source, absl::StrCat(key_a, " must differ from ", key_b,
                                       " (both \"", a, "\")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseHostPort(absl::string_view address, std::string* host,
                           int* port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", address, "\" must be host:port (e.g. 127.0.0.1:50051)"));
  }
  absl::string_view h = address.substr(0, colon);
  absl::string_view p = address.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  int value = -1;
  if (h.empty() || p.empty() || !absl::c_all_of(p, absl::ascii_isdigit) ||
      !absl::SimpleAtoi(p, &value) || value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address,
                     "\" must be host:port with a port in [0, 65535] (e.g. "
                     "127.0.0.1:50051)"));
  }
  *host = std::string(h);
  *port = value;
  return absl::OkStatus();
}

bool MetricsEnabled(const v1::ServerConfig& config) {
  return !config.metrics_listen_address().empty() &&
         config.metrics_listen_address() != kMetricsOff;
}

void ApplyServerConfigDefaults(v1::ServerConfig* config) {
  if (config->listen_address().empty()) {
    config->set_listen_address(kDefaultListenAddress);
  }
  // proto3 cannot tell an explicit "" from unset for a plain string, so the
  // shared-port mode is its own flag rather than an empty address.
  if (!config->admin_on_serving_port() &&
      config->admin_listen_address().empty()) {
    config->set_admin_listen_address(kDefaultAdminListenAddress);
  }
  // `optional`: here an explicit "" means "off", unset means the default.
  if (!config->has_metrics_listen_address()) {
    config->set_metrics_listen_address(kDefaultMetricsListenAddress);
  }
  if (!config->has_warmup_requests()) {
    config->set_warmup_requests(kDefaultWarmupRequests);
  }
  v1::LimitsConfig* limits = config->mutable_limits();
  if (!limits->has_max_candidates()) {
    limits->set_max_candidates(kDefaultMaxCandidates);
  }
  if (!limits->has_max_events()) limits->set_max_events(kDefaultMaxEvents);
  if (!limits->has_max_id_bytes()) limits->set_max_id_bytes(kDefaultMaxIdBytes);
  if (!limits->has_max_message_bytes()) {
    limits->set_max_message_bytes(kDefaultMaxMessageBytes);
  }
  if (!limits->has_max_concurrent_streams()) {
    limits->set_max_concurrent_streams(kDefaultMaxConcurrentStreams);
  }
  if (!limits->has_max_inflight_requests()) {
    limits->set_max_inflight_requests(kDefaultMaxInflightRequests);
  }
  if (!limits->has_max_attributes_per_candidate()) {
    limits->set_max_attributes_per_candidate(
        RequestLimits().max_attributes_per_candidate);
  }
  if (!limits->has_max_rules()) {
    limits->set_max_rules(RequestLimits().max_rules);
  }
  v1::LoggingConfig* logging = config->mutable_logging();
  if (logging->level().empty()) logging->set_level(kDefaultLogLevel);
  if (logging->format().empty()) logging->set_format(kDefaultLogFormat);
  if (config->scorer().empty()) config->set_scorer("full");
  if (!config->has_shutdown_grace_seconds()) {
    config->set_shutdown_grace_seconds(kDefaultShutdownGraceSeconds);
  }
  if (!config->has_shutdown_drain_seconds()) {
    config->set_shutdown_drain_seconds(kDefaultShutdownDrainSeconds);
  }
  // Materialize the (empty) message so a dump of the effective config shows
  // the section.
  config->mutable_scoring();
}

v1::ServerConfig DefaultServerConfig() {
  v1::ServerConfig config;
  ApplyServerConfigDefaults(&config);
  return config;
}

absl::Status ValidateServerConfig(const v1::ServerConfig& config,
                                  absl::string_view source) {
  RETURN_IF_ERROR(
      CheckAddress(source, "listen_address", config.listen_address()));
  RETURN_IF_ERROR(CheckTls(source, "tls", config.tls()));
  RETURN_IF_ERROR(CheckTls(source, "admin_tls", config.admin_tls()));
  if (config.admin_on_serving_port()) {
    if (!config.admin_listen_address().empty()) {
      return Refuse(source,
                    "admin_listen_address must be unset when "
                    "admin_on_serving_port is true (ModelAdmin then shares "
                    "listen_address)");
    }
    if (TlsEnabled(config.admin_tls()) ||
        !config.admin_tls().client_ca_file().empty()) {
      return Refuse(source,
                    "admin_tls must be unset when admin_on_serving_port is "
                    "true (ModelAdmin then uses tls)");
    }
  } else {
    RETURN_IF_ERROR(CheckAddress(source, "admin_listen_address",
                                 config.admin_listen_address()));
    RETURN_IF_ERROR(CheckDistinct(source, "admin_listen_address",
                                  config.admin_listen_address(),
                                  "listen_address", config.listen_address()));
  }
  if (MetricsEnabled(config)) {
    RETURN_IF_ERROR(CheckAddress(source, "metrics_listen_address",
                                 config.metrics_listen_address()));
    RETURN_IF_ERROR(CheckDistinct(source, "metrics_listen_address",
                                  config.metrics_listen_address(),
                                  "listen_address", config.listen_address()));
    RETURN_IF_ERROR(CheckDistinct(
        source, "metrics_listen_address", config.metrics_listen_address(),
        "admin_listen_address", config.admin_listen_address()));
  }

  if (!config.model_root().empty()) {
    struct stat st;
    if (stat(config.model_root().c_str(), &st) != 0) {
      return Refuse(source, absl::StrCat("model_root \"", config.model_root(),
                                         "\" does not exist"));
    }
    if (!S_ISDIR(st.st_mode)) {
      return Refuse(source, absl::StrCat("model_root \"", config.model_root(),
                                         "\" is not a directory"));
    }
  }
  if (!config.initial_model().empty() && config.model_root().empty()) {
    return Refuse(source, "initial_model is set but model_root is not");
  }

  absl::StatusOr<ScoringWeights> weights =
      ApplyScoringParams(ScoringWeights{}, config.scoring(), "scoring");
  if (!weights.ok()) return Refuse(source, weights.status().message());

  const v1::LimitsConfig& limits = config.limits();
  RETURN_IF_ERROR(
      CheckLimit(source, "limits.max_candidates", limits.max_candidates()));
  RETURN_IF_ERROR(CheckLimit(source, "limits.max_events", limits.max_events()));
  RETURN_IF_ERROR(
      CheckLimit(source, "limits.max_id_bytes", limits.max_id_bytes()));
  RETURN_IF_ERROR(CheckLimit(source, "limits.max_message_bytes",
                             limits.max_message_bytes()));
  // gRPC takes the receive limit as an int.
  if (limits.max_message_bytes() > static_cast<uint32_t>(INT_MAX)) {
    return Refuse(
        source, absl::StrCat("limits.max_message_bytes must be <= ", INT_MAX));
  }
  RETURN_IF_ERROR(CheckLimit(source, "limits.max_concurrent_streams",
                             limits.max_concurrent_streams()));
  // A channel argument: an int as well.
  if (limits.max_concurrent_streams() > static_cast<uint32_t>(INT_MAX)) {
    return Refuse(
        source,
        absl::StrCat("limits.max_concurrent_streams must be <= ", INT_MAX));
  }
  RETURN_IF_ERROR(CheckLimit(source, "limits.max_inflight_requests",
                             limits.max_inflight_requests()));
  if (limits.max_inflight_requests() > static_cast<uint32_t>(INT_MAX)) {
    return Refuse(
        source,
        absl::StrCat("limits.max_inflight_requests must be <= ", INT_MAX));
  }
  RETURN_IF_ERROR(CheckLimit(source, "limits.max_attributes_per_candidate",
                             limits.max_attributes_per_candidate()));
  RETURN_IF_ERROR(CheckLimit(source, "limits.max_rules", limits.max_rules()));
  // Profiles: every rule validated now, so that a bad one stops the server
  // at start-up instead of failing requests.
  {
    absl::StatusOr<ScorerOptions> options = ScorerOptionsFromConfig(config);
    if (!options.ok()) return Refuse(source, options.status().message());
  }
  if (config.warmup_requests() > kMaxWarmupRequests) {
    return Refuse(source,
                  absl::StrCat("warmup_requests=", config.warmup_requests(),
                               " must be <= ", kMaxWarmupRequests));
  }

  if (!OneOf(config.logging().level(), kLogLevels)) {
    return Refuse(
        source,
        absl::StrCat("logging.level \"", config.logging().level(),
                     "\" must be one of ", absl::StrJoin(kLogLevels, "|")));
  }
  if (!OneOf(config.logging().format(), kLogFormats)) {
    return Refuse(
        source,
        absl::StrCat("logging.format \"", config.logging().format(),
                     "\" must be one of ", absl::StrJoin(kLogFormats, "|")));
  }

  if (!OneOf(config.scorer(), kScorers)) {
    return Refuse(
        source, absl::StrCat("scorer \"", config.scorer(), "\" must be one of ",
                             absl::StrJoin(kScorers, "|")));
  }

  RETURN_IF_ERROR(CheckSeconds(source, "shutdown_grace_seconds",
                               config.shutdown_grace_seconds(),
                               kMaxShutdownGraceSeconds));
  if (config.has_model_copy_max_bytes() && config.model_copy_max_bytes() < 0) {
    return Refuse(source, absl::StrCat("model_copy_max_bytes=",
                                       config.model_copy_max_bytes(),
                                       " must be >= 0 (or unset: copy all)"));
  }
  RETURN_IF_ERROR(CheckSeconds(source, "shutdown_drain_seconds",
                               config.shutdown_drain_seconds(),
                               kMaxShutdownDrainSeconds));
  return absl::OkStatus();
}

absl::StatusOr<v1::ServerConfig> ParseServerConfigJson(
    absl::string_view json, absl::string_view source) {
  v1::ServerConfig config;
  // An empty file means "all defaults", though the JSON parser calls it an
  // error.
  if (!absl::StripAsciiWhitespace(json).empty()) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const google::protobuf::util::Status parsed =
        google::protobuf::util::JsonStringToMessage(
            google::protobuf::StringPiece(json.data(), json.size()), &config,
            options);
    if (!parsed.ok()) {
      return Refuse(source, absl::StrCat("invalid config: ",
                                         std::string(parsed.message())));
    }
  }
  ApplyServerConfigDefaults(&config);
  return config;
}

absl::StatusOr<v1::ServerConfig> ParseServerConfig(absl::string_view json,
                                                   absl::string_view source) {
  ASSIGN_OR_RETURN(v1::ServerConfig config,
                   ParseServerConfigJson(json, source));
  RETURN_IF_ERROR(ValidateServerConfig(config, source));
  return config;
}

absl::StatusOr<v1::ServerConfig> ReadServerConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat(path, ": config file does not exist"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat(path, ": cannot open"));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(path, ": read failed"));
  }
  return ParseServerConfigJson(contents.str(), path);
}

absl::StatusOr<v1::ServerConfig> LoadServerConfig(const std::string& path) {
  ASSIGN_OR_RETURN(v1::ServerConfig config, ReadServerConfigFile(path));
  RETURN_IF_ERROR(ValidateServerConfig(config, path));
  return config;
}

absl::StatusOr<ScorerOptions> ScorerOptionsFromConfig(
    const v1::ServerConfig& config) {
  ScorerOptions options;
  ASSIGN_OR_RETURN(
      options.weights,
      ApplyScoringParams(ScoringWeights{}, config.scoring(), "scoring"));
  v1::ServerConfig defaulted = config;
  ApplyServerConfigDefaults(&defaulted);
  options.limits.max_candidates = defaulted.limits().max_candidates();
  options.limits.max_events = defaulted.limits().max_events();
  options.limits.max_id_bytes = defaulted.limits().max_id_bytes();
  options.limits.max_attributes_per_candidate =
      defaulted.limits().max_attributes_per_candidate();
  options.limits.max_rules = defaulted.limits().max_rules();
  options.null_scorer = defaulted.scorer() == "null";
  RETURN_IF_ERROR(
      AddProfiles(config.profiles(), config.default_profile(), &options));
  if (!config.ranker().empty()) {
    absl::StatusOr<RankerKind> kind = ParseRankerKind(config.ranker());
    if (!kind.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ranker \"", absl::CHexEscape(config.ranker()),
                       "\" must be one of formula|linear|gbdt"));
    }
    options.ranker = *kind;
  }
  return options;
}

}  // namespace rerank
