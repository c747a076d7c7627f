#pragma once

#include <string>

#include "absl/status/status.h"
#include "model/model_snapshot.h"

namespace rerank {

// Writes `data` as a model directory that LoadModel accepts: the .npy arrays
// (little-endian, C order), user_ids.txt, item_ids.txt, item_categories.txt
// when present, and manifest.json with each file's sha256. The format_version
// is 1 when `data` has no complement table, so that older servers can read
// it, and 2 (with the complements_* arrays) when it has one. Creates `dir`
// (and parents) if needed; overwrites the model files in it. Validates `data`
// first (same rules as ModelSnapshot::FromData) so it never writes a model
// that would be refused.
absl::Status WriteModel(const ModelData& data, const std::string& dir);

}  // namespace rerank
