// libFuzzer entry point of model_dir_fuzzer; the logic is FuzzModelDir in
// model_dir_target.cc, shared with tests/fuzz/fuzz_replay_test.cc.

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return rerank::fuzz::FuzzModelDir(data, size);
}
