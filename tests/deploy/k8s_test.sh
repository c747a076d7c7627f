#!/usr/bin/env bash
# Renders every kustomization under deploy/k8s with `kubectl kustomize` and
# validates the result two ways:
#   1. against the Kubernetes API schemas (npm package kubernetes-models,
#      installed at test time into a cache dir, never committed);
#   2. k8s_check.py: the fields rerankd relies on (ports, gRPC probes, config
#      mount and keys, grace periods, resources, non-root, Service/PDB
#      selectors, HPA target), plus docker/rerankd.json and the Dockerfile.
# Then it breaks a rendered manifest in a few known ways and expects both
# checkers to notice.
#
#   tests/deploy/k8s_test.sh
#
# Needs kubectl with kustomize v5 (kubectl >= 1.27), python3 + PyYAML, node +
# npm; installs python3-yaml and the npm packages when missing.
# RERANK_NPM_CACHE: where the npm packages go (default /var/cache/rerank/npm-k8s,
# ~/.cache/rerank/npm-k8s when not root).
# RERANK_K8S_SCHEMA=0 skips the schema part (offline machines).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/deploy
k8s=$root/deploy/k8s
tmp=$(mktemp -d "${TMPDIR:-/tmp}/k8s_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Pinned: 4.x runs on node >= 14 (5.x needs node 22) and carries the
# Kubernetes 1.27+ schemas (gRPC probes, autoscaling/v2, policy/v1).
models_version=4.5.1
yaml_version=2.8.1

step() { printf '\n== %s\n' "$*"; }
apt_install() {
  echo "k8s_test: installing $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- tools -------------------------------------------------------------------
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
"$python" -c 'import yaml' 2>/dev/null || apt_install python3-yaml
command -v kubectl >/dev/null || apt_install kubectl
kustomize_version=$(kubectl version --client 2>/dev/null |
  sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
if [ -z "$kustomize_version" ] || [ "$kustomize_version" -lt 5 ]; then
  echo "k8s_test: kubectl's kustomize is too old ($(kubectl version --client 2>&1 | tr '\n' ' '));" \
       "need kustomize v5 (kubectl >= 1.27: components, labels, replicas)" >&2
  exit 1
fi

# --- render --------------------------------------------------------------------
step "render (kubectl kustomize, kustomize v$kustomize_version)"
declare -A rendered
for dir in base overlays/dev overlays/production; do
  out=$tmp/$(echo "$dir" | tr / -).yaml
  kubectl kustomize "$k8s/$dir" >"$out"
  rendered[$dir]=$out
  echo "$dir: $(grep -c '^kind:' "$out") objects ($(grep '^kind:' "$out" | cut -d' ' -f2 | sort | tr '\n' ' '))"
done

# --- 1. schemas ------------------------------------------------------------------
if [ "${RERANK_K8S_SCHEMA:-1}" != 0 ]; then
  step "Kubernetes API schemas (kubernetes-models@$models_version)"
  if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/rerank/npm-k8s
  else default_cache=${XDG_CACHE_HOME:-$HOME/.cache}/rerank/npm-k8s; fi
  cache=${RERANK_NPM_CACHE:-$default_cache}
  have=$(node -p "require('$cache/node_modules/kubernetes-models/package.json').version" 2>/dev/null || true)
  if [ "$have" != "$models_version" ] || [ ! -d "$cache/node_modules/yaml" ]; then
    command -v npm >/dev/null || apt_install nodejs npm
    mkdir -p "$cache"
    echo "k8s_test: npm install kubernetes-models@$models_version yaml@$yaml_version into $cache"
    npm install --prefix "$cache" --no-audit --no-fund --no-save --silent \
      "kubernetes-models@$models_version" "yaml@$yaml_version"
  fi
  export NODE_PATH=$cache/node_modules
  node "$here/k8s_schema_check.js" "${rendered[@]}"

  # The checker must reject what the API server would.
  sed 's/^\( *\)maxReplicas: .*/\1maxReplicas: "many"/; s/containerPort: 50051$/containerPort: fifty/' \
    "${rendered[overlays/production]}" >"$tmp/bad-schema.yaml"
  if node "$here/k8s_schema_check.js" "$tmp/bad-schema.yaml" >"$tmp/out" 2>&1; then
    echo "FAIL: the schema check accepted a string maxReplicas and containerPort" >&2
    cat "$tmp/out" >&2; exit 1
  fi
  grep -q "maxReplicas must be integer" "$tmp/out" && grep -q "containerPort must be integer" "$tmp/out" || {
    echo "FAIL: the schema check did not name both violations" >&2; cat "$tmp/out" >&2; exit 1; }
  echo "ok: the schema check rejects a broken manifest"
else
  echo "k8s_test: RERANK_K8S_SCHEMA=0: schema validation skipped"
fi

# --- 2. what rerankd relies on ---------------------------------------------------
step "structure: base"
"$python" "$here/k8s_check.py" manifests "${rendered[base]}" --root="$root" --hpa
step "structure: overlays/dev"
"$python" "$here/k8s_check.py" manifests "${rendered[overlays/dev]}" --root="$root" \
  --replicas=1 --no-hpa
step "structure: overlays/production"
"$python" "$here/k8s_check.py" manifests "${rendered[overlays/production]}" --root="$root" \
  --min-replicas=3 --hpa --clusterip-service
step "image config: docker/rerankd.json, docker/Dockerfile"
"$python" "$here/k8s_check.py" image --root="$root"

# --- the structural checker must catch known mistakes -------------------------------
step "structure: broken manifests are refused"
# mutate NAME PYTHON: applies PYTHON to the production Deployment (d), its
# ConfigMap (cm: parsed rerankd.json) and the HPA (h), writes bad-NAME.yaml.
mutate() {
  "$python" - "${rendered[overlays/production]}" "$tmp/bad-$1.yaml" "$2" <<'EOF'
import json, sys, yaml
src, dst, code = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(src)) if d]
d = next(o for o in docs if o["kind"] == "Deployment")
h = next(o for o in docs if o["kind"] == "HorizontalPodAutoscaler")
cmo = next(o for o in docs if o["kind"] == "ConfigMap")
cm = json.loads(cmo["data"]["rerankd.json"])
c = d["spec"]["template"]["spec"]["containers"][0]
exec(code)
cmo["data"]["rerankd.json"] = json.dumps(cm)
yaml.safe_dump_all(docs, open(dst, "w"))
EOF
}
expect_refused() {  # expect_refused NAME PATTERN-IN-FAILURE PYTHON
  mutate "$1" "$3"
  if "$python" "$here/k8s_check.py" manifests "$tmp/bad-$1.yaml" --root="$root" \
      >"$tmp/out" 2>&1; then
    echo "FAIL: k8s_check accepted $1" >&2; exit 1
  fi
  grep -q "FAIL: .*$2" "$tmp/out" || {
    echo "FAIL: k8s_check refused $1 but not for \"$2\":" >&2
    grep FAIL "$tmp/out" >&2; exit 1; }
  echo "ok: refused $1 ($(grep -m1 'FAIL: .*'"$2" "$tmp/out" | cut -c7-))"
}
expect_refused short-grace "terminationGracePeriodSeconds" \
  'd["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 12'
expect_refused tcp-probe "readinessProbe is a native gRPC probe" \
  'c["readinessProbe"] = {"tcpSocket": {"port": 50051}}'
expect_refused probe-port "livenessProbe is a native gRPC probe" \
  'c["livenessProbe"]["grpc"]["port"] = 50052'
expect_refused listen-port "containerPort grpc = listen_address port" \
  'cm["listen_address"] = "0.0.0.0:8080"'
expect_refused loopback-listen "binds all interfaces" \
  'cm["listen_address"] = "127.0.0.1:50051"'
expect_refused unknown-key "every key is a ServerConfig field" \
  'cm["listen_adress"] = "0.0.0.0:50051"'
expect_refused exposed-admin "admin_listen_address .* is loopback-only" \
  'cm["admin_listen_address"] = "0.0.0.0:50052"'
expect_refused config-path "a volume is mounted at /etc/config" \
  'c["args"] = ["--config=/etc/config/rerankd.json"]'
expect_refused hpa-target "HPA targets Deployment" \
  'h["spec"]["scaleTargetRef"]["name"] = "rerank"'
expect_refused no-limits "has cpu and memory requests and limits" \
  'del c["resources"]["limits"]'
expect_refused root "runAsNonRoot" \
  'd["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False'
expect_refused pod-labels "selector matches the pod labels" \
  'd["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] = "api"; d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "api"'

step "k8s_test: all checks passed"
