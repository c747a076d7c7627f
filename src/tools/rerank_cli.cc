// rerank-cli: command-line client for rerankd. Flag definitions and main()
// only; everything else is in rerank_cli_lib so it can be tested.

#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/string_view.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tools/rerank_cli_lib.h"

ABSL_FLAG(std::string, target, std::string(rerank::kDefaultTarget),
          "rerankd serving address (rerank, health), host:port");
ABSL_FLAG(std::string, admin_target, std::string(rerank::kDefaultAdminTarget),
          "rerankd admin address (info, reload), host:port");
ABSL_FLAG(std::string, tls_ca, "", "TLS: CA certificate (PEM) to trust");
ABSL_FLAG(std::string, tls_cert, "", "mTLS: client certificate (PEM)");
ABSL_FLAG(std::string, tls_key, "", "mTLS: client private key (PEM)");
ABSL_FLAG(std::string, token_file, "",
          "File with the admin bearer token (sent as authorization metadata)");
ABSL_FLAG(std::string, format, "table", "Output: table or json");
ABSL_FLAG(int64_t, deadline_ms, rerank::kDefaultDeadlineMs,
          "Per-call deadline in milliseconds");

ABSL_FLAG(std::string, request, "",
          "rerank: RerankRequest as protobuf JSON file; - reads stdin");
ABSL_FLAG(std::string, user, "", "rerank: shopper id (empty: anonymous)");
ABSL_FLAG(std::string, candidates, "", "rerank: id[:base_score],...");
ABSL_FLAG(std::string, events, "",
          "rerank: TYPE:item_id[@time],... e.g. VIEW:85123A@-60s");
ABSL_FLAG(std::optional<uint32_t>, top_k, std::nullopt,
          "rerank: return the best N (default all)");
ABSL_FLAG(std::optional<int64_t>, now_ms, std::nullopt,
          "rerank: score at this epoch ms (default server clock)");
ABSL_FLAG(bool, explain, true, "rerank: ask for explanations");
ABSL_FLAG(std::string, request_id, "", "rerank: default generated");
ABSL_FLAG(std::string, profile, "",
          "rerank: merchandising profile from the server config");
ABSL_FLAG(std::string, rules, "",
          "rerank: merchandising rules as protobuf JSON (a Rules message), "
          "merged into the request's");
ABSL_FLAG(bool, removed, false,
          "rerank: also list the candidates that filters removed");
ABSL_FLAG(std::string, override, "",
          "rerank: ScoringParams overrides, name=value,...");

ABSL_FLAG(std::string, ranker, "",
          "rerank: formula, linear or gbdt (default: the server's)");
ABSL_FLAG(std::string, user_vector, "",
          "rerank: the shopper's factor vector, comma-separated floats (the "
          "model's dim); replaces the model's user row");
ABSL_FLAG(std::string, model_dir, "", "reload: model directory to load");
ABSL_FLAG(std::string, service, "", "health: service name (empty: server)");

namespace {

bool IsHelpArg(absl::string_view arg) {
  return arg == "--help" || arg == "-help" || arg == "-h" || arg == "help";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(rerank::UsageText());
  // Handled before absl parses flags: absl's --help lists library flags too
  // and exits 1, while asking for help is a success.
  for (int i = 1; i < argc; ++i) {
    if (IsHelpArg(argv[i])) {
      std::cout << rerank::UsageText();
      return rerank::kExitOk;
    }
  }
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) {
    std::cerr << rerank::UsageText();
    return rerank::kExitInvalidArgument;
  }
  if (args.size() > 2) {
    std::cerr << "error: INVALID_ARGUMENT: unexpected argument \"" << args[2]
              << "\" (values need --flag=value form)\n";
    return rerank::kExitInvalidArgument;
  }

  rerank::CliOptions options;
  absl::StatusOr<rerank::OutputFormat> format =
      rerank::ParseOutputFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) {
    std::cerr << "error: " << rerank::FormatError(format.status()) << "\n";
    return rerank::kExitInvalidArgument;
  }
  options.format = *format;
  const int64_t deadline_ms = absl::GetFlag(FLAGS_deadline_ms);
  if (deadline_ms <= 0) {
    std::cerr << "error: INVALID_ARGUMENT: --deadline_ms must be > 0\n";
    return rerank::kExitInvalidArgument;
  }
  options.deadline = absl::Milliseconds(deadline_ms);
  options.request_path = absl::GetFlag(FLAGS_request);
  options.request.user_id = absl::GetFlag(FLAGS_user);
  options.request.candidates = absl::GetFlag(FLAGS_candidates);
  options.request.events = absl::GetFlag(FLAGS_events);
  options.request.top_k = absl::GetFlag(FLAGS_top_k);
  options.request.now_ms = absl::GetFlag(FLAGS_now_ms);
  options.request.explain = absl::GetFlag(FLAGS_explain);
  options.request.request_id = absl::GetFlag(FLAGS_request_id);
  options.request.overrides = absl::GetFlag(FLAGS_override);
  options.request.profile = absl::GetFlag(FLAGS_profile);
  options.request.rules = absl::GetFlag(FLAGS_rules);
  options.request.return_removed = absl::GetFlag(FLAGS_removed);
  options.request.ranker = absl::GetFlag(FLAGS_ranker);
  options.request.user_vector = absl::GetFlag(FLAGS_user_vector);
  options.model_dir = absl::GetFlag(FLAGS_model_dir);
  options.health_service = absl::GetFlag(FLAGS_service);

  // ModelAdmin lives on its own port; Reranker and Health on the serving one.
  const absl::string_view command = args[1];
  rerank::ChannelFlags channel_flags;
  channel_flags.target = (command == "info" || command == "reload")
                             ? absl::GetFlag(FLAGS_admin_target)
                             : absl::GetFlag(FLAGS_target);
  channel_flags.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  channel_flags.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  channel_flags.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  channel_flags.token_file = absl::GetFlag(FLAGS_token_file);
  // Creating the channel does not connect; failures surface as UNAVAILABLE
  // from the call itself.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      rerank::MakeChannel(channel_flags);
  if (!channel.ok()) {
    std::cerr << "error: " << rerank::FormatError(channel.status()) << "\n";
    return rerank::kExitInvalidArgument;
  }
  return rerank::RunCommand(command, options, *channel, std::cin, std::cout,
                            std::cerr);
}
