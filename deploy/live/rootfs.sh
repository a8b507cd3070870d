#!/usr/bin/env bash
# The Debian root that deploy/test-live.sh boots, built once and cached: debootstrap (minbase, systemd) of the
# host's own release (bookworm or trixie; bookworm on any other host), mosquitto, and the Debian packages of the
# libraries that the checkout's native modules and the host's node link against (OpenCV for the binding,
# Debian 13's libnode for its node; onnxruntime brings its own). Node.js is not in it: test-live.sh binds the
# host's, so the root must be of the release that the binding and node were built on.
# Usage: deploy/live/rootfs.sh CACHE_DIR CHECKOUT   (prints the root's path; root only)
set -euo pipefail

CACHE="${1:?usage: rootfs.sh CACHE_DIR CHECKOUT}"
SRC="${2:?usage: rootfs.sh CACHE_DIR CHECKOUT}"
SUITE="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
case "$SUITE" in bookworm | trixie) ;; *) SUITE=bookworm ;; esac
say() { echo "rootfs: $*" >&2; }

# debian_mirror, debian_sources, debian_hosts (the host's mirror and sources, so that the libraries match the ones
# the binding was built with).
. "$(dirname "${BASH_SOURCE[0]}")/../lib/debian-root.sh"

# Debian packages that hold the shared libraries of the checkout's native modules and of the host's node (as
# resolved on the host; Debian 13's node is linked to libnode115). Both the path ldd gives and its target are
# asked: with merged /usr, a package may own either. find -H: node_modules may be a symlink (a worktree).
runtime_packages() {
  local libs node
  node="$(readlink -f "$(command -v node)")"
  libs="$({ find -H "$SRC/node_modules" -name '*.node' -path '*/build/Release/*' -print0 | xargs -0 -r ldd; ldd "$node"; } 2>/dev/null \
    | awk '$3 ~ /^\// { print $3 }' | sort -u || true)"
  [ -n "$libs" ] || return 0
  # shellcheck disable=SC2086,SC2046 # one path a word
  dpkg -S $libs $(readlink -f $libs) 2>/dev/null | grep -v '^diversion by ' | cut -d: -f1 | tr ',' '\n' | sed 's/^ *//' | grep -v '^libc6$' | sort -u || true
}

# Without the binding built there is nothing to find its libraries from, and every check would fail later, less clearly.
[ -n "$(find -H "$SRC/node_modules" -name opencv4nodejs.node -path '*/build/Release/*' -print -quit 2>/dev/null)" ] \
  || { say "no built OpenCV binding under $SRC/node_modules (deploy/setup.sh, or npm ci)"; exit 1; }
PKGS="mosquitto mosquitto-clients $(runtime_packages | tr '\n' ' ')"
ARCH="$(dpkg --print-architecture)"
KEY="$(printf '%s\n' "$SUITE" "$ARCH" "$PKGS" | cat - "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)"
ROOT="$CACHE/$SUITE-$ARCH-$KEY"

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # one build at a time; a second run waits and then reuses it
if [ -f "$ROOT/.complete" ]; then
  echo "$ROOT"
  exit 0
fi

BUILD="$CACHE/build.$$"
cleanup() {
  mountpoint -q "$BUILD/proc" && umount "$BUILD/proc"
  rm -rf "$BUILD"
}
trap cleanup EXIT
say "building $ROOT (debootstrap $SUITE from $(debian_mirror), then apt: a few minutes, once)"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates "$SUITE" "$BUILD" "$(debian_mirror)" >"$CACHE/debootstrap.log" 2>&1 \
  || { tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }

# The host's sources (with updates and security), so apt picks the same library versions.
debian_sources "$BUILD" "$SUITE"
cp /etc/resolv.conf "$BUILD/etc/resolv.conf"
# Packages must not start their services in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$BUILD/usr/sbin/policy-rc.d"
chmod 0755 "$BUILD/usr/sbin/policy-rc.d"
mount -t proc proc "$BUILD/proc"
# shellcheck disable=SC2086 # a list of package names
{ chroot "$BUILD" apt-get update -q && DEBIAN_FRONTEND=noninteractive chroot "$BUILD" apt-get install -y -q --no-install-recommends $PKGS; } \
  >"$CACHE/apt.log" 2>&1 || { tail -n 20 "$CACHE/apt.log" >&2; exit 1; }
chroot "$BUILD" apt-get clean
umount "$BUILD/proc"
rm -rf "$BUILD/var/lib/apt/lists"/* "$BUILD/usr/sbin/policy-rc.d" "$BUILD/etc/resolv.conf"

# localhost must resolve (minbase has no /etc/hosts); npm comes bound from the host with node.
debian_hosts "$BUILD"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$BUILD/usr/bin/npm"
touch "$BUILD/.complete"
trap - EXIT
# Roots of other package lists or versions of this script are not used again.
for old in "$CACHE/$SUITE"-*; do
  [ "$old" = "$ROOT" ] || rm -rf "$old"
done
mv "$BUILD" "$ROOT"
say "built $ROOT ($(du -sh "$ROOT" | cut -f1))"
echo "$ROOT"
