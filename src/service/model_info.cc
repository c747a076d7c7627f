#include "service/model_info.h"

#include "scoring/scorer.h"

namespace rerank {

v1::ModelInfo ModelInfoFromSnapshot(const ModelSnapshot& model) {
  const ModelMetadata& meta = model.metadata();
  v1::ModelInfo info;
  info.set_version(model.version());
  info.set_dim(static_cast<uint32_t>(model.dim()));
  info.set_num_users(static_cast<uint64_t>(model.num_users()));
  info.set_num_items(static_cast<uint64_t>(model.num_items()));
  info.set_num_neighbors(static_cast<uint64_t>(model.num_neighbors()));
  info.set_loaded_at_ms(meta.loaded_at_ms);
  info.set_source_dir(meta.source_dir);
  info.set_checksum(meta.checksum);
  info.set_format_version(static_cast<uint32_t>(meta.format_version));
  info.set_has_categories(model.has_categories());
  info.set_num_complements(static_cast<uint64_t>(model.num_complements()));
  info.set_default_ranker(RankerKindToProto(model.default_ranker()));
  for (const RankerKind kind : {RankerKind::kLinear, RankerKind::kGbdt}) {
    if (model.ranker(kind) != nullptr) {
      info.add_rankers(RankerKindToProto(kind));
    }
  }
  info.set_has_item_counts(model.has_item_counts());
  info.set_factor_dtype(std::string(FactorDtypeName(model.factor_dtype())));
  return info;
}

}  // namespace rerank
