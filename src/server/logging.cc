#include "server/logging.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "grpc/support/log.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace rerank {
namespace {

constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %l %v";

absl::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

void AppendJsonString(absl::string_view s, spdlog::memory_buf_t& dest) {
  static constexpr char kHex[] = "0123456789abcdef";
  dest.push_back('"');
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        dest.append(absl::string_view("\\\""));
        break;
      case '\\':
        dest.append(absl::string_view("\\\\"));
        break;
      case '\n':
        dest.append(absl::string_view("\\n"));
        break;
      case '\r':
        dest.append(absl::string_view("\\r"));
        break;
      case '\t':
        dest.append(absl::string_view("\\t"));
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
          dest.append(esc, esc + sizeof(esc));
        } else {
          dest.push_back(c);
        }
    }
  }
  dest.push_back('"');
}

// Stateless, so clone() is trivial and format() is safe from any thread.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    const std::string ts =
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromChrono(msg.time),
                         absl::UTCTimeZone());
    dest.append(absl::string_view("{\"ts\":\""));
    dest.append(ts.data(), ts.data() + ts.size());
    dest.append(absl::string_view("\",\"level\":\""));
    const absl::string_view level = LevelName(msg.level);
    dest.append(level.data(), level.data() + level.size());
    dest.append(absl::string_view("\",\"msg\":"));
    AppendJsonString(absl::string_view(msg.payload.data(), msg.payload.size()),
                     dest);
    dest.append(absl::string_view("}\n"));
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>();
  }
};

// gRPC's own messages (by default only its errors; GRPC_VERBOSITY raises
// that) go through the same logger, so they share the format -- one JSON
// object per line in json mode -- instead of gRPC's own stderr layout.
void GrpcLogToSpdlog(gpr_log_func_args* args) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (logger == nullptr) {  // after spdlog::shutdown(), at exit
    std::fprintf(stderr, "grpc: %s\n", args->message);
    return;
  }
  spdlog::level::level_enum level = spdlog::level::info;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) {
    level = spdlog::level::err;
  } else if (args->severity == GPR_LOG_SEVERITY_DEBUG) {
    level = spdlog::level::debug;
  }
  absl::string_view file = args->file != nullptr ? args->file : "";
  if (const size_t slash = file.rfind('/'); slash != absl::string_view::npos) {
    file.remove_prefix(slash + 1);
  }
  logger->log(level, "grpc: {} ({}:{})", args->message, std::string(file),
              args->line);
}

}  // namespace

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(
    absl::string_view level) {
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "info") return spdlog::level::info;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  return absl::InvalidArgumentError(
      absl::StrCat("logging.level \"", level,
                   "\" must be one of trace|debug|info|warn|error"));
}

std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter() {
  return std::make_unique<JsonLogFormatter>();
}

absl::Status ConfigureLogging(const v1::LoggingConfig& config) {
  ASSIGN_OR_RETURN(const spdlog::level::level_enum level,
                   ParseLogLevel(config.level()));
  auto logger = std::make_shared<spdlog::logger>(
      "rerankd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (config.format() == "json") {
    logger->set_formatter(MakeJsonLogFormatter());
  } else if (config.format() == "text" || config.format().empty()) {
    logger->set_pattern(kTextPattern, spdlog::pattern_time_type::utc);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "logging.format \"", config.format(), "\" must be one of text|json"));
  }
  logger->set_level(level);
  // The stderr sink writes each line through; nothing to flush on exit.
  spdlog::set_default_logger(std::move(logger));
  gpr_set_log_function(GrpcLogToSpdlog);
  return absl::OkStatus();
}

}  // namespace rerank
