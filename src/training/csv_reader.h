#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rerank {

// A small RFC 4180 CSV reader over an in-memory buffer.
//
//   * Fields are separated by ',' and records by "\n" or "\r\n".
//   * A field that starts with '"' is quoted: it may contain ',', newlines and
//     doubled quotes ("" -> "). After the closing quote only ',' or the end
//     of the record may follow.
//   * A '"' inside an unquoted field is kept literally (lenient, like Python's
//     csv module).
//
// Line numbers are physical lines (1-based) so that error messages point at
// what an editor shows, even when an earlier quoted field spanned lines.
class CsvReader {
 public:
  // `data` must outlive the reader.
  explicit CsvReader(absl::string_view data) : data_(data) {}

  // Reads the next record into `fields` (cleared first). Returns false at the
  // end of the input. A malformed record returns true with `error` set to a
  // reason (e.g. "unterminated quoted field"); the reader has then skipped
  // past the rest of that record so the caller can carry on with the next
  // one. `error` is cleared for a good record.
  bool Next(std::vector<std::string>& fields, std::string& error);

  // Line on which the record last returned by Next() starts.
  int64_t record_line() const { return record_line_; }

 private:
  // Skips to just after the next line break (or the end of the input).
  void SkipRestOfLine();

  absl::string_view data_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  int64_t record_line_ = 0;
};

// True when the record is an empty line (one empty unquoted field), which
// readers skip silently.
inline bool IsBlankRecord(const std::vector<std::string>& fields) {
  return fields.size() == 1 && fields[0].empty();
}

}  // namespace rerank
