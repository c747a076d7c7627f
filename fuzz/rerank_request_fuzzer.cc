// libFuzzer entry point of rerank_request_fuzzer; the logic is FuzzRerankRequest in
// rerank_request_target.cc, shared with tests/fuzz/fuzz_replay_test.cc.

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return rerank::fuzz::FuzzRerankRequest(data, size);
}
