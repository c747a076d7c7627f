#pragma once

// The fuzz targets' logic, shared by the libFuzzer executables
// (fuzz/*_fuzzer.cc, clang only) and by the corpus-replay regression test
// (tests/fuzz/fuzz_replay_test.cc, normal gcc build). Each function takes one
// input, must never crash, leak or trip a sanitizer on any bytes, and checks
// invariants of what the code under test returns (FUZZ_CHECK): a violated
// invariant aborts, so libFuzzer records the input like any crash.
// The return value is libFuzzer's: 0, or -1 for "do not add to the corpus".

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace rerank::fuzz {

// ParseNpyHeader and CheckNpyArray on arbitrary bytes (a whole .npy file).
int FuzzNpyHeader(const uint8_t* data, size_t size);

// ParseModelManifest on arbitrary bytes; accepted manifests must survive a
// SerializeModelManifest round trip unchanged.
int FuzzManifest(const uint8_t* data, size_t size);

// ParseLines (allow_empty_lines chosen by the first byte) and the JoinLines
// round trip.
int FuzzTextLines(const uint8_t* data, size_t size);

// LoadModel on a copy of tests/testdata/model_tiny in which one file (or,
// in multi-file mode, several) is replaced by the input; a model that loads
// is then scored against. Input layout: see model_dir_target.cc.
int FuzzModelDir(const uint8_t* data, size_t size);

// ModelSnapshot::FromData on a small model decoded from the input (layout:
// DecodeModel in model_dir_target.cc); a model that is accepted is scored
// against, as in FuzzModelDir.
int FuzzModelSnapshot(const uint8_t* data, size_t size);

// Arbitrary bytes -> RerankRequest (binary wire format, or JSON when the
// input starts with '{') -> ValidateRequest -> Rerank and RerankNull against
// a small fixed model, with tight limits.
int FuzzRerankRequest(const uint8_t* data, size_t size);

// ParseRankerSpecJson / ParseRankerJson on arbitrary bytes (a ranker file);
// accepted specs must survive the RankerSpecToJson round trip, and accepted
// rankers score a few edge rows (thresholds, NaN) as a direct walk of the
// spec does, with Explain summing to the score.
int FuzzRankerFile(const uint8_t* data, size_t size);

// rerankd's JSON config: ParseServerConfigJson, the JSON round trip of
// what parses, ValidateServerConfig, and ScorerOptionsFromConfig (profiles
// and rules compiled) for what validates.
int FuzzServerConfig(const uint8_t* data, size_t size);

// The interaction-log CSV reader (first byte, bit 0: skip_bad_lines) and
// its tokenizer; accepted records keep the documented guarantees.
int FuzzInteractionLog(const uint8_t* data, size_t size);

// rerank-cli's request inputs (first byte: 0 --request JSON with a round
// trip, 1 --events, 2 --candidates, 3 --overrides).
int FuzzCliRequest(const uint8_t* data, size_t size);

[[noreturn]] inline void FuzzCheckFailed(const char* file, int line,
                                         const char* cond) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", file, line, cond);
  std::fflush(stderr);
  std::abort();
}

}  // namespace rerank::fuzz

// An invariant of the code under test. Unlike assert, never compiled out.
#define FUZZ_CHECK(cond)                                              \
  do {                                                                \
    if (!(cond)) ::rerank::fuzz::FuzzCheckFailed(__FILE__, __LINE__, #cond); \
  } while (false)
