// libFuzzer entry point of server_config_fuzzer; the logic is in server_config_target.cc,
// shared with tests/fuzz/fuzz_replay_test.cc.

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return rerank::fuzz::FuzzServerConfig(data, size);
}
