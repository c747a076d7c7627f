#!/usr/bin/env bash
# The sanitizer passes of the test suite (CI runs them via scripts/test.sh):
#   address  the whole suite, every label, built with ASan + UBSan in
#            build-asan/ (-DRERANK_SANITIZER=address);
#   thread   the tests labelled `concurrency`, built with TSan in build-tsan/
#            (-DRERANK_SANITIZER=thread). Only those: Debian's gRPC and
#            Abseil are not TSan-instrumented (absl::Mutex is invisible to
#            TSan, and protobuf map fields crash under it), and the
#            concurrency tests are written to avoid both.
#
#   scripts/sanitizers.sh            # both passes
#   scripts/sanitizers.sh address    # one of them
#   scripts/sanitizers.sh thread
#
# Environment: RERANK_JOBS (parallelism, default nproc). Uses ccache when
# installed. Leak reports from third-party libraries are suppressed, narrowly,
# by scripts/lsan.supp; never suppress rerank's own code there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${RERANK_JOBS:-$(nproc)}
passes=("$@")
if [ ${#passes[@]} -eq 0 ]; then passes=(address thread); fi
for p in "${passes[@]}"; do
  case "$p" in
    address | thread) ;;
    *) echo "sanitizers.sh: unknown pass '$p' (address, thread)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

scripts/install-deps.sh >/dev/null

# ccache, when present, shared with clones elsewhere (CI builds a fresh
# clone): paths are hashed relative to the repo.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi

for pass in "${passes[@]}"; do
  case "$pass" in
  address)
    step "whole suite under ASan + UBSan (build-asan/)"
    start=$SECONDS
    # -O1 -g1: half the compile time of -O2 -g (which CI pays on a cold
    # cache), line numbers in reports kept. No NDEBUG: Eigen's bounds
    # assertions run too. gcc 12's -Wmaybe-uninitialized misfires under
    # -fsanitize=address at -O1 (in libstdc++'s <regex>, for one); the
    # normal build keeps it as an error, and ASan does not track
    # initialization anyway.
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -Wno-maybe-uninitialized" \
      "${launcher[@]}" -DRERANK_SANITIZER=address >/dev/null
    ninja -C build-asan -j "$jobs"
    echo "built in $((SECONDS - start)) s"
    start=$SECONDS
    # detect_leaks: on (LSan), with third-party suppressions only. Not the
    # soak (label soak): ASan's quarantine grows the resident memory it
    # checks for flatness; it runs in the plain build.
    ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:abort_on_error=0" \
    LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
      ctest --test-dir build-asan --output-on-failure -j "$jobs" \
      --timeout 600 --no-tests=error -LE soak
    echo "tested in $((SECONDS - start)) s"
    ;;
  thread)
    step "concurrency tests under ThreadSanitizer (build-tsan/)"
    start=$SECONDS
    cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "${launcher[@]}" -DRERANK_SANITIZER=thread >/dev/null
    # Only the concurrency tests: gRPC itself is not TSan-instrumented.
    targets=$(grep -rl 'LABELS concurrency' tests --include CMakeLists.txt |
      xargs sed -n 's/.*rerank_add_test(NAME \([a-z_0-9]*\).*LABELS concurrency.*/\1/p')
    if [ -z "$targets" ]; then
      echo "no tests labelled 'concurrency' found" >&2; exit 1
    fi
    # shellcheck disable=SC2086  # one target per word
    ninja -C build-tsan -j "$jobs" $targets
    echo "built in $((SECONDS - start)) s"
    start=$SECONDS
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
      ctest --test-dir build-tsan -L concurrency --output-on-failure \
      --timeout 600 -E '^$' --no-tests=error
    echo "tested in $((SECONDS - start)) s"
    ;;
  esac
done
step "sanitizer passes done: ${passes[*]}"
