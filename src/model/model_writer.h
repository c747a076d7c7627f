#pragma once

#include <string>

#include "absl/status/status.h"
#include "model/model_snapshot.h"

namespace rerank {

// Writes `data` as a model directory that LoadModel accepts: the .npy arrays
// (little-endian, C order), user_ids.txt, item_ids.txt, item_categories.txt
// when present, and manifest.json with each file's sha256. The format_version
// is the oldest that can express `data`, so that older servers can read it:
// 1 without a complement table, 2 with one, 3 (item_counts.npy,
// ranker_linear.json, ranker_gbdt.json, default_ranker) when it has item
// counts or rankers. Creates `dir`
// (and parents) if needed; overwrites the model files in it. Validates `data`
// first (same rules as ModelSnapshot::FromData) so it never writes a model
// that would be refused.
absl::Status WriteModel(const ModelData& data, const std::string& dir);

}  // namespace rerank
