#!/usr/bin/env bash
# The short soak (ctest -L soak; the 10-minute one is in docs/operations.md
# "Reliability"): rerankd under open-loop load at a quarter of its measured
# maximum for 60 s with a reload every 5 s, over a model trained here from
# the bundled Online Retail sample. bench/soak.py fails on any failed call or
# reload, an open-fd count that moved, resident memory that kept growing, a
# retired model snapshot that was not freed, or a message pool past its bound.
#
#   soak_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/src/tools/rerank-train" \
  --log=data/online-retail/interactions.csv.gz \
  --item_categories=data/online-retail/item_categories.csv \
  --out="$work/model" --model_version=soak --factors=16 --iterations=5 \
  --threads=2 --seed=1 > "$work/train.log" 2>&1 ||
  { cat "$work/train.log"; exit 1; }
exec python3 bench/soak.py --build="$build" --model_dir="$work/model" \
  --duration="${RERANK_SOAK_SECONDS:-60}" --reload_every=5 --sample_every=2 \
  --load_fraction=0.25 \
  --max_rss_slope_kib_per_min="${RERANK_SOAK_MAX_RSS_SLOPE:-1024}"
