#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/mapped_file.h"
#include "model/model_snapshot.h"

namespace rerank {

// The newest format_version this reader supports (docs/model-format.md); it
// also reads every older one, down to kOldestModelFormatVersion (manifest.h).
// WriteModel writes 1 for a model with one neighbour table, 2 for one with
// a complement table, and 3 for one with item counts or rankers.
inline constexpr int32_t kModelFormatVersion = 4;

struct LoadOptions {
  // Verify each file's sha256 against manifest.json. Costs one read pass.
  bool verify_checksums = true;
  // Files up to this size are read into private memory, so nothing done to
  // them after the load (truncated, rewritten in place, deleted) can reach
  // the served model; larger files are memory-mapped, sharing pages with
  // other processes that map them, but a file truncated under a mapping
  // crashes the process (SIGBUS) on the next access. MappedFile::kCopyAll
  // (the default) copies every file, 0 maps every file; see MappedFile.
  int64_t copy_max_bytes = MappedFile::kCopyAll;
};

// Loads and fully validates the model directory `dir` (docs/model-format.md):
// manifest.json, the .npy arrays (dtype, byte order, shape, C order), the id
// files, the optional categories, item counts and ranker files (parsed and
// validated by Ranker::Create), and every checksum. Factor and neighbour
// arrays are memory-mapped read-only, never parsed element by element.
//
// Errors name the file and the problem:
//   NOT_FOUND            `dir` or a file the manifest names is missing.
//   FAILED_PRECONDITION  malformed or inconsistent content.
//   DATA_LOSS            checksum mismatch.
absl::StatusOr<std::shared_ptr<const ModelSnapshot>> LoadModel(
    const std::string& dir, const LoadOptions& options = {});

}  // namespace rerank
