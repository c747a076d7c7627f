// libFuzzer entry point of text_lines_fuzzer; the logic is FuzzTextLines in
// text_lines_target.cc, shared with tests/fuzz/fuzz_replay_test.cc.

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return rerank::fuzz::FuzzTextLines(data, size);
}
