#include "training/item_categories.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "model/text_lines.h"
#include "training/csv_reader.h"
#include "training/read_file.h"

namespace rerank {

absl::StatusOr<ItemCategoryMap> ParseItemCategories(
    absl::string_view contents, absl::string_view source_name) {
  CsvReader reader(contents);
  std::vector<std::string> fields;
  std::string error;
  ItemCategoryMap categories;
  bool first = true;
  while (reader.Next(fields, error)) {
    auto fail = [&](absl::string_view reason) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", reader.record_line(), ": ", reason));
    };
    if (!error.empty()) return fail(error);
    if (IsBlankRecord(fields)) continue;
    if (fields.size() != 2) {
      return fail(absl::StrCat("expected 2 fields (item_id,category), got ",
                               fields.size()));
    }
    std::string item(absl::StripAsciiWhitespace(fields[0]));
    std::string category(absl::StripAsciiWhitespace(fields[1]));
    if (first) {
      first = false;
      if (absl::StripPrefix(item, "\xEF\xBB\xBF") == "item_id" &&
          category == "category") {
        continue;
      }
    }
    if (item.empty()) return fail("empty item_id");
    if (absl::Status s = CheckLineValue(category, true); !s.ok()) {
      return fail(absl::StrCat("category ", s.message()));
    }
    auto [it, inserted] = categories.try_emplace(item, category);
    if (!inserted && it->second != category) {
      return fail(absl::StrCat("item '", item, "' already has category '",
                               it->second, "', now '", category, "'"));
    }
  }
  return categories;
}

absl::StatusOr<ItemCategoryMap> ReadItemCategories(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, ReadFileContents(path));
  return ParseItemCategories(contents, path);
}

}  // namespace rerank
