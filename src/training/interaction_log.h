#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rerank {

// The kinds of events an interaction log may contain.
enum class EventType : uint8_t {
  kView = 0,
  kClick,
  kAddToCart,
  kPurchase,
  kWishlist,
};
inline constexpr int kNumEventTypes = 5;

// "view", "click", "add_to_cart", "purchase", "wishlist".
absl::string_view EventTypeName(EventType type);
// Inverse of EventTypeName, ASCII case-insensitive.
std::optional<EventType> ParseEventType(absl::string_view name);

// One line of the log.
struct Interaction {
  std::string user_id;
  std::string item_id;
  EventType event_type = EventType::kView;
  double timestamp = 0;  // Unix seconds (UTC)
  // The optional `weight` column; 1 when the log has none. Always finite and
  // >= 0.
  float weight = 1;
};

struct LogReadOptions {
  // Skip malformed lines (and count them) instead of refusing the log.
  bool skip_bad_lines = false;
  // How many skipped-line messages to keep in InteractionLog::bad_lines.
  int max_bad_line_messages = 20;
};

struct InteractionLog {
  std::vector<Interaction> interactions;
  // Number of data records seen (header and blank lines excluded).
  int64_t records = 0;
  // Records skipped as malformed (only with skip_bad_lines).
  int64_t skipped_lines = 0;
  // The first LogReadOptions::max_bad_line_messages skip messages, in the
  // same "path:line: reason" form as the error a strict read returns.
  std::vector<std::string> bad_lines;
  bool has_weight_column = false;
};

// Reads an interaction log: CSV (RFC 4180 quoting) with a header naming at
// least `user_id,item_id,event_type,timestamp` and optionally `weight`, in
// any order; other columns are ignored. The file may be gzip-compressed.
//
// Per record: ids are trimmed of surrounding ASCII whitespace and must not
// be empty; event_type is one of EventTypeName()'s names; the timestamp is
// Unix seconds or ISO 8601 (see ParseTimestamp); weight, when present, is a
// finite number >= 0 (empty means 1).
//
// A bad record makes the read fail with INVALID_ARGUMENT
// "<path>:<line>: <reason>", e.g. "log.csv:17: unknown event_type 'buy'",
// unless options.skip_bad_lines is set. A missing file is NOT_FOUND; an
// empty file or a bad header is always an error.
absl::StatusOr<InteractionLog> ReadInteractionLog(
    const std::string& path, const LogReadOptions& options = {});

// Same, from a buffer. `source_name` prefixes the error messages.
absl::StatusOr<InteractionLog> ParseInteractionLog(
    absl::string_view contents, absl::string_view source_name,
    const LogReadOptions& options = {});

}  // namespace rerank
