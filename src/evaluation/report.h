#pragma once

#include <string>

#include "absl/status/status.h"
#include "evaluation/evaluator.h"

namespace rerank {

// A plain-text table per segment (metrics with CIs, then the paired
// differences to the baseline), for stdout.
std::string FormatTextReport(const EvalReport& report);

// The whole report as JSON: config, data sizes, model, timings, strategies
// and, per segment, diagnostics and per-strategy metrics with CIs and
// paired differences. Per-case records are not included.
std::string EvalReportToJson(const EvalReport& report);

// A self-contained HTML page (inline CSS and SVG only: no scripts, fonts,
// images or links to fetch) with bar charts of every metric with CI
// whiskers, charts of the paired differences, and the tables.
std::string EvalReportToHtml(const EvalReport& report);

// Writes `contents` to `path` (truncating). INTERNAL on I/O errors.
absl::Status WriteStringToFile(const std::string& path,
                               const std::string& contents);

}  // namespace rerank
