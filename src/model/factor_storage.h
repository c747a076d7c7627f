#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

// How a model stores its factor matrices (docs/model-format.md, "Factor
// storage"), and the row kernels the scorer computes with in that storage:
// float32 as trained; float16 (IEEE binary16, half the bytes, ~3 decimal
// digits); int8 with one float32 scale per row (a quarter of the bytes;
// value = q * scale, symmetric, |q| <= 127). Rows are read where they are
// stored: no whole matrix is ever expanded to float32.
//
// The kernels use AVX2 + FMA + F16C when the CPU has them (checked once at
// run time) and a portable loop otherwise; both give the same values up to
// float summation order (tests/model/factor_storage_test.cc). Every function
// here is pure and thread-safe.

namespace rerank {

enum class FactorDtype : uint8_t { kFloat32 = 0, kFloat16 = 1, kInt8 = 2 };

// "float32", "float16", "int8".
absl::string_view FactorDtypeName(FactorDtype dtype);
// The inverse; INVALID_ARGUMENT naming the valid names otherwise.
absl::StatusOr<FactorDtype> ParseFactorDtype(absl::string_view name);
// Bytes per stored element: 4, 2, 1. Inline: the scorer's prefetches and
// row addresses compute it per row.
inline int FactorElementBytes(FactorDtype dtype) {
  return dtype == FactorDtype::kFloat16 ? 2
         : dtype == FactorDtype::kInt8  ? 1
                                        : 4;
}

// Asks for every cache line of the `bytes` at `begin` (a factor row).
inline void PrefetchBytes(const void* begin, int64_t bytes) {
  const char* first = static_cast<const char*>(begin);
  const char* end = first + bytes;
  for (const char* p = first; p < end; p += 64) __builtin_prefetch(p);
  __builtin_prefetch(end - 1);
}
// The .npy descr of the stored elements: "<f4", "<f2", "|i1".
absl::string_view FactorNpyDescr(FactorDtype dtype);

// IEEE binary16 <-> float32. FloatToHalf rounds to nearest, ties to even,
// like the F16C instructions; overflow gives +-Inf, NaN stays NaN.
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
// Whether a binary16 value is NaN or +-Inf (all exponent bits set).
inline bool HalfIsNonFinite(uint16_t h) { return (h & 0x7c00) == 0x7c00; }

// A factor matrix in its stored type; a view, valid while its model is.
struct FactorMatrix {
  FactorDtype dtype = FactorDtype::kFloat32;
  const void* data = nullptr;     // rows x dim elements, row-major
  const float* scales = nullptr;  // kInt8: one per row; otherwise null
  int32_t dim = 0;

  const void* Row(int64_t row) const {
    return static_cast<const char*>(data) +
           row * dim * FactorElementBytes(dtype);
  }
  int64_t RowBytes() const {
    return static_cast<int64_t>(dim) * FactorElementBytes(dtype);
  }
  // Asks for the cache lines of `row` (and its scale).
  void Prefetch(int64_t row) const {
    PrefetchBytes(Row(row), RowBytes());
    if (scales != nullptr) __builtin_prefetch(scales + row);
  }
};

// <row, x> over dim floats of x.
float DotRow(const FactorMatrix& m, int64_t row, const float* x);
// acc[0..dim) += weight * row.
void AddScaledRow(const FactorMatrix& m, int64_t row, float weight, float* acc);
// out[0..dim) = row as float32.
void DecodeRow(const FactorMatrix& m, int64_t row, float* out);

// The row as float32: a float32 matrix's stored row itself (`scratch` is
// not touched and may be null), otherwise the row decoded into `scratch`
// (dim floats), which is returned.
inline const float* RowAsFloat(const FactorMatrix& m, int64_t row,
                               float* scratch) {
  if (m.dtype == FactorDtype::kFloat32) {
    return static_cast<const float*>(m.Row(row));
  }
  DecodeRow(m, row, scratch);
  return scratch;
}

// Encoding, for writers (rerank-train, WriteModel, ModelSnapshot::FromData).
// FAILED_PRECONDITION naming `file` with row and column when a value is not
// finite or does not fit float16 (|v| > 65504).
absl::StatusOr<std::vector<uint16_t>> EncodeFloat16(
    absl::Span<const float> values, int32_t dim, absl::string_view file);
// Per row: scale = max |v| / 127 (0 for an all-zero row), q = round(v /
// scale). FAILED_PRECONDITION as above for a non-finite value.
absl::Status EncodeInt8(absl::Span<const float> values, int32_t dim,
                        absl::string_view file, std::vector<int8_t>* q,
                        std::vector<float>* scales);

// The two implementations, for the tests that hold them to each other.
namespace factor_kernels {
bool HasAvx2F16c();
float DotPortable(const FactorMatrix& m, int64_t row, const float* x);
float DotAvx2(const FactorMatrix& m, int64_t row, const float* x);
void AddScaledPortable(const FactorMatrix& m, int64_t row, float weight,
                       float* acc);
void AddScaledAvx2(const FactorMatrix& m, int64_t row, float weight,
                   float* acc);
void DecodePortable(const FactorMatrix& m, int64_t row, float* out);
void DecodeAvx2(const FactorMatrix& m, int64_t row, float* out);
// F16C's conversion of one float (ties to even); requires HasAvx2F16c().
uint16_t FloatToHalfF16c(float f);
}  // namespace factor_kernels

}  // namespace rerank
