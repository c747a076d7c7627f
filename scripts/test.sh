#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the
# whole test suite, then the concurrency tests again under ThreadSanitizer.
#
#   scripts/test.sh              # everything
#   RERANK_TSAN=0 scripts/test.sh   # skip the ThreadSanitizer pass
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${RERANK_JOBS:-$(nproc)}

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
scripts/install-deps.sh

step "build (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$jobs"

step "tests"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300

if [ "${RERANK_TSAN:-1}" != "0" ]; then
  step "concurrency tests under ThreadSanitizer (build-tsan/)"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRERANK_SANITIZER=thread >/dev/null
  # Only the concurrency tests: gRPC itself is not TSan-instrumented.
  targets=$(grep -rl 'LABELS concurrency' tests --include CMakeLists.txt |
    xargs sed -n 's/.*rerank_add_test(NAME \([a-z_0-9]*\).*LABELS concurrency.*/\1/p')
  if [ -z "$targets" ]; then
    echo "no tests labelled 'concurrency' found" >&2; exit 1
  fi
  ninja -C build-tsan -j "$jobs" $targets
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ctest --test-dir build-tsan -L concurrency --output-on-failure --timeout 600 \
    -E '^$' --no-tests=error
fi

step "all tests passed"
