#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

// The line-per-row text files of a model directory (user_ids.txt,
// item_ids.txt, item_categories.txt). Rules, shared by reader and writer:
//   * UTF-8 (validated), no NUL and no '\r' anywhere, no line starting with
//     a byte order mark (U+FEFF):
//     a CRLF file would otherwise yield ids ending in '\r' that never match.
//   * Every line ends with '\n'; the last one may omit it. So "" is zero
//     lines, "\n" is one empty line, "a\nb" and "a\nb\n" are two lines.
//   * Lines are used verbatim: no trimming, no comments.
// Error messages do not name the file; callers prefix it.

namespace rerank {

// Splits `content` into lines. FAILED_PRECONDITION (with the 1-based line
// number) for a rule violation, or for an empty line unless
// `allow_empty_lines`.
absl::StatusOr<std::vector<std::string>> ParseLines(absl::string_view content,
                                                    bool allow_empty_lines);

// Checks one value against the rules a line must satisfy (valid UTF-8, no
// '\n', '\r' or NUL, non-empty unless allowed). INVALID_ARGUMENT otherwise.
absl::Status CheckLineValue(absl::string_view value, bool allow_empty);

// Each value followed by '\n'. Values must pass CheckLineValue.
std::string JoinLines(absl::Span<const std::string> values);

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points above U+10FFFF).
bool IsValidUtf8(absl::string_view s);

}  // namespace rerank
