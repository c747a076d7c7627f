#pragma once

// rerank-cli: the command-line client for rerankd (Reranker, ModelAdmin and
// grpc.health.v1.Health). Everything but flag definitions and main() lives
// here so that parsing, formatting and exit codes are unit-testable without a
// server, and the RPC paths are testable against an in-process fake.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"
#include "rerank/v1/rerank.pb.h"

namespace rerank {

// Process exit codes. Scripts branch on these, so they are part of the CLI's
// contract: 2 = the request (or the command line) is wrong, fix it; 3 = the
// server is not there or has no model, retry later; 1 = anything else.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitInvalidArgument = 2;
inline constexpr int kExitUnavailable = 3;

inline constexpr absl::string_view kDefaultTarget = "127.0.0.1:50051";
// rerankd serves ModelAdmin on its own loopback port by default.
inline constexpr absl::string_view kDefaultAdminTarget = "127.0.0.1:50052";

// How to reach one rerankd endpoint.
struct ChannelFlags {
  std::string target;
  std::string tls_ca_file;    // set: TLS, trusting this CA
  std::string tls_cert_file;  // with tls_key_file: client certificate (mTLS)
  std::string tls_key_file;
  std::string token_file;  // set: "authorization: Bearer <token>" on calls
};

// Builds the channel: plaintext, TLS or mTLS, plus the bearer token (sent by
// a client interceptor, so it works on plaintext loopback channels too, where
// gRPC refuses call credentials). Errors name the flag whose file is bad.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ChannelFlags& flags);
inline constexpr int64_t kDefaultDeadlineMs = 2000;

// The request-building flags of `rerank-cli rerank`, already parsed by
// absl::flags. Empty strings / nullopt mean "not given".
struct CliRequestFlags {
  std::string user_id;     // --user
  std::string candidates;  // --candidates=id[:base_score],...
  std::string events;      // --events=TYPE:item@time,...
  std::optional<uint32_t> top_k;
  // The moment to score at. Also the reference for relative event times when
  // given; otherwise those are relative to the client's wall clock and the
  // server scores at its own clock (request.now_ms = 0).
  std::optional<int64_t> now_ms;
  bool explain = true;
  std::string request_id;       // empty: generated
  std::string overrides;        // --override=name=value,...
  std::string profile;          // --profile
  std::string rules;            // --rules: v1::Rules as protobuf JSON
  bool return_removed = false;  // --removed
  std::string ranker;  // --ranker=formula|linear|gbdt; empty: server default
  // --user_vector=f,f,...: RerankRequest.user_vector (replaces any in
  // --request); empty: none.
  std::string user_vector;
};

enum class OutputFormat { kTable, kJson };

// Everything a subcommand needs, independent of how it was parsed.
struct CliOptions {
  std::string request_path;  // --request; "-" is stdin; empty: use flags
  CliRequestFlags request;
  OutputFormat format = OutputFormat::kTable;
  absl::Duration deadline = absl::Milliseconds(kDefaultDeadlineMs);
  std::string model_dir;       // reload
  std::string health_service;  // health; "" = the server as a whole
};

// ---------------------------------------------------------------------------
// Request building.
// ---------------------------------------------------------------------------

// --events type names: "VIEW", "view", "add_to_cart", "EVENT_TYPE_PURCHASE",
// ... Case-insensitive; the EVENT_TYPE_ prefix is optional. UNSPECIFIED is
// refused. (Not named ParseEventType: training's function of that name has
// the same parameters, hence the same symbol, and both link into the fuzz
// targets.)
absl::StatusOr<v1::EventType> ParseWireEventType(absl::string_view name);

// An event time: "-60s" / "60s" (ago), "+5m" (in the future), units ms, s, m,
// h, d, fractions allowed ("1.5h"); or a bare integer = absolute epoch ms.
absl::StatusOr<int64_t> ParseEventTime(absl::string_view spec, int64_t now_ms);

// "TYPE:item_id[@time],..." (see ParseEventTime; no "@time" means now).
// Errors name the entry: `--events[1] "X:a@-5y": unknown time unit "y" ...`.
absl::StatusOr<std::vector<v1::Event>> ParseEvents(absl::string_view spec,
                                                   int64_t now_ms);

// "id[:base_score],...". The score is split off at the last ':' so ids must
// not contain ':' here (use --request JSON for such ids).
absl::StatusOr<std::vector<v1::Candidate>> ParseCandidates(
    absl::string_view spec);

// "name=value,..." onto ScoringParams fields, by proto field name via
// reflection so new ScoringParams fields work without touching the CLI.
// Unknown names are refused with the list of valid names. Bounds are the
// server's job (it names the field in its INVALID_ARGUMENT).
absl::Status ApplyOverrides(absl::string_view spec, v1::ScoringParams* params);

// The protobuf JSON mapping of RerankRequest. Unknown fields are errors: a
// typo in a hand-written request file should not be silently dropped.
absl::StatusOr<v1::RerankRequest> ParseRequestJson(absl::string_view json);

// --ranker: "formula", "linear" or "gbdt" (any case). Anything else, also
// "unspecified", is an INVALID_ARGUMENT naming --ranker and the valid values.
absl::StatusOr<v1::RankerKind> ParseRanker(absl::string_view name);

// "cli-<hex>": unique enough to find one call in the server logs.
std::string GenerateRequestId();

// A request from --user/--candidates/--events plus the common flags.
// `now_ms` is the client's clock, used for relative event times unless
// flags.now_ms is set.
absl::StatusOr<v1::RerankRequest> BuildRequestFromFlags(
    const CliRequestFlags& flags, int64_t now_ms);

// Applies --top_k, --now_ms, --explain, --request_id (generated when neither
// the flag nor the request has one), --profile, --rules, --removed, --ranker
// and --override on top of `request`. Used
// both for flag-built and for JSON requests, so these flags adjust a file.
absl::Status ApplyCommonRequestFlags(const CliRequestFlags& flags,
                                     v1::RerankRequest* request);

// The request of `rerank-cli rerank`: from --request (file or "-" = `in`) or
// from flags. --request together with --user/--candidates/--events is refused
// rather than merged: which one wins would be a guess.
absl::StatusOr<v1::RerankRequest> BuildRerankRequest(const CliOptions& options,
                                                     std::istream& in,
                                                     int64_t now_ms);

// ---------------------------------------------------------------------------
// Output.
// ---------------------------------------------------------------------------

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view name);

// "450ms", "60s", "5m", "1h30m", "2d3h". Two units at most: for reading.
std::string FormatAge(int64_t age_ms);

// Feature lines printed under each item of a learned ranker's table.
inline constexpr int kDefaultFeatureLines = 5;

// The human table: one row per item, its boost lines and purchase demotion
// underneath, then a footer with model, user, fallbacks, stats, server now_ms
// and the client-measured `latency`.
//
// When a learned ranker scored (response.ranker LINEAR or GBDT) a
// "ranker: NAME" line comes first, the base/factor/boosts columns become
// `ranker` (ranker_bias + sum of feature contributions) and `rules`, and
// under each item are its `max_feature_lines` largest feature contributions
// by magnitude (zero ones are skipped; the rest are summed on one line).
// Formula responses print exactly as they did before learned rankers.
std::string FormatResponseTable(const v1::RerankResponse& response,
                                absl::Duration latency,
                                int max_feature_lines = kDefaultFeatureLines);

// Protobuf JSON (pretty, defaults included so scripts never see a missing
// key).
std::string FormatMessageJson(const google::protobuf::Message& message);

// "key: value" lines, one per field including defaults, nested messages
// flattened as "model.version". *_ms timestamps get an ISO-8601 suffix.
std::string FormatKeyValues(const google::protobuf::Message& message);

// ---------------------------------------------------------------------------
// Status and exit codes.
// ---------------------------------------------------------------------------

int ExitCodeFor(grpc::StatusCode code);
int ExitCodeFor(absl::StatusCode code);

// gRPC and absl status codes share their numbering (both follow
// google.rpc.Code), so the conversion is a cast.
absl::Status FromGrpcStatus(const grpc::Status& status);

// "INVALID_ARGUMENT: message" for stderr.
std::string FormatError(const absl::Status& status);

// grpc.health.v1 (proto/grpc/health/v1/health.proto): the status's name,
// UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN, or the number for one a
// newer server may send.
std::string HealthStatusName(int status);

// ---------------------------------------------------------------------------
// Commands.
// ---------------------------------------------------------------------------

// The usage text (also --help's header), with examples.
std::string UsageText();

// Runs `command` ("rerank", "info", "reload", "health") over `channel`,
// writing results to `out` and errors to `err`; returns the exit code.
// `in` is stdin for --request=-.
int RunCommand(absl::string_view command, const CliOptions& options,
               const std::shared_ptr<grpc::Channel>& channel, std::istream& in,
               std::ostream& out, std::ostream& err);

}  // namespace rerank
