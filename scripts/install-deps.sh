#!/usr/bin/env bash
# Installs rerank's build and test dependencies from Debian 12 packages.
# Idempotent: does nothing (and needs no root) when everything is present.
#
#   scripts/install-deps.sh              # build + tests, sanitizers, fuzzing
#   scripts/install-deps.sh --build-only # just what building rerankd,
#                                        # rerank-cli and rerank-train needs
#                                        # (the container image's build stage)
set -euo pipefail

# Building the binaries.
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libeigen3-dev libspdlog-dev libssl-dev
  prometheus-cpp-dev libxgboost-dev
)
case "${1:-}" in
  --build-only) ;;
  "")
    # Tests (GoogleTest, the numpy model-writer and README checks, promtool,
    # TLS fixtures), sanitizers and fuzzing (clang + libFuzzer), ccache.
    PACKAGES+=(
      git libgtest-dev libgmock-dev python3 python3-numpy openssl prometheus
      clang libclang-rt-14-dev ccache
      python3-grpcio python3-protobuf python3-xgboost python3-scipy
    )
    ;;
  *) echo "usage: scripts/install-deps.sh [--build-only]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
