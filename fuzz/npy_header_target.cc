// FuzzNpyHeader: the .npy header parser and array checks on hostile bytes.

#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_targets.h"
#include "model/npy.h"

namespace rerank::fuzz {
namespace {

// Reads every byte of `array`'s data with memcpy, so that an array claiming
// more data than the buffer holds is an ASan report here, not later.
void TouchData(const NpyArray& array) {
  const int64_t bytes = array.header.data_bytes();
  unsigned char sink = 0;
  for (int64_t i = 0; i < bytes; ++i) {
    unsigned char b;
    std::memcpy(&b, array.data + i, 1);
    sink ^= b;
  }
  // Keep the loop.
  asm volatile("" : : "r"(sink));
}

void CheckAccepted(absl::string_view file, const NpyArray& array) {
  const NpyHeader& h = array.header;
  FUZZ_CHECK(!h.fortran_order);
  FUZZ_CHECK(h.data_offset + h.data_bytes() ==
             static_cast<int64_t>(file.size()));
  FUZZ_CHECK(array.data == file.data() + h.data_offset);
  FUZZ_CHECK(h.data_offset % h.item_size == 0);
  TouchData(array);
}

}  // namespace

int FuzzNpyHeader(const uint8_t* data, size_t size) {
  const absl::string_view file(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<NpyHeader> header = ParseNpyHeader(file);
  if (!header.ok()) {
    FUZZ_CHECK(!header.status().message().empty());
    // CheckNpyArray parses the same header first: it must refuse too.
    FUZZ_CHECK(!CheckNpyArray(file, "<f4", {-1}).ok());
    return 0;
  }
  const NpyHeader& h = *header;
  FUZZ_CHECK(h.item_size > 0 && h.item_size <= 32);
  FUZZ_CHECK(h.data_offset >= 10 && h.data_offset <= static_cast<int64_t>(size));
  FUZZ_CHECK(h.descr.size() >= 3);
  int64_t product = h.item_size;
  for (int64_t d : h.shape) {
    FUZZ_CHECK(d >= 0);
    FUZZ_CHECK(!__builtin_mul_overflow(product, d, &product));
  }
  FUZZ_CHECK(product == h.data_bytes());
  (void)NpyShapeString(h.shape);
  (void)NpyDtypeName(h.descr);

  // Against its own dtype and shape (the interesting case: only size and
  // alignment can still fail), against wildcards, and against what the
  // loader asks for.
  absl::StatusOr<NpyArray> self = CheckNpyArray(file, h.descr, h.shape);
  if (self.ok()) CheckAccepted(file, *self);
  std::vector<int64_t> any(h.shape.size(), -1);
  absl::StatusOr<NpyArray> wild = CheckNpyArray(file, h.descr, any, "fuzz");
  FUZZ_CHECK(wild.ok() == self.ok());
  for (absl::string_view descr : {"<f4", "<i4", "<i8"}) {
    absl::StatusOr<NpyArray> model = CheckNpyArray(file, descr, {-1, 4}, "m");
    if (model.ok()) CheckAccepted(file, *model);
    FUZZ_CHECK(model.ok() || !model.status().message().empty());
  }

  // What numpy would write for this header must parse back to the same.
  absl::StatusOr<std::string> encoded = EncodeNpyHeader(h.descr, h.shape);
  if (encoded.ok()) {
    FUZZ_CHECK(encoded->size() % 64 == 0);
    absl::StatusOr<NpyHeader> again = ParseNpyHeader(*encoded);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->descr == h.descr);
    FUZZ_CHECK(again->shape == h.shape);
    FUZZ_CHECK(!again->fortran_order);
    FUZZ_CHECK(again->data_offset == static_cast<int64_t>(encoded->size()));
  }
  return 0;
}

}  // namespace rerank::fuzz
