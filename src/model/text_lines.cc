#include "model/text_lines.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rerank {

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

namespace {

// The rule violated by `line`, or "" if none.
std::string LineProblem(absl::string_view line, bool allow_empty) {
  if (line.empty() && !allow_empty) return "is empty";
  if (line.find('\r') != absl::string_view::npos) {
    return "contains '\\r' (CRLF line endings are not allowed)";
  }
  if (line.find('\0') != absl::string_view::npos) return "contains a NUL byte";
  // A BOM (U+FEFF) from a Windows editor would silently become part of the
  // first id.
  if (absl::StartsWith(line, "\xEF\xBB\xBF")) {
    return "starts with a byte order mark (U+FEFF)";
  }
  if (!IsValidUtf8(line)) return "is not valid UTF-8";
  return "";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseLines(absl::string_view content,
                                                    bool allow_empty_lines) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == absl::string_view::npos) end = content.size();
    absl::string_view line = content.substr(pos, end - pos);
    std::string problem = LineProblem(line, allow_empty_lines);
    if (!problem.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("line ", lines.size() + 1, " ", problem));
    }
    lines.emplace_back(line);
    pos = end + 1;
  }
  return lines;
}

absl::Status CheckLineValue(absl::string_view value, bool allow_empty) {
  if (value.find('\n') != absl::string_view::npos) {
    return absl::InvalidArgumentError("contains '\\n'");
  }
  std::string problem = LineProblem(value, allow_empty);
  if (!problem.empty()) return absl::InvalidArgumentError(problem);
  return absl::OkStatus();
}

std::string JoinLines(absl::Span<const std::string> values) {
  size_t total = 0;
  for (const std::string& v : values) total += v.size() + 1;
  std::string out;
  out.reserve(total);
  for (const std::string& v : values) {
    out.append(v);
    out.push_back('\n');
  }
  return out;
}

}  // namespace rerank
