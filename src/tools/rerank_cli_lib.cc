#include "tools/rerank_cli_lib.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <istream>
#include <iterator>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"
#include "rerank/v1/rerank.grpc.pb.h"
#include "tools/cli_internal.h"

namespace rerank {
namespace {

std::chrono::system_clock::time_point DeadlineFrom(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

// Prints a failed status the same way for local and RPC errors, so scripts
// and humans see one format: "error: CODE: message".
int ReportError(const absl::Status& status, std::ostream& err) {
  err << "error: " << FormatError(status) << "\n";
  return ExitCodeFor(status.code());
}

int RunRerank(const CliOptions& options,
              const std::shared_ptr<grpc::Channel>& channel, std::istream& in,
              std::ostream& out, std::ostream& err) {
  absl::StatusOr<v1::RerankRequest> request =
      BuildRerankRequest(options, in, absl::ToUnixMillis(absl::Now()));
  if (!request.ok()) return ReportError(request.status(), err);

  auto stub = v1::Reranker::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineFrom(options.deadline));
  v1::RerankResponse response;
  // Measured around the whole call, so the first call includes connection
  // setup: that is what a storefront's first request would see too.
  const absl::Time start = absl::Now();
  const grpc::Status status = stub->Rerank(&context, *request, &response);
  const absl::Duration latency = absl::Now() - start;
  if (!status.ok()) return ReportError(FromGrpcStatus(status), err);

  if (options.format == OutputFormat::kJson) {
    out << FormatMessageJson(response) << "\n";
  } else {
    out << FormatResponseTable(response, latency);
  }
  return kExitOk;
}

int RunInfo(const CliOptions& options,
            const std::shared_ptr<grpc::Channel>& channel, std::ostream& out,
            std::ostream& err) {
  auto stub = v1::ModelAdmin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineFrom(options.deadline));
  v1::ModelInfo info;
  const grpc::Status status =
      stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok()) return ReportError(FromGrpcStatus(status), err);
  out << (options.format == OutputFormat::kJson ? FormatMessageJson(info) + "\n"
                                                : FormatKeyValues(info));
  return kExitOk;
}

int RunReload(const CliOptions& options,
              const std::shared_ptr<grpc::Channel>& channel, std::ostream& out,
              std::ostream& err) {
  if (options.model_dir.empty()) {
    return ReportError(
        absl::InvalidArgumentError("reload needs --model_dir (relative to the "
                                   "server's model root, e.g. --model_dir=v2)"),
        err);
  }
  auto stub = v1::ModelAdmin::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineFrom(options.deadline));
  v1::ReloadRequest request;
  request.set_model_dir(options.model_dir);
  v1::ReloadResponse response;
  const grpc::Status status = stub->Reload(&context, request, &response);
  if (!status.ok()) return ReportError(FromGrpcStatus(status), err);
  if (options.format == OutputFormat::kJson) {
    out << FormatMessageJson(response) << "\n";
  } else {
    // Loads of a small model take well under a millisecond; "%.3fs" would
    // print 0.000s.
    const absl::Duration took = absl::Trunc(
        absl::Seconds(response.load_seconds()), absl::Microseconds(1));
    out << absl::StrFormat(
        "reloaded: %s -> %s in %s\n",
        response.previous_version().empty() ? "(none)"
                                            : response.previous_version(),
        response.model().version(), absl::FormatDuration(took));
    out << FormatKeyValues(response);
  }
  return kExitOk;
}

int RunHealth(const CliOptions& options,
              const std::shared_ptr<grpc::Channel>& channel, std::ostream& out,
              std::ostream& err) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineFrom(options.deadline));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(options.health_service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return ReportError(FromGrpcStatus(status), err);
  const int serving = static_cast<int>(response.status());

  const std::string name = HealthStatusName(serving);
  if (options.format == OutputFormat::kJson) {
    out << "{\"status\": \"" << name << "\"}\n";
  } else {
    out << "status: " << name << "\n";
  }
  // The RPC worked but the server says it cannot serve: not a success for a
  // probe script, yet not one of the specific gRPC failures either.
  return serving == grpc::health::v1::HealthCheckResponse::SERVING
             ? kExitOk
             : kExitFailure;
}

}  // namespace

// ---------------------------------------------------------------------------
// Status and exit codes.
// ---------------------------------------------------------------------------

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
      return kExitInvalidArgument;
    case absl::StatusCode::kUnavailable:
      return kExitUnavailable;
    default:
      return kExitFailure;
  }
}

int ExitCodeFor(grpc::StatusCode code) {
  return ExitCodeFor(static_cast<absl::StatusCode>(code));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string FormatError(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                      status.message());
}

// ---------------------------------------------------------------------------
// grpc.health.v1.
// ---------------------------------------------------------------------------

std::string HealthStatusName(int status) {
  switch (status) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return absl::StrCat(status);
  }
}

// ---------------------------------------------------------------------------
// Commands.
// ---------------------------------------------------------------------------

std::string UsageText() {
  return R"(rerank-cli: command-line client for rerankd.

Usage:
  rerank-cli rerank [--target=HOST:PORT] --candidates=LIST [--user=ID]
                    [--events=LIST] [options]
  rerank-cli rerank [--target=HOST:PORT] --request=FILE|- [options]
  rerank-cli info   [--admin_target=HOST:PORT] [--format=table|json]
  rerank-cli reload [--admin_target=HOST:PORT] --model_dir=DIR
                    [--format=table|json]
  rerank-cli health [--target=HOST:PORT] [--service=NAME]

rerank:
  --request=FILE          RerankRequest as protobuf JSON ("-" reads stdin).
  --user=ID               Shopper id; empty means anonymous.
  --candidates=LIST       id[:base_score],...  e.g. 85123A:0.9,71053,84406B:0.4
  --events=LIST           TYPE:item_id[@time],...
                            TYPE: VIEW, CLICK, ADD_TO_CART, PURCHASE,
                                  ADD_TO_WISHLIST (any case)
                            time: -60s or 60s (ago), +5m (future), units
                                  ms s m h d; a bare integer is epoch ms;
                                  no @time means now
  --top_k=N               Return the best N (default: all).
  --now_ms=MS             Score at this moment (default: server clock). Also
                          the reference for relative event times.
  --[no]explain           Ask for explanations (default true); the table
                          shows base, factor and every boost from them
                          (learned rankers: their score and the 5 largest
                          feature contributions).
  --ranker=formula|linear|gbdt
                          The function that orders the candidates, e.g. for
                          an A/B test (default: the server config's, else
                          the model's). See README "Learned ranking".
  --user_vector=F,F,...   The shopper's factor vector (e.g. from a feature
                          store), the model's dim floats; replaces the
                          model's row for --user. See README "Scoring".
  --request_id=ID         Default: generated "cli-<hex>".
  --override=NAME=V,...   Per-request ScoringParams by field name, e.g.
                          half_life_seconds=600,factor_weight=2
  --profile=NAME          Merchandising profile from the server config.
  --rules=JSON            Merchandising rules (a Rules message as protobuf
                          JSON), e.g. '{"excludeItems":["71053"]}'; see
                          README "Merchandising". The table shows each
                          rule's reason under the items it touched.
  --removed               Also list the candidates that filters removed.
  With --request, --top_k, --now_ms, --explain, --request_id, --override,
  --profile, --rules, --removed and --ranker adjust the file's request;
  --user/--candidates/--events are refused.

common:
  --target=HOST:PORT      rerank/health: default 127.0.0.1:50051.
  --admin_target=H:P      info/reload (ModelAdmin): default 127.0.0.1:50052,
                          rerankd's admin port.
  --tls_ca=FILE           Use TLS, trusting this CA (PEM).
  --tls_cert=FILE --tls_key=FILE
                          Client certificate for mutual TLS.
  --token_file=FILE       Send "authorization: Bearer <token>" (admin token).
  --format=table|json     json: protobuf JSON of the response, for scripts.
  --deadline_ms=MS        Per-call deadline (default 2000).

Exit codes: 0 ok; 2 INVALID_ARGUMENT (bad request or flags); 3 UNAVAILABLE
(server unreachable or no model loaded); 1 anything else (also health
NOT_SERVING). Errors go to stderr as "error: CODE: message".

Examples:
  rerank-cli rerank --user=17850 --candidates=85123A,71053,84406B \
      --events=VIEW:85123A@-60s,ADD_TO_CART:71053@-5m --top_k=2
  rerank-cli rerank --candidates=85123A:0.9,71053:0.2 \
      --override=half_life_seconds=600,factor_weight=2
  rerank-cli rerank --request=req.json --format=json | jq -r '.items[].itemId'
  echo '{"candidates":[{"itemId":"85123A"}]}' | rerank-cli rerank --request=-
  rerank-cli info
  rerank-cli reload --model_dir=v2
  rerank-cli health --service=rerank.v1.Reranker
)";
}

int RunCommand(absl::string_view command, const CliOptions& options,
               const std::shared_ptr<grpc::Channel>& channel, std::istream& in,
               std::ostream& out, std::ostream& err) {
  if (command == "rerank") return RunRerank(options, channel, in, out, err);
  if (command == "info") return RunInfo(options, channel, out, err);
  if (command == "reload") return RunReload(options, channel, out, err);
  if (command == "health") return RunHealth(options, channel, out, err);
  return ReportError(
      absl::InvalidArgumentError(absl::StrFormat(
          "unknown command \"%s\" (expected rerank, info, reload or health; "
          "see rerank-cli --help)",
          command)),
      err);
}

namespace {

// Adds the bearer token to every call's initial metadata.
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* header)
      : header_(header) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;  // owned by the factory, which outlives calls
};

class BearerTokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(absl::string_view token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag,
                                         const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--%s=%s cannot be read: %s", flag, path, std::strerror(errno)));
  }
  return std::string(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ChannelFlags& flags) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (flags.tls_ca_file.empty()) {
    if (!flags.tls_cert_file.empty() || !flags.tls_key_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_cert/--tls_key need --tls_ca (the CA that signed the server)");
    }
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs,
                     ReadFlagFile("tls_ca", flags.tls_ca_file));
    if (flags.tls_cert_file.empty() != flags.tls_key_file.empty()) {
      return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
    }
    if (!flags.tls_cert_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                       ReadFlagFile("tls_cert", flags.tls_cert_file));
      ASSIGN_OR_RETURN(ssl.pem_private_key,
                       ReadFlagFile("tls_key", flags.tls_key_file));
    }
    credentials = grpc::SslCredentials(ssl);
  }
  if (flags.token_file.empty()) {
    return grpc::CreateChannel(flags.target, credentials);
  }
  ASSIGN_OR_RETURN(std::string token,
                   ReadFlagFile("token_file", flags.token_file));
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token_file=", flags.token_file, " is empty"));
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      std::make_unique<BearerTokenInterceptorFactory>(token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      flags.target, credentials, grpc::ChannelArguments(),
      std::move(interceptors));
}

}  // namespace rerank
