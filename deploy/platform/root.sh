#!/usr/bin/env bash
# The Debian roots that deploy/check-platform.sh runs the checkout in, built once and cached:
#   run    debootstrap (minbase) of RELEASE for ARCH (arm64: --foreign, second stage under qemu-user), the
#          host's mirror, CA certificates and /etc/hosts; Debian's nodejs and npm where the release has Node
#          20.10+ (trixie; bookworm has 18, so check-platform.sh binds the host's Node 20 as a user installs
#          Node 20 first); and the Debian packages that `deploy/setup.sh` installs (asked with --packages), so
#          that a warm run does not unpack them again (a cold run does, here, and fails on a missing name).
#   cross  an amd64 root of RELEASE with arm64 added (dpkg --add-architecture): crossbuild-essential-arm64,
#          libopencv-dev:arm64 and Debian's nodejs/npm/libnode-dev, to cross-compile the native addons for the
#          arm64 root against that root's own OpenCV and Node headers.
# Usage: deploy/platform/root.sh CACHE RELEASE ARCH run|cross CHECKOUT   (prints the root's path; root only)
set -euo pipefail

CACHE="${1:?usage: root.sh CACHE RELEASE ARCH run|cross CHECKOUT}"
RELEASE="${2:?}"
ARCH="${3:?}"
KIND="${4:?}"
SRC="${5:?}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../lib/debian-root.sh"
say() { echo "root: $*" >&2; }

case "$KIND" in
  run)
    PKGS="$(bash "$SRC/deploy/setup.sh" --packages)"
    [ "$RELEASE" = bookworm ] || PKGS="nodejs npm $PKGS"
    ;;
  cross) PKGS="crossbuild-essential-arm64 nodejs npm libnode-dev python3 make pkg-config" ;;
  *) echo "root.sh: kind must be run or cross" >&2; exit 64 ;;
esac
KEY="$(printf '%s\n' "$RELEASE" "$ARCH" "$KIND" "$PKGS" | cat - "${BASH_SOURCE[0]}" "$here/../lib/debian-root.sh" | sha256sum | cut -c1-12)"
ROOT="$CACHE/roots/$RELEASE-$ARCH-$KIND-$KEY"

mkdir -p "$CACHE/roots" "$CACHE/logs"
exec 9>"$CACHE/roots/.lock-$RELEASE-$ARCH-$KIND"
flock 9 # one build at a time; a second run waits and then reuses it
if [ -f "$ROOT/.complete" ]; then
  echo "$ROOT"
  exit 0
fi

BUILD="$CACHE/roots/build.$$"
LOG="$CACHE/logs/root-$RELEASE-$ARCH-$KIND.log"
cleanup() {
  for m in "$BUILD/dev/pts" "$BUILD/dev" "$BUILD/proc"; do
    if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
  done
  rm -rf --one-file-system "$BUILD"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
started=$SECONDS
: >"$LOG"
say "building $ROOT (debootstrap $RELEASE/$ARCH from $(debian_mirror), then apt; log $LOG)"
if [ "$ARCH" = "$(dpkg --print-architecture)" ]; then
  debootstrap --variant=minbase --include=ca-certificates "$RELEASE" "$BUILD" "$(debian_mirror)" >>"$LOG" 2>&1 \
    || { tail -n 20 "$LOG" >&2; exit 1; }
else
  # The second stage runs the root's own binaries: under qemu-user via binfmt_misc (check-platform.sh registers it).
  debootstrap --arch="$ARCH" --foreign --variant=minbase --include=ca-certificates "$RELEASE" "$BUILD" "$(debian_mirror)" >>"$LOG" 2>&1 \
    && chroot "$BUILD" /debootstrap/debootstrap --second-stage >>"$LOG" 2>&1 \
    || { tail -n 20 "$LOG" >&2; exit 1; }
fi
say "debootstrap done ($((SECONDS - started)) s)"

debian_sources "$BUILD" "$RELEASE"
debian_hosts "$BUILD"
cp /etc/resolv.conf "$BUILD/etc/resolv.conf"
debian_ca "$BUILD"
# Packages must not start their services in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$BUILD/usr/sbin/policy-rc.d"
chmod 0755 "$BUILD/usr/sbin/policy-rc.d"
mount -t proc proc "$BUILD/proc"
mount --bind /dev "$BUILD/dev"
mount --bind /dev/pts "$BUILD/dev/pts"
apt_() { chroot "$BUILD" env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 apt-get "$@" >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; exit 1; }; }
if [ "$KIND" = cross ]; then chroot "$BUILD" dpkg --add-architecture arm64; fi
apt_ update -q
# shellcheck disable=SC2086 # a list of package names
apt_ install -y -q --no-install-recommends $PKGS
if [ "$KIND" = cross ]; then apt_ install -y -q --no-install-recommends libopencv-dev:arm64; fi
apt_ clean
umount "$BUILD/dev/pts" "$BUILD/dev" "$BUILD/proc"
rm -rf "$BUILD/var/lib/apt/lists"/* "$BUILD/etc/resolv.conf"
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
