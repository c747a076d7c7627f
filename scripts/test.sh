#!/usr/bin/env bash
# The README's test command (.ci/run calls exactly this): installs what is
# missing, builds, and runs the whole suite, then
#   - the whole suite again under ASan + UBSan, and the concurrency tests
#     under ThreadSanitizer (scripts/sanitizers.sh),
#   - every libFuzzer target for a bounded time (scripts/fuzz.sh),
#   - the container image test (tests/deploy/image_test.sh) only with
#     RERANK_IMAGE_TEST=1, which CI (.ci/run) sets: it builds the binaries
#     inside a debootstrap image (about 10 minutes on 2 cores).
#
#   scripts/test.sh                      # everything
#   RERANK_SANITIZERS=0 scripts/test.sh  # skip the sanitizer passes
#   RERANK_FUZZ_SECONDS=0 scripts/test.sh   # skip fuzzing (default 20 s/target)
#   RERANK_IMAGE_TEST=1 scripts/test.sh  # also build and test the image
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${RERANK_JOBS:-$(nproc)}
started=$SECONDS

step() { printf '\n==> %s (%d s so far)\n' "$*" $((SECONDS - started)); }

step "dependencies"
scripts/install-deps.sh

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi

step "build (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${launcher[@]}" >/dev/null
ninja -C build -j "$jobs"

step "tests"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 600 \
  --no-tests=error

if [ "${RERANK_SANITIZERS:-1}" != "0" ]; then
  step "sanitizers"
  scripts/sanitizers.sh
fi

fuzz_seconds=${RERANK_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" != "0" ]; then
  step "fuzzing, $fuzz_seconds s per target"
  scripts/fuzz.sh "$fuzz_seconds"
fi

if [ "${RERANK_IMAGE_TEST:-0}" = "1" ]; then
  step "container image"
  bash tests/deploy/image_test.sh
fi

step "all tests passed in $((SECONDS - started)) s"
