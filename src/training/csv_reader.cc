#include "training/csv_reader.h"

namespace rerank {

void CsvReader::SkipRestOfLine() {
  const size_t nl = data_.find('\n', pos_);
  if (nl == absl::string_view::npos) {
    pos_ = data_.size();
  } else {
    pos_ = nl + 1;
    ++line_;
  }
}

bool CsvReader::Next(std::vector<std::string>& fields, std::string& error) {
  fields.clear();
  error.clear();
  if (pos_ >= data_.size()) return false;
  record_line_ = line_;
  const size_t n = data_.size();
  std::string field;
  while (true) {
    field.clear();
    if (pos_ < n && data_[pos_] == '"') {
      // Quoted field.
      ++pos_;
      while (true) {
        const size_t q = data_.find('"', pos_);
        if (q == absl::string_view::npos) {
          // Count the lines we swallow so later line numbers stay right.
          for (size_t k = pos_; k < n; ++k) line_ += data_[k] == '\n';
          pos_ = n;
          error = "unterminated quoted field";
          return true;
        }
        for (size_t k = pos_; k < q; ++k) line_ += data_[k] == '\n';
        field.append(data_.data() + pos_, q - pos_);
        pos_ = q + 1;
        if (pos_ < n && data_[pos_] == '"') {  // Escaped quote.
          field.push_back('"');
          ++pos_;
          continue;
        }
        break;
      }
      if (pos_ < n && data_[pos_] == '\r' && pos_ + 1 < n &&
          data_[pos_ + 1] == '\n') {
        ++pos_;
      }
      if (pos_ < n && data_[pos_] != ',' && data_[pos_] != '\n') {
        error = "unexpected character after closing quote";
        SkipRestOfLine();
        return true;
      }
    } else {
      // Unquoted field: up to the next ',' or line break.
      size_t end = pos_;
      while (end < n && data_[end] != ',' && data_[end] != '\n') ++end;
      size_t stop = end;
      // Drop the '\r' of a "\r\n" line break.
      if (stop < n && data_[stop] == '\n' && stop > pos_ &&
          data_[stop - 1] == '\r') {
        --stop;
      } else if (stop == n && stop > pos_ && data_[stop - 1] == '\r') {
        --stop;
      }
      field.assign(data_.data() + pos_, stop - pos_);
      pos_ = end;
    }
    fields.push_back(std::move(field));
    if (pos_ >= n) return true;
    if (data_[pos_] == ',') {
      ++pos_;
      continue;
    }
    // data_[pos_] == '\n'.
    ++pos_;
    ++line_;
    return true;
  }
}

}  // namespace rerank
