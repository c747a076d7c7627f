#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

// Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0),
// limited to what model files need: one simple dtype (no structured or
// object dtypes), any shape. See
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//
// Error messages do not name the file: callers prefix it (PrefixStatus) since
// only they know the name. All errors are FAILED_PRECONDITION unless noted.

namespace rerank {

// Header bytes above this are refused: a simple-dtype header is < 200 bytes,
// and a bound keeps a hostile header length from driving huge allocations.
inline constexpr int64_t kMaxNpyHeaderBytes = 65536;

struct NpyHeader {
  int major_version = 1;
  int minor_version = 0;
  std::string descr;  // as written, e.g. "<f4"
  bool fortran_order = false;
  std::vector<int64_t> shape;  // empty for a 0-d array
  int64_t data_offset = 0;     // bytes from the start of the file to the data
  int64_t item_size = 0;       // bytes per element, from `descr`

  // Product of `shape` (1 for 0-d). ParseNpyHeader guarantees that this and
  // data_bytes() do not overflow int64.
  int64_t num_elements() const;
  int64_t data_bytes() const { return num_elements() * item_size; }
};

// Parses the preamble and header dictionary at the start of `file` (the whole
// file or at least its header). Checks the magic string, the version, that the
// header fits in `file`, the Python-literal dict syntax, that the keys are
// exactly 'descr', 'fortran_order' and 'shape', and that 'descr' is a simple
// type string ("<f4", "|u1", ...) whose element size is known. Byte order,
// dtype, order and size are not judged here: see CheckNpyArray.
absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view file);

// A validated view of a whole .npy file's data. `data` points into the
// caller's buffer and is aligned for the dtype.
struct NpyArray {
  NpyHeader header;
  const char* data = nullptr;
};

// Parses `file` (the complete file contents, typically a mapping) and checks
// it holds a C-order array of exactly `expected_descr` (e.g. "<f4"; a
// big-endian or otherwise different descr is refused with a message that says
// which) whose shape matches `expected_shape` (same number of dimensions; a -1
// entry matches any extent), that the file size is exactly header + data
// (truncated and trailing bytes are refused), and that the data offset is
// aligned for the element type so the data can be used in place.
// `shape_source`, if not empty, is appended to a shape mismatch message to say
// where the expected shape came from (e.g. "num_users x dim in manifest.json").
absl::StatusOr<NpyArray> CheckNpyArray(absl::string_view file,
                                       absl::string_view expected_descr,
                                       absl::Span<const int64_t> expected_shape,
                                       absl::string_view shape_source = "");

// "(3, 4)", "(5,)", "()": the Python repr of a shape tuple, used in messages.
std::string NpyShapeString(absl::Span<const int64_t> shape);

// Human name of a descr for messages: "<f4" -> "float32"; "" if unknown.
absl::string_view NpyDtypeName(absl::string_view descr);

// The complete format 1.0 preamble + header numpy (>= 1.24) writes for a
// C-order array: "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
// the growth padding, spaces to a 64-byte boundary and a final '\n'. The
// result's size is a multiple of 64. INVALID_ARGUMENT for a negative extent.
absl::StatusOr<std::string> EncodeNpyHeader(absl::string_view descr,
                                            absl::Span<const int64_t> shape);

// The little-endian descr for the element types model files use.
template <typename T>
constexpr absl::string_view NpyDescr() {
  if constexpr (std::is_same_v<T, float>) {
    return "<f4";
  } else if constexpr (std::is_same_v<T, double>) {
    return "<f8";
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return "<i4";
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return "<i8";
  } else if constexpr (std::is_same_v<T, uint8_t>) {
    return "|u1";
  } else {
    static_assert(!sizeof(T), "no .npy descr for this type");
  }
}

// Writes `data` (raw little-endian element bytes, C order) as a format 1.0
// .npy file at `path`, atomically (temp file + rename). INVALID_ARGUMENT if
// data.size() does not match the shape and descr.
absl::Status WriteNpyBytes(const std::string& path, absl::string_view descr,
                           absl::Span<const int64_t> shape,
                           absl::string_view data);

template <typename T>
absl::Status WriteNpy(const std::string& path, absl::Span<const T> values,
                      absl::Span<const int64_t> shape) {
  return WriteNpyBytes(
      path, NpyDescr<T>(), shape,
      absl::string_view(reinterpret_cast<const char*>(values.data()),
                        values.size() * sizeof(T)));
}

}  // namespace rerank
