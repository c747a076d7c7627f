#include "ranking/ranker.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "ranking/features.h"

namespace rerank {

// Error messages name the field as the ranker file spells it (the caller
// prefixes the file name): "features" is RankerSpec::feature_names, the
// rest have the same names in the spec and in rerank.v1.RankerFile.

absl::StatusOr<RankerKind> ParseRankerKind(absl::string_view name) {
  if (name == "formula") return RankerKind::kFormula;
  if (name == "linear") return RankerKind::kLinear;
  if (name == "gbdt") return RankerKind::kGbdt;
  return absl::InvalidArgumentError(
      absl::StrCat("ranker kind \"", absl::CHexEscape(name),
                   "\" is not one of formula, linear, gbdt"));
}

absl::string_view RankerKindName(RankerKind kind) {
  switch (kind) {
    case RankerKind::kFormula:
      return "formula";
    case RankerKind::kLinear:
      return "linear";
    case RankerKind::kGbdt:
      return "gbdt";
  }
  return "unknown";
}

namespace {

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

template <typename T>
absl::Status CheckFinite(const std::vector<T>& v, absl::string_view field) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      return Invalid(absl::StrCat(field, "[", i, "]=", v[i], " is not finite"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSize(size_t size, absl::string_view field, size_t want,
                       absl::string_view want_field) {
  if (size == want) return absl::OkStatus();
  return Invalid(absl::StrCat(field, " has ", size, " entries, ", want_field,
                              " has ", want));
}

absl::Status ValidateLinear(const LinearSpec& l, size_t num_features) {
  if (!std::isfinite(l.bias)) {
    return Invalid(absl::StrCat("linear.bias=", l.bias, " is not finite"));
  }
  RETURN_IF_ERROR(
      CheckSize(l.weights.size(), "linear.weights", num_features, "features"));
  RETURN_IF_ERROR(
      CheckSize(l.means.size(), "linear.means", num_features, "features"));
  RETURN_IF_ERROR(
      CheckSize(l.scales.size(), "linear.scales", num_features, "features"));
  RETURN_IF_ERROR(CheckFinite(l.weights, "linear.weights"));
  RETURN_IF_ERROR(CheckFinite(l.means, "linear.means"));
  RETURN_IF_ERROR(CheckFinite(l.scales, "linear.scales"));
  for (size_t j = 0; j < l.scales.size(); ++j) {
    if (!(l.scales[j] > 0.0)) {
      return Invalid(absl::StrCat("linear.scales[", j, "]=", l.scales[j],
                                  " is not > 0"));
    }
  }
  return absl::OkStatus();
}

// Checks the structure of one tree and returns its nodes in breadth-first
// order from the root (order[k] = the spec index of the k-th node), with
// *depth the edges from the root to the deepest leaf. Walking breadth-first
// with a "seen" mark finds, in one pass, children out of range, nodes
// reached twice (cycles, shared children) and, by what is left unseen,
// nodes unreachable from the root.
absl::Status ValidateTree(const TreeSpec& t, size_t tree_index,
                          size_t num_features, std::vector<int32_t>* order,
                          int32_t* depth) {
  const std::string path = absl::StrCat("gbdt.trees[", tree_index, "]");
  const size_t n = t.left.size();
  if (n == 0) return Invalid(absl::StrCat(path, " has no nodes"));
  const std::string left_field = absl::StrCat(path, ".left");
  RETURN_IF_ERROR(
      CheckSize(t.right.size(), absl::StrCat(path, ".right"), n, left_field));
  RETURN_IF_ERROR(CheckSize(t.feature.size(), absl::StrCat(path, ".feature"),
                            n, left_field));
  RETURN_IF_ERROR(CheckSize(t.threshold.size(),
                            absl::StrCat(path, ".threshold"), n, left_field));
  RETURN_IF_ERROR(CheckSize(t.default_left.size(),
                            absl::StrCat(path, ".default_left"), n,
                            left_field));
  RETURN_IF_ERROR(
      CheckSize(t.value.size(), absl::StrCat(path, ".value"), n, left_field));
  RETURN_IF_ERROR(
      CheckSize(t.cover.size(), absl::StrCat(path, ".cover"), n, left_field));
  RETURN_IF_ERROR(CheckFinite(t.threshold, absl::StrCat(path, ".threshold")));
  RETURN_IF_ERROR(CheckFinite(t.value, absl::StrCat(path, ".value")));
  for (size_t i = 0; i < n; ++i) {
    // NaN fails the comparison too.
    if (!(t.cover[i] > 0.0) || !std::isfinite(t.cover[i])) {
      return Invalid(absl::StrCat(path, ".cover[", i, "]=", t.cover[i],
                                  " is not finite and > 0"));
    }
    // The file holds a bool; anything else could not be written back.
    if (t.default_left[i] > 1) {
      return Invalid(absl::StrCat(path, ".default_left[", i, "]=",
                                  t.default_left[i], " is not 0 or 1"));
    }
  }

  std::vector<int32_t> node_depth(n, -1);
  order->clear();
  order->reserve(n);
  order->push_back(0);
  node_depth[0] = 0;
  *depth = 0;
  for (size_t q = 0; q < order->size(); ++q) {
    const int32_t i = (*order)[q];
    const int32_t l = t.left[i];
    const int32_t r = t.right[i];
    if (l == -1 && r == -1) {
      *depth = std::max(*depth, node_depth[i]);
      continue;
    }
    if (l == -1 || r == -1) {
      return Invalid(absl::StrCat(path, ".left[", i, "]=", l, " and ", path,
                                  ".right[", i, "]=", r,
                                  ": a node has two children or none (-1)"));
    }
    for (const auto& [child, side] : {std::pair{l, "left"}, {r, "right"}}) {
      if (child < 0 || static_cast<size_t>(child) >= n) {
        return Invalid(absl::StrCat(path, ".", side, "[", i, "]=", child,
                                    " is out of range [0, ", n, ")"));
      }
      if (node_depth[child] != -1) {
        return Invalid(absl::StrCat(
            path, ".", side, "[", i, "]=", child, ": node ", child,
            " is reached twice (a cycle or a shared child)"));
      }
      node_depth[child] = node_depth[i] + 1;
      if (node_depth[child] > kMaxTreeDepth) {
        return Invalid(absl::StrCat(path, " is deeper than kMaxTreeDepth=",
                                    kMaxTreeDepth, " (node ", child,
                                    " is at depth ", node_depth[child], ")"));
      }
      order->push_back(child);
    }
    const int32_t f = t.feature[i];
    if (f < 0 || static_cast<size_t>(f) >= num_features) {
      return Invalid(absl::StrCat(path, ".feature[", i, "]=", f,
                                  " is out of range [0, ", num_features,
                                  ") of features"));
    }
  }
  if (order->size() != n) {
    const auto it = std::find(node_depth.begin(), node_depth.end(), -1);
    return Invalid(absl::StrCat(path, " node ", it - node_depth.begin(),
                                " is unreachable from the root (",
                                n - order->size(), " of ", n,
                                " nodes are)"));
  }
  return absl::OkStatus();
}

bool LinearIsEmpty(const LinearSpec& l) {
  return l.bias == 0.0 && l.weights.empty() && l.means.empty() &&
         l.scales.empty();
}

bool GbdtIsEmpty(const GbdtSpec& g) {
  return g.base_score == 0.0 && g.trees.empty();
}

}  // namespace

absl::StatusOr<std::unique_ptr<const Ranker>> Ranker::Create(RankerSpec spec) {
  if (spec.kind != RankerKind::kLinear && spec.kind != RankerKind::kGbdt) {
    return Invalid(absl::StrCat(
        "kind \"", RankerKindName(spec.kind),
        "\" is not a learned ranker (want \"linear\" or \"gbdt\")"));
  }
  if (spec.feature_set != kFeatureSetName) {
    return Invalid(absl::StrCat("feature_set \"",
                                absl::CHexEscape(spec.feature_set),
                                "\" is not \"", kFeatureSetName, "\""));
  }
  if (spec.feature_names.empty()) return Invalid("features is empty");
  std::vector<int32_t> feature_index;
  std::vector<int32_t> first_use(kNumFeatures, -1);
  for (size_t j = 0; j < spec.feature_names.size(); ++j) {
    const std::string& name = spec.feature_names[j];
    const int32_t f = FindFeature(name);
    if (f < 0) {
      return Invalid(absl::StrCat("features[", j, "]=\"",
                                  absl::CHexEscape(name),
                                  "\" is not a feature of ", kFeatureSetName));
    }
    if (first_use[f] != -1) {
      return Invalid(absl::StrCat("features[", j, "]=\"", name,
                                  "\" repeats features[", first_use[f], "]"));
    }
    first_use[f] = static_cast<int32_t>(j);
    feature_index.push_back(f);
  }
  const size_t num_features = feature_index.size();

  // The other kind's section must be empty: the file writer only writes
  // what is set, so anything there would silently not round-trip (and is
  // more likely a mislabelled file than intended).
  if (spec.kind == RankerKind::kLinear) {
    if (!GbdtIsEmpty(spec.gbdt)) {
      return Invalid("gbdt is set but kind is \"linear\"");
    }
    RETURN_IF_ERROR(ValidateLinear(spec.linear, num_features));
  } else {
    if (!LinearIsEmpty(spec.linear)) {
      return Invalid("linear is set but kind is \"gbdt\"");
    }
    const GbdtSpec& g = spec.gbdt;
    if (!std::isfinite(g.base_score)) {
      return Invalid(
          absl::StrCat("gbdt.base_score=", g.base_score, " is not finite"));
    }
    if (g.trees.empty()) return Invalid("gbdt.trees is empty");
    if (g.trees.size() > static_cast<size_t>(kMaxRankerTrees)) {
      return Invalid(absl::StrCat("gbdt.trees has ", g.trees.size(),
                                  " trees, above kMaxRankerTrees=",
                                  kMaxRankerTrees));
    }
    int64_t total = 0;
    for (const TreeSpec& t : g.trees) total += t.left.size();
    if (total > kMaxRankerNodes) {
      return Invalid(absl::StrCat("gbdt.trees have ", total,
                                  " nodes together, above kMaxRankerNodes=",
                                  kMaxRankerNodes));
    }
  }

  std::unique_ptr<Ranker> ranker(new Ranker(std::move(spec)));
  ranker->feature_index_ = std::move(feature_index);
  static_assert(kNumFeatures <= 64, "feature_mask has 64 bits");
  for (const int32_t f : ranker->feature_index_) {
    ranker->feature_mask_ |= uint64_t{1} << f;
  }
  const RankerSpec& s = ranker->spec_;
  if (s.kind == RankerKind::kLinear) {
    ranker->linear_coef_.resize(num_features);
    for (size_t j = 0; j < num_features; ++j) {
      ranker->linear_coef_[j] = s.linear.weights[j] / s.linear.scales[j];
    }
    return std::unique_ptr<const Ranker>(std::move(ranker));
  }

  // Trees: validate each and append it breadth-first to the flat arrays.
  int64_t total = 0;
  for (const TreeSpec& t : s.gbdt.trees) total += t.left.size();
  ranker->nodes_.reserve(total);
  ranker->leaf_value_.reserve(total);
  ranker->mean_value_.reserve(total);
  ranker->spec_feature_of_.reserve(total);
  ranker->roots_.reserve(s.gbdt.trees.size());
  ranker->depth_.reserve(s.gbdt.trees.size());
  std::vector<int32_t> order;
  std::vector<int32_t> position;  // spec index -> absolute index
  std::vector<double> cover;      // per node of the current tree, new order
  for (size_t ti = 0; ti < s.gbdt.trees.size(); ++ti) {
    const TreeSpec& t = s.gbdt.trees[ti];
    int32_t depth = 0;
    RETURN_IF_ERROR(ValidateTree(t, ti, num_features, &order, &depth));
    const int32_t base = static_cast<int32_t>(ranker->nodes_.size());
    const size_t n = order.size();
    position.assign(n, -1);
    for (size_t k = 0; k < n; ++k) {
      position[order[k]] = base + static_cast<int32_t>(k);
    }
    ranker->roots_.push_back(base);
    ranker->depth_.push_back(depth);
    cover.resize(n);
    for (size_t k = 0; k < n; ++k) {
      const int32_t i = order[k];
      const int32_t self = base + static_cast<int32_t>(k);
      cover[k] = t.cover[i];
      Node node;
      if (t.left[i] == -1) {
        // A leaf steps to itself: threshold NaN makes `x < threshold` false
        // for every x and default_left 0 sends NaN right, so the step lands
        // on left + 1 = self. Feature 0 is only read, never decides.
        node.threshold = std::numeric_limits<float>::quiet_NaN();
        node.feature = 0;
        node.left = self - 1;
        node.default_left = 0;
        ranker->leaf_value_.push_back(t.value[i]);
        ranker->spec_feature_of_.push_back(-1);
      } else {
        // Breadth-first, a node's two children are consecutive.
        if (position[t.right[i]] != position[t.left[i]] + 1) {
          return absl::InternalError("breadth-first layout broke");
        }
        node.threshold = t.threshold[i];
        node.feature = ranker->feature_index_[t.feature[i]];
        node.left = position[t.left[i]];
        node.default_left = t.default_left[i];
        ranker->leaf_value_.push_back(0.0);
        ranker->spec_feature_of_.push_back(t.feature[i]);
      }
      ranker->nodes_.push_back(node);
      ranker->mean_value_.push_back(0.0);
    }
    // Children come after their parent, so backwards every child's mean is
    // known before its parent's. The mean is the children's cover-weighted
    // mean (their covers summed, not the node's own cover: the two differ
    // by rounding in XGBoost, and this way a mean is always between its
    // leaves' values).
    for (size_t k = n; k-- > 0;) {
      const int32_t self = base + static_cast<int32_t>(k);
      if (ranker->spec_feature_of_[self] < 0) {
        ranker->mean_value_[self] = ranker->leaf_value_[self];
        continue;
      }
      const int32_t l = ranker->nodes_[self].left;
      // The weights cl / (cl + cr) and cr / (cl + cr), computed from the
      // ratio so that no cover, however large or small, overflows: the
      // mean stays a convex combination of finite values.
      const double ratio = cover[l + 1 - base] / cover[l - base];
      const double wl = std::isinf(ratio) ? 0.0 : 1.0 / (1.0 + ratio);
      const double wr = std::isinf(ratio) ? 1.0 : ratio / (1.0 + ratio);
      ranker->mean_value_[self] =
          wl * ranker->mean_value_[l] + wr * ranker->mean_value_[l + 1];
    }
  }
  return std::unique_ptr<const Ranker>(std::move(ranker));
}

namespace {

// One feature's term of a linear score: (x - mean) * coef, and 0 when that
// is NaN (a missing feature counts as its mean). Written as a select on
// the product so that the compiler need not branch.
inline double LinearTerm(float x, double mean, double coef) {
  const double t = (static_cast<double>(x) - mean) * coef;
  return t == t ? t : 0.0;
}

// Rows walked together through one tree: their steps are independent, so
// the CPU overlaps the loads of one row's walk with the others'.
constexpr int32_t kBlock = 16;

// scores[r] += LinearTerm(col[r], mean, coef) for r < rows: the same
// operations, in IEEE double, as the scalar LinearTerm (no fused multiply-
// add), so the result is bit-identical whichever path runs.
__attribute__((always_inline)) inline void LinearColumnPortable(
    const float* col, int32_t rows, double mean, double coef,
    double* scores) {
  for (int32_t r = 0; r < rows; ++r) {
    scores[r] += LinearTerm(col[r], mean, coef);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx"))) void LinearColumnAvx(const float* col,
                                                    int32_t rows, double mean,
                                                    double coef,
                                                    double* scores) {
  const __m256d m = _mm256_set1_pd(mean);
  const __m256d w = _mm256_set1_pd(coef);
  int32_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const __m256d x = _mm256_cvtps_pd(_mm_loadu_ps(col + r));
    const __m256d t = _mm256_mul_pd(_mm256_sub_pd(x, m), w);
    // NaN (a missing feature) counts as its mean: term 0.
    const __m256d keep = _mm256_and_pd(t, _mm256_cmp_pd(t, t, _CMP_ORD_Q));
    _mm256_storeu_pd(scores + r,
                     _mm256_add_pd(_mm256_loadu_pd(scores + r), keep));
  }
  LinearColumnPortable(col + r, rows - r, mean, coef, scores + r);
}

using LinearColumnFn = void (*)(const float*, int32_t, double, double,
                                double*);
LinearColumnFn ChooseLinearColumn() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx")
             ? LinearColumnAvx
             : [](const float* col, int32_t rows, double mean, double coef,
                  double* scores) {
                 LinearColumnPortable(col, rows, mean, coef, scores);
               };
}
const LinearColumnFn LinearColumn = ChooseLinearColumn();
#else
void LinearColumn(const float* col, int32_t rows, double mean, double coef,
                  double* scores) {
  LinearColumnPortable(col, rows, mean, coef, scores);
}
#endif

}  // namespace

void Ranker::Score(const float* features, int32_t rows, int32_t stride,
                   double* scores) const {
  ScoreStrided(features, rows, stride, nullptr, scores);
}

void Ranker::ScoreByFeature(const float* features, const int32_t* column,
                            int32_t rows, double* scores) const {
  if (rows <= 0) return;
  if (spec_.kind != RankerKind::kLinear) {
    ScoreStrided(features, rows, 1, column, scores);
    return;
  }
  // Feature by feature over contiguous columns: every row's sum still
  // takes its terms in feature order (Explain's rounding), but the rows
  // are independent lanes, so the loop vectorises.
  for (int32_t r = 0; r < rows; ++r) scores[r] = spec_.linear.bias;
  const size_t d = feature_index_.size();
  for (size_t j = 0; j < d; ++j) {
    LinearColumn(features + column[feature_index_[j]], rows,
                 spec_.linear.means[j], linear_coef_[j], scores);
  }
}

void Ranker::ScoreStrided(const float* features, int32_t rows,
                          int32_t row_stride, const int32_t* column,
                          double* scores) const {
  if (rows <= 0) return;
  const size_t d = feature_index_.size();
  const int64_t rs = row_stride;
  // Where feature f starts: f in a row, or its column.
  int64_t offset[kNumFeatures];
  for (int32_t f = 0; f < kNumFeatures; ++f) {
    offset[f] = column != nullptr ? column[f] : f;
  }
  if (spec_.kind == RankerKind::kLinear) {
    const int32_t* index = feature_index_.data();
    const double* mean = spec_.linear.means.data();
    const double* coef = linear_coef_.data();
    // Eight rows at a time, their sums in registers: each row's sum is
    // still taken in feature order (the same rounding as Explain), but the
    // eight sums are independent, so they do not wait on one another's
    // additions (one row at a time is a chain of dependent adds).
    constexpr int32_t kRows = 8;
    for (int32_t r0 = 0; r0 < rows; r0 += kRows) {
      const int32_t b = std::min(kRows, rows - r0);
      const float* x = features + r0 * rs;
      double acc[kRows];
      for (int32_t k = 0; k < kRows; ++k) acc[k] = spec_.linear.bias;
      if (b == kRows) {
        for (size_t j = 0; j < d; ++j) {
          const double m = mean[j];
          const double w = coef[j];
          const float* col = x + offset[index[j]];
#pragma GCC unroll 8
          for (int32_t k = 0; k < kRows; ++k) {
            acc[k] += LinearTerm(col[k * rs], m, w);
          }
        }
      } else {
        for (size_t j = 0; j < d; ++j) {
          const float* col = x + offset[index[j]];
          for (int32_t k = 0; k < b; ++k) {
            acc[k] += LinearTerm(col[k * rs], mean[j], coef[j]);
          }
        }
      }
      for (int32_t k = 0; k < b; ++k) scores[r0 + k] = acc[k];
    }
    return;
  }

  for (int32_t r = 0; r < rows; ++r) scores[r] = spec_.gbdt.base_score;
  const Node* nodes = nodes_.data();
  const double* leaf = leaf_value_.data();
  int32_t at[kBlock];
  for (size_t t = 0; t < roots_.size(); ++t) {
    const int32_t root = roots_[t];
    const int32_t depth = depth_[t];
    for (int32_t r0 = 0; r0 < rows; r0 += kBlock) {
      const int32_t b = std::min(kBlock, rows - r0);
      const float* block = features + r0 * rs;
      for (int32_t k = 0; k < b; ++k) at[k] = root;
      // Every row takes exactly `depth` steps; one that reached a leaf
      // early stays on it (see the leaf encoding in Create).
      for (int32_t step = 0; step < depth; ++step) {
        for (int32_t k = 0; k < b; ++k) {
          const Node& node = nodes[at[k]];
          const float x = block[k * rs + offset[node.feature]];
          // As XGBoost: float comparison; NaN fails it and goes left only
          // when default_left.
          const bool go_left =
              (x < node.threshold) | (std::isnan(x) & (node.default_left != 0));
          at[k] = node.left + (go_left ? 0 : 1);
        }
      }
      for (int32_t k = 0; k < b; ++k) scores[r0 + k] += leaf[at[k]];
    }
  }
}

void Ranker::Explain(const float* row, double* bias,
                     std::vector<double>* contributions) const {
  const size_t d = feature_index_.size();
  contributions->assign(d, 0.0);
  if (spec_.kind == RankerKind::kLinear) {
    *bias = spec_.linear.bias;
    for (size_t j = 0; j < d; ++j) {
      // The same expression as Score, so the sum is Score's to the bit.
      (*contributions)[j] = LinearTerm(row[feature_index_[j]],
                                       spec_.linear.means[j], linear_coef_[j]);
    }
    return;
  }
  double b = spec_.gbdt.base_score;
  for (const int32_t root : roots_) {
    b += mean_value_[root];
    int32_t at = root;
    while (spec_feature_of_[at] >= 0) {
      const Node& node = nodes_[at];
      const float x = row[node.feature];
      const bool go_left = std::isnan(x) ? node.default_left != 0
                                         : x < node.threshold;
      const int32_t next = node.left + (go_left ? 0 : 1);
      (*contributions)[spec_feature_of_[at]] +=
          mean_value_[next] - mean_value_[at];
      at = next;
    }
  }
  *bias = b;
}

}  // namespace rerank
