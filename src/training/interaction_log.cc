#include "training/interaction_log.h"

#include <charconv>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "model/text_lines.h"
#include "training/csv_reader.h"
#include "training/read_file.h"
#include "training/timestamp.h"

namespace rerank {
namespace {

constexpr std::array<absl::string_view, kNumEventTypes> kEventTypeNames = {
    "view", "click", "add_to_cart", "purchase", "wishlist"};

// Column positions of the fields we use; -1 for an absent optional column.
struct Columns {
  int user = -1;
  int item = -1;
  int event = -1;
  int timestamp = -1;
  int weight = -1;
  size_t count = 0;
};

absl::StatusOr<Columns> ParseHeader(std::vector<std::string> header,
                                    absl::string_view source_name) {
  // Excel and friends like to start UTF-8 files with a byte-order mark.
  if (!header.empty() && absl::StartsWith(header[0], "\xEF\xBB\xBF")) {
    header[0].erase(0, 3);
  }
  Columns cols;
  cols.count = header.size();
  for (size_t k = 0; k < header.size(); ++k) {
    const std::string name =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(header[k]));
    int* slot = nullptr;
    if (name == "user_id") {
      slot = &cols.user;
    } else if (name == "item_id") {
      slot = &cols.item;
    } else if (name == "event_type") {
      slot = &cols.event;
    } else if (name == "timestamp") {
      slot = &cols.timestamp;
    } else if (name == "weight") {
      slot = &cols.weight;
    }
    if (slot == nullptr) continue;  // Extra columns are allowed and ignored.
    if (*slot != -1) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_name, ":1: duplicate column '", name, "' in header"));
    }
    *slot = static_cast<int>(k);
  }
  const std::pair<const char*, int> required[] = {
      {"user_id", cols.user},
      {"item_id", cols.item},
      {"event_type", cols.event},
      {"timestamp", cols.timestamp}};
  for (const auto& [name, index] : required) {
    if (index == -1) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_name, ":1: header lacks column '", name,
          "' (expected user_id,item_id,event_type,timestamp[,weight])"));
    }
  }
  return cols;
}

// Parses one data record into `out`. Returns the reason it is bad, or "".
std::string ParseRecord(const std::vector<std::string>& fields,
                        const Columns& cols, Interaction& out) {
  if (fields.size() != cols.count) {
    return absl::StrCat("expected ", cols.count, " fields, got ",
                        fields.size());
  }
  out.user_id = std::string(absl::StripAsciiWhitespace(fields[cols.user]));
  if (out.user_id.empty()) return "empty user_id";
  out.item_id = std::string(absl::StripAsciiWhitespace(fields[cols.item]));
  if (out.item_id.empty()) return "empty item_id";
  // Ids end up as lines of user_ids.txt / item_ids.txt: refuse here what
  // the model writer would refuse after the whole training run.
  if (absl::Status s = CheckLineValue(out.user_id, false); !s.ok()) {
    return absl::StrCat("user_id ", s.message());
  }
  if (absl::Status s = CheckLineValue(out.item_id, false); !s.ok()) {
    return absl::StrCat("item_id ", s.message());
  }

  const absl::string_view event =
      absl::StripAsciiWhitespace(fields[cols.event]);
  const std::optional<EventType> type = ParseEventType(event);
  if (!type.has_value()) {
    return absl::StrCat("unknown event_type '", event, "'");
  }
  out.event_type = *type;

  const std::optional<double> ts = ParseTimestamp(fields[cols.timestamp]);
  if (!ts.has_value()) {
    return absl::StrCat("bad timestamp '",
                        absl::StripAsciiWhitespace(fields[cols.timestamp]),
                        "'");
  }
  out.timestamp = *ts;

  out.weight = 1;
  if (cols.weight >= 0) {
    const absl::string_view w = absl::StripAsciiWhitespace(fields[cols.weight]);
    if (!w.empty()) {
      float value = 0;
      const auto [ptr, ec] =
          std::from_chars(w.data(), w.data() + w.size(), value);
      if (ec != std::errc() || ptr != w.data() + w.size() ||
          !std::isfinite(value)) {
        return absl::StrCat("bad weight '", w, "'");
      }
      if (value < 0) return absl::StrCat("negative weight '", w, "'");
      out.weight = value;
    }
  }
  return "";
}

}  // namespace

absl::string_view EventTypeName(EventType type) {
  return kEventTypeNames[static_cast<int>(type)];
}

std::optional<EventType> ParseEventType(absl::string_view name) {
  for (int k = 0; k < kNumEventTypes; ++k) {
    if (absl::EqualsIgnoreCase(name, kEventTypeNames[k])) {
      return static_cast<EventType>(k);
    }
  }
  return std::nullopt;
}

absl::StatusOr<InteractionLog> ParseInteractionLog(
    absl::string_view contents, absl::string_view source_name,
    const LogReadOptions& options) {
  CsvReader reader(contents);
  std::vector<std::string> fields;
  std::string error;

  // The header: the first non-blank record.
  bool have_header = false;
  while (reader.Next(fields, error)) {
    if (!error.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", reader.record_line(), ": ", error));
    }
    if (IsBlankRecord(fields)) continue;
    have_header = true;
    break;
  }
  if (!have_header) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": empty log (no header line)"));
  }
  ASSIGN_OR_RETURN(const Columns cols, ParseHeader(fields, source_name));

  InteractionLog log;
  log.has_weight_column = cols.weight >= 0;
  // A cheap guess (~40 bytes a line) saves most reallocations.
  log.interactions.reserve(contents.size() / 40);
  Interaction record;
  while (reader.Next(fields, error)) {
    if (error.empty() && IsBlankRecord(fields)) continue;
    ++log.records;
    if (error.empty()) error = ParseRecord(fields, cols, record);
    if (error.empty()) {
      log.interactions.push_back(record);
      continue;
    }
    std::string message =
        absl::StrCat(source_name, ":", reader.record_line(), ": ", error);
    if (!options.skip_bad_lines) {
      return absl::InvalidArgumentError(std::move(message));
    }
    ++log.skipped_lines;
    if (static_cast<int64_t>(log.bad_lines.size()) <
        options.max_bad_line_messages) {
      log.bad_lines.push_back(std::move(message));
    }
  }
  return log;
}

absl::StatusOr<InteractionLog> ReadInteractionLog(
    const std::string& path, const LogReadOptions& options) {
  ASSIGN_OR_RETURN(const std::string contents, ReadFileContents(path));
  return ParseInteractionLog(contents, path, options);
}

}  // namespace rerank
