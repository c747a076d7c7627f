#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "model/model_snapshot.h"

namespace rerank {

// Writes `data` as a model directory that LoadModel accepts: the .npy arrays
// (little-endian, C order), user_ids.txt, item_ids.txt, item_categories.txt
// when present, and manifest.json with each file's sha256. The format_version
// is the oldest that can express `data`, so that older servers can read it:
// 1 without a complement table, 2 with one, 3 (item_counts.npy,
// ranker_linear.json, ranker_gbdt.json, default_ranker) when it has item
// counts or rankers; 4 (factor_dtype, and for int8 the *_factor_scales.npy
// files) when data.factor_dtype is not float32, the float factors then
// encoded (factor_storage.h; a value float16 cannot hold is refused).
// Validates `data` first (same rules as
// ModelSnapshot::FromData) so it never writes a model that would be refused.
//
// Atomic: the files are written and synced in a private directory beside
// `dir` (".<name>.tmp-XXXXXX"), which then replaces `dir` in one rename (an
// exchange when `dir` exists; the old tree is removed after). A crash or
// kill -9 at any moment leaves `dir` absent or holding a complete model, the
// old or the new one, plus at most that hidden debris. A served model is
// never changed in place: the server keeps its mapping of the old files.
// Parents are created as needed; a symlink `dir` is written through.
absl::Status WriteModel(const ModelData& data, const std::string& dir);

// Called after each step of WriteModel: each file's name once it is
// complete in the private directory, then "published" and, when a model was
// replaced, "old removed". A test seam for kill points.
using WriteStepHook = std::function<void(absl::string_view step)>;
absl::Status WriteModel(const ModelData& data, const std::string& dir,
                        const WriteStepHook& step);

// Writes the user factors of `data` for a feature store, apart from any
// model: `dir`/user_factors.npy (num_users x dim float32, C order, row r
// for line r of) `dir`/user_ids.txt, and `dir`/user_export.json naming the
// model_version, dim and num_users they belong to (a user vector only means
// something against the item factors of the model it was trained with).
// Each file is written atomically (temp file + rename); `dir` is created as
// needed. INVALID_ARGUMENT when user_factors is not user_ids.size() x dim.
absl::Status WriteUserFactorExport(const ModelData& data,
                                   const std::string& dir);

}  // namespace rerank
