#pragma once

#include "model/model_snapshot.h"
#include "rerank/v1/rerank.pb.h"

namespace rerank {

// Describes `model` for ModelAdmin (GetModelInfo, ReloadResponse.model) and
// for anything else that reports what is being served.
v1::ModelInfo ModelInfoFromSnapshot(const ModelSnapshot& model);

}  // namespace rerank
