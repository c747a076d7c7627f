#include "loadgen/report.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rerank::loadgen {
namespace {

struct PercentileSpec {
  double percent;
  const char* label;     // text report
  const char* json_key;  // JSON report
};

constexpr PercentileSpec kPercentiles[] = {
    {50, "50", "p50_us"}, {90, "90", "p90_us"},      {95, "95", "p95_us"},
    {99, "99", "p99_us"}, {99.9, "99.9", "p999_us"},
};

// Nanoseconds in a unit that keeps sub-millisecond latencies readable.
std::string HumanLatency(double ns) {
  if (ns < 1e6) return absl::StrFormat("%.1f us", ns / 1e3);
  if (ns < 1e9) return absl::StrFormat("%.2f ms", ns / 1e6);
  return absl::StrFormat("%.3f s", ns / 1e9);
}

std::string Micros(double ns) { return absl::StrFormat("%.3f", ns / 1e3); }

std::string JsonNumber(double v) { return absl::StrFormat("%.3f", v); }

}  // namespace

int64_t RunResult::ok() const {
  auto it = status_counts.find("OK");
  return it == status_counts.end() ? 0 : it->second;
}

double RunResult::RequestsPerSecond() const {
  const double seconds = absl::ToDoubleSeconds(total);
  if (seconds <= 0) return 0;
  auto dropped = status_counts.find(kDroppedCode);
  const int64_t sent =
      count - (dropped == status_counts.end() ? 0 : dropped->second);
  return static_cast<double>(sent) / seconds;
}

std::string FormatText(const RunResult& r) {
  std::string out = "\nSummary:\n";
  absl::StrAppendFormat(&out, "  Mode:         %s", r.mode);
  if (r.mode == "open") {
    absl::StrAppendFormat(&out, " (rate %.1f/s)", r.rate);
  } else {
    absl::StrAppendFormat(&out, " (concurrency %d)", r.concurrency);
  }
  absl::StrAppendFormat(&out, ", %d connection(s)\n", r.connections);
  absl::StrAppendFormat(&out, "  Count:        %d\n", r.count);
  absl::StrAppendFormat(&out, "  Total:        %.2f s\n",
                        absl::ToDoubleSeconds(r.total));
  const Histogram& h = r.latency;
  absl::StrAppendFormat(&out, "  Slowest:      %s\n", HumanLatency(h.Max()));
  absl::StrAppendFormat(&out, "  Fastest:      %s\n", HumanLatency(h.Min()));
  absl::StrAppendFormat(&out, "  Average:      %s\n", HumanLatency(h.Mean()));
  absl::StrAppendFormat(&out, "  Requests/sec: %.2f\n", r.RequestsPerSecond());

  out += "\nLatency distribution:\n";
  for (const PercentileSpec& p : kPercentiles) {
    absl::StrAppendFormat(&out, "  %-4s %% in %s\n", p.label,
                          HumanLatency(h.Percentile(p.percent)));
  }

  out += "\nStatus code distribution:\n";
  for (const auto& [code, n] : r.status_counts) {
    absl::StrAppendFormat(&out, "  %-20s %d %s\n", absl::StrCat("[", code, "]"),
                          n, code == kDroppedCode ? "calls" : "responses");
  }
  if (!r.error_messages.empty()) {
    out += "\nError distribution:\n";
    for (const auto& [message, n] : r.error_messages) {
      absl::StrAppendFormat(&out, "  [%d] %s\n", n, message);
    }
  }
  return out;
}

std::string FormatJson(const RunResult& r) {
  const Histogram& h = r.latency;
  std::string out = "{";
  absl::StrAppend(&out, "\"mode\":", JsonQuote(r.mode));
  absl::StrAppend(&out, ",\"concurrency\":", r.concurrency);
  absl::StrAppend(&out, ",\"connections\":", r.connections);
  absl::StrAppend(&out, ",\"rate\":", JsonNumber(r.rate));
  absl::StrAppend(&out, ",\"count\":", r.count);
  absl::StrAppend(&out, ",\"unmeasured\":", r.unmeasured);
  absl::StrAppend(&out, ",\"ok\":", r.ok());
  absl::StrAppend(&out, ",\"errors\":", r.errors());
  absl::StrAppend(&out,
                  ",\"total_us\":", Micros(absl::ToDoubleNanoseconds(r.total)));
  absl::StrAppend(
      &out, ",\"requests_per_second\":", JsonNumber(r.RequestsPerSecond()));
  absl::StrAppend(&out, ",\"average_us\":", Micros(h.Mean()));
  absl::StrAppend(&out, ",\"fastest_us\":", Micros(h.Min()));
  absl::StrAppend(&out, ",\"slowest_us\":", Micros(h.Max()));
  for (const PercentileSpec& p : kPercentiles) {
    absl::StrAppend(&out, ",\"", p.json_key,
                    "\":", Micros(h.Percentile(p.percent)));
  }
  for (const auto& [key, split] :
       {std::pair<const char*, const Histogram*>{"ok_latency_us",
                                                 &r.ok_latency},
        {"error_latency_us", &r.error_latency}}) {
    absl::StrAppend(&out, ",\"", key, "\":{\"count\":", split->Count(),
                    ",\"p50\":", Micros(split->Percentile(50)),
                    ",\"p99\":", Micros(split->Percentile(99)),
                    ",\"p999\":", Micros(split->Percentile(99.9)),
                    ",\"max\":", Micros(split->Max()), "}");
  }
  out += ",\"status_codes\":{";
  bool first = true;
  for (const auto& [code, n] : r.status_counts) {
    absl::StrAppend(&out, first ? "" : ",", JsonQuote(code), ":", n);
    first = false;
  }
  out += "},\"error_distribution\":{";
  first = true;
  for (const auto& [message, n] : r.error_messages) {
    absl::StrAppend(&out, first ? "" : ",", JsonQuote(message), ":", n);
    first = false;
  }
  out += "}}";
  return out;
}

}  // namespace rerank::loadgen
