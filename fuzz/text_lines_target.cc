// FuzzTextLines: the id/category text file rules on hostile bytes.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_targets.h"
#include "model/text_lines.h"

namespace rerank::fuzz {
namespace {

// Well-formed UTF-8 per the Unicode Standard, Table 3-7, written
// independently of IsValidUtf8 as a differential oracle.
bool ReferenceUtf8(absl::string_view s) {
  auto in = [](unsigned char c, int lo, int hi) { return c >= lo && c <= hi; };
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char b0 = s[i];
    int len;
    int lo = 0x80, hi = 0xBF;  // range of the second byte
    if (b0 <= 0x7F) {
      len = 1;
    } else if (in(b0, 0xC2, 0xDF)) {
      len = 2;
    } else if (b0 == 0xE0) {
      len = 3, lo = 0xA0;
    } else if (in(b0, 0xE1, 0xEC) || in(b0, 0xEE, 0xEF)) {
      len = 3;
    } else if (b0 == 0xED) {
      len = 3, hi = 0x9F;
    } else if (b0 == 0xF0) {
      len = 4, lo = 0x90;
    } else if (in(b0, 0xF1, 0xF3)) {
      len = 4;
    } else if (b0 == 0xF4) {
      len = 4, hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i < static_cast<size_t>(len)) return false;
    for (int k = 1; k < len; ++k) {
      const unsigned char b = s[i + k];
      if (k == 1 ? !in(b, lo, hi) : !in(b, 0x80, 0xBF)) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

int FuzzTextLines(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool allow_empty = (data[0] & 1) != 0;
  const absl::string_view content(reinterpret_cast<const char*>(data + 1),
                                  size - 1);
  absl::StatusOr<std::vector<std::string>> lines =
      ParseLines(content, allow_empty);
  FUZZ_CHECK(IsValidUtf8(content) == ReferenceUtf8(content));
  if (!lines.ok()) {
    FUZZ_CHECK(!lines.status().message().empty());
    return 0;
  }
  // Every line obeys the rules the writer enforces, and writing the lines
  // back gives the input (plus the optional final '\n').
  for (const std::string& line : *lines) {
    FUZZ_CHECK(CheckLineValue(line, allow_empty).ok());
    FUZZ_CHECK(IsValidUtf8(line));
  }
  FUZZ_CHECK(IsValidUtf8(content));
  const std::string joined = JoinLines(*lines);
  FUZZ_CHECK(joined == content || joined == std::string(content) + "\n");
  absl::StatusOr<std::vector<std::string>> again =
      ParseLines(joined, allow_empty);
  FUZZ_CHECK(again.ok() && *again == *lines);
  return 0;
}

}  // namespace rerank::fuzz
