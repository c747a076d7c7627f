// FuzzInteractionLog: rerank-train's CSV interaction-log reader on hostile
// bytes, strict and lenient (first byte, bit 0: skip_bad_lines), and the
// CSV tokenizer under it.

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_targets.h"
#include "training/csv_reader.h"
#include "training/interaction_log.h"

namespace rerank::fuzz {

int FuzzInteractionLog(const uint8_t* data, size_t size) {
  if (size < 1) return -1;
  if (size > 256 * 1024) return -1;
  LogReadOptions options;
  options.skip_bad_lines = (data[0] & 1) != 0;
  options.max_bad_line_messages = 3;
  const absl::string_view csv(reinterpret_cast<const char*>(data) + 1,
                              size - 1);

  // The tokenizer ends, and its line numbers only move forward.
  {
    CsvReader reader(csv);
    std::vector<std::string> fields;
    std::string error;
    int64_t last_line = 0;
    size_t records = 0;
    while (reader.Next(fields, error)) {
      FUZZ_CHECK(reader.record_line() > last_line);
      last_line = reader.record_line();
      FUZZ_CHECK(++records <= csv.size() + 1);
    }
  }

  absl::StatusOr<InteractionLog> log =
      ParseInteractionLog(csv, "fuzz.csv", options);
  if (!log.ok()) {
    FUZZ_CHECK(absl::StartsWith(log.status().message(), "fuzz.csv"));
    return 0;
  }
  // The documented guarantees of every accepted record.
  FUZZ_CHECK(static_cast<int64_t>(log->interactions.size()) +
                 log->skipped_lines ==
             log->records);
  FUZZ_CHECK(options.skip_bad_lines || log->skipped_lines == 0);
  FUZZ_CHECK(static_cast<int>(log->bad_lines.size()) <=
             options.max_bad_line_messages);
  for (const Interaction& i : log->interactions) {
    FUZZ_CHECK(!i.user_id.empty() && !i.item_id.empty());
    FUZZ_CHECK(std::isfinite(i.weight) && i.weight >= 0);
    FUZZ_CHECK(std::isfinite(i.timestamp));
    FUZZ_CHECK(static_cast<int>(i.event_type) < kNumEventTypes);
    // Trimmed of surrounding ASCII whitespace.
    for (const std::string* id : {&i.user_id, &i.item_id}) {
      FUZZ_CHECK(!absl::ascii_isspace(static_cast<unsigned char>(id->front())));
      FUZZ_CHECK(!absl::ascii_isspace(static_cast<unsigned char>(id->back())));
    }
  }
  return 0;
}

}  // namespace rerank::fuzz
