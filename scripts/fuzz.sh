#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan in
# build-fuzz/, and fuzzes each one for a bounded time on a copy of its seed
# corpus (fuzz/corpus/<fuzzer>/; the repo is never written to).
#
#   scripts/fuzz.sh                 # every fuzzer, 30 s each
#   scripts/fuzz.sh 300             # 5 minutes each
#   scripts/fuzz.sh 60 manifest_fuzzer model_dir_fuzzer
#
# A crash, leak, sanitizer report, timeout or failed FUZZ_CHECK fails the
# script after all fuzzers ran, and prints the reproducer path and how to
# replay it. Turn every reproducer into a regression input:
# tests/fuzz/regressions/<fuzzer>/ (fuzz/README.md).
#
# Environment: RERANK_JOBS (build parallelism, default nproc),
# RERANK_FUZZ_WORK (work dir, default build-fuzz/work; its corpora are kept
# between runs so local fuzzing accumulates).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${RERANK_JOBS:-$(nproc)}
seconds=${1:-30}
shift || true
all_fuzzers=(npy_header_fuzzer manifest_fuzzer text_lines_fuzzer
  model_dir_fuzzer model_snapshot_fuzzer rerank_request_fuzzer
  ranker_file_fuzzer server_config_fuzzer interaction_log_fuzzer
  cli_request_fuzzer)
if [ $# -gt 0 ]; then fuzzers=("$@"); else fuzzers=("${all_fuzzers[@]}"); fi
case "$seconds" in
  '' | *[!0-9]*) echo "fuzz.sh: seconds_per_target must be a number" >&2; exit 2 ;;
esac

step() { printf '\n==> %s\n' "$*"; }
# Copies the files of $1 into $2 that $2 does not have yet.
copy_new() {
  local f
  for f in "$1"/*; do
    if [ ! -f "$f" ] || [ "$(basename "$f")" = README.md ]; then continue; fi
    [ -e "$2/$(basename "$f")" ] || cp "$f" "$2/"
  done
}

scripts/install-deps.sh >/dev/null

# ccache, when present, shared with clones elsewhere (CI builds a fresh
# clone): paths are hashed relative to the repo.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
fi

step "build fuzzers (build-fuzz/, clang + libFuzzer + ASan + UBSan)"
start=$SECONDS
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  -DRERANK_BUILD_FUZZERS=ON -DRERANK_BUILD_TESTS=OFF >/dev/null
ninja -C build-fuzz -j "$jobs" "${fuzzers[@]}"
echo "built in $((SECONDS - start)) s"

work=${RERANK_FUZZ_WORK:-$root/build-fuzz/work}
# model_dir_fuzzer rewrites its model files for every input: tmpfs if there
# is one. Removed at exit, whatever the fuzzers left.
tmp=$(mktemp -d /dev/shm/rerank-fuzz.XXXXXX 2>/dev/null ||
  mktemp -d "${TMPDIR:-/tmp}/rerank-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export RERANK_FUZZ_TMPDIR=$tmp
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for fuzzer in "${fuzzers[@]}"; do
  seeds=fuzz/corpus/$fuzzer
  if [ ! -d "$seeds" ]; then
    echo "fuzz.sh: no seed corpus $seeds" >&2; exit 2
  fi
  dir=$work/$fuzzer
  mkdir -p "$dir/corpus" "$dir/artifacts"
  rm -f "$dir"/artifacts/*
  copy_new "$seeds" "$dir/corpus"
  if [ -d "tests/fuzz/regressions/$fuzzer" ]; then
    copy_new "tests/fuzz/regressions/$fuzzer" "$dir/corpus"
  fi
  dict=()
  if [ -f "fuzz/$fuzzer.dict" ]; then dict=(-dict="fuzz/$fuzzer.dict"); fi

  step "$fuzzer: ${seconds} s"
  log=$dir/fuzz.log
  set +e
  "build-fuzz/fuzz/$fuzzer" "${dict[@]}" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -max_len=8192 -use_value_profile=1 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "$dir/corpus" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units|^stat::peak_rss' \
    "$log" || true
  artifacts=$(find "$dir/artifacts" -type f | sort)
  if [ $rc -ne 0 ] || [ -n "$artifacts" ]; then
    failed+=("$fuzzer")
    {
      echo "!!! $fuzzer FAILED (exit $rc); last lines of $log:"
      tail -n 60 "$log"
      for a in $artifacts; do
        echo "!!! reproducer: $a"
        echo "!!!   replay:   build-fuzz/fuzz/$fuzzer $a"
        echo "!!!   keep:     cp $a tests/fuzz/regressions/$fuzzer/"
      done
    } >&2
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo >&2
  echo "fuzz.sh: FAILED: ${failed[*]} (reproducers above)" >&2
  exit 1
fi
step "fuzzing passed: ${fuzzers[*]} (${seconds} s each)"
