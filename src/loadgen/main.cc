// rerank-loadgen: a ghz-like load generator for rerank.v1.Reranker/Rerank.
//
//   rerank-loadgen --target=127.0.0.1:50051 --synthetic_items=10000
//       --synthetic_users=1000 --mode=closed --concurrency=50 --duration=10s
//   rerank-loadgen --target=... --model_dir=run/models/demo --mode=open
//       --rate=2000 --duration=30s --warmup=2s --json
//   rerank-loadgen --model_dir=run/models/demo --dump_requests=/tmp/reqs
//
// Exit codes: 0 the run completed (call errors are reported, not fatal);
// 1 bad flags or setup; 2 the target was not reachable at start.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "loadgen/report.h"
#include "loadgen/request_pool.h"
#include "loadgen/runner.h"

ABSL_FLAG(std::string, target, "", "Server address, host:port.");
ABSL_FLAG(std::string, mode, "closed",
          "closed: --concurrency calls always in flight; open: --rate calls/s "
          "on a fixed schedule, latency from the scheduled time.");
ABSL_FLAG(int32_t, concurrency, 50, "Closed loop: calls in flight.");
ABSL_FLAG(int32_t, connections, 1,
          "Channels (each its own TCP connection); calls are spread "
          "round-robin over them.");
ABSL_FLAG(int32_t, threads, 2, "Completion-queue polling threads.");
ABSL_FLAG(double, rate, 0, "Open loop: calls per second.");
ABSL_FLAG(int32_t, max_outstanding, 10000,
          "Open loop: scheduled calls beyond this many in flight are not sent "
          "and counted as DROPPED errors.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "Measured phase length (ignored with --requests).");
ABSL_FLAG(absl::Duration, warmup, absl::ZeroDuration(),
          "Unreported warm-up before the measured phase.");
ABSL_FLAG(int64_t, requests, 0,
          "If > 0, measure exactly this many calls instead of --duration.");
ABSL_FLAG(int32_t, deadline_ms, 1000, "Per-call deadline.");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5),
          "How long every connection may take to come up before giving up.");
ABSL_FLAG(std::string, model_dir, "",
          "Model directory whose user_ids.txt and item_ids.txt supply ids.");
ABSL_FLAG(int32_t, synthetic_items, 0,
          "Instead of --model_dir: use ids item-0..item-<N-1>.");
ABSL_FLAG(int32_t, synthetic_users, 0,
          "With --synthetic_items: use ids user-0..user-<M-1>.");
ABSL_FLAG(int32_t, candidates, 200, "Candidates per request.");
ABSL_FLAG(int32_t, events, 20, "Events per request.");
ABSL_FLAG(double, unknown_user_fraction, 0.1,
          "Fraction of requests naming a user the model does not know.");
ABSL_FLAG(uint32_t, top_k, 0, "RerankRequest.top_k (0 = all).");
ABSL_FLAG(bool, explain, false, "RerankRequest.explain.");
ABSL_FLAG(uint64_t, seed, 1, "Seed for building the request pool.");
ABSL_FLAG(int64_t, now_ms, rerank::loadgen::kDefaultNowMs,
          "RerankRequest.now_ms of every request; events fall in the hour "
          "before it.");
ABSL_FLAG(int32_t, request_pool, 1000,
          "Distinct requests built (and serialized) up front and cycled.");
ABSL_FLAG(std::string, dump_requests, "",
          "Write the request pool to this directory (.bin, .json, .grpc "
          "frames, requests.bin, requests.json); exits unless --target is "
          "also set.");
ABSL_FLAG(bool, json, false, "Print the result as one JSON object.");
ABSL_FLAG(bool, verify_responses, false,
          "Parse OK responses and count malformed ones as BAD_RESPONSE.");

namespace rerank::loadgen {
namespace {

constexpr int kExitBadSetup = 1;
constexpr int kExitUnreachable = 2;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "rerank-loadgen: %s\n", status.ToString().c_str());
  return kExitBadSetup;
}

absl::StatusOr<RunnerOptions> RunnerOptionsFromFlags() {
  RunnerOptions o;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "closed") {
    o.mode = LoadMode::kClosed;
  } else if (mode == "open") {
    o.mode = LoadMode::kOpen;
  } else {
    return absl::InvalidArgumentError(
        absl::StrFormat("--mode must be closed or open, got '%s'", mode));
  }
  o.concurrency = absl::GetFlag(FLAGS_concurrency);
  o.rate = absl::GetFlag(FLAGS_rate);
  o.max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  o.requests = absl::GetFlag(FLAGS_requests);
  o.duration = absl::GetFlag(FLAGS_duration);
  o.warmup = absl::GetFlag(FLAGS_warmup);
  o.deadline = absl::Milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  o.threads = absl::GetFlag(FLAGS_threads);
  o.verify_responses = absl::GetFlag(FLAGS_verify_responses);
  if (o.mode == LoadMode::kOpen && !(o.rate > 0)) {
    return absl::InvalidArgumentError("--mode=open needs --rate > 0");
  }
  if (absl::GetFlag(FLAGS_connections) < 1) {
    return absl::InvalidArgumentError("--connections must be >= 1");
  }
  // Bounded so that deadline and end-time arithmetic cannot overflow.
  if (o.duration > absl::Hours(24 * 365) || o.warmup > absl::Hours(24 * 365)) {
    return absl::InvalidArgumentError("--duration/--warmup too long");
  }
  return o;
}

absl::StatusOr<IdLists> IdsFromFlags() {
  const std::string model_dir = absl::GetFlag(FLAGS_model_dir);
  const int items = absl::GetFlag(FLAGS_synthetic_items);
  const int users = absl::GetFlag(FLAGS_synthetic_users);
  if (!model_dir.empty() && (items > 0 || users > 0)) {
    return absl::InvalidArgumentError(
        "use either --model_dir or --synthetic_items/--synthetic_users");
  }
  if (!model_dir.empty()) return LoadIdsFromModelDir(model_dir);
  if (items <= 0 || users < 0) {
    return absl::InvalidArgumentError(
        "need --model_dir or --synthetic_items > 0 (and "
        "--synthetic_users >= 0)");
  }
  return SyntheticIds(items, users);
}

int Main() {
  auto runner_options = RunnerOptionsFromFlags();
  if (!runner_options.ok()) return Fail(runner_options.status());
  auto ids = IdsFromFlags();
  if (!ids.ok()) return Fail(ids.status());

  RequestPoolOptions pool_options;
  pool_options.pool_size = absl::GetFlag(FLAGS_request_pool);
  pool_options.candidates = absl::GetFlag(FLAGS_candidates);
  pool_options.events = absl::GetFlag(FLAGS_events);
  pool_options.unknown_user_fraction =
      absl::GetFlag(FLAGS_unknown_user_fraction);
  pool_options.top_k = absl::GetFlag(FLAGS_top_k);
  pool_options.explain = absl::GetFlag(FLAGS_explain);
  pool_options.seed = absl::GetFlag(FLAGS_seed);
  pool_options.now_ms = absl::GetFlag(FLAGS_now_ms);
  const absl::Time build_start = absl::Now();
  auto pool = RequestPool::Build(*ids, pool_options);
  if (!pool.ok()) return Fail(pool.status());
  size_t bytes = 0;
  for (const std::string& s : pool->all_serialized()) bytes += s.size();
  std::fprintf(stderr,
               "Built %zu requests from %zu items / %zu users "
               "(mean %zu bytes) in %s\n",
               pool->size(), ids->item_ids.size(), ids->user_ids.size(),
               bytes / pool->size(),
               absl::FormatDuration(absl::Now() - build_start).c_str());

  const std::string dump_dir = absl::GetFlag(FLAGS_dump_requests);
  const std::string target = absl::GetFlag(FLAGS_target);
  if (!dump_dir.empty()) {
    if (absl::Status s = DumpRequests(*pool, dump_dir); !s.ok()) return Fail(s);
    std::fprintf(stderr, "Wrote %zu requests to %s\n", pool->size(),
                 dump_dir.c_str());
    if (target.empty()) return 0;
  }
  if (target.empty()) {
    return Fail(absl::InvalidArgumentError("--target is required"));
  }

  const int connections = absl::GetFlag(FLAGS_connections);
  auto channels = CreateChannels(target, connections);
  if (absl::Status s =
          WaitForConnected(channels, absl::GetFlag(FLAGS_connect_timeout));
      !s.ok()) {
    std::fprintf(stderr, "rerank-loadgen: %s unreachable: %s\n", target.c_str(),
                 s.ToString().c_str());
    return kExitUnreachable;
  }

  const RunnerOptions& o = *runner_options;
  std::string plan =
      o.mode == LoadMode::kClosed
          ? absl::StrFormat("closed loop, %d in flight", o.concurrency)
          : absl::StrFormat("open loop, %.1f/s", o.rate);
  absl::StrAppendFormat(&plan, ", %d connection(s), %d thread(s), ",
                        connections, o.threads);
  if (o.requests > 0) {
    absl::StrAppendFormat(&plan, "%d requests", o.requests);
  } else {
    absl::StrAppend(&plan, absl::FormatDuration(o.duration));
  }
  if (o.warmup > absl::ZeroDuration()) {
    absl::StrAppend(&plan, " after ", absl::FormatDuration(o.warmup),
                    " warm-up");
  }
  std::fprintf(stderr, "Running against %s: %s\n", target.c_str(),
               plan.c_str());
  auto result = RunLoad(channels, pool->all_serialized(), o);
  if (!result.ok()) return Fail(result.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", FormatJson(*result).c_str());
  } else {
    std::printf("%s", FormatText(*result).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace rerank::loadgen

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load generator for rerank.v1.Reranker/Rerank.\n"
      "  rerank-loadgen --target=HOST:PORT (--model_dir=DIR | "
      "--synthetic_items=N [--synthetic_users=M]) [--mode=closed "
      "--concurrency=C | --mode=open --rate=R] [--duration=10s | "
      "--requests=N] [--json]");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::fprintf(stderr, "rerank-loadgen: unexpected argument '%s'\n",
                 positional[1]);
    return 1;
  }
  return rerank::loadgen::Main();
}
