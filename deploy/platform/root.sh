#!/usr/bin/env bash
# The Debian roots that deploy/check-platform.sh runs the checkout in, built once and cached:
#   run    debootstrap (minbase) of RELEASE for ARCH (arm64: --foreign, second stage under qemu-user), the
#          host's mirror, CA certificates and /etc/hosts; Debian's nodejs and npm (bookworm's is Node 18, where
#          setup.sh fetches Node 20 for the checkout); and the Debian packages that `deploy/setup.sh` installs (asked with --packages), so
#          that a warm run does not unpack them again (a cold run does, here, and fails on a missing name);
#          packages that setup.sh comes to need are added to the cached root, which is not rebuilt for them.
#   cross  an amd64 root of RELEASE with arm64 added (dpkg --add-architecture): crossbuild-essential-arm64,
#          libopencv-dev:arm64 and Debian's nodejs/npm/libnode-dev, to cross-compile the native addons for the
#          arm64 root against that root's own OpenCV and Node headers.
#   build  an amd64 root of RELEASE that builds emotiond's Debian packages (deploy/package/build.sh): the compiler,
#          libopencv-dev, debhelper and lintian; with ARCH arm64 also crossbuild-essential-arm64 and libopencv-dev:arm64
#          (a root per target: the two architectures' -dev packages are not all co-installable).
#   bare   minbase and CA certificates only: a fresh system that a package is installed on (deploy/package/test.sh).
#   boot   minbase with systemd, dbus and mosquitto: a fresh system booted with systemd-nspawn (deploy/package/test.sh).
# An emulated root's binaries run as a Raspberry Pi 4's CPU (QEMU_CPU=cortex-a72; qemu's default `max` has every
# extension a Pi lacks) unless QEMU_CPU is set.
# Usage: deploy/platform/root.sh CACHE RELEASE ARCH run|cross|build|bare|boot CHECKOUT   (prints the root's path; root only)
set -euo pipefail

CACHE="${1:?usage: root.sh CACHE RELEASE ARCH run|cross|build|bare|boot CHECKOUT}"
RELEASE="${2:?}"
ARCH="${3:?}"
KIND="${4:?}"
SRC="${5:?}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib/debian-root.sh"
say() { echo "root: $*" >&2; }

INCLUDE=ca-certificates
case "$KIND" in
  run)
    # Debian's nodejs and npm, as a user installs them (bookworm's is Node 18: setup.sh then fetches Node 20).
    PKGS="nodejs npm $(bash "$SRC/deploy/setup.sh" --packages)"
    ;;
  cross) PKGS="crossbuild-essential-arm64 nodejs npm libnode-dev python3 make pkg-config libopencv-dev:arm64" ;;
  build)
    PKGS="build-essential python3 make pkg-config patchelf file xz-utils dpkg-dev debhelper lintian opencv-data"
    if [ "$ARCH" = arm64 ]; then PKGS="$PKGS crossbuild-essential-arm64 libopencv-dev:arm64"; else PKGS="$PKGS libopencv-dev"; fi
    ;;
  bare) PKGS="" ;;
  boot)
    INCLUDE=ca-certificates,systemd,systemd-sysv,dbus
    PKGS="mosquitto mosquitto-clients"
    ;;
  *) echo "root.sh: kind must be run, cross, build, bare or boot" >&2; exit 64 ;;
esac
# A build root runs on this machine whatever ARCH it builds for.
ROOTARCH="$ARCH"
[ "$KIND" != build ] || ROOTARCH="$(dpkg --print-architecture)"
[ "$ROOTARCH" = "$(dpkg --print-architecture)" ] || export QEMU_CPU="${QEMU_CPU:-cortex-a72}"
# Not keyed by the package list: packages that setup.sh comes to need are added to the cached root.
KEY="$(printf '%s\n' "$RELEASE" "$ARCH" "$KIND" | cat - "${BASH_SOURCE[0]}" "$here/../lib/debian-root.sh" | sha256sum | cut -c1-12)"
ROOT="$CACHE/roots/$RELEASE-$ARCH-$KIND-$KEY"
LOG="$CACHE/logs/root-$RELEASE-$ARCH-$KIND.log"

mkdir -p "$CACHE/roots" "$CACHE/logs"
exec 9>"$CACHE/roots/.lock-$RELEASE-$ARCH-$KIND"
flock 9 # one build at a time; a second run waits and then reuses it

# apt-get install in root $1 (proc, dev mounted for it; services not started; lists dropped afterwards).
IN=""
unmount_in() {
  local m
  [ -n "$IN" ] || return 0
  for m in "$IN/dev/pts" "$IN/dev" "$IN/proc"; do
    if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
  done
  rm -f "$IN/usr/sbin/policy-rc.d" "$IN/etc/resolv.conf"
  IN=""
}
apt_install() {
  IN="$1"
  shift
  cp /etc/resolv.conf "$IN/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$IN/usr/sbin/policy-rc.d"
  chmod 0755 "$IN/usr/sbin/policy-rc.d"
  mount -t proc proc "$IN/proc"
  mount --bind /dev "$IN/dev"
  mount --bind /dev/pts "$IN/dev/pts"
  [ "$ROOTARCH" = "$(dpkg --print-architecture)" ] || py3compile_stub "$IN" on
  if [[ " $* " == *:arm64* ]] && ! chroot "$IN" dpkg --print-foreign-architectures | grep -qx arm64; then chroot "$IN" dpkg --add-architecture arm64; fi
  { chroot "$IN" env LANG=C.UTF-8 apt-get update -q \
    && chroot "$IN" env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 apt-get install -y -q --no-install-recommends "$@" \
    && chroot "$IN" apt-get clean; } >>"$LOG" 2>&1 || {
    tail -n 20 "$LOG" >&2
    [ "$ROOTARCH" = "$(dpkg --print-architecture)" ] || py3compile_stub "$IN" off
    return 1
  }
  rm -rf "$IN/var/lib/apt/lists"/*
  [ "$ROOTARCH" = "$(dpkg --print-architecture)" ] || py3compile_stub "$IN" off
  unmount_in
}
# Under qemu, each Python package's postinst byte-compiles all its modules (py3compile): scipy, sympy, networkx
# and matplotlib alone take most of an hour. While apt runs, py3compile is diverted to a no-op; Python compiles a
# module when it is first imported instead (nothing here imports them: python3-skimage is there for the demo's
# photo). The real py3compile is put back afterwards.
py3compile_stub() {
  local r="$1" f=/usr/bin/py3compile
  if [ "$2" = on ]; then
    chroot "$r" dpkg-divert --quiet --local --rename --divert "$f.real" --add "$f"
    printf '#!/bin/sh\nexit 0\n' >"$r$f"
    chmod 0755 "$r$f"
  else
    rm -f "$r$f"
    chroot "$r" dpkg-divert --quiet --local --rename --divert "$f.real" --remove "$f"
  fi
}
missing_in() {
  local p
  for p in $PKGS; do
    chroot "$1" dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
  done
}

if [ -f "$ROOT/.complete" ]; then
  missing="$(missing_in "$ROOT" | tr '\n' ' ')"
  if [ -n "${missing// /}" ]; then
    trap unmount_in EXIT
    say "adding $missing to $ROOT (log $LOG)"
    # shellcheck disable=SC2086 # a list of package names
    apt_install "$ROOT" $missing || exit 1
    trap - EXIT
  fi
  echo "$ROOT"
  exit 0
fi

BUILD="$CACHE/roots/build.$$"
cleanup() {
  local m
  unmount_in
  # What a stopped debootstrap left mounted (its second stage mounts /proc and /sys).
  for m in $(awk -v b="$BUILD/" 'index($2, b) == 1 { print $2 }' /proc/mounts | sort -r); do umount "$m" || umount -l "$m"; done
  rm -rf --one-file-system "$BUILD"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
started=$SECONDS
: >"$LOG"
say "building $ROOT (debootstrap $RELEASE/$ARCH from $(debian_mirror), then apt; log $LOG)"
if [ "$ROOTARCH" = "$(dpkg --print-architecture)" ]; then
  debootstrap --variant=minbase --include="$INCLUDE" "$RELEASE" "$BUILD" "$(debian_mirror)" >>"$LOG" 2>&1 \
    || { tail -n 20 "$LOG" >&2; exit 1; }
else
  # The second stage runs the root's own binaries: under qemu-user via binfmt_misc (check-platform.sh registers it).
  debootstrap --arch="$ARCH" --foreign --variant=minbase --include="$INCLUDE" "$RELEASE" "$BUILD" "$(debian_mirror)" >>"$LOG" 2>&1 \
    && chroot "$BUILD" /debootstrap/debootstrap --second-stage >>"$LOG" 2>&1 \
    || { tail -n 20 "$LOG" >&2; exit 1; }
fi
say "debootstrap done ($((SECONDS - started)) s)"

debian_sources "$BUILD" "$RELEASE"
debian_hosts "$BUILD"
debian_ca "$BUILD"
if [ "$ROOTARCH" != "$(dpkg --print-architecture)" ]; then
  # Under qemu every byte dpkg writes is emulated work: no fsync per file, no manual pages or translations.
  printf 'force-unsafe-io\n' >"$BUILD/etc/dpkg/dpkg.cfg.d/emotiond-check-unsafe-io"
  printf 'path-exclude=/usr/share/%s/*\n' man doc info locale >"$BUILD/etc/dpkg/dpkg.cfg.d/emotiond-check-nodoc"
  printf 'path-include=/usr/share/doc/*/copyright\n' >>"$BUILD/etc/dpkg/dpkg.cfg.d/emotiond-check-nodoc"
fi
# shellcheck disable=SC2086 # a list of package names
[ -z "$PKGS" ] || apt_install "$BUILD" $PKGS || exit 1
if [ "$KIND" = cross ]; then
  # Debian's node links add-ons against its shared libnode: the arm64 one (same version) to link against.
  libnode="$(chroot "$BUILD" dpkg-query -W -f='${Depends}' libnode-dev | grep -o 'libnode[0-9]\+' | head -n 1)"
  [ -n "$libnode" ] || { say "libnode-dev names no libnodeNNN package"; exit 1; }
  apt_install "$BUILD" "$libnode:arm64" || exit 1
fi
# npm uses its own CA list unless told: the system's, which has the host's extra CA in it.
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nfund=false\naudit=false\nupdate-notifier=false\n' >"$BUILD/root/.npmrc"

touch "$BUILD/.complete"
trap - EXIT
# Roots of other package lists or versions of this script are not used again.
for old in "$CACHE/roots/$RELEASE-$ARCH-$KIND"-*; do
  [ "$old" = "$ROOT" ] || rm -rf --one-file-system "$old"
done
mv "$BUILD" "$ROOT"
say "built $ROOT in $((SECONDS - started)) s ($(du -sh "$ROOT" | cut -f1))"
echo "$ROOT"
