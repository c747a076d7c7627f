#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, trains the demo
# model from the bundled Online Retail sample, and serves it on
# 127.0.0.1:50051 in the foreground. Ctrl-C (SIGINT) stops it gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${RERANK_JOBS:-$(nproc)}
listen=${RERANK_LISTEN:-127.0.0.1:50051}

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
scripts/install-deps.sh

step "build (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$jobs" rerankd rerank-cli rerank-train

bin=build/src
model_root=run/models
if [ ! -f "$model_root/demo/manifest.json" ] ||
   [ data/online-retail/interactions.csv.gz -nt "$model_root/demo/manifest.json" ]; then
  step "train the demo model (run/models/demo) from data/online-retail/"
  mkdir -p "$model_root"
  "$bin/tools/rerank-train" \
    --log=data/online-retail/interactions.csv.gz \
    --item_categories=data/online-retail/item_categories.csv \
    --out="$model_root/demo" --model_version=demo-online-retail \
    --factors=32 --iterations=15 --threads="$jobs" --seed=42
fi

step "serve on $listen (Ctrl-C to stop)"
"$bin/server/rerankd" --config=deploy/config/rerankd.json --listen="$listen" \
  --model_root="$model_root" --initial_model=demo &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server' INT TERM

# Wait until the health service says SERVING, then show a call to paste.
for _ in $(seq 1 100); do
  if "$bin/tools/rerank-cli" health --target="$listen" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 $server 2>/dev/null; then wait $server; exit 1; fi
  sleep 0.1
done

cat <<EXAMPLE

rerankd is serving the demo model on $listen. Try, in another terminal:

  $bin/tools/rerank-cli rerank --target=$listen --user=17850 \\
    --candidates=85123A,71053,84406B,22423,85099B,47566,20725,84879,22720,21212 \\
    --events=VIEW:22423@-2m,ADD_TO_CART:85099B@-30s

  # the same shopper without recent events, to see the order change:
  $bin/tools/rerank-cli rerank --target=$listen --user=17850 \\
    --candidates=85123A,71053,84406B,22423,85099B,47566,20725,84879,22720,21212

  $bin/tools/rerank-cli info   # ModelAdmin, on the admin port 127.0.0.1:50052

EXAMPLE
wait $server
