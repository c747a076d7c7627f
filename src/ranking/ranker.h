#pragma once

// Learned rankers over the feature set (features.h): a linear model on
// standardised features, and gradient-boosted trees (LambdaMART, as XGBoost
// fits them). README "Learned ranking" is the contract; docs/model-format.md
// gives the file format (ranker_*.json).
//
// RankerSpec is the plain, editable description (what a file holds, what
// the trainer produces); Ranker is the validated, immutable form the scorer
// evaluates. A Ranker is never half-built: Create checks everything and lays
// the trees out in flat arrays for evaluation.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rerank {

// Which function orders the candidates. kFormula is the hand-weighted sum of
// README "Scoring"; the others need a ranker in the model.
enum class RankerKind { kFormula, kLinear, kGbdt };
// "formula", "linear", "gbdt" (INVALID_ARGUMENT naming the value otherwise).
absl::StatusOr<RankerKind> ParseRankerKind(absl::string_view name);
absl::string_view RankerKindName(RankerKind kind);

// Documented limits (docs/model-format.md); a ranker past any is refused.
inline constexpr int32_t kMaxRankerTrees = 5000;
inline constexpr int32_t kMaxTreeDepth = 16;  // edges root -> deepest leaf
inline constexpr int64_t kMaxRankerNodes = 4 << 20;  // all trees together
inline constexpr int64_t kMaxRankerFileBytes = 256 << 20;

// score = bias + sum_j weights[j] * (x[f_j] - means[j]) / scales[j], over the
// spec's features f_j. scales[j] > 0.
struct LinearSpec {
  double bias = 0.0;
  std::vector<double> weights;
  std::vector<double> means;
  std::vector<double> scales;
};

// One regression tree in XGBoost's layout: node 0 is the root; node i is a
// leaf when left[i] == -1 (then right[i] == -1 too and value[i] is its
// output); otherwise the row goes to left[i] when x[feature[i]] < threshold[i]
// (float comparison, as XGBoost), else to right[i], and to left[i] when the
// value is NaN iff default_left[i]. cover[i] is the node's sum of hessians
// (> 0; used for attributions, see Ranker::Explain). feature[i] indexes the
// spec's feature_names. All vectors have one entry per node.
struct TreeSpec {
  std::vector<int32_t> left;
  std::vector<int32_t> right;
  std::vector<int32_t> feature;
  std::vector<float> threshold;
  std::vector<uint8_t> default_left;
  std::vector<double> value;  // leaves: the output; internal: ignored
  std::vector<double> cover;
};

// score = base_score + sum over trees of the leaf reached.
struct GbdtSpec {
  double base_score = 0.0;
  std::vector<TreeSpec> trees;
};

struct RankerSpec {
  RankerKind kind = RankerKind::kLinear;  // kLinear or kGbdt
  std::string feature_set;                // must equal kFeatureSetName
  std::vector<std::string> feature_names;  // distinct, all in the set
  LinearSpec linear;                      // kind == kLinear
  GbdtSpec gbdt;                          // kind == kGbdt
  // Free-form provenance (trainer, options, validation metrics).
  std::string description;
};

// A validated ranker. Immutable after Create; safe to share across threads.
class Ranker {
 public:
  // Validates `spec` and builds the evaluation layout. INVALID_ARGUMENT
  // naming the problem (the caller prefixes the file name): wrong kind or
  // feature set, an unknown or repeated feature name, sizes that disagree,
  // a NaN or Inf weight, mean, scale, threshold, value or cover, a scale
  // or cover <= 0, a child index out of range, a node reached twice (a
  // cycle or a shared child), a node unreachable from the root, a node with
  // one child, a feature index out of range, or a limit above exceeded.
  static absl::StatusOr<std::unique_ptr<const Ranker>> Create(RankerSpec spec);

  RankerKind kind() const { return spec_.kind; }
  const RankerSpec& spec() const { return spec_; }
  // Feature-set index (features.h) of the spec's feature j.
  absl::Span<const int32_t> feature_index() const { return feature_index_; }
  // Bit f set: the ranker reads feature-set index f. The scorer computes
  // only these (the others stay 0, which the ranker never reads).
  uint64_t feature_mask() const { return feature_mask_; }

  // scores[r] for the `rows` feature vectors in `features`: row r is
  // features[r * stride .. r * stride + kNumFeatures), in feature-set order.
  // The trees are walked tree by tree over all rows.
  void Score(const float* features, int32_t rows, int32_t stride,
             double* scores) const;
  // The same scores, bit for bit, for features stored by feature: feature
  // f (feature-set index) of row r is features[column[f] + r]; only the
  // ranker's own features are read. The scorer's layout: a linear ranker
  // then reads each of its features as one contiguous column.
  void ScoreByFeature(const float* features, const int32_t* column,
                      int32_t rows, double* scores) const;

  // Attribution of one row's score: *bias plus the sum of contributions
  // (one per spec feature) equals Score's result for the row up to rounding.
  // Linear: bias = the spec's bias, contribution j = weights[j] * the
  // standardised feature. Trees: Saabas path attribution (each split on the
  // path credits its feature with the change of the cover-weighted mean
  // value from node to child; bias = base_score + the roots' mean values),
  // which XGBoost calls approx_contribs: exact in its sum, linear in depth.
  void Explain(const float* row, double* bias,
               std::vector<double>* contributions) const;

 private:
  explicit Ranker(RankerSpec spec) : spec_(std::move(spec)) {}

  // Score over either layout: feature f of row r at features[r * row_stride
  // + f] (column == nullptr) or features[column[f] + r] (row_stride 1).
  void ScoreStrided(const float* features, int32_t rows, int32_t row_stride,
                    const int32_t* column, double* scores) const;

  RankerSpec spec_;
  std::vector<int32_t> feature_index_;
  uint64_t feature_mask_ = 0;
  // Implementation-defined evaluation layout (ranker.cc).
  // Linear: per spec feature, weights[j] / scales[j].
  std::vector<double> linear_coef_;
  // Trees: all trees' nodes in one array, each tree laid out breadth-first
  // from its root so that a split's right child is left + 1. A leaf is
  // encoded so that one step of the walk stays on it (see ranker.cc), which
  // lets Score walk every row exactly the tree's depth, without branches.
  struct Node {
    float threshold;
    int32_t feature;  // feature-set index (leaves: 0, never decides)
    int32_t left;     // absolute node index; right child is left + 1
    uint8_t default_left;
  };
  std::vector<Node> nodes_;
  std::vector<double> leaf_value_;  // per node (leaves only meaningful)
  std::vector<double> mean_value_;  // per node: cover-weighted mean of leaves
  std::vector<int32_t> roots_;      // per tree
  std::vector<int32_t> depth_;      // per tree: edges root -> deepest leaf
  std::vector<int32_t> spec_feature_of_;  // per node: spec feature; -1 leaf
};

// The ranker file (docs/model-format.md): JSON, the protobuf JSON mapping of
// rerank.v1.RankerFile (proto/rerank/v1/ranker.proto). Errors are
// INVALID_ARGUMENT prefixed with `file_name`, e.g.
// "ranker_gbdt.json: gbdt.trees[3].left[5]=99 is out of range [0, 31)".
absl::StatusOr<std::unique_ptr<const Ranker>> ParseRankerJson(
    absl::string_view json, absl::string_view file_name);
// The same, as a spec (no validation beyond parsing).
absl::StatusOr<RankerSpec> ParseRankerSpecJson(absl::string_view json,
                                               absl::string_view file_name);
// Canonical JSON of `spec` (ParseRankerJson reads it back exactly: floats
// and doubles round-trip).
std::string RankerSpecToJson(const RankerSpec& spec);

}  // namespace rerank
