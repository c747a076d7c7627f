// Replays the fuzz seed corpora (fuzz/corpus/<fuzzer>/) and every input a
// fuzzer ever failed on (tests/fuzz/regressions/<fuzzer>/) through the same
// entry points the libFuzzer executables call (fuzz/fuzz_targets.h), in the
// normal build and, via scripts/sanitizers.sh, under ASan + UBSan. A crash
// or failed FUZZ_CHECK aborts the test binary: ctest reports the test as
// failed, and the output names the input being replayed.
//
// Inputs for bugs not fixed yet go in tests/fuzz/regressions/pending/
// <fuzzer>/ and are replayed only by the DISABLED_ test below
// (--gtest_also_run_disabled_tests).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"
#include "gtest/gtest.h"

namespace rerank::fuzz {
namespace {

struct Target {
  const char* fuzzer;  // directory name under fuzz/corpus/
  int (*entry)(const uint8_t*, size_t);
};

const Target kTargets[] = {
    {"npy_header_fuzzer", FuzzNpyHeader},
    {"manifest_fuzzer", FuzzManifest},
    {"text_lines_fuzzer", FuzzTextLines},
    {"model_dir_fuzzer", FuzzModelDir},
    {"model_snapshot_fuzzer", FuzzModelSnapshot},
    {"rerank_request_fuzzer", FuzzRerankRequest},
    {"ranker_file_fuzzer", FuzzRankerFile},
    {"server_config_fuzzer", FuzzServerConfig},
    {"interaction_log_fuzzer", FuzzInteractionLog},
    {"cli_request_fuzzer", FuzzCliRequest},
};

// Test names and failure messages show the fuzzer, not the struct's bytes.
void PrintTo(const Target& target, std::ostream* os) { *os << target.fuzzer; }

// Regular files in `dir`, sorted; none if it does not exist.
std::vector<std::filesystem::path> InputsIn(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().filename() != "README.md") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Feeds every input in `dir` to `target`; returns how many.
int Replay(const Target& target, const std::string& dir) {
  int count = 0;
  for (const std::filesystem::path& path : InputsIn(dir)) {
    SCOPED_TRACE(path.string());
    // Said before the call: if it crashes, this is the last line printed.
    std::fprintf(stderr, "replaying %s\n", path.c_str());
    const std::string bytes = ReadFile(path);
    target.entry(reinterpret_cast<const uint8_t*>(bytes.data()),
                 bytes.size());
    ++count;
  }
  return count;
}

class FuzzReplayTest : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplayTest, SeedCorpus) {
  const std::string dir =
      std::string(RERANK_SOURCE_DIR) + "/fuzz/corpus/" + GetParam().fuzzer;
  EXPECT_GT(Replay(GetParam(), dir), 0) << "no seeds in " << dir;
}

TEST_P(FuzzReplayTest, Regressions) {
  Replay(GetParam(), std::string(RERANK_SOURCE_DIR) +
                         "/tests/fuzz/regressions/" + GetParam().fuzzer);
}

// Known, unfixed crashes (fuzz/README.md): run by hand to check a fix, then
// move the inputs up to tests/fuzz/regressions/<fuzzer>/.
TEST_P(FuzzReplayTest, DISABLED_PendingRegressions) {
  Replay(GetParam(), std::string(RERANK_SOURCE_DIR) +
                         "/tests/fuzz/regressions/pending/" +
                         GetParam().fuzzer);
}

INSTANTIATE_TEST_SUITE_P(
    Fuzzers, FuzzReplayTest, ::testing::ValuesIn(kTargets),
    [](const ::testing::TestParamInfo<Target>& info) {
      return std::string(info.param.fuzzer);
    });

}  // namespace
}  // namespace rerank::fuzz
