// rerankd: the re-ranking gRPC server. See docs/operations.md.
//
//   rerankd --config=/etc/rerank/config.json [--listen=HOST:PORT]
//           [--admin_listen=HOST:PORT] [--metrics_listen=HOST:PORT|off]
//           [--admin_token_file=FILE] [--model_root=DIR]
//           [--initial_model=REL_DIR] [--log_level=LEVEL] [--log_format=FMT]
//
// Exit status: 0 after a graceful shutdown on SIGTERM/SIGINT; 1 when the
// config or the initial model is refused or a port cannot be bound (the
// reason is logged).

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/config.h"
#include "server/logging.h"
#include "server/server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, config, "",
          "Path of the JSON config file (config.proto). Empty: defaults.");
ABSL_FLAG(std::string, listen, "",
          "Overrides listen_address (host:port; port 0 picks a free port).");
ABSL_FLAG(std::string, admin_listen, "",
          "Overrides admin_listen_address (host:port for ModelAdmin).");
ABSL_FLAG(std::string, metrics_listen, "",
          "Overrides metrics_listen_address (host:port of the Prometheus "
          "/metrics endpoint; \"off\" disables it).");
ABSL_FLAG(std::string, admin_token_file, "",
          "Overrides admin_token_file (bearer token required on ModelAdmin).");
ABSL_FLAG(std::string, model_root, "", "Overrides model_root.");
ABSL_FLAG(std::string, initial_model, "",
          "Overrides initial_model (relative to model_root).");
ABSL_FLAG(std::string, log_level, "",
          "Overrides logging.level: trace|debug|info|warn|error.");
ABSL_FLAG(std::string, log_format, "", "Overrides logging.format: text|json.");
ABSL_FLAG(std::string, scorer, "",
          "Overrides scorer: full|null|transport (null = input order, "
          "transport = the first response replayed; for benchmarks).");
ABSL_FLAG(std::string, ranker, "",
          "Overrides ranker: formula|linear|gbdt (empty: the model's default).");
ABSL_FLAG(std::string, shutdown_drain_seconds, "",
          "Overrides shutdown_drain_seconds (seconds of health NOT_SERVING "
          "while still serving after SIGTERM, before the listeners close).");

namespace rerank {
namespace {

bool Override(const std::string& value, std::string* field) {
  if (value.empty()) return false;
  *field = value;
  return true;
}

// The config file (or the defaults), then the flags on top, then one
// validation of the result: a flag may fix what the file alone would fail
// (e.g. a model_root that only exists on this host).
absl::StatusOr<v1::ServerConfig> BuildConfig() {
  const std::string path = absl::GetFlag(FLAGS_config);
  v1::ServerConfig config;
  if (path.empty()) {
    config = DefaultServerConfig();
  } else {
    absl::StatusOr<v1::ServerConfig> read = ReadServerConfigFile(path);
    if (!read.ok()) return read.status();
    config = *std::move(read);
  }
  bool overridden = false;
  overridden |=
      Override(absl::GetFlag(FLAGS_listen), config.mutable_listen_address());
  overridden |= Override(absl::GetFlag(FLAGS_admin_listen),
                         config.mutable_admin_listen_address());
  overridden |= Override(absl::GetFlag(FLAGS_metrics_listen),
                         config.mutable_metrics_listen_address());
  overridden |= Override(absl::GetFlag(FLAGS_admin_token_file),
                         config.mutable_admin_token_file());
  overridden |=
      Override(absl::GetFlag(FLAGS_model_root), config.mutable_model_root());
  overridden |= Override(absl::GetFlag(FLAGS_initial_model),
                         config.mutable_initial_model());
  overridden |= Override(absl::GetFlag(FLAGS_log_level),
                         config.mutable_logging()->mutable_level());
  overridden |= Override(absl::GetFlag(FLAGS_log_format),
                         config.mutable_logging()->mutable_format());
  overridden |= Override(absl::GetFlag(FLAGS_scorer), config.mutable_scorer());
  overridden |= Override(absl::GetFlag(FLAGS_ranker), config.mutable_ranker());
  if (const std::string drain = absl::GetFlag(FLAGS_shutdown_drain_seconds);
      !drain.empty()) {
    double seconds = 0;
    if (!absl::SimpleAtod(drain, &seconds)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "command line: --shutdown_drain_seconds=\"", drain,
          "\" is not a number"));
    }
    config.set_shutdown_drain_seconds(seconds);
    overridden = true;
  }
  // Names where a bad value came from: "config.json", "config.json +
  // command line", "command line" or "defaults".
  std::string source;
  if (!path.empty()) source = path;
  if (overridden) {
    source = source.empty() ? "command line"
                            : absl::StrCat(source, " + command line");
  }
  if (source.empty()) source = "defaults";
  absl::Status valid = ValidateServerConfig(config, source);
  if (!valid.ok()) return valid;
  return config;
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "rerankd --config=FILE [--listen=HOST:PORT] [--admin_listen=HOST:PORT] "
      "[--metrics_listen=HOST:PORT|off] [--admin_token_file=FILE] "
      "[--model_root=DIR] [--initial_model=DIR] [--log_level=LEVEL] "
      "[--log_format=text|json] [--scorer=full|null|transport]");
  absl::ParseCommandLine(argc, argv);

  // Debian's Abseil is built without NDEBUG, which leaves absl::Mutex's
  // deadlock detection on: every lock of gRPC's internal mutexes (absl::Mutex
  // since gRPC 1.4x) then looks itself up in a global lock graph, 1-3% of a
  // loaded server's CPU in perf (GraphCycles::GetId, InsertEdge). It is a
  // debugging aid that Abseil's own release builds leave off; the tests keep
  // it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the shutdown signals before any thread exists so every thread
  // (gRPC's included) inherits the mask and only the sigwait thread below
  // ever sees them: no work in a signal handler, no async-signal-safety
  // concerns.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<v1::ServerConfig> config = BuildConfig();
  if (!config.ok()) {
    // Logging is not configured yet: plain stderr, one line.
    std::fprintf(stderr, "rerankd: %s\n", config.status().ToString().c_str());
    return 1;
  }
  if (absl::Status logging = ConfigureLogging(config->logging());
      !logging.ok()) {
    std::fprintf(stderr, "rerankd: %s\n", logging.ToString().c_str());
    return 1;
  }

  absl::StatusOr<std::unique_ptr<RerankServer>> server =
      RerankServer::Create(*config);
  if (!server.ok()) {
    spdlog::critical("rerankd failed to start: {}", server.status().ToString());
    return 1;
  }
  RerankServer& srv = **server;
  const absl::Duration grace = absl::Seconds(config->shutdown_grace_seconds());
  const absl::Duration drain = absl::Seconds(config->shutdown_drain_seconds());

  std::thread signal_thread([&srv, &signals, grace, drain] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("received {}, draining {} (health NOT_SERVING), then "
                 "shutting down (grace {})",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 absl::FormatDuration(drain), absl::FormatDuration(grace));
    srv.Drain();
    if (drain > absl::ZeroDuration()) {
      // Serve on while health-watching clients move away; a second signal
      // (an impatient operator) ends the drain at once.
      const timespec wait = absl::ToTimespec(drain);
      int again = -1;
      do {
        again = sigtimedwait(&signals, nullptr, &wait);
      } while (again < 0 && errno == EINTR);
      if (again > 0) spdlog::info("second signal: drain cut short");
    }
    srv.Shutdown(grace);
  });

  // One line with everything an operator (or a test) needs to find it.
  // Only the version is kept: a snapshot held here for the process's life
  // kept the initial model in memory after every reload (found by the soak,
  // bench/soak.py: rerank_model_snapshots stayed at 2).
  std::optional<std::string> model_version;
  if (const std::shared_ptr<const ModelSnapshot> model = srv.store().Get()) {
    model_version = model->version();
  }
  const v1::ServerConfig& effective = srv.config();
  auto security = [](const v1::TlsConfig& tls) -> const char* {
    if (!TlsEnabled(tls)) return "plaintext";
    return tls.client_ca_file().empty() ? "TLS" : "mTLS";
  };
  const std::string token =
      effective.admin_token_file().empty() ? "" : ", bearer token";
  const std::string admin =
      effective.admin_on_serving_port()
          ? absl::StrCat(", admin on the serving port", token)
          : absl::StrCat(", admin on ", srv.admin_address(), " (",
                         security(effective.admin_tls()), token, ")");
  const std::string metrics =
      srv.metrics_port() == 0 ? ", metrics off"
                              : absl::StrCat(", metrics on http://",
                                             srv.metrics_address(), "/metrics");
  const std::string serving =
      absl::StrCat("rerankd serving on ", srv.address(), " (",
                   security(effective.tls()), ")", admin, metrics);
  if (model_version.has_value()) {
    spdlog::info("{}, model {}", serving, *model_version);
  } else {
    spdlog::info("{}, no model: waiting for Reload", serving);
  }

  srv.Wait();
  signal_thread.join();
  spdlog::info("rerankd stopped");
  server->reset();
  spdlog::shutdown();
  return 0;
}

}  // namespace
}  // namespace rerank

int main(int argc, char** argv) { return rerank::Run(argc, argv); }
