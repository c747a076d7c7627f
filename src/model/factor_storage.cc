#include "model/factor_storage.h"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace rerank {

absl::string_view FactorDtypeName(FactorDtype dtype) {
  switch (dtype) {
    case FactorDtype::kFloat16:
      return "float16";
    case FactorDtype::kInt8:
      return "int8";
    case FactorDtype::kFloat32:
      break;
  }
  return "float32";
}

absl::StatusOr<FactorDtype> ParseFactorDtype(absl::string_view name) {
  if (name == "float32") return FactorDtype::kFloat32;
  if (name == "float16") return FactorDtype::kFloat16;
  if (name == "int8") return FactorDtype::kInt8;
  return absl::InvalidArgumentError(absl::StrCat(
      "factor dtype '", name, "' is not one of float32, float16, int8"));
}

absl::string_view FactorNpyDescr(FactorDtype dtype) {
  switch (dtype) {
    case FactorDtype::kFloat16:
      return "<f2";
    case FactorDtype::kInt8:
      return "|i1";
    case FactorDtype::kFloat32:
      break;
  }
  return "<f4";
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {
      // Subnormal: mantissa * 2^-24, exact in float.
      const float value = std::ldexp(static_cast<float>(mantissa), -24);
      return sign != 0 ? -value : value;
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) {  // NaN: keep it a (quiet) NaN
    return static_cast<uint16_t>(sign | 0x7e00 | ((x >> 13) & 0x3ff));
  }
  if (x >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to Inf
  if (x < 0x38800000u) {
    // Below the smallest normal half (2^-14): a subnormal in units of
    // 2^-24. Scaling by 2^24 is exact; nearbyint rounds ties to even.
    float magnitude;
    std::memcpy(&magnitude, &x, sizeof(magnitude));
    return static_cast<uint16_t>(
        sign | static_cast<uint16_t>(std::nearbyint(magnitude * 16777216.0f)));
  }
  const uint32_t exponent = (x >> 23) - 127 + 15;
  const uint32_t mantissa = x & 0x7fffff;
  uint32_t h = (exponent << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent.
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) ++h;
  return static_cast<uint16_t>(sign | h);
}

namespace factor_kernels {
namespace {

const float* F32(const FactorMatrix& m, int64_t row) {
  return static_cast<const float*>(m.Row(row));
}
const uint16_t* F16(const FactorMatrix& m, int64_t row) {
  return static_cast<const uint16_t*>(m.Row(row));
}
const int8_t* I8(const FactorMatrix& m, int64_t row) {
  return static_cast<const int8_t*>(m.Row(row));
}

__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 v) {
  const __m128 sum4 =
      _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  const __m128 sum1 = _mm_add_ss(sum2, _mm_movehdup_ps(sum2));
  return _mm_cvtss_f32(sum1);
}

__attribute__((target("avx2,fma,f16c"))) __m256 LoadRow8(const FactorMatrix& m,
                                                         int64_t row, int i) {
  switch (m.dtype) {
    case FactorDtype::kFloat16:
      return _mm256_cvtph_ps(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(F16(m, row) + i)));
    case FactorDtype::kInt8: {
      int64_t bytes;
      std::memcpy(&bytes, I8(m, row) + i, sizeof(bytes));
      return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bytes)));
    }
    case FactorDtype::kFloat32:
      break;
  }
  return _mm256_loadu_ps(F32(m, row) + i);
}

// Element i of the row as stored, as float (int8: q, before the scale).
float Element(const FactorMatrix& m, int64_t row, int i) {
  switch (m.dtype) {
    case FactorDtype::kFloat16:
      return HalfToFloat(F16(m, row)[i]);
    case FactorDtype::kInt8:
      return static_cast<float>(I8(m, row)[i]);
    case FactorDtype::kFloat32:
      break;
  }
  return F32(m, row)[i];
}

float RowScale(const FactorMatrix& m, int64_t row) {
  return m.dtype == FactorDtype::kInt8 ? m.scales[row] : 1.0f;
}

}  // namespace

bool HasAvx2F16c() {
  // F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports
  // does not know "f16c". AVX2 and FMA imply the OS saves the YMM state.
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    const bool f16c = (ecx & (1u << 29)) != 0;
    return f16c && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
  }();
  return has;
}

float DotPortable(const FactorMatrix& m, int64_t row, const float* x) {
  float sum = 0.0f;
  for (int i = 0; i < m.dim; ++i) sum += Element(m, row, i) * x[i];
  return sum * RowScale(m, row);
}

__attribute__((target("avx2,fma,f16c"))) float DotAvx2(const FactorMatrix& m,
                                                       int64_t row,
                                                       const float* x) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= m.dim; i += 16) {
    acc0 = _mm256_fmadd_ps(LoadRow8(m, row, i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(LoadRow8(m, row, i + 8), _mm256_loadu_ps(x + i + 8),
                           acc1);
  }
  for (; i + 8 <= m.dim; i += 8) {
    acc0 = _mm256_fmadd_ps(LoadRow8(m, row, i), _mm256_loadu_ps(x + i), acc0);
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < m.dim; ++i) sum += Element(m, row, i) * x[i];
  return sum * RowScale(m, row);
}

void AddScaledPortable(const FactorMatrix& m, int64_t row, float weight,
                       float* acc) {
  const float w = weight * RowScale(m, row);
  for (int i = 0; i < m.dim; ++i) acc[i] += w * Element(m, row, i);
}

__attribute__((target("avx2,fma,f16c"))) void AddScaledAvx2(
    const FactorMatrix& m, int64_t row, float weight, float* acc) {
  const float w = weight * RowScale(m, row);
  const __m256 wv = _mm256_set1_ps(w);
  int i = 0;
  for (; i + 8 <= m.dim; i += 8) {
    _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(wv, LoadRow8(m, row, i),
                                              _mm256_loadu_ps(acc + i)));
  }
  for (; i < m.dim; ++i) acc[i] += w * Element(m, row, i);
}

void DecodePortable(const FactorMatrix& m, int64_t row, float* out) {
  const float scale = RowScale(m, row);
  for (int i = 0; i < m.dim; ++i) out[i] = Element(m, row, i) * scale;
}

__attribute__((target("avx2,fma,f16c"))) void DecodeAvx2(const FactorMatrix& m,
                                                         int64_t row,
                                                         float* out) {
  const float scale = RowScale(m, row);
  const __m256 sv = _mm256_set1_ps(scale);
  int i = 0;
  for (; i + 8 <= m.dim; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_mul_ps(LoadRow8(m, row, i), sv));
  }
  for (; i < m.dim; ++i) out[i] = Element(m, row, i) * scale;
}

__attribute__((target("f16c"))) uint16_t FloatToHalfF16c(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

}  // namespace factor_kernels

float DotRow(const FactorMatrix& m, int64_t row, const float* x) {
  return factor_kernels::HasAvx2F16c() ? factor_kernels::DotAvx2(m, row, x)
                                       : factor_kernels::DotPortable(m, row, x);
}

void AddScaledRow(const FactorMatrix& m, int64_t row, float weight,
                  float* acc) {
  if (factor_kernels::HasAvx2F16c()) {
    factor_kernels::AddScaledAvx2(m, row, weight, acc);
  } else {
    factor_kernels::AddScaledPortable(m, row, weight, acc);
  }
}

void DecodeRow(const FactorMatrix& m, int64_t row, float* out) {
  if (factor_kernels::HasAvx2F16c()) {
    factor_kernels::DecodeAvx2(m, row, out);
  } else {
    factor_kernels::DecodePortable(m, row, out);
  }
}

namespace {

absl::Status BadValue(absl::string_view file, size_t index, int32_t dim,
                      float value, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(file, ": row ", index / dim,
                                                    " column ", index % dim,
                                                    " is ", value, ", ", why));
}

}  // namespace

absl::StatusOr<std::vector<uint16_t>> EncodeFloat16(
    absl::Span<const float> values, int32_t dim, absl::string_view file) {
  std::vector<uint16_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    if (!std::isfinite(v)) return BadValue(file, i, dim, v, "not finite");
    out[i] = FloatToHalf(v);
    if (HalfIsNonFinite(out[i])) {
      return BadValue(file, i, dim, v, "beyond float16's range (|v| <= 65504)");
    }
  }
  return out;
}

absl::Status EncodeInt8(absl::Span<const float> values, int32_t dim,
                        absl::string_view file, std::vector<int8_t>* q,
                        std::vector<float>* scales) {
  const size_t rows = dim > 0 ? values.size() / dim : 0;
  q->assign(values.size(), 0);
  scales->assign(rows, 0.0f);
  for (size_t r = 0; r < rows; ++r) {
    const float* row = values.data() + r * dim;
    float max_abs = 0.0f;
    for (int32_t i = 0; i < dim; ++i) {
      if (!std::isfinite(row[i])) {
        return BadValue(file, r * dim + i, dim, row[i], "not finite");
      }
      max_abs = std::max(max_abs, std::fabs(row[i]));
    }
    if (max_abs == 0.0f) continue;
    const float scale = max_abs / 127.0f;
    (*scales)[r] = scale;
    for (int32_t i = 0; i < dim; ++i) {
      const float level = std::nearbyint(row[i] / scale);
      (*q)[r * dim + i] =
          static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, level)));
    }
  }
  return absl::OkStatus();
}

}  // namespace rerank
