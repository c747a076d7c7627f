// libFuzzer entry point of ranker_file_fuzzer; the logic is FuzzRankerFile in
// ranker_file_target.cc, shared with tests/fuzz/fuzz_replay_test.cc.

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return rerank::fuzz::FuzzRankerFile(data, size);
}
