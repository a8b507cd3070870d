#!/usr/bin/env bash
# The installed service under a real systemd: boots a Debian container of the host's release (systemd as PID 1) with
# systemd-nspawn, installs this checkout in it with deploy/install.sh from a copy owned by uid 1000, and
# runs deploy/live/checks.sh against the real service (start, MQTT, credentials, watchdog, restarts, start
# limit, journal priorities, several cameras, update). Ends with "N passed, N failed".
#
# Needs root, debootstrap, systemd-nspawn (Debian: systemd-container), nsenter, overlayfs, a built checkout
# (npm run build, node_modules/ for this CPU), models/*.onnx, cascades/haarcascade_frontalface_default.xml and
# deploy/demo/demo-faces.avi (deploy/setup.sh leaves all of them in a checkout). The container
# root is cached in $EMOTIOND_LIVE_CACHE (default /var/cache/emotiond-live); the first run builds it.
# The host's node and npm are bound into the container (Debian 12 has Node 18); on Debian 13, where node and npm
# are Debian's, also /usr/share/nodejs (npm's own modules), and the root has libnode.
#
# Usage: sudo deploy/test-live.sh [--keep]     --keep: leave the container running to look around
set -uo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${EMOTIOND_LIVE_CACHE:-/var/cache/emotiond-live}"
KEEP=0
case "${1:-}" in
  --keep) KEEP=1 ;;
  "") ;;
  *) echo "usage: test-live.sh [--keep]" >&2; exit 64 ;;
esac
START=$SECONDS

# Any failure before the checks run counts as one failed check.
abort() {
  echo "not ok - live test setup: $*"
  echo "0 passed, 1 failed"
  exit 1
}

[ "$(id -u)" -eq 0 ] || abort "needs root (debootstrap, mounts, systemd-nspawn)"
for tool in debootstrap systemd-nspawn nsenter flock pgrep node; do
  command -v "$tool" >/dev/null || abort "$tool not found (apt install debootstrap systemd-container util-linux)"
done
# The cascade too: the container root has OpenCV's libraries but not opencv-data, so the service finds it in the
# checkout's cascades/ only (setup.sh copies it there).
for f in dist/src/cli/main.js node_modules deploy/demo/demo-faces.avi cascades/haarcascade_frontalface_default.xml; do
  [ -e "$SRC/$f" ] || abort "$SRC/$f is missing (deploy/setup.sh makes it)"
done
compgen -G "$SRC/models/*.onnx" >/dev/null || abort "no models/*.onnx in $SRC"
NODE="$(readlink -f "$(command -v node)")"
NPM_DIR=""
if command -v npm >/dev/null; then NPM_DIR="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"; fi

# shellcheck source=deploy/lib/nspawn.sh
. "$SRC/deploy/lib/nspawn.sh"
ROOTFS="$(bash "$SRC/deploy/live/rootfs.sh" "$CACHE" "$SRC")" || abort "could not build the container root (see $CACHE/*.log)"
echo "# container root $ROOTFS ($((SECONDS - START)) s)"

# A throw-away layer over the cached root: the run changes nothing in the cache.
WORK="$(mktemp -d /var/tmp/emotiond-live.XXXXXX)"
MERGED="$WORK/root"
NSPAWN_PID=""
teardown() {
  nspawn_stop
  # Processes that entered the container may hold its root for a moment after it is gone.
  for _ in $(seq 1 20); do
    mounted || break
    umount "$MERGED" 2>/dev/null || sleep 0.5
  done
  ! mounted || umount -l "$MERGED"
  rm -rf --one-file-system "$WORK"
}
mounted() { grep -qs " $MERGED overlay " /proc/mounts; }
if [ "$KEEP" -eq 0 ]; then trap teardown EXIT; fi
# A stopped run still powers the container off and unmounts (the EXIT trap runs on exit, not on a signal).
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$WORK/upper" "$WORK/work" "$MERGED"
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$WORK/upper,workdir=$WORK/work" "$MERGED" || abort "overlay mount failed"

# The checkout as a user clones it: owned by uid 1000 (item 1 of issue 13: the install must not keep that).
CHECKOUT=/home/user/emotiond
mkdir -p "$MERGED$CHECKOUT"
# -H: a top-level entry that is a symlink (a worktree's node_modules) is copied as what it points to, which the
# container could not reach; links inside are kept as they are.
for p in dist node_modules package.json package-lock.json src models cascades config deploy; do
  [ -e "$SRC/$p" ] && cp -a -H "$SRC/$p" "$MERGED$CHECKOUT/"
done
rm -rf "$MERGED$CHECKOUT/dist/test"
chown -R 1000:1000 "$MERGED/home/user"
mkdir -p "$MERGED/usr/local/share/emotiond-live" "$MERGED/root/live"
install -m 0644 "$SRC/deploy/demo/demo-faces.avi" "$MERGED/usr/local/share/emotiond-live/"
install -m 0755 "$SRC/deploy/live/checks.sh" "$MERGED/root/live/"

BINDS=(--bind-ro="$NODE:/usr/bin/node")
[ -z "$NPM_DIR" ] || BINDS+=(--bind-ro="$NPM_DIR:/usr/lib/node_modules/npm")
case "$NPM_DIR" in /usr/share/nodejs/*) BINDS+=(--bind-ro=/usr/share/nodejs) ;; esac
nspawn_boot "$MERGED" "$WORK/nspawn.log" "emotiond-live-$$" "${BINDS[@]}" || abort "$NSPAWN_WHY"
inside() { nspawn_inside "$@"; }
echo "# booted $(inside systemctl --version | head -n 1) ($((SECONDS - START)) s)"

# In the background, so that a signal to this script is handled at once (wait returns), not after the checks.
inside timeout 1200 env CHECKOUT="$CHECKOUT" CLIP=/usr/local/share/emotiond-live/demo-faces.avi bash /root/live/checks.sh \
  | tee "$WORK/checks.log" &
wait $!
passed="$(grep -c '^ok ' "$WORK/checks.log")"
failed="$(grep -c '^not ok ' "$WORK/checks.log")"
if ! grep -q '^checks done$' "$WORK/checks.log"; then
  echo "not ok - checks.sh did not finish"
  failed=$((failed + 1))
fi
echo "# took $((SECONDS - START)) s"
if [ "$KEEP" -eq 1 ]; then
  echo "# kept: nsenter -t $INIT -a -r -w bash   (remove: kill $NSPAWN_PID; umount $MERGED; rm -rf $WORK)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
