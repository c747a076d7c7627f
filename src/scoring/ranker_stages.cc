// The learned-ranking stages of Rerank (scoring_context.h): the feature
// vector of every kept candidate (ranking/features.h is its definition) and
// the ranker that turns it into the score. README "Learned ranking" is the
// contract; comments here explain the choices it leaves open.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "model/model_snapshot.h"
#include "common/status_macros.h"
#include "ranking/features.h"
#include "ranking/ranker.h"
#include "rerank/v1/rerank.pb.h"
#include "scoring/scoring_context.h"

namespace rerank::scoring_internal {
namespace {

constexpr int kNumTypes = 5;  // EventType VIEW .. ADD_TO_WISHLIST

// Feature index of type `t` (EventType - 1) and `part`: 0 direct short,
// 1 direct long, 2 neighbour short, 3 neighbour long (features.h order).
constexpr int32_t TypeFeature(int t, int part) {
  return kViewDirectShort + 4 * t + part;
}
static_assert(TypeFeature(4, 3) == kWishlistNeighborLong);
static_assert(TypeFeature(2, 0) == kCartDirectShort);

// x, or 0 when x is NaN or +-Inf: what an overflow becomes in a feature.
inline float FiniteOr0(float x) { return std::isfinite(x) ? x : 0.0f; }

// out = {<a, v>, <b, v>, <c, v>, <v, v>} in one pass over v (the candidate's
// factor row, read once instead of four times). Not bit-identical to
// DotProduct: features need no agreement with the formula's rounding.
// Always inlined, so that Dots4Avx's tail is compiled inside it with AVX
// encoding: an out-of-line call from AVX code into this SSE-encoded one paid
// a state transition on every call (8 % of a linear-ranker call at -O2).
__attribute__((always_inline)) inline void Dots4Portable(
    const float* v, const float* a, const float* b, const float* c, int n,
    float out[4]) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int i = 0; i < n; ++i) {
    s0 += a[i] * v[i];
    s1 += b[i] * v[i];
    s2 += c[i] * v[i];
    s3 += v[i] * v[i];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx"))) float HorizontalSum(__m256 x) {
  __m128 r =
      _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  return _mm_cvtss_f32(_mm_add_ss(r, _mm_shuffle_ps(r, r, 1)));
}

__attribute__((target("avx"))) void Dots4Avx(const float* v, const float* a,
                                             const float* b, const float* c,
                                             int n, float out[4]) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(v + i);
    s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a + i), x));
    s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_loadu_ps(b + i), x));
    s2 = _mm256_add_ps(s2, _mm256_mul_ps(_mm256_loadu_ps(c + i), x));
    s3 = _mm256_add_ps(s3, _mm256_mul_ps(x, x));
  }
  float tail[4];
  Dots4Portable(v + i, a + i, b + i, c + i, n - i, tail);
  out[0] = HorizontalSum(s0) + tail[0];
  out[1] = HorizontalSum(s1) + tail[1];
  out[2] = HorizontalSum(s2) + tail[2];
  out[3] = HorizontalSum(s3) + tail[3];
}

// With FMA: half the instructions of Dots4Avx, and the four horizontal
// sums done together (two rounds of hadd and one add of the halves).
__attribute__((target("avx2,fma"))) void Dots4Fma(const float* v,
                                                  const float* a,
                                                  const float* b,
                                                  const float* c, int n,
                                                  float out[4]) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(v + i);
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), x, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(b + i), x, s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(c + i), x, s2);
    s3 = _mm256_fmadd_ps(x, x, s3);
  }
  // hadd(hadd(s0, s1), hadd(s2, s3)) holds, per 128-bit half, the partial
  // sums of s0..s3 in lanes 0..3; adding the halves gives the four sums.
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1),
                                  _mm256_hadd_ps(s2, s3));
  const __m128 sums = _mm_add_ps(_mm256_castps256_ps128(h),
                                 _mm256_extractf128_ps(h, 1));
  float tail[4];
  Dots4Portable(v + i, a + i, b + i, c + i, n - i, tail);
  _mm_storeu_ps(out, _mm_add_ps(sums, _mm_loadu_ps(tail)));
}

#endif  // __x86_64__ && __GNUC__

// The dot products of every feature row's factor row (null: no factor row,
// the outputs stay as they are) with the user vector, the session vector and
// the unit session vector, and its squared norm, into four columns. A
// missing vector is replaced by v and its column is scratch. One tight loop
// over the rows, apart from the per-candidate features: the rows' dot
// products then overlap each other instead of each waiting on the last.
struct DotColumns {
  const float* const* rows;  // factor row of each feature row, or null
  int32_t count;
  int dim;
  const float* user;
  const float* session;
  const float* unit;
  float* out_user;
  float* out_session;
  float* out_unit;  // <unit, v>, finished by FinishCosine
  float* out_norm2;
};

using Dots4Fn = void (*)(const float*, const float*, const float*,
                         const float*, int, float*);

template <Dots4Fn kDots4>
__attribute__((always_inline)) inline void DotColumnsWith(
    const DotColumns& d) {
  constexpr int32_t kPrefetchAhead = 8;
  for (int32_t r = 0; r < d.count; ++r) {
    if (r + kPrefetchAhead < d.count && d.rows[r + kPrefetchAhead] != nullptr) {
      PrefetchRow(d.rows[r + kPrefetchAhead], d.dim);
    }
    const float* v = d.rows[r];
    if (v == nullptr) continue;
    float dots[4];
    kDots4(v, d.user != nullptr ? d.user : v,
           d.session != nullptr ? d.session : v,
           d.unit != nullptr ? d.unit : v, d.dim, dots);
    // Only an overflow of huge factors makes these non-finite (features
    // must be finite): such a dot product counts as 0.
    d.out_user[r] = FiniteOr0(dots[0]);
    d.out_session[r] = FiniteOr0(dots[1]);
    d.out_unit[r] = dots[2];
    d.out_norm2[r] = dots[3];
  }
}

void DotColumnsPortable(const DotColumns& d) {
  DotColumnsWith<Dots4Portable>(d);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx"))) void DotColumnsAvx(const DotColumns& d) {
  DotColumnsWith<Dots4Avx>(d);
}
__attribute__((target("avx2,fma"))) void DotColumnsFma(const DotColumns& d) {
  DotColumnsWith<Dots4Fma>(d);
}

using DotColumnsFn = void (*)(const DotColumns&);
DotColumnsFn ChooseDotColumns() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return DotColumnsFma;
  }
  return __builtin_cpu_supports("avx") ? DotColumnsAvx : DotColumnsPortable;
}
const DotColumnsFn ComputeDotColumns = ChooseDotColumns();
#else
constexpr auto ComputeDotColumns = DotColumnsPortable;
#endif

// The scale 1 / std from the partial sums of squares, or false (and `out`
// all 0) when the column is constant.
__attribute__((always_inline)) inline bool ZScoreScale(const double ss[4],
                                                       int32_t rows,
                                                       double mean, float* out,
                                                       double* inv_sd) {
  const double sd = std::sqrt(((ss[0] + ss[1]) + (ss[2] + ss[3])) / rows);
  // Relative threshold: a column equal up to float rounding is constant.
  if (!(sd > 1e-7 * std::max(1.0, std::fabs(mean)))) {
    std::fill_n(out, rows, 0.0f);
    return false;
  }
  // A multiply, not a divide per row (a float of the quotient either way).
  *inv_sd = 1.0 / sd;
  return true;
}

void ZScorePortable(const float* in, float* out, int32_t rows) {
  if (rows <= 0) return;
  double sum[4] = {0.0, 0.0, 0.0, 0.0};
  int32_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    for (int k = 0; k < 4; ++k) sum[k] += in[r + k];
  }
  for (; r < rows; ++r) sum[0] += in[r];
  const double mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / rows;
  double ss[4] = {0.0, 0.0, 0.0, 0.0};
  r = 0;
  for (; r + 4 <= rows; r += 4) {
    for (int k = 0; k < 4; ++k) {
      const double d = in[r + k] - mean;
      ss[k] += d * d;
    }
  }
  for (; r < rows; ++r) {
    const double d = in[r] - mean;
    ss[0] += d * d;
  }
  double inv_sd;
  if (!ZScoreScale(ss, rows, mean, out, &inv_sd)) return;
  for (r = 0; r < rows; ++r) {
    out[r] = static_cast<float>((in[r] - mean) * inv_sd);
  }
}

// Column `dot` (<s_unit, v> per row) becomes the cosine dot / sqrt(norm2)
// where that is finite and norm2 > 0, else 0. Always inlined, so that
// CosineColumnAvx's tail is compiled inside it with AVX encoding.
__attribute__((always_inline)) inline void CosineColumnPortable(
    float* dot, const float* norm2, int32_t rows) {
  for (int32_t r = 0; r < rows; ++r) {
    const float norm = std::sqrt(norm2[r]);
    const float q = dot[r] / norm;
    dot[r] = norm > 0.0f && std::isfinite(q) ? q : 0.0f;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// ZScorePortable four rows at a time: the same double operations in the
// same order per lane (a multiply and an add, never fused), so the same
// bits. Four z-score columns were 16 % of the feature pass in scalar code.
__attribute__((target("avx"))) void ZScoreAvx(const float* in, float* out,
                                              int32_t rows) {
  if (rows <= 0) return;
  __m256d acc = _mm256_setzero_pd();
  int32_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm_loadu_ps(in + r)));
  }
  double sum[4];
  _mm256_storeu_pd(sum, acc);
  for (; r < rows; ++r) sum[0] += in[r];
  const double mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / rows;
  const __m256d m = _mm256_set1_pd(mean);
  acc = _mm256_setzero_pd();
  r = 0;
  for (; r + 4 <= rows; r += 4) {
    const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(in + r)), m);
    acc = _mm256_add_pd(acc, _mm256_mul_pd(d, d));
  }
  double ss[4];
  _mm256_storeu_pd(ss, acc);
  for (; r < rows; ++r) {
    const double d = in[r] - mean;
    ss[0] += d * d;
  }
  double inv_sd;
  if (!ZScoreScale(ss, rows, mean, out, &inv_sd)) return;
  const __m256d scale = _mm256_set1_pd(inv_sd);
  r = 0;
  for (; r + 4 <= rows; r += 4) {
    const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(in + r)), m);
    _mm_storeu_ps(out + r, _mm256_cvtpd_ps(_mm256_mul_pd(d, scale)));
  }
  for (; r < rows; ++r) {
    out[r] = static_cast<float>((in[r] - mean) * inv_sd);
  }
}

// CosineColumnPortable eight rows per instruction: the same IEEE square
// root and divide, instead of a dependent sqrt and divide per candidate
// inside the per-candidate pass.
__attribute__((target("avx"))) void CosineColumnAvx(float* dot,
                                                    const float* norm2,
                                                    int32_t rows) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  const __m256 abs_mask =
      _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  int32_t r = 0;
  for (; r + 8 <= rows; r += 8) {
    const __m256 norm = _mm256_sqrt_ps(_mm256_loadu_ps(norm2 + r));
    const __m256 q = _mm256_div_ps(_mm256_loadu_ps(dot + r), norm);
    const __m256 keep =
        _mm256_and_ps(_mm256_cmp_ps(norm, zero, _CMP_GT_OQ),
                      _mm256_cmp_ps(_mm256_and_ps(q, abs_mask), inf,
                                    _CMP_LT_OQ));
    _mm256_storeu_ps(dot + r, _mm256_and_ps(keep, q));
  }
  CosineColumnPortable(dot + r, norm2 + r, rows - r);
}
#endif

using ZScoreFn = void (*)(const float*, float*, int32_t);
using CosineColumnFn = void (*)(float*, const float*, int32_t);
#if defined(__x86_64__) && defined(__GNUC__)
bool HasAvx() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx");
}
const bool kHasAvx = HasAvx();
const ZScoreFn ZScore = kHasAvx ? ZScoreAvx : ZScorePortable;
const CosineColumnFn FinishCosine =
    kHasAvx ? CosineColumnAvx : CosineColumnPortable;
#else
constexpr ZScoreFn ZScore = ZScorePortable;
constexpr CosineColumnFn FinishCosine = CosineColumnPortable;
#endif

// Column `in`'s rank (0 = largest, ties share the better rank) scaled to
// [0, 1] into column `to`.
void RankColumn(const float* in, float* to, int32_t rows,
                std::vector<int32_t>* scratch) {
  if (rows <= 1) {
    std::fill_n(to, rows, 0.0f);
    return;
  }
  std::vector<int32_t>& order = *scratch;
  order.resize(rows);
  for (int32_t r = 0; r < rows; ++r) order[r] = r;
  std::stable_sort(order.begin(), order.end(),
                   [in](int32_t a, int32_t b) { return in[a] > in[b]; });
  const float scale = 1.0f / static_cast<float>(rows - 1);
  int32_t rank = 0;
  for (int32_t i = 0; i < rows; ++i) {
    if (i > 0 && in[order[i]] != in[order[i - 1]]) rank = i;
    to[order[i]] = static_cast<float>(rank) * scale;
  }
}

// Slot of category id `id` in a table of `mask + 1` slots (Fibonacci
// hashing: ids are small dense integers).
inline size_t CategorySlot(int32_t id, size_t mask) {
  return static_cast<size_t>(
             (static_cast<uint64_t>(static_cast<uint32_t>(id)) *
              0x9E3779B97F4A7C15ull) >>
             32) &
         mask;
}

// `table` becomes an open-addressing table of `categories` (distinct ids).
void BuildCategoryTable(
    const std::vector<ScoringBuffers::EventCategory>& categories,
    std::vector<ScoringBuffers::EventCategory>* table) {
  size_t size = 4;
  while (size < 2 * categories.size()) size <<= 1;
  table->assign(size, {-1, 0});
  const size_t mask = size - 1;
  for (const auto& category : categories) {
    size_t i = CategorySlot(category.id, mask);
    while ((*table)[i].id >= 0) i = (i + 1) & mask;
    (*table)[i] = category;
  }
}

// How many kept events have category `id` (0 for -1 or an id none has).
inline int32_t CategoryCount(
    const std::vector<ScoringBuffers::EventCategory>& table, int32_t id) {
  if (id < 0) return 0;
  const size_t mask = table.size() - 1;
  for (size_t i = CategorySlot(id, mask);; i = (i + 1) & mask) {
    if (table[i].id == id) return table[i].count;
    if (table[i].id < 0) return 0;
  }
}

// One row's features in the by-feature layout: f[k] is feature k of the
// row, so the pass below reads as if rows were contiguous.
class FeatureRow {
 public:
  FeatureRow(float* features, int32_t row, const int32_t* column)
      : at_(features + row), column_(column) {}
  float& operator[](int32_t feature) const { return at_[column_[feature]]; }

 private:
  float* at_;
  const int32_t* column_;
};

}  // namespace

absl::StatusOr<RankerKind> RequestedRanker(const ModelSnapshot& model,
                                           v1::RankerKind asked) {
  RankerKind kind;
  switch (asked) {
    case v1::RANKER_KIND_FORMULA:
      return RankerKind::kFormula;
    case v1::RANKER_KIND_LINEAR:
      kind = RankerKind::kLinear;
      break;
    case v1::RANKER_KIND_GBDT:
      kind = RankerKind::kGbdt;
      break;
    default:
      // ValidateRequest refuses these before any stage runs.
      return absl::InvalidArgumentError(absl::StrCat(
          "ranker=", static_cast<int>(asked), " is not a valid RankerKind"));
  }
  if (model.ranker(kind) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ranker=", v1::RankerKind_Name(asked), ": the served model '",
        model.version(), "' has no ", RankerKindName(kind), " ranker"));
  }
  return kind;
}

absl::Status ResolveRanker(RankerKind configured, bool has_configured,
                           ScoringContext* ctx) {
  const ModelSnapshot& model = ctx->model;
  const v1::RankerKind asked = ctx->request.ranker();
  RankerKind kind = model.default_ranker();
  if (asked != v1::RANKER_KIND_UNSPECIFIED) {
    ASSIGN_OR_RETURN(kind, RequestedRanker(model, asked));
  } else if (has_configured) {
    if (configured == RankerKind::kFormula ||
        model.ranker(configured) != nullptr) {
      kind = configured;
    } else {
      // An operator's config outlives models: one without the configured
      // ranker still serves, with its own default, and says so.
      ctx->ranker_fallback = true;
    }
  }
  ctx->ranker_kind = kind;
  ctx->ranker = kind == RankerKind::kFormula ? nullptr : model.ranker(kind);
  return absl::OkStatus();
}

void ComputeFeatures(ScoringContext* ctx) {
  const ModelSnapshot& model = ctx->model;
  const int dim = model.dim();
  // What the ranker reads (everything without one: ExtractFeatures). The
  // rest stays 0; a serving ranker over a dozen features skips the per-type
  // evidence, unused dot products and within-list sorts.
  const uint64_t need =
      ctx->ranker != nullptr ? ctx->ranker->feature_mask() : ~uint64_t{0};
  auto uses = [need](int32_t f) { return ((need >> f) & 1) != 0; };
  uint64_t type_neighbor_bits = 0;
  for (int t = 0; t < kNumTypes; ++t) {
    type_neighbor_bits |= uint64_t{1} << TypeFeature(t, 2);
    type_neighbor_bits |= uint64_t{1} << TypeFeature(t, 3);
  }
  const bool need_type_neighbors = (need & type_neighbor_bits) != 0;
  uint64_t type_direct_bits = 0;
  for (int t = 0; t < kNumTypes; ++t) {
    type_direct_bits |= uint64_t{1} << TypeFeature(t, 0);
    type_direct_bits |= uint64_t{1} << TypeFeature(t, 1);
  }
  const bool need_type_weights =
      need_type_neighbors || (need & type_direct_bits) != 0;
  const bool need_neighbors = need_type_neighbors || uses(kNeighborRank) ||
                              uses(kNeighborRankZ) || uses(kNeighborCount);
  const bool need_user_dot = uses(kUserDot) || uses(kUserDotZ);
  const bool need_session_dot = uses(kSessionDot) || uses(kSessionDotZ);
  const bool need_cosine = uses(kSessionCosine);
  const bool need_categories = uses(kCategoryShare);
  const int32_t num_slots = static_cast<int32_t>(ctx->candidates.size());

  // Kept candidates, in slot (input) order, get feature rows 0..rows-1.
  ctx->feature_slots.clear();
  for (int32_t s = 0; s < num_slots; ++s) {
    CandidateSlot& c = ctx->candidates[s];
    c.feature_row = -1;
    if (c.dropped) continue;
    c.feature_row = static_cast<int32_t>(ctx->feature_slots.size());
    ctx->feature_slots.push_back(s);
  }
  const int32_t rows = static_cast<int32_t>(ctx->feature_slots.size());
  // Stored by feature (ScoringContext::features): each feature's column is
  // contiguous, for the within-list statistics and the linear ranker.
  // Only the columns the ranker reads and those its within-list features
  // are computed from are stored; every other feature is written to one
  // shared scratch column and never read. A full matrix (41 columns, 33 KB
  // at 200 candidates) filled the whole L1 cache on every call.
  uint64_t stored = need;
  const std::pair<int32_t, int32_t> derived[] = {
      {kBaseScore, kBaseScoreZ},     {kBaseScore, kBaseRank},
      {kUserDot, kUserDotZ},         {kSessionDot, kSessionDotZ},
      {kNeighborRank, kNeighborRankZ}, {kPopularity, kPopularityZ}};
  for (const auto& [from, to] : derived) {
    if (uses(to)) stored |= uint64_t{1} << from;
  }
  int32_t columns = 0;
  for (int32_t f = 0; f < kNumFeatures; ++f) {
    if ((stored >> f) & 1) ctx->feature_column[f] = rows * columns++;
  }
  for (int32_t f = 0; f < kNumFeatures; ++f) {
    if (!((stored >> f) & 1)) ctx->feature_column[f] = rows * columns;
  }
  ctx->feature_stored = stored;
  ctx->features.assign(static_cast<size_t>(rows) * (columns + 1), 0.0f);
  float* const features = ctx->features.data();
  const int32_t* const column = ctx->feature_column.data();
  auto row_of = [&](int32_t slot) {
    return FeatureRow(features, ctx->candidates[slot].feature_row, column);
  };
  auto column_of = [&](int32_t f) { return features + column[f]; };

  // Kept events ranked most recent first (rank 0); equal timestamps: the
  // later in the request first, as the request lists events in the order
  // they happened. The rank weight 0.5^rank needs no clock or shop scale.
  const int32_t num_events = static_cast<int32_t>(ctx->events.size());
  std::vector<int32_t>& by_time = ctx->scratch;
  by_time.clear();
  for (int32_t i = 0; i < num_events; ++i) {
    if (!ctx->events[i].dropped) by_time.push_back(i);
  }
  std::sort(by_time.begin(), by_time.end(), [ctx](int32_t a, int32_t b) {
    const int64_t ta = ctx->events[a].age_ms;
    const int64_t tb = ctx->events[b].age_ms;
    return ta != tb ? ta < tb : a > b;
  });
  const int32_t kept_events = static_cast<int32_t>(by_time.size());
  std::vector<double>& rank_weight = ctx->event_rank_weight;
  rank_weight.assign(num_events, 0.0);
  double halving = 1.0;  // exactly 2^-r, without an exp2 call per event
  for (int32_t r = 0; r < kept_events; ++r) {
    rank_weight[by_time[r]] = halving;
    halving *= 0.5;
  }

  // Per event group (one known item): the weights its neighbour walk
  // spreads, per type and horizon, and the rank weight per table. Also the
  // two session vectors and the categories of the events.
  ctx->feature_groups.assign(ctx->event_groups.size(), FeatureGroup{});
  const bool use_factors = dim > 0;
  // The feature pass reads factor rows as float32: a float32 model's in
  // place, a float16 / int8 model's decoded (only the rows it reads).
  const FactorMatrix& items = model.ItemMatrix();
  const bool f32 = items.dtype == FactorDtype::kFloat32;
  ctx->decoded_event.resize(dim);
  // The events' factor rows and category ids, all asked for at once: the
  // loop below reads each right away, and without this every event waited
  // on its own misses in turn.
  for (int32_t i = 0; i < num_events; ++i) {
    const EventSlot& e = ctx->events[i];
    if (e.dropped || e.group < 0) continue;
    if (use_factors) items.Prefetch(e.item_row);
    model.PrefetchItemScalars(e.item_row);
  }
  ctx->session.setZero(dim);
  ctx->session_unit.setZero(dim);
  double session_total = 0.0;
  ctx->event_categories.clear();
  int32_t categorised_events = 0;
  for (int32_t i = 0; i < num_events; ++i) {
    const EventSlot& e = ctx->events[i];
    if (e.dropped) continue;
    const v1::EventType type = ctx->request.events(i).type();
    const int t = static_cast<int>(type) - 1;
    const double age_s = static_cast<double>(e.age_ms) / 1000.0;
    // The decayed weights feed only the per-type features. Without those,
    // all that is read of them is whether the type has any weight (which
    // tables the neighbour walk takes): long_w >= short_w > 0 for every
    // age below 1000 long half-lives (2^-1000 is a normal double), so the
    // two exp2 calls per event are skipped without changing that answer.
    double short_w = 1.0;
    double long_w = 1.0;
    if (need_type_weights) {
      short_w = std::exp2(-age_s / kShortHalfLifeSeconds);
      long_w = std::exp2(-age_s / kLongHalfLifeSeconds);
    } else if (!(age_s < 1000.0 * kLongHalfLifeSeconds)) {
      long_w = std::exp2(-age_s / kLongHalfLifeSeconds);
      short_w = std::exp2(-age_s / kShortHalfLifeSeconds);
    }
    const double rank_w = rank_weight[i];
    if (e.candidate_slot >= 0 && !ctx->candidates[e.candidate_slot].dropped) {
      CandidateSlot& c = ctx->candidates[e.candidate_slot];
      const FeatureRow f = row_of(e.candidate_slot);
      f[TypeFeature(t, 0)] += static_cast<float>(short_w);
      f[TypeFeature(t, 1)] += static_cast<float>(long_w);
      f[kDirectRank] += static_cast<float>(rank_w);
      const float recency =
          static_cast<float>(1.0 / (1.0 + age_s / 3600.0));
      f[kLastEventRecency] = std::max(f[kLastEventRecency], recency);
      if (type == v1::EVENT_TYPE_PURCHASE) {
        c.purchased = true;
        f[kPurchasedBefore] = 1.0f;
      }
    }
    if (e.group < 0) continue;  // unknown item: no neighbours, no factors
    FeatureGroup& g = ctx->feature_groups[e.group];
    g.short_weight[t] += short_w;
    g.long_weight[t] += long_w;
    if (WalksComplements(type)) {
      g.complement_rank += rank_w;
    } else {
      g.substitute_rank += rank_w;
    }
    if (use_factors) {
      const float* v = RowAsFloat(items, e.item_row, ctx->decoded_event.data());
      const ConstFactors factors(v, dim);
      session_total += rank_w;
      if (need_session_dot) {
        ctx->session += static_cast<float>(rank_w) * factors;
      }
      if (need_cosine) {
        const float norm = std::sqrt(DotProduct(v, v, dim));
        if (norm > 0.0f) {
          ctx->session_unit += (static_cast<float>(rank_w) / norm) * factors;
        }
      }
    }
    const int32_t category = need_categories ? model.ItemCategoryId(e.item_row)
                                             : -1;
    if (category >= 0) {
      ++categorised_events;
      bool found = false;
      for (auto& seen : ctx->event_categories) {
        if (seen.id == category) {
          ++seen.count;
          found = true;
          break;
        }
      }
      if (!found) ctx->event_categories.push_back({category, 1});
    }
  }
  BuildCategoryTable(ctx->event_categories, &ctx->category_table);
  const bool has_session = session_total > 0.0;
  if (has_session) ctx->session /= static_cast<float>(session_total);
  // For the response's fallbacks: personalised when either vector exists.
  ctx->has_user_vector =
      (ctx->user_factors != nullptr && use_factors) || has_session;

  // Per candidate: list position, base score, factors, popularity,
  // category, and the request-level features.
  const float* user = use_factors ? ctx->user_factors : nullptr;
  const float log_events = static_cast<float>(std::log1p(kept_events));
  const float position_scale =
      rows > 1 ? 1.0f / static_cast<float>(rows - 1) : 0.0f;
  const bool user_dot = user != nullptr && need_user_dot;
  const bool session_dot = has_session && need_session_dot;
  const bool cosine = has_session && need_cosine;
  const bool any_dot = use_factors && (user_dot || session_dot || cosine);
  // Each row's factor row (null without one), for the dot products below.
  std::vector<const float*>& factor_rows = ctx->factor_rows;
  factor_rows.assign(any_dot ? rows : 0, nullptr);
  if (any_dot && !f32)
    ctx->decoded_rows.resize(static_cast<size_t>(rows) * dim);
  constexpr int32_t kPrefetchAhead = 8;
  for (int32_t r = 0; r < rows; ++r) {
    if (r + kPrefetchAhead < rows) {
      const int32_t ahead = ctx->candidates[ctx->feature_slots[r + kPrefetchAhead]]
                                .item_row;
      // Popularity and category ids are separate arrays: without this
      // their loads miss the cache on every candidate (popularity alone:
      // 5 % of a linear-ranker call).
      if (ahead >= 0) model.PrefetchItemScalars(ahead);
    }
    const CandidateSlot& c = ctx->candidates[ctx->feature_slots[r]];
    const v1::Candidate& candidate = ctx->request.candidates(c.input_position);
    const FeatureRow f(features, r, column);
    f[kBaseScore] = FiniteOr0(static_cast<float>(
        candidate.has_base_score() ? candidate.base_score() : 0.0));
    f[kInputPosition] = static_cast<float>(r) * position_scale;
    // "Known" to the ranker means it has the shopper's vector, as in
    // training: a caller-supplied vector counts.
    f[kUserKnown] = ctx->user_factors != nullptr ? 1.0f : 0.0f;
    f[kLogEvents] = log_events;
    if (c.item_row >= 0) {
      f[kItemKnown] = 1.0f;
      f[kPopularity] = model.ItemPopularity(c.item_row);
      if (any_dot) {
        factor_rows[r] = f32 ? model.ItemFactors(c.item_row)
                             : RowAsFloat(items, c.item_row,
                                          ctx->decoded_rows.data() +
                                              static_cast<size_t>(r) * dim);
      }
    }
    if (categorised_events > 0) {
      // The request's category overrides the model's. Events only have
      // model categories, so a name the model lacks matches none of them.
      const int32_t category =
          candidate.has_category() ? model.FindCategoryId(candidate.category())
          : c.item_row >= 0        ? model.ItemCategoryId(c.item_row)
                                   : -1;
      const int32_t count = CategoryCount(ctx->category_table, category);
      if (count > 0) {
        f[kCategoryShare] =
            static_cast<float>(count) / static_cast<float>(categorised_events);
      }
    }
  }

  // <u, v>, <s, v> and <s_unit, v> / |v|; a column the ranker does not read
  // goes to the shared scratch column.
  float* norm2 = nullptr;  // |v|^2 per row (0 without a factor row)
  if (any_dot) {
    float* const scratch = features + static_cast<size_t>(rows) * columns;
    if (cosine) {
      ctx->norm_scratch.assign(rows, 0.0f);
      norm2 = ctx->norm_scratch.data();
    }
    ComputeDotColumns(DotColumns{
        factor_rows.data(), rows, dim, user_dot ? user : nullptr,
        session_dot ? ctx->session.data() : nullptr,
        cosine ? ctx->session_unit.data() : nullptr,
        user_dot ? column_of(kUserDot) : scratch,
        session_dot ? column_of(kSessionDot) : scratch,
        cosine ? column_of(kSessionCosine) : scratch,
        cosine ? norm2 : scratch});
  }
  if (norm2 != nullptr) FinishCosine(column_of(kSessionCosine), norm2, rows);

  // Neighbour evidence: each group's lists walked once, every event type
  // spread over the table that type walks (README "Scoring"). Unlike the
  // formula, whatever the configured weights: features describe the
  // evidence, the ranker weighs it.
  const bool two_tables = model.has_complements();
  const int32_t num_groups =
      need_neighbors ? static_cast<int32_t>(ctx->event_groups.size()) : 0;
  for (int32_t gi = 0; gi < num_groups; ++gi) {
    const FeatureGroup& g = ctx->feature_groups[gi];
    const int32_t item_row = ctx->event_groups[gi].item_row;
    // Which types walk which table: t in [0, 5) with the mask bit set.
    auto walk = [&](const NeighborList& list, unsigned type_mask,
                    double rank_w) {
      const size_t count = list.items.size();
      for (size_t j = 0; j < count; ++j) {
        const int32_t slot = ctx->slot_by_row.Find(list.items[j]);
        if (slot < 0 || ctx->candidates[slot].dropped) continue;
        const double sim = list.scores[j];
        const FeatureRow f = row_of(slot);
        for (int t = 0; need_type_neighbors && t < kNumTypes; ++t) {
          if ((type_mask & (1u << t)) == 0) continue;
          f[TypeFeature(t, 2)] += static_cast<float>(g.short_weight[t] * sim);
          f[TypeFeature(t, 3)] += static_cast<float>(g.long_weight[t] * sim);
        }
        f[kNeighborRank] += static_cast<float>(rank_w * sim);
        f[kNeighborCount] += 1.0f;
      }
    };
    unsigned substitute_mask = 0;
    unsigned complement_mask = 0;
    for (int t = 0; t < kNumTypes; ++t) {
      if (g.short_weight[t] == 0.0 && g.long_weight[t] == 0.0) continue;
      const bool complement =
          WalksComplements(static_cast<v1::EventType>(t + 1));
      (complement ? complement_mask : substitute_mask) |= 1u << t;
    }
    if (!two_tables) {
      walk(model.Neighbors(item_row), substitute_mask | complement_mask,
           g.substitute_rank + g.complement_rank);
      continue;
    }
    if (substitute_mask != 0) {
      walk(model.Neighbors(item_row, NeighborTable::kSubstitutes),
           substitute_mask, g.substitute_rank);
    }
    if (complement_mask != 0) {
      walk(model.Neighbors(item_row, NeighborTable::kComplements),
           complement_mask, g.complement_rank);
    }
  }

  // Normalisations within the list: what a shop-independent ranker can
  // compare across shops whose raw scales differ by orders of magnitude.
  const std::pair<int32_t, int32_t> z_columns[] = {
      {kBaseScore, kBaseScoreZ},
      {kUserDot, kUserDotZ},
      {kSessionDot, kSessionDotZ},
      {kNeighborRank, kNeighborRankZ},
      {kPopularity, kPopularityZ}};
  for (const auto& [from, z] : z_columns) {
    if (uses(z)) ZScore(column_of(from), column_of(z), rows);
  }
  if (uses(kBaseRank)) {
    RankColumn(column_of(kBaseScore), column_of(kBaseRank), rows,
               &ctx->rank_scratch);
  }

  // Features must be finite for the ranker. Factors, scores and counts are
  // validated finite, so only an overflow can break that: a base score past
  // float's range or a dot product of huge factors. Those are clamped where
  // they are computed (FiniteOr0); every other feature is a bounded sum of
  // finite terms, and a z-score of finite values is finite.
}

void ZScoreColumn(const float* in, float* out, int32_t rows,
                  bool vector_path) {
  (vector_path ? ZScore : ZScorePortable)(in, out, rows);
}

void CosineColumn(float* dot, const float* norm2, int32_t rows,
                  bool vector_path) {
  (vector_path ? FinishCosine : CosineColumnPortable)(dot, norm2, rows);
}

void FeatureRowOf(const ScoringContext& ctx, int32_t row, float* out) {
  const float* at = ctx.features.data() + row;
  for (int32_t f = 0; f < kNumFeatures; ++f) {
    out[f] = ((ctx.feature_stored >> f) & 1) ? at[ctx.feature_column[f]] : 0.0f;
  }
}

void ScoreWithRanker(ScoringContext* ctx) {
  const int32_t rows = static_cast<int32_t>(ctx->feature_slots.size());
  ctx->ranker_scores.resize(rows);
  ctx->ranker->ScoreByFeature(ctx->features.data(), ctx->feature_column.data(),
                              rows, ctx->ranker_scores.data());
  for (int32_t r = 0; r < rows; ++r) {
    CandidateSlot& c = ctx->candidates[ctx->feature_slots[r]];
    c.base = 0.0;
    c.factor = 0.0;
    c.boost = 0.0;
    c.demotion = 0.0;
    c.learned = ctx->ranker_scores[r];
    c.score = c.learned + c.rules;
  }
}

}  // namespace rerank::scoring_internal
