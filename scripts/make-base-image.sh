#!/usr/bin/env bash
# Makes the local Debian 12 base image that docker/Dockerfile builds on when
# no image registry is reachable: debootstrap bookworm (minbase) into a rootfs,
# tar it (cached), and import the tarball with buildah as
# localhost/rerank-base:bookworm. One such image serves both Dockerfile stages:
#
#   scripts/make-base-image.sh
#   buildah build --isolation chroot \
#     --build-arg BASE_IMAGE=localhost/rerank-base:bookworm \
#     --build-arg RUNTIME_IMAGE=localhost/rerank-base:bookworm \
#     -t localhost/rerankd:dev -f docker/Dockerfile .
#
# Idempotent: an existing image is kept; a cached tarball is imported without
# running debootstrap again. Needs root (debootstrap, buildah's storage).
#
# Environment:
#   RERANK_BASE_IMAGE    image name (default localhost/rerank-base:bookworm)
#   RERANK_IMAGE_CACHE   cache dir for the rootfs tarball (default /var/cache/rerank)
#   DEBIAN_MIRROR        mirror (default: apt's configured one, else deb.debian.org)
#   --force              rebuild the tarball and the image
set -euo pipefail

image=${RERANK_BASE_IMAGE:-localhost/rerank-base:bookworm}
cache=${RERANK_IMAGE_CACHE:-/var/cache/rerank}
suite=bookworm
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "make-base-image: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf 'make-base-image: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "needs root (debootstrap and buildah's image store)"; exit 1
fi

need=()
command -v buildah >/dev/null || need+=(buildah)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "$force" = 0 ] && buildah inspect --type image "$image" >/dev/null 2>&1; then
  log "$image already present"
  exit 0
fi

# The mirror apt already uses here (deb822 "URIs:" or one-line "deb URL"),
# so the image resolves packages from the same place as the host.
if [ -z "${DEBIAN_MIRROR:-}" ]; then
  DEBIAN_MIRROR=$(
    { sed -n 's/^URIs:[[:space:]]*\(http[^ ]*debian\)[[:space:]]*$/\1/p' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null
      sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\(http[^ ]*debian\)[[:space:]]\+'"$suite"'[[:space:]].*/\2/p' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
    } | head -n1 || true)
  DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
fi
security_mirror=${DEBIAN_MIRROR%/debian}/debian-security

tarball="$cache/debian-$suite-minbase.tar"
mkdir -p "$cache"

if [ "$force" = 1 ] || [ ! -s "$tarball" ]; then
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs" "$tarball.tmp"' EXIT
  log "debootstrap $suite (minbase) from $DEBIAN_MIRROR"
  debootstrap --variant=minbase "$suite" "$rootfs" "$DEBIAN_MIRROR" \
    >"$cache/debootstrap.log" 2>&1 || {
      tail -n 30 "$cache/debootstrap.log" >&2; exit 1; }
  # Updates and security too, as on the host, so both stages install the
  # current point release of each library.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Keep images small: no docs/man pages/translations from later installs,
  # no cached .debs.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-rerank-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/01-rerank-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/*
  # /etc/resolv.conf and /etc/hostname come from the build host at run time.
  : >"$rootfs/etc/resolv.conf"
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
  trap - EXIT
  log "cached $tarball ($(du -h "$tarball" | cut -f1))"
else
  log "using cached $tarball"
fi

# Import: an empty container, the rootfs tarball unpacked into it (buildah add
# extracts local archives), the usual Debian image config, commit.
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$tarball" / >/dev/null
buildah config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 \
  --cmd /bin/bash \
  --label org.opencontainers.image.description="Debian $suite minbase (debootstrap, scripts/make-base-image.sh)" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
trap - EXIT
log "imported $image"
