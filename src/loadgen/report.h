#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "common/json_quote.h"
#include "loadgen/histogram.h"

namespace rerank::loadgen {

// Status "code" under which calls that were never sent are counted: the
// open loop drops a scheduled call when --max_outstanding calls are already
// in flight.
inline constexpr char kDroppedCode[] = "DROPPED";
inline constexpr char kDroppedMessage[] = "too many outstanding";
// Code for an OK response that failed --verify_responses.
inline constexpr char kBadResponseCode[] = "BAD_RESPONSE";

// What a run measured (warm-up excluded). Plain value type.
struct RunResult {
  std::string mode;  // "closed" or "open"
  // Settings echoed into the report for scripts; 0 when not applicable.
  int concurrency = 0;
  int connections = 0;
  double rate = 0;

  // Every measured call: completed with any status, plus dropped ones.
  int64_t count = 0;
  // Calls that completed outside the measured phase (warm-up): with `count`,
  // every call the server answered during the run, for dividing the server's
  // CPU time by (bench/run-e2e.sh).
  int64_t unmeasured = 0;
  // From the start of the measured phase to the last measured completion.
  absl::Duration total = absl::ZeroDuration();
  // Latency of every call that got a status (OK or not, dropped excluded),
  // in nanoseconds. Open loop: measured from the scheduled send time.
  Histogram latency;
  // The same split by outcome: calls answered OK, and calls that got any
  // other status. Under overload the two tell "admitted calls stay fast"
  // from "refusals come back quickly".
  Histogram ok_latency;
  Histogram error_latency;
  // Calls per status code name ("OK", "INVALID_ARGUMENT", ..., plus
  // kDroppedCode and kBadResponseCode). Only codes that occurred.
  std::map<std::string, int64_t> status_counts;
  // "<CODE>: <message>" -> count for failed calls, capped to a bounded
  // number of distinct messages (the rest are folded into "<CODE>: ...").
  std::map<std::string, int64_t> error_messages;

  int64_t ok() const;
  int64_t errors() const { return count - ok(); }
  // Calls that got a status (count minus dropped) per second of `total`.
  double RequestsPerSecond() const;
};

// ghz-style human-readable summary (multi-line).
std::string FormatText(const RunResult& result);

// One JSON object, single line, latencies in microseconds:
//   mode, concurrency, connections, rate, count, ok, errors,
//   total_us, requests_per_second, average_us, fastest_us, slowest_us,
//   p50_us, p90_us, p95_us, p99_us, p999_us,
//   ok_latency_us {count, p50, p99, p999, max} (calls answered OK),
//   error_latency_us {count, p50, p99, p999, max} (any other status),
//   status_codes {CODE: n}, error_distribution {"CODE: message": n}
std::string FormatJson(const RunResult& result);

// `s` as a JSON string literal, quotes included (shared with rerank-eval).
using ::rerank::JsonQuote;

}  // namespace rerank::loadgen
