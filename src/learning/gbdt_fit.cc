// The "gbdt" learner (ranker_fit.h): LambdaMART through XGBoost's C API
// (objective rank:ndcg, tree_method hist), early-stopped on the validation
// lists' NDCG as MeanNdcg defines it, and converted to a GbdtSpec from
// XGBoost's JSON model.
//
// Early stopping uses MeanNdcg on XGBoost's validation margins rather than
// XGBoost's own ndcg@k metric: that metric scores a list without a relevant
// row as 1 and breaks ties differently, so it would disagree with the
// figure the report (and the evaluation tools) give. The validation matrix
// is one of the booster's cached matrices, so each round's prediction only
// walks the new tree.

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "learning/fit_util.h"
#include "learning/gbdt_fit_internal.h"
#include "learning/ranker_fit.h"
#include "ranking/features.h"
#include "ranking/ranker.h"

namespace rerank {
namespace learning_internal {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// Cover (sum of hessians) given to a node XGBoost reports as 0 (possible
// with min_child_weight 0): Ranker requires cover > 0, and the value only
// weights the Saabas attributions.
constexpr double kMinCover = 1e-12;

// ---- XGBoost handles and errors ------------------------------------------

absl::Status Xgb(int rc, absl::string_view call) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("XGBoost ", call, " failed: ", XGBGetLastError()));
}

struct DMatrixFree {
  void operator()(void* h) const { XGDMatrixFree(h); }
};
struct BoosterFree {
  void operator()(void* h) const { XGBoosterFree(h); }
};
using DMatrixPtr = std::unique_ptr<void, DMatrixFree>;
using BoosterPtr = std::unique_ptr<void, BoosterFree>;

// A DMatrix of the `features` columns of `data`, with labels and groups.
absl::StatusOr<DMatrixPtr> MakeDMatrix(const RankingData& data,
                                       const std::vector<int32_t>& features,
                                       int threads) {
  const int64_t rows = data.num_rows();
  const size_t d = features.size();
  DMatrixPtr out;
  {
    // The copy lives only until XGBoost has built its own matrix.
    std::vector<float> columns(static_cast<size_t>(rows) * d);
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = &data.features[r * kNumFeatures];
      float* y = &columns[static_cast<size_t>(r) * d];
      for (size_t j = 0; j < d; ++j) y[j] = x[features[j]];
    }
    DMatrixHandle h = nullptr;
    RETURN_IF_ERROR(Xgb(
        XGDMatrixCreateFromMat_omp(columns.data(), static_cast<bst_ulong>(rows),
                                   static_cast<bst_ulong>(d),
                                   std::numeric_limits<float>::quiet_NaN(), &h,
                                   threads),
        "XGDMatrixCreateFromMat_omp"));
    out.reset(h);
  }
  RETURN_IF_ERROR(Xgb(XGDMatrixSetFloatInfo(out.get(), "label",
                                            data.labels.data(),
                                            static_cast<bst_ulong>(rows)),
                      "XGDMatrixSetFloatInfo(label)"));
  std::vector<unsigned> groups;
  groups.reserve(data.num_lists());
  for (int64_t g = 0; g < data.num_lists(); ++g) {
    const int64_t size = data.offsets[g + 1] - data.offsets[g];
    // Empty lists are left out: the sizes still sum to the rows.
    if (size > 0) groups.push_back(static_cast<unsigned>(size));
  }
  RETURN_IF_ERROR(Xgb(XGDMatrixSetUIntInfo(out.get(), "group", groups.data(),
                                           static_cast<bst_ulong>(groups.size())),
                      "XGDMatrixSetUIntInfo(group)"));
  return out;
}

absl::Status SetParam(BoosterHandle b, const char* name,
                      const std::string& value) {
  return Xgb(XGBoosterSetParam(b, name, value.c_str()),
             absl::StrCat("XGBoosterSetParam(", name, "=", value, ")"));
}

std::string Num(double v) { return absl::StrFormat("%.17g", v); }

// Margins (output_margin) of all the booster's trees on `dmat`.
absl::StatusOr<std::vector<double>> PredictMargin(BoosterHandle b,
                                                  DMatrixHandle dmat,
                                                  int64_t rows) {
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  RETURN_IF_ERROR(Xgb(
      XGBoosterPredictFromDMatrix(
          b, dmat,
          R"({"type": 1, "training": false, "iteration_begin": 0, )"
          R"("iteration_end": 0, "strict_shape": false})",
          &shape, &dim, &result),
      "XGBoosterPredictFromDMatrix"));
  bst_ulong n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  if (static_cast<int64_t>(n) != rows) {
    return absl::InternalError(absl::StrCat(
        "XGBoost predicted ", n, " values for ", rows, " rows"));
  }
  return std::vector<double>(result, result + n);
}

// ---- JSON model -----------------------------------------------------------

absl::StatusOr<const Value*> Field(const Struct& s, absl::string_view name,
                                   absl::string_view path) {
  const auto it = s.fields().find(std::string(name));
  if (it == s.fields().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("XGBoost model JSON: ", path, ".", name, " is missing"));
  }
  return &it->second;
}

absl::StatusOr<const Struct*> ObjectField(const Struct& s,
                                          absl::string_view name,
                                          absl::string_view path) {
  ASSIGN_OR_RETURN(const Value* v, Field(s, name, path));
  if (v->kind_case() != Value::kStructValue) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XGBoost model JSON: ", path, ".", name, " is not an object"));
  }
  return &v->struct_value();
}

absl::StatusOr<const ListValue*> ArrayField(const Struct& s,
                                            absl::string_view name,
                                            absl::string_view path) {
  ASSIGN_OR_RETURN(const Value* v, Field(s, name, path));
  if (v->kind_case() != Value::kListValue) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XGBoost model JSON: ", path, ".", name, " is not an array"));
  }
  return &v->list_value();
}

// XGBoost writes its parameters as strings ("5E-1", "127").
absl::StatusOr<double> NumberParam(const Struct& s, absl::string_view name,
                                   absl::string_view path) {
  ASSIGN_OR_RETURN(const Value* v, Field(s, name, path));
  double out = 0.0;
  if (v->kind_case() == Value::kNumberValue) return v->number_value();
  if (v->kind_case() == Value::kStringValue &&
      absl::SimpleAtod(v->string_value(), &out)) {
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "XGBoost model JSON: ", path, ".", name, " is not a number"));
}

// The numbers of array `name`, which must have `size` of them (booleans
// read as 0/1: XGBoost versions differ in how they write default_left).
absl::StatusOr<std::vector<double>> NumberArray(const Struct& s,
                                                absl::string_view name,
                                                absl::string_view path,
                                                size_t size) {
  ASSIGN_OR_RETURN(const ListValue* list, ArrayField(s, name, path));
  if (static_cast<size_t>(list->values_size()) != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("XGBoost model JSON: ", path, ".", name, " has ",
                     list->values_size(), " entries, want ", size));
  }
  std::vector<double> out(size);
  for (size_t i = 0; i < size; ++i) {
    const Value& v = list->values(static_cast<int>(i));
    if (v.kind_case() == Value::kNumberValue) {
      out[i] = v.number_value();
    } else if (v.kind_case() == Value::kBoolValue) {
      out[i] = v.bool_value() ? 1.0 : 0.0;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "XGBoost model JSON: ", path, ".", name, "[", i, "] is not a number"));
    }
  }
  return out;
}

absl::StatusOr<TreeSpec> ConvertTree(const Struct& t, absl::string_view path,
                                     int32_t num_features) {
  ASSIGN_OR_RETURN(const Struct* param, ObjectField(t, "tree_param", path));
  const std::string param_path = absl::StrCat(path, ".tree_param");
  ASSIGN_OR_RETURN(const double num_nodes_d,
                   NumberParam(*param, "num_nodes", param_path));
  ASSIGN_OR_RETURN(const double leaf_vector,
                   NumberParam(*param, "size_leaf_vector", param_path));
  if (leaf_vector != 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XGBoost model JSON: ", param_path,
        ".size_leaf_vector is not 0 (vector leaves are not supported)"));
  }
  if (!(num_nodes_d >= 1.0) || num_nodes_d > kMaxRankerNodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("XGBoost model JSON: ", param_path, ".num_nodes=",
                     num_nodes_d, " is not in [1, ", kMaxRankerNodes, "]"));
  }
  const size_t n = static_cast<size_t>(num_nodes_d);
  ASSIGN_OR_RETURN(const std::vector<double> left,
                   NumberArray(t, "left_children", path, n));
  ASSIGN_OR_RETURN(const std::vector<double> right,
                   NumberArray(t, "right_children", path, n));
  ASSIGN_OR_RETURN(const std::vector<double> split_index,
                   NumberArray(t, "split_indices", path, n));
  ASSIGN_OR_RETURN(const std::vector<double> split_condition,
                   NumberArray(t, "split_conditions", path, n));
  ASSIGN_OR_RETURN(const std::vector<double> default_left,
                   NumberArray(t, "default_left", path, n));
  ASSIGN_OR_RETURN(const std::vector<double> sum_hessian,
                   NumberArray(t, "sum_hessian", path, n));
  if (t.fields().contains("split_type")) {
    ASSIGN_OR_RETURN(const std::vector<double> split_type,
                     NumberArray(t, "split_type", path, n));
    for (size_t i = 0; i < n; ++i) {
      if (split_type[i] != 0.0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "XGBoost model JSON: ", path, ".split_type[", i,
            "] is categorical (only numerical splits are supported)"));
      }
    }
  }

  // Breadth-first renumbering from the root.
  TreeSpec tree;
  std::vector<int32_t> new_index(n, -1);
  std::vector<size_t> queue = {0};
  new_index[0] = 0;
  for (size_t q = 0; q < queue.size(); ++q) {
    const size_t old = queue[q];
    const bool leaf = left[old] == -1.0;
    if (leaf != (right[old] == -1.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "XGBoost model JSON: ", path, " node ", old,
          " has one child (left ", left[old], ", right ", right[old], ")"));
    }
    const double cover = std::isfinite(sum_hessian[old])
                             ? std::max(sum_hessian[old], kMinCover)
                             : sum_hessian[old];
    tree.cover.push_back(cover);
    if (leaf) {
      tree.left.push_back(-1);
      tree.right.push_back(-1);
      tree.feature.push_back(0);
      tree.threshold.push_back(0.0f);
      tree.default_left.push_back(0);
      // XGBoost stores (and sums) leaf values as floats.
      tree.value.push_back(
          static_cast<double>(static_cast<float>(split_condition[old])));
      continue;
    }
    for (const double child : {left[old], right[old]}) {
      if (!(child >= 0.0 && child < static_cast<double>(n)) ||
          child != std::floor(child) ||
          new_index[static_cast<size_t>(child)] != -1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "XGBoost model JSON: ", path, " node ", old, " has child ", child,
            ", out of range [0, ", n, ") or reached twice"));
      }
      new_index[static_cast<size_t>(child)] =
          static_cast<int32_t>(queue.size());
      queue.push_back(static_cast<size_t>(child));
    }
    const double f = split_index[old];
    if (!(f >= 0.0 && f < num_features) || f != std::floor(f)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "XGBoost model JSON: ", path, ".split_indices[", old, "]=", f,
          " is out of range [0, ", num_features, ")"));
    }
    tree.left.push_back(new_index[static_cast<size_t>(left[old])]);
    tree.right.push_back(new_index[static_cast<size_t>(right[old])]);
    tree.feature.push_back(static_cast<int32_t>(f));
    tree.threshold.push_back(static_cast<float>(split_condition[old]));
    tree.default_left.push_back(default_left[old] != 0.0 ? 1 : 0);
    tree.value.push_back(0.0);
  }
  return tree;
}

}  // namespace

absl::StatusOr<GbdtSpec> GbdtSpecFromXgboostJson(absl::string_view json,
                                                 int32_t num_features) {
  Struct root;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &root);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XGBoost model JSON does not parse: ", parsed.message().as_string()));
  }
  ASSIGN_OR_RETURN(const Struct* learner, ObjectField(root, "learner", ""));
  ASSIGN_OR_RETURN(const Struct* model_param,
                   ObjectField(*learner, "learner_model_param", ".learner"));
  ASSIGN_OR_RETURN(const double base_score,
                   NumberParam(*model_param, "base_score",
                               ".learner.learner_model_param"));
  ASSIGN_OR_RETURN(const double num_class,
                   NumberParam(*model_param, "num_class",
                               ".learner.learner_model_param"));
  if (num_class > 1.0) {
    return absl::InvalidArgumentError(
        "XGBoost model JSON: .learner.learner_model_param.num_class is above "
        "1 (only single-output models are supported)");
  }
  ASSIGN_OR_RETURN(const Struct* booster,
                   ObjectField(*learner, "gradient_booster", ".learner"));
  ASSIGN_OR_RETURN(const Value* name,
                   Field(*booster, "name", ".learner.gradient_booster"));
  if (name->string_value() != "gbtree") {
    return absl::InvalidArgumentError(absl::StrCat(
        "XGBoost model JSON: .learner.gradient_booster.name is \"",
        name->string_value(), "\", want \"gbtree\""));
  }
  ASSIGN_OR_RETURN(const Struct* model,
                   ObjectField(*booster, "model", ".learner.gradient_booster"));
  ASSIGN_OR_RETURN(const ListValue* trees,
                   ArrayField(*model, "trees", ".learner.gradient_booster.model"));
  GbdtSpec spec;
  // XGBoost adds base_score to the float sum of the leaves.
  spec.base_score = static_cast<double>(static_cast<float>(base_score));
  spec.trees.reserve(trees->values_size());
  for (int i = 0; i < trees->values_size(); ++i) {
    const std::string path =
        absl::StrCat(".learner.gradient_booster.model.trees[", i, "]");
    const Value& t = trees->values(i);
    if (t.kind_case() != Value::kStructValue) {
      return absl::InvalidArgumentError(
          absl::StrCat("XGBoost model JSON: ", path, " is not an object"));
    }
    ASSIGN_OR_RETURN(TreeSpec tree,
                     ConvertTree(t.struct_value(), path, num_features));
    spec.trees.push_back(std::move(tree));
  }
  return spec;
}

namespace {

absl::Status CheckOptions(const GbdtFitOptions& o) {
  if (o.max_trees < 1 || o.max_trees > kMaxRankerTrees) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_trees=", o.max_trees, " is not in [1, ", kMaxRankerTrees, "]"));
  }
  if (o.max_depth < 1 || o.max_depth > kMaxTreeDepth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_depth=", o.max_depth, " is not in [1, ", kMaxTreeDepth, "]"));
  }
  if (!(o.learning_rate > 0.0 && o.learning_rate <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "learning_rate=", o.learning_rate, " is not in (0, 1]"));
  }
  if (!(o.min_child_weight >= 0.0) || !std::isfinite(o.min_child_weight)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_child_weight=", o.min_child_weight, " must be >= 0 and finite"));
  }
  if (!(o.subsample > 0.0 && o.subsample <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("subsample=", o.subsample, " is not in (0, 1]"));
  }
  if (!(o.colsample_bytree > 0.0 && o.colsample_bytree <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "colsample_bytree=", o.colsample_bytree, " is not in (0, 1]"));
  }
  if (!(o.l2 >= 0.0) || !std::isfinite(o.l2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("l2=", o.l2, " must be >= 0 and finite"));
  }
  if (o.early_stopping_rounds < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "early_stopping_rounds=", o.early_stopping_rounds,
        " must be at least 1"));
  }
  if (o.ndcg_cutoff < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ndcg_cutoff=", o.ndcg_cutoff, " must be at least 1"));
  }
  if (o.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads=", o.threads, " must be at least 1"));
  }
  return absl::OkStatus();
}

// True when some list has a relevant row and a row of a lower grade.
bool HasPair(const RankingData& data) {
  for (int64_t g = 0; g < data.num_lists(); ++g) {
    float lo = std::numeric_limits<float>::infinity();
    float hi = 0.0f;
    for (int64_t r = data.offsets[g]; r < data.offsets[g + 1]; ++r) {
      lo = std::min(lo, data.labels[r]);
      hi = std::max(hi, data.labels[r]);
    }
    if (hi > 0.0f && lo < hi) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<RankerSpec> FitGbdtWithModel(const RankingData& train,
                                            const RankingData& validation,
                                            const GbdtFitOptions& options,
                                            const FitProgress& progress,
                                            FitReport* report,
                                            std::string* xgboost_model_json) {
  const double start = NowSeconds();
  RETURN_IF_ERROR(CheckOptions(options));
  RETURN_IF_ERROR(ValidateRankingData(train, "training lists"));
  RETURN_IF_ERROR(ValidateRankingData(validation, "validation lists"));
  const int cutoff = options.ndcg_cutoff;
  if (validation.num_lists() == 0 ||
      std::isnan(MeanNdcg(validation,
                          std::vector<double>(validation.num_rows(), 0.0),
                          cutoff))) {
    return absl::InvalidArgumentError(
        "validation lists: none has a relevant row (label > 0); the gbdt "
        "learner needs them for early stopping");
  }
  if (!HasPair(train)) {
    return absl::InvalidArgumentError(
        "training lists: no list has two rows of different grades with one "
        "relevant (label > 0), so there is no pair to learn from");
  }
  ASSIGN_OR_RETURN(const std::vector<int32_t> features,
                   SelectFeatures(options.features, train));
  const int32_t d = static_cast<int32_t>(features.size());

  ASSIGN_OR_RETURN(DMatrixPtr dtrain,
                   MakeDMatrix(train, features, options.threads));
  ASSIGN_OR_RETURN(DMatrixPtr dvalid,
                   MakeDMatrix(validation, features, options.threads));
  BoosterPtr booster;
  {
    DMatrixHandle cached[2] = {dtrain.get(), dvalid.get()};
    BoosterHandle h = nullptr;
    RETURN_IF_ERROR(Xgb(XGBoosterCreate(cached, 2, &h), "XGBoosterCreate"));
    booster.reset(h);
  }
  BoosterHandle b = booster.get();
  RETURN_IF_ERROR(SetParam(b, "verbosity", "0"));
  RETURN_IF_ERROR(SetParam(b, "objective", "rank:ndcg"));
  RETURN_IF_ERROR(SetParam(b, "tree_method", "hist"));
  RETURN_IF_ERROR(SetParam(b, "max_depth", absl::StrCat(options.max_depth)));
  RETURN_IF_ERROR(SetParam(b, "eta", Num(options.learning_rate)));
  RETURN_IF_ERROR(
      SetParam(b, "min_child_weight", Num(options.min_child_weight)));
  RETURN_IF_ERROR(SetParam(b, "subsample", Num(options.subsample)));
  RETURN_IF_ERROR(
      SetParam(b, "colsample_bytree", Num(options.colsample_bytree)));
  RETURN_IF_ERROR(SetParam(b, "lambda", Num(options.l2)));
  RETURN_IF_ERROR(SetParam(b, "seed", absl::StrCat(options.seed)));
  RETURN_IF_ERROR(SetParam(b, "nthread", absl::StrCat(options.threads)));
  RETURN_IF_ERROR(
      SetParam(b, "eval_metric", absl::StrCat("ndcg@", cutoff)));

  double best = -std::numeric_limits<double>::infinity();
  int best_trees = 0;
  int trees = 0;
  for (int it = 0; it < options.max_trees; ++it) {
    RETURN_IF_ERROR(
        Xgb(XGBoosterUpdateOneIter(b, it, dtrain.get()),
            absl::StrCat("XGBoosterUpdateOneIter(", it, ")")));
    trees = it + 1;
    ASSIGN_OR_RETURN(const std::vector<double> margins,
                     PredictMargin(b, dvalid.get(), validation.num_rows()));
    const double v = MeanNdcg(validation, margins, cutoff);
    const bool improved = v > best;
    if (improved) {
      best = v;
      best_trees = trees;
    }
    if (progress && (improved || trees % 10 == 0)) {
      progress(absl::StrFormat("gbdt: tree %d, validation ndcg@%d %.4f%s",
                               trees, cutoff, v, improved ? " (best)" : ""));
    }
    if (trees - best_trees >= options.early_stopping_rounds) break;
  }

  // The kept trees as a booster of their own (XGBoost's model of them).
  BoosterPtr kept;
  {
    BoosterHandle h = nullptr;
    RETURN_IF_ERROR(Xgb(XGBoosterSlice(b, 0, best_trees, 1, &h),
                        absl::StrCat("XGBoosterSlice(0, ", best_trees, ")")));
    kept.reset(h);
  }
  bst_ulong json_len = 0;
  const char* json_data = nullptr;
  RETURN_IF_ERROR(Xgb(XGBoosterSaveModelToBuffer(kept.get(),
                                                 R"({"format": "json"})",
                                                 &json_len, &json_data),
                      "XGBoosterSaveModelToBuffer"));
  const std::string model_json(json_data, json_len);
  ASSIGN_OR_RETURN(GbdtSpec gbdt, GbdtSpecFromXgboostJson(model_json, d));
  if (static_cast<int>(gbdt.trees.size()) != best_trees) {
    return absl::InternalError(
        absl::StrCat("XGBoost's sliced model has ", gbdt.trees.size(),
                     " trees, want ", best_trees));
  }
  int64_t nodes = 0;
  for (const TreeSpec& t : gbdt.trees) nodes += t.left.size();
  if (nodes > kMaxRankerNodes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ", best_trees, " trees have ", nodes,
        " nodes, above the limit of ", kMaxRankerNodes,
        " (lower max_depth or max_trees)"));
  }

  FitReport r;
  {
    ASSIGN_OR_RETURN(const std::vector<double> margins,
                     PredictMargin(kept.get(), dtrain.get(), train.num_rows()));
    r.train_ndcg = MeanNdcg(train, margins, cutoff);
  }
  r.validation_ndcg = best;
  r.iterations = best_trees;

  RankerSpec spec;
  spec.kind = RankerKind::kGbdt;
  spec.feature_set = kFeatureSetName;
  spec.feature_names = FeatureNamesOf(features);
  spec.gbdt = std::move(gbdt);
  spec.description = absl::StrFormat(
      "gbdt: XGBoost rank:ndcg (hist), max_depth %d, learning_rate %g, "
      "min_child_weight %g, subsample %g, colsample_bytree %g, l2 %g, "
      "seed %u, threads %d; %d of %d trees kept (%d fitted, early stopping "
      "%d); %d training lists, train ndcg@%d %.4f, validation ndcg@%d %.4f; "
      "features %s",
      options.max_depth, options.learning_rate, options.min_child_weight,
      options.subsample, options.colsample_bytree, options.l2, options.seed,
      options.threads, best_trees, options.max_trees, trees,
      options.early_stopping_rounds, train.num_lists(), cutoff, r.train_ndcg,
      cutoff, r.validation_ndcg, JoinFeatureNames(features));
  r.seconds = NowSeconds() - start;
  if (progress) {
    progress(absl::StrFormat(
        "gbdt: done in %.2f s, kept %d trees, train ndcg@%d %.4f, "
        "validation ndcg@%d %.4f",
        r.seconds, best_trees, cutoff, r.train_ndcg, cutoff,
        r.validation_ndcg));
  }
  if (report != nullptr) *report = r;
  if (xgboost_model_json != nullptr) *xgboost_model_json = model_json;
  return spec;
}

}  // namespace learning_internal

absl::StatusOr<RankerSpec> FitGbdt(const RankingData& train,
                                   const RankingData& validation,
                                   const GbdtFitOptions& options,
                                   const FitProgress& progress,
                                   FitReport* report) {
  return learning_internal::FitGbdtWithModel(train, validation, options,
                                             progress, report, nullptr);
}

}  // namespace rerank
