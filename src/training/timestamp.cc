#include "training/timestamp.h"

#include <charconv>
#include <cstdint>

#include "absl/strings/ascii.h"

namespace rerank {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `width` digits at `s[pos]`.
bool ReadDigits(absl::string_view s, size_t& pos, int width, int64_t& out) {
  if (pos + width > s.size()) return false;
  int64_t v = 0;
  for (int k = 0; k < width; ++k) {
    const char c = s[pos + k];
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  pos += width;
  out = v;
  return true;
}

// Reads ".ddd" (any number of digits, at least one) as a fraction in [0, 1).
bool ReadFraction(absl::string_view s, size_t& pos, double& out) {
  out = 0;
  if (pos >= s.size() || (s[pos] != '.' && s[pos] != ',')) return true;
  ++pos;
  double scale = 0.1;
  const size_t start = pos;
  while (pos < s.size() &&
         absl::ascii_isdigit(static_cast<unsigned char>(s[pos]))) {
    out += (s[pos] - '0') * scale;
    scale /= 10;
    ++pos;
  }
  return pos > start;
}

std::optional<double> ParseUnixSeconds(absl::string_view s) {
  // Digits with an optional fraction only: no sign, exponent, inf or nan.
  size_t dot = 0;
  int dots = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '.') {
      ++dots;
      dot = k;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(s[k]))) {
      return std::nullopt;
    }
  }
  if (dots > 1 || (dots == 1 && (dot == 0 || dot + 1 == s.size()))) {
    return std::nullopt;
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<double> ParseIso8601(absl::string_view s) {
  size_t pos = 0;
  int64_t year, month, day;
  if (!ReadDigits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' ||
      !ReadDigits(s, pos, 2, month) || pos >= s.size() || s[pos++] != '-' ||
      !ReadDigits(s, pos, 2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
    return std::nullopt;
  }
  int64_t hour = 0, minute = 0, second = 0;
  double fraction = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    if (!ReadDigits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' ||
        !ReadDigits(s, pos, 2, minute)) {
      return std::nullopt;
    }
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!ReadDigits(s, pos, 2, second) || !ReadFraction(s, pos, fraction)) {
        return std::nullopt;
      }
    }
    // 24:00:00 is ISO for the end of the day; 60 s allows a leap second.
    if (hour > 24 || minute > 59 || second > 60 ||
        (hour == 24 && (minute != 0 || second != 0 || fraction != 0))) {
      return std::nullopt;
    }
  }
  int64_t offset_seconds = 0;
  if (pos < s.size()) {
    const char z = s[pos];
    if (z == 'Z' || z == 'z') {
      ++pos;
    } else if (z == '+' || z == '-') {
      ++pos;
      int64_t oh = 0, om = 0;
      if (!ReadDigits(s, pos, 2, oh)) return std::nullopt;
      bool colon = false;
      if (pos < s.size() && s[pos] == ':') {
        ++pos;
        colon = true;
      }
      if ((colon || pos < s.size()) && !ReadDigits(s, pos, 2, om)) {
        return std::nullopt;
      }
      if (oh > 23 || om > 59) return std::nullopt;
      offset_seconds = (oh * 3600 + om * 60) * (z == '-' ? -1 : 1);
    }
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t seconds = DaysFromCivil(year, month, day) * 86400 +
                          hour * 3600 + minute * 60 + second - offset_seconds;
  return static_cast<double>(seconds) + fraction;
}

}  // namespace

std::optional<double> ParseTimestamp(absl::string_view text) {
  const absl::string_view s = absl::StripAsciiWhitespace(text);
  if (s.empty()) return std::nullopt;
  // "2011-01-05..." has a '-' at index 4; Unix seconds never do.
  if (s.size() >= 10 && s[4] == '-') return ParseIso8601(s);
  return ParseUnixSeconds(s);
}

}  // namespace rerank
