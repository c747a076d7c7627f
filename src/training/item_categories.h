#pragma once

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rerank {

// item_id -> category.
using ItemCategoryMap = absl::flat_hash_map<std::string, std::string>;

// Reads a CSV of `item_id,category` records (optionally gzip-compressed).
// A first record of exactly `item_id,category` is taken as a header. Fields
// are trimmed; an empty category means "none". An item listed twice with
// different categories is an error ("<path>:<line>: ..."), as is any record
// without exactly two fields or with an empty item id.
absl::StatusOr<ItemCategoryMap> ReadItemCategories(const std::string& path);

// Same, from a buffer; `source_name` prefixes the error messages.
absl::StatusOr<ItemCategoryMap> ParseItemCategories(
    absl::string_view contents, absl::string_view source_name);

}  // namespace rerank
