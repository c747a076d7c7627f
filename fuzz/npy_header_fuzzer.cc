// libFuzzer entry point of npy_header_fuzzer; the logic is FuzzNpyHeader in
// npy_header_target.cc, shared with tests/fuzz/fuzz_replay_test.cc.

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return rerank::fuzz::FuzzNpyHeader(data, size);
}
