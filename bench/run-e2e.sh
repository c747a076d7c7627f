#!/usr/bin/env bash
# End-to-end benchmark of rerankd against its own gRPC floor (GitHub issue 4).
#
# For each server -- rerankd with the full scorer, then the same binary with
# --scorer=null (same parsing, validation, dedupe and server stack, answers
# in input order), then with --scorer=transport (answers every call with the
# first call's response bytes, parsing nothing: gRPC + HTTP/2 alone) -- one
# after the other on the same kind of loopback port:
#   1. closed loop (rerank-loadgen, 32 calls in flight over 2 connections,
#      where throughput peaked in sweeps of 8..128; --concurrency="8 32 128"
#      sweeps), repeated --rounds times with the servers interleaved: a
#      server's max is the median over rounds of its best level, and the
#      full/null ratio the median of the per-round ratios (each round runs
#      the two back to back, so they see the same machine load);
#   2. open loop at half the FULL scorer's max (the same offered load for
#      every server, so their latencies compare): p50/p99/p99.9;
#   3. h2load with pre-encoded gRPC frames (rerank-loadgen --dump_requests),
#      so that the figures do not rest on our own client only.
# Then the full scorer once more in open loop while `rerank-cli reload`
# swaps the model in every second.
# With --baseline=DIR (a build directory of an older tree, e.g. the commit
# before an optimisation), the baseline's full and null servers are measured
# the same way in the same run, for before/after ratios.
#
# Prints a table and writes a JSON summary (run/bench/e2e-<time>.json, or
# --out). The server is pinned to CPU 0 and the clients to the other CPUs
# with taskset when there are at least two. Loopback only; every load phase
# is bounded in time; ~2 minutes (~4 with --baseline) at the defaults.
#
#   bench/run-e2e.sh [--build=DIR] [--baseline=DIR] [--duration=SECONDS]
#                    [--out=FILE] [--concurrency="32"] [--no-h2load]
#                    [--no-reload] [--server_preload=LIB] [--rounds=5]
#
# --server_preload=LIB starts every rerankd with LD_PRELOAD=LIB, e.g.
# /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 (Debian libjemalloc2) to
# measure another allocator without relinking.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

build=""
baseline=""
duration=10
out=""
levels="32"
rounds=5
use_h2load=1
use_reload=1
preload=""
for arg in "$@"; do
  case "$arg" in
    --build=*) build=${arg#*=} ;;
    --baseline=*) baseline=${arg#*=} ;;
    --duration=*) duration=${arg#*=} ;;
    --out=*) out=${arg#*=} ;;
    --concurrency=*) levels=${arg#*=} ;;
    --rounds=*) rounds=${arg#*=} ;;
    --no-h2load) use_h2load=0 ;;
    --no-reload) use_reload=0 ;;
    --server_preload=*) preload=${arg#*=} ;;
    -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) echo "run-e2e.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
case "$duration" in ''|*[!0-9]*) echo "--duration: whole seconds" >&2; exit 2 ;; esac
case "$rounds" in [1-9]) ;; *) echo "--rounds must be 1..9" >&2; exit 2 ;; esac
if [ "$duration" -lt 2 ] || [ "$duration" -gt 120 ]; then
  echo "--duration must be in [2, 120]" >&2
  exit 2
fi
# The closed-loop sweep gives each level half the duration.
sweep_seconds=$(( duration / 2 > 2 ? duration / 2 : 2 ))
warmup=2s

step() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Binaries: --build, else build-perf/ or build/ if they hold them, else build
# what is missing into build-perf/ (only these targets, -j2: the machine may
# be shared).
# ---------------------------------------------------------------------------
need=(src/server/rerankd src/loadgen/rerank-loadgen src/tools/rerank-cli)
has_all() { local d=$1 b; for b in "${need[@]}"; do [ -x "$d/$b" ] || return 1; done; }
if [ -z "$build" ]; then
  for d in build-perf build; do
    if has_all "$d"; then build=$d; break; fi
  done
fi
if [ -z "$build" ] || ! has_all "$build"; then
  build=${build:-build-perf}
  step "build rerankd, rerank-loadgen, rerank-cli into $build"
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${launcher[@]}" >/dev/null
  ninja -C "$build" -j2 rerankd rerank-loadgen rerank-cli
fi
build=$(cd "$build" && pwd)
if [ -n "$preload" ] && [ ! -f "$preload" ]; then
  echo "--server_preload=$preload: no such file" >&2
  exit 2
fi
server_env=()
if [ -n "$preload" ]; then server_env=(env "LD_PRELOAD=$preload"); fi
if [ -n "$baseline" ]; then
  has_all "$baseline" || { echo "--baseline=$baseline lacks ${need[*]}" >&2; exit 2; }
  baseline=$(cd "$baseline" && pwd)
fi

# ---------------------------------------------------------------------------
# The demo model, trained as scripts/demo.sh does if it is missing.
# ---------------------------------------------------------------------------
model_root=$repo/run/models
if [ ! -f "$model_root/demo/manifest.json" ]; then
  step "train the demo model (run/models/demo)"
  if [ ! -x "$build/src/tools/rerank-train" ]; then
    ninja -C "$build" -j2 rerank-train
  fi
  mkdir -p "$model_root"
  "$build/src/tools/rerank-train" \
    --log=data/online-retail/interactions.csv.gz \
    --item_categories=data/online-retail/item_categories.csv \
    --out="$model_root/demo" --model_version=demo-online-retail \
    --factors=32 --iterations=15 --threads=2 --seed=42
fi

# ---------------------------------------------------------------------------
# Pinning, work directory, clean-up.
# ---------------------------------------------------------------------------
ncpu=$(nproc)
server_pin=()
client_pin=()
pinning="none (taskset missing or a single CPU)"
if command -v taskset >/dev/null && [ "$ncpu" -ge 2 ]; then
  server_pin=(taskset -c 0)
  client_pin=(taskset -c "1-$((ncpu - 1))")
  pinning="server on CPU 0, clients on CPUs 1-$((ncpu - 1)) (taskset)"
fi
# One poller thread per client CPU.
client_threads=$(( ncpu > 2 ? ncpu - 1 : 1 ))

work=$(mktemp -d /tmp/rerank-e2e.XXXXXX)
server_pid=""
reload_pid=""
cleanup() {
  if [ -n "$reload_pid" ]; then kill "$reload_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# rerank-cli sends ModelAdmin calls to --admin_target where it has that flag
# (servers with a separate admin port), else to --target.
admin_flag=--target
if "$build/src/tools/rerank-cli" --help 2>&1 | grep -q -- --admin_target; then
  admin_flag=--admin_target
fi

# start_server BUILD_DIR SCORER -> sets server_pid, target, admin (free
# loopback ports, so that nothing else listening on the configured ones can
# get in the way)
start_server() {
  local dir=$1 scorer=$2
  target=127.0.0.1:$(free_port)
  admin=127.0.0.1:$(free_port)
  "${server_env[@]}" "${server_pin[@]}" "$dir/src/server/rerankd" \
    --config=deploy/config/rerankd.json --listen="$target" \
    --admin_listen="$admin" \
    --model_root="$model_root" --initial_model=demo --scorer="$scorer" \
    --log_level=warn >"$work/server-$scorer.log" 2>&1 &
  server_pid=$!
  local i
  for i in $(seq 1 100); do
    if "$build/src/tools/rerank-cli" health --target="$target" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$work/server-$scorer.log" >&2
      echo "rerankd ($scorer) exited during start-up" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "rerankd ($scorer) not SERVING after 10 s" >&2
  exit 1
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

loadgen() {
  "${client_pin[@]}" "$build/src/loadgen/rerank-loadgen" --target="$target" \
    --model_dir="$model_root/demo" --candidates=200 --events=20 \
    --threads="$client_threads" --warmup="$warmup" --json "$@" \
    2>>"$work/loadgen.log"
}

# Pre-encoded frames for h2load: one request of the same pool.
"$build/src/loadgen/rerank-loadgen" --model_dir="$model_root/demo" \
  --candidates=200 --events=20 --request_pool=16 \
  --dump_requests="$work/requests" 2>>"$work/loadgen.log"
frame=$work/requests/request-00000.grpc

run_h2load() {
  "${client_pin[@]}" h2load "http://$target/rerank.v1.Reranker/Rerank" \
    -d "$frame" -H 'content-type: application/grpc' -H 'te: trailers' \
    -c 2 -m 32 -t 1 -D "$sweep_seconds" --warm-up-time=2 2>&1
}

# server_cpu_ticks: user + system clock ticks the server process has used
# (all its threads), from /proc; 0 where there is no /proc.
server_cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$server_pid/stat" 2>/dev/null || echo 0
}

# closed_sweep NAME BUILD_DIR SCORER ROUND: one closed-loop run per
# concurrency level against a fresh server. Beside each run's JSON, a .cpu
# file with the server's CPU ticks during the run: divided by every call
# the server answered in it (measured + warm-up), its CPU time per call,
# which at saturation is 1 / its throughput on one CPU but does not count
# the time the scheduler gave to other processes.
closed_sweep() {
  local name=$1 dir=$2 scorer=$3 round=$4 c before
  step "$name (round $round): $dir/src/server/rerankd --scorer=$scorer, closed loop"
  start_server "$dir" "$scorer"
  for c in $levels; do
    before=$(server_cpu_ticks)
    loadgen --mode=closed --concurrency="$c" --connections=2 \
      --duration="${sweep_seconds}s" >"$work/$name.closed.$c.r$round.json"
    echo "$(( $(server_cpu_ticks) - before )) $(getconf CLK_TCK)" \
      >"$work/$name.closed.$c.r$round.cpu"
  done
  stop_server
}

# open_and_h2load NAME BUILD_DIR SCORER: open loop at $rate, h2load, and for
# the current full scorer the open loop again under reloads.
open_and_h2load() {
  local name=$1 dir=$2 scorer=$3
  step "$name: open loop at $rate/s, h2load"
  start_server "$dir" "$scorer"
  loadgen --mode=open --rate="$rate" --connections=2 \
    --duration="${duration}s" >"$work/$name.open.json"
  if [ "$use_h2load" = 1 ] && command -v h2load >/dev/null; then
    run_h2load >"$work/$name.h2load.txt" || true
  fi
  if [ "$name" = full ] && [ "$use_reload" = 1 ]; then
    step "full scorer, open loop at $rate/s while reloading every second"
    (
      for _ in $(seq 1 $((duration + 4))); do
        if [ "$admin_flag" = --target ]; then admin_target=$target; else admin_target=$admin; fi
        "$build/src/tools/rerank-cli" reload "$admin_flag=$admin_target" \
          --model_dir=demo --format=json >>"$work/reloads.log" 2>&1 || true
        sleep 1
      done
    ) &
    reload_pid=$!
    loadgen --mode=open --rate="$rate" --connections=2 \
      --duration="${duration}s" >"$work/full-reload.open.json"
    kill "$reload_pid" 2>/dev/null || true
    wait "$reload_pid" 2>/dev/null || true
    reload_pid=""
    grep -c '"previousVersion"' "$work/reloads.log" \
      >"$work/reload-count.txt" || true
  fi
  stop_server
}

servers=("full $build full" "null $build null" "transport $build transport")
if [ -n "$baseline" ]; then
  servers+=("before-full $baseline full" "before-null $baseline null")
fi

step "machine: $ncpu CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); pinning: $pinning"
load_before=$(cut -d' ' -f1 /proc/loadavg)
# Closed loops first, the servers interleaved round by round: on a shared
# machine the load drifts, and interleaving spreads the drift over all.
for round in $(seq 1 "$rounds"); do
  for s in "${servers[@]}"; do
    # shellcheck disable=SC2086  # deliberate word splitting: name dir scorer
    closed_sweep $s "$round"
  done
done
# Half of the current full scorer's max (median over rounds of the best
# level): the same offered load for every server.
rate=$(python3 - "$work"/full.closed.*.json <<'EOF'
import json, re, statistics, sys
best = {}
for p in sys.argv[1:]:
    r = re.search(r"\.r(\d+)\.json$", p).group(1)
    best[r] = max(best.get(r, 0), json.load(open(p))["requests_per_second"])
print(f"{statistics.median(best.values()) / 2:.0f}")
EOF
)
step "open-loop rate for every server: $rate/s (half of the full scorer's max)"
for s in "${servers[@]}"; do
  # shellcheck disable=SC2086
  open_and_h2load $s
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

if [ -z "$out" ]; then
  mkdir -p run/bench
  out=run/bench/e2e-$(date +%Y%m%d-%H%M%S).json
fi
python3 bench/e2e_summary.py --work="$work" --out="$out" \
  --pinning="$pinning" --ncpu="$ncpu" --load_before="$load_before" \
  --load_after="$load_after" --duration="$duration" --rate="$rate" \
  --server_preload="$preload" \
  --cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "JSON summary: $out" >&2
