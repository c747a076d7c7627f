#!/usr/bin/env bash
# Builds the rerankd container image with buildah (no Docker engine or
# registry needed), starts rerankd from it and talks to it from the host:
# Health, Rerank on the baked demo model, ModelAdmin info, /metrics; checks it
# runs as uid 10001, then stops it with SIGTERM and expects a clean exit.
#
#   RERANK_IMAGE_TEST=1 tests/deploy/image_test.sh
#
# Slow (debootstrap once, then a full build inside the image): opt-in for
# local runs, on by default in CI (CI=true); RERANK_IMAGE_TEST=0 skips it
# there too. Needs root. Layers are cached (buildah --layers), so a second run
# only rebuilds what changed.
#
# Environment:
#   RERANK_IMAGE_TAG    image to build (default localhost/rerankd:test)
#   RERANK_BASE_IMAGE   base for both stages (default: made by
#                       scripts/make-base-image.sh, localhost/rerank-base:bookworm)
#   RERANK_CLI          host rerank-cli to call with (default: the image's own,
#                       copied out of it)
#   RERANK_IMAGE_PREBUILT=IMAGE  test IMAGE as it is: no base, no build
set -euo pipefail

want=${RERANK_IMAGE_TEST:-}
if [ -z "$want" ] && [ "${CI:-}" = true ]; then want=1; fi
if [ "$want" != 1 ]; then
  echo "image_test: skipped (set RERANK_IMAGE_TEST=1 to build and run the image)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "image_test: needs root (buildah's image store, debootstrap)" >&2
  exit 1
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tag=${RERANK_IMAGE_TAG:-localhost/rerankd:test}
base=${RERANK_BASE_IMAGE:-localhost/rerank-base:bookworm}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/image_test.XXXXXX")
ctr=""
run_pid=""
server_pid=""
t0=$SECONDS
timings=()
phase() { timings+=("$1: $((SECONDS - phase_start))s"); phase_start=$SECONDS; }
phase_start=$SECONDS
# The one buildah failure worth a retry (see the build step).
transient_buildah_error() { grep -q 'sealing memfd copy' "$1"; }
step() { printf '\n== %s\n' "$*"; }

cleanup() {
  set +e
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
  fi
  if [ -n "$run_pid" ]; then
    kill -0 "$run_pid" 2>/dev/null && kill -TERM "$run_pid"
    wait "$run_pid" 2>/dev/null
  fi
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$tmp/server.log" ] && { echo "--- server log" >&2; cat "$tmp/server.log" >&2; }; exit 1; }
ok() { echo "ok: $*"; }

# --- base image and build ----------------------------------------------------
if [ -n "${RERANK_IMAGE_PREBUILT:-}" ]; then
  tag=$RERANK_IMAGE_PREBUILT
  echo "image_test: testing the prebuilt $tag (no build)"
  buildah inspect --type image "$tag" >/dev/null || fail "no image $tag"
else
  step "base image ($base)"
  if [ -z "${RERANK_BASE_IMAGE:-}" ]; then
    scripts/make-base-image.sh
  else
    buildah inspect --type image "$base" >/dev/null || fail "no image $base"
  fi
  phase "base image"

  step "buildah build -t $tag (chroot isolation)"
  # buildah copies its runtime into a sealed memfd for every RUN step; the
  # kernel now and then refuses the seal with EBUSY ("Close_Fd sealing memfd
  # copy: Device or resource busy"), a transient failure of the host, not of
  # the Dockerfile. Only that error is retried (cached layers make it cheap),
  # at most twice; any other failure fails at once.
  for attempt in 1 2 3; do
    if buildah build --isolation chroot --layers --force-rm \
        --build-arg BASE_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base" \
        -t "$tag" -f docker/Dockerfile . >"$tmp/build.log" 2>&1; then
      break
    fi
    if [ "$attempt" -lt 3 ] && transient_buildah_error "$tmp/build.log"; then
      echo "image_test: transient buildah error, retrying the build"
      continue
    fi
    tail -n 60 "$tmp/build.log" >&2; fail "image build failed"
  done
  grep -E '^\[[0-9]/[0-9]\] STEP|^STEP' "$tmp/build.log" | cut -c1-110
  phase "image build"
fi

fmt='{{.OCIv1.Config.User}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Cmd}}|{{.OCIv1.Config.ExposedPorts}}|{{.OCIv1.Config.Volumes}}'
config=$(buildah inspect --type image --format "$fmt" "$tag")
IFS='|' read -r user entrypoint cmd exposed volumes <<<"$config"
[ "$user" = "10001:10001" ] && ok "image user is 10001:10001" || fail "image user is \"$user\""
[ "$entrypoint" = "[/usr/local/bin/rerankd]" ] && ok "entrypoint rerankd" || fail "entrypoint $entrypoint"
[ "$cmd" = "[--config=/etc/rerank/rerankd.json]" ] && ok "cmd --config" || fail "cmd $cmd"
for p in 50051 50052 9464; do
  [[ "$exposed" == *"$p/tcp"* ]] || fail "port $p not exposed: $exposed"
done
ok "exposes 50051 50052 9464"
[[ "$volumes" == *"/models"* ]] && ok "volume /models" || fail "volumes $volumes"
size=$(buildah images --format '{{.Size}}' "$tag" || true)
echo "image size: $size"

# --- run -----------------------------------------------------------------------
step "run rerankd from the image"
ctr=$(buildah from --quiet "$tag")
mnt=$(buildah mount "$ctr")
for f in /usr/local/bin/rerankd /usr/local/bin/rerank-cli \
         /opt/rerank/models/demo/manifest.json /etc/rerank/rerankd.json; do
  [ -e "$mnt$f" ] || fail "image lacks $f"
done
[ ! -e "$mnt/usr/bin/g++" ] && [ ! -e "$mnt/usr/include/grpcpp" ] ||
  fail "the runtime image contains build tools or headers"
ok "runtime image has the binaries, the demo model and the config, no toolchain"
cli=${RERANK_CLI:-}
if [ -z "$cli" ]; then
  cp "$mnt/usr/local/bin/rerank-cli" "$tmp/rerank-cli"
  cli=$tmp/rerank-cli
fi
buildah umount "$ctr" >/dev/null

# chroot isolation keeps the host's network namespace: the server's ports are
# the host's. Loopback and kernel-picked ports, so nothing else on the machine
# can collide or be reached; the rest of the config is the image's own file.
extra=()
help=$(buildah run --isolation chroot "$ctr" -- /usr/local/bin/rerankd --helpfull 2>&1 || true)
if [[ "$help" == *--metrics_listen* ]]; then
  extra+=(--metrics_listen=127.0.0.1:0)
fi
line=""
for attempt in 1 2 3; do
  buildah run --isolation chroot "$ctr" -- /usr/local/bin/rerankd \
    --config=/etc/rerank/rerankd.json --listen=127.0.0.1:0 \
    --admin_listen=127.0.0.1:0 "${extra[@]}" >"$tmp/server.log" 2>&1 &
  run_pid=$!
  deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    line=$(grep -m1 'rerankd serving on' "$tmp/server.log" || true)
    [ -n "$line" ] && break
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$line" ] && break
  if ! kill -0 "$run_pid" 2>/dev/null && [ "$attempt" -lt 3 ] &&
     transient_buildah_error "$tmp/server.log"; then
    echo "image_test: transient buildah error, starting again"
    continue
  fi
  kill -0 "$run_pid" 2>/dev/null || { cat "$tmp/server.log" >&2;
    fail "rerankd exited before serving"; }
  fail "rerankd did not report serving within 60 s"
done
serving=$(sed -n 's/.*serving on \([0-9.]*:[0-9]*\).*/\1/p' <<<"$line")
admin=$(sed -n 's/.*admin on \([0-9.]*:[0-9]*\).*/\1/p' <<<"$line")
metrics=$(sed -n 's#.*metrics on http://\([0-9.]*:[0-9]*\)/metrics.*#\1#p' <<<"$line")
[ -n "$serving" ] && [ -n "$admin" ] || fail "cannot read the ports from: $line"
echo "serving $serving, admin $admin, metrics ${metrics:-off}"
phase "start"

# The rerankd process itself: a descendant of `buildah run`.
descendants() {
  local p
  for p in $(pgrep -P "$1" || true); do echo "$p"; descendants "$p"; done
}
for p in $(descendants "$run_pid"); do
  if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = rerankd ]; then server_pid=$p; fi
done
[ -n "$server_pid" ] || fail "cannot find the rerankd process under buildah run ($run_pid)"
uid=$(awk '/^Uid:/ {print $2}' "/proc/$server_pid/status")
[ "$uid" = 10001 ] && ok "rerankd (pid $server_pid) runs as uid 10001" ||
  fail "rerankd runs as uid $uid"

# --- talk to it from the host ----------------------------------------------------
step "calls from the host"
health=$("$cli" health --target="$serving" 2>&1 || true)
[ "$health" = "status: SERVING" ] && ok "Health: SERVING" || fail "health: $health"
"$cli" rerank --target="$serving" --user=17850 \
  --candidates=85123A,71053,84406B,22423,85099B \
  --events=VIEW:22423@-2m,ADD_TO_CART:85099B@-30s --format=json >"$tmp/rerank.json" ||
  fail "Rerank failed"
grep -q '"modelVersion": "demo-online-retail"' "$tmp/rerank.json" &&
  [ "$(grep -c '"itemId"' "$tmp/rerank.json")" = 5 ] &&
  ok "Rerank: 5 items ranked by demo-online-retail" ||
  { cat "$tmp/rerank.json" >&2; fail "unexpected Rerank response"; }
"$cli" info --admin_target="$admin" --format=json >"$tmp/info.json" || fail "info failed"
grep -q '"sourceDir": "/opt/rerank/models/demo"' "$tmp/info.json" &&
  ok "ModelAdmin info: the baked demo model" || { cat "$tmp/info.json" >&2; fail "info"; }
if [ -n "$metrics" ]; then
  /usr/bin/python3 - "http://$metrics/metrics" >"$tmp/metrics.txt" <<'EOF' || fail "GET /metrics failed"
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
EOF
  grep -q '^rerank' "$tmp/metrics.txt" && ok "/metrics serves rerank_* series" ||
    { head -20 "$tmp/metrics.txt" >&2; fail "no rerank metrics"; }
fi
phase "calls"

# --- graceful stop ---------------------------------------------------------------
step "SIGTERM"
kill -TERM "$server_pid"
rc=""
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
  if ! kill -0 "$run_pid" 2>/dev/null; then
    set +e; wait "$run_pid"; rc=$?; set -e
    break
  fi
  sleep 0.1
done
[ -n "$rc" ] || fail "rerankd did not stop within 30 s of SIGTERM"
run_pid=""
server_pid=""
[ "$rc" = 0 ] && grep -q 'rerankd stopped' "$tmp/server.log" &&
  ok "stopped cleanly (exit 0)" || fail "exit status $rc after SIGTERM"
phase "stop"

buildah rm "$ctr" >/dev/null
ctr=""
echo
echo "image_test: passed in $((SECONDS - t0))s (${timings[*]})"
