#!/usr/bin/env bash
# scripts/rollout.sh against three local rerankd replicas on loopback.
#
#   tests/deploy/rollout_test.sh [RERANKD RERANK_CLI]
#
# Defaults: build/src/server/rerankd and build/src/tools/rerank-cli. Each
# replica has its own model root with v1 and v2 (copies of
# tests/testdata/model_tiny with versions tiny-v1 / tiny-v2); replica 3's v2
# is corrupt (a data file no longer matches its manifest sha256). Ports are
# picked by the kernel (port 0) and read back from each server's log.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
rerankd=${1:-$root/build/src/server/rerankd}
cli=${2:-$root/build/src/tools/rerank-cli}
rollout=$root/scripts/rollout.sh
for bin in "$rerankd" "$cli"; do
  [ -x "$bin" ] || { echo "rollout_test: missing $bin (build it first)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rollout_test.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    # Bounded: rerankd drains in well under its grace period when idle.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# Model version VERSION at DIR, from the tiny test model.
make_model() {
  local dir=$1 version=$2
  cp -R "$root/tests/testdata/model_tiny" "$dir"
  rm -f "$dir/generate.py"
  sed -i "s/\"model_version\": \"[^\"]*\"/\"model_version\": \"$version\"/" "$dir/manifest.json"
  grep -q "\"model_version\": \"$version\"" "$dir/manifest.json"
}

# Flips one byte in the middle of a data file: same size, wrong sha256.
corrupt_model() {
  local f=$1/item_factors.npy
  local size; size=$(stat -c %s "$f")
  printf '\x7f' | dd of="$f" bs=1 seek=$((size - 3)) conv=notrunc status=none
}

# Metrics listener: only when this rerankd has one (issue 5); port 0 so the
# three replicas never collide with each other or anything else.
extra_flags=()
help=$("$rerankd" --helpfull 2>&1 || true)
if [[ "$help" == *--metrics_listen* ]]; then
  extra_flags+=(--metrics_listen=127.0.0.1:0)
fi

serving=()  # serving HOST:PORT per replica
admin=()    # admin HOST:PORT per replica
start_replica() {
  local n=$1 dir=$tmp/r$1
  mkdir -p "$dir/models"
  make_model "$dir/models/v1" tiny-v1
  make_model "$dir/models/v2" tiny-v2
  : >"$dir/log"
  "$rerankd" --listen=127.0.0.1:0 --admin_listen=127.0.0.1:0 \
    --model_root="$dir/models" --initial_model=v1 --log_format=text \
    "${extra_flags[@]}" >"$dir/log" 2>&1 &
  pids+=($!)
  local pid=$! line=""
  local deadline=$((SECONDS + 15))
  while [ $SECONDS -lt $deadline ]; do
    line=$(grep -m1 'rerankd serving on' "$dir/log" || true)
    [ -n "$line" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$line" ]; then
    echo "rollout_test: replica $n did not start; its log:" >&2
    cat "$dir/log" >&2
    exit 1
  fi
  local s a
  s=$(sed -n 's/.*serving on \([^ ,]*:[0-9]*\).*/\1/p' <<<"$line")
  a=$(sed -n 's/.*admin on \([^ ,)]*:[0-9]*\).*/\1/p' <<<"$line")
  if [ -z "$s" ] || [ -z "$a" ]; then
    echo "rollout_test: cannot read ports of replica $n from: $line" >&2
    exit 1
  fi
  serving+=("$s")
  admin+=("$a")
}

version_of() {  # version_of ADMIN_TARGET
  "$cli" info --admin_target="$1" --format=json |
    sed -n 's/^ *"version": "\([^"]*\)".*/\1/p'
}
serving_ok() {  # serving_ok SERVING_TARGET: Health says SERVING
  [ "$("$cli" health --target="$1" 2>&1)" = "status: SERVING" ]
}
versions() {  # space-separated versions of all replicas
  local out=() a
  for a in "${admin[@]}"; do out+=("$(version_of "$a")"); done
  echo "${out[*]}"
}

for n in 1 2 3; do start_replica "$n"; done
corrupt_model "$tmp/r3/models/v2"
echo "replicas (serving / admin): ${serving[*]} / ${admin[*]}"
check "all replicas start on tiny-v1" test "$(versions)" = "tiny-v1 tiny-v1 tiny-v1"

# --- usage errors: exit 2, nothing touched ---------------------------------
set +e
"$rollout" --cli="$cli" --model_dir=v2 >"$tmp/out" 2>&1; rc=$?
set -e
check "no replicas: exit 2" test "$rc" = 2
set +e
"$rollout" --cli="$cli" "${admin[@]}" >"$tmp/out" 2>&1; rc=$?
set -e
check "no --model_dir: exit 2" test "$rc" = 2

# --- dry run: reads only ---------------------------------------------------
set +e
"$rollout" --cli="$cli" --model_dir=v2 --dry-run "${admin[@]}" >"$tmp/out" 2>&1; rc=$?
set -e
check "dry run exits 0" test "$rc" = 0
check "dry run reports each replica's version" \
  test "$(grep -c 'serves tiny-v1' "$tmp/out")" = 3
check "dry run changes nothing" test "$(versions)" = "tiny-v1 tiny-v1 tiny-v1"

# --- rollout that stops at the corrupt replica 3 ---------------------------
set +e
"$rollout" --cli="$cli" --model_dir=v2 --expect_version=tiny-v2 "${admin[@]}" \
  >"$tmp/out" 2>"$tmp/err"; rc=$?
set -e
cat "$tmp/out" "$tmp/err"
check "failed rollout exits non-zero" test "$rc" -ne 0
check "the failure names replica 3 and its address" \
  grep -q "STOPPED at replica 3/3 (${admin[2]})" "$tmp/err"
check "the failure says why (sha256 mismatch)" grep -q "sha256" "$tmp/err"
check "the failure lists replicas 1-2 as changed" \
  grep -q "already on v2: ${admin[0]} ${admin[1]}$" "$tmp/err"
check "the failure lists replica 3 as unchanged" \
  grep -q "unchanged (still on their previous model): ${admin[2]}$" "$tmp/err"
check "the failure says what replicas 1-2 served before (for a rollback)" \
  test "$(grep -c "served tiny-v1 from $tmp/r[12]/models/v1" "$tmp/err")" = 2
check "replicas 1-2 moved to tiny-v2, replica 3 still on tiny-v1" \
  test "$(versions)" = "tiny-v2 tiny-v2 tiny-v1"
check "replica 3 is still SERVING" serving_ok "${serving[2]}"
check "replica 3 still answers Rerank with tiny-v1" \
  grep -q '"modelVersion": "tiny-v1"' <("$cli" rerank --target="${serving[2]}" --candidates=i1,i2 --format=json)

# --- wrong --expect_version stops at the first replica ---------------------
set +e
"$rollout" --cli="$cli" --model_dir=v2 --expect_version=tiny-v9 "${admin[@]}" \
  >"$tmp/out" 2>"$tmp/err"; rc=$?
set -e
check "version mismatch exits non-zero" test "$rc" -ne 0
check "version mismatch names replica 1" \
  grep -q "STOPPED at replica 1/3 (${admin[0]}).*expected \"tiny-v9\"" "$tmp/err"
check "version mismatch: replicas 2-3 listed unchanged" \
  grep -q "unchanged (still on their previous model): ${admin[1]} ${admin[2]}$" "$tmp/err"

# --- unreachable replica ---------------------------------------------------
set +e
"$rollout" --cli="$cli" --model_dir=v2 --deadline_ms=2000 "${admin[0]}" 127.0.0.1:1 \
  >"$tmp/out" 2>"$tmp/err"; rc=$?
set -e
check "unreachable replica exits non-zero" test "$rc" -ne 0
check "unreachable replica is named" grep -q "STOPPED at replica 2/2 (127.0.0.1:1)" "$tmp/err"

# --- repair replica 3's v2, roll out again: all succeed --------------------
rm -rf "$tmp/r3/models/v2"
make_model "$tmp/r3/models/v2" tiny-v2
set +e
"$rollout" --cli="$cli" --model_dir=v2 --expect_version=tiny-v2 "${admin[@]}" \
  >"$tmp/out" 2>&1; rc=$?
set -e
cat "$tmp/out"
check "complete rollout exits 0" test "$rc" = 0
check "all replicas serve tiny-v2" test "$(versions)" = "tiny-v2 tiny-v2 tiny-v2"

# --- rollback: reload the previous directory, version inferred -------------
set +e
"$rollout" --cli="$cli" --model_dir=v1 "${admin[@]}" >"$tmp/out" 2>&1; rc=$?
set -e
check "rollback exits 0" test "$rc" = 0
check "all replicas back on tiny-v1" test "$(versions)" = "tiny-v1 tiny-v1 tiny-v1"
for n in 0 1 2; do
  check "replica $((n + 1)) SERVING after rollback" serving_ok "${serving[$n]}"
done

echo "rollout_test: $passed passed, $failed failed"
[ "$failed" = 0 ]
