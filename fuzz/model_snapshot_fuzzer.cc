// libFuzzer entry point of model_snapshot_fuzzer; the logic is
// FuzzModelSnapshot in model_dir_target.cc, shared with
// tests/fuzz/fuzz_replay_test.cc.

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return rerank::fuzz::FuzzModelSnapshot(data, size);
}
