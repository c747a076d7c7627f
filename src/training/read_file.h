#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace rerank {

// Reads a whole file into memory. Files that start with the gzip magic bytes
// are decompressed transparently (whatever their name), so `log.csv.gz` and
// `log.csv` are read the same way. NOT_FOUND if the file cannot be opened,
// DATA_LOSS if it is a corrupt gzip stream.
absl::StatusOr<std::string> ReadFileContents(const std::string& path);

}  // namespace rerank
