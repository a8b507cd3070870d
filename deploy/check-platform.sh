#!/usr/bin/env bash
# Installs and runs this checkout on a fresh Debian root of another release or CPU, as a user would:
#   1. makes (or reuses, cached) a Debian root of RELEASE for ARCH (deploy/platform/root.sh) and copies the
#      checkout's files (git ls-files: no node_modules, no build) into a throw-away overlay over it;
#   2. runs the README's first command there, `deploy/setup.sh && npm run demo`, and waits for a
#      face_appeared event from the demo clip;
#   3. amd64: runs the README's test command, `deploy/setup.sh --test && npm test`, unless --skip-tests
#      (with ../shared/data bound read-only beside the copy when the host has it, so its tests run);
#      both: `npm run eval -- --quick` on a smoke set cut from the evaluation data (4 CK+ sequences, 60
#      FER2013 PublicTest images). amd64 keeps its labels; arm64 must give the same labels as amd64 did.
#   4. prints one summary line: release, arch, setup time, time to the first event, OpenCV, Node, compiler.
# arm64 runs under qemu-user (binfmt_misc, registered here; /sys is not mounted: ONNX Runtime's cpuinfo
# segfaults on the host's x86 topology) as a Raspberry Pi 4's CPU, QEMU_CPU=cortex-a72 (cortex-a53: Pi 3 and
# Zero 2 W; cortex-a76: Pi 5), everywhere: the root's build, setup, the demo, the evaluation. Its native addons (the OpenCV binding, unix-dgram) are
# cross-compiled in an amd64 root of the same release against libopencv-dev:arm64 and Debian's Node headers
# (crossbuild-essential-arm64), then copied into the arm64 checkout, where setup.sh finds them built and does
# everything else natively-emulated (a compile under qemu would take hours). Emulated timings mean little.
# bookworm has Node 18: the root has Debian's nodejs and npm only, as a stock Debian 12 or Pi OS Bookworm after
# `apt install git nodejs npm`, and setup.sh fetches Node 20 for the checkout (deploy/node.lock). bookworm/arm64 is
# not checked here (the cross-compiled add-ons are built against Debian's Node headers, 18 there): the Debian
# package covers it (npm run check:packages).
#
# Needs root, debootstrap, overlayfs; arm64 also qemu-user-static and binfmt-support. Caches roots, the
# cross-built modules, npm's and apt's downloads in --cache (default /var/cache/emotiond-platform).
# --timeout: minutes that setup and the demo may take together (default 180: the binding's build alone takes
# 10 minutes on two idle cores, and much longer on a loaded machine).
# Usage: sudo deploy/check-platform.sh --release bookworm|trixie --arch amd64|arm64 [--cache DIR] [--skip-tests] [--timeout MIN] [--keep]
set -uo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RELEASE="" ARCH="" CACHE=/var/cache/emotiond-platform SKIP_TESTS=0 KEEP=0 LIMIT_MIN=180
usage() { sed -n '/^# Usage:/s/^# //p' "${BASH_SOURCE[0]}" >&2; exit 64; }
while [ $# -gt 0 ]; do
  case "$1" in
    --release) RELEASE="${2:-}"; shift 2 ;;
    --arch) ARCH="${2:-}"; shift 2 ;;
    --cache) CACHE="${2:-}"; shift 2 ;;
    --skip-tests) SKIP_TESTS=1; shift ;;
    --keep) KEEP=1; shift ;;
    --timeout) LIMIT_MIN="${2:-}"; shift 2 ;;
    *) usage ;;
  esac
done
case "$RELEASE" in bookworm | trixie) ;; *) usage ;; esac
case "$ARCH" in amd64 | arm64) ;; *) usage ;; esac
if [ "$RELEASE:$ARCH" = bookworm:arm64 ]; then
  echo "check-platform: bookworm/arm64 is checked through the Debian package (npm run check:packages), not here" >&2
  exit 64
fi
[ -n "$CACHE" ] && [[ "$LIMIT_MIN" =~ ^[1-9][0-9]*$ ]] || usage
. "$SRC/deploy/platform/lib.sh"
# The checkout's copy in the root: under /srv, which every uid may enter (/root is 0700), as the sandbox
# test runs the daemon as the unit's unprivileged user from the checkout.
CO=/srv/emotiond

START=$SECONDS
HOSTARCH="$(dpkg --print-architecture)"
MODE=native EMULATED_AS=""
[ "$ARCH" = "$HOSTARCH" ] || { MODE=emulated; EMULATED_AS="$EMU_CPU"; }
# Filled in as the run goes; printed by summary() on every exit path.
RESULT="not run" SETUP_S="-" EVENT_S="-" OPENCV="-" NODEV="-" CC_V="-" TESTS="-" EVAL="-" ROOTS="-"
trap summary EXIT # replaced by teardown once there is a root to tear down

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mounts)"
for tool in debootstrap chroot flock mount git; do
  command -v "$tool" >/dev/null || die "$tool not found (apt install debootstrap util-linux git)"
done
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "the kernel has no overlayfs"
if [ "$ARCH" = arm64 ] && [ "$HOSTARCH" != arm64 ]; then binfmt_arm64 || die "cannot run arm64 binaries: $BINFMT_WHY"; fi
mkdir -p "$CACHE/logs" "$CACHE/downloads/apt-$RELEASE-$ARCH" "$CACHE/downloads/npm" "$CACHE/eval"
LOGS="$CACHE/logs/$RELEASE-$ARCH"
mkdir -p "$LOGS"

WORK="$(mktemp -d /var/tmp/emotiond-platform.XXXXXX)"
trap teardown EXIT
# A stopped run still unmounts (the EXIT trap runs on exit, not on a signal).
trap 'RESULT="interrupted"; exit 130' INT
trap 'RESULT="terminated"; exit 143' TERM

# 1. The roots and the throw-away overlay.
t=$SECONDS
if [ "$ARCH" = arm64 ] && [ "$HOSTARCH" != arm64 ]; then
  # The emulated root (mostly one emulated dpkg: one core) is built while the cross root and the addons are
  # (native, both cores).
  root_build "$ARCH" run
  RUN_PID=$BUILD_PID
  root_build "$HOSTARCH" cross
  root_wait "$BUILD_PID" "$HOSTARCH" cross
  CROSS="$ROOT_MADE"
  t2=$SECONDS
  cross_addons || die "cross-compiling the native addons failed (see $LOGS/cross.log)"
  say "cross-compiled addons ready ($((SECONDS - t2)) s): $(tr '\n' ' ' <"$ADDONS/addons")"
  root_wait "$RUN_PID" "$ARCH" run
else
  root_build "$ARCH" run
  root_wait "$BUILD_PID" "$ARCH" run
fi
ROOT="$ROOT_MADE"
ROOTS="$((SECONDS - t)) s"
say "roots ready ($ROOTS)"
overlay_chroot "$ROOT" run "$ARCH"
M="$OVL"
bind_dir "$CACHE/downloads/apt-$RELEASE-$ARCH" "$M/var/cache/apt/archives"
bind_dir "$CACHE/downloads/npm" "$M/root/.npm"
# The shared evaluation data beside the checkout, read-only, as ../shared/data (the tests that need it run).
SHARED=absent
if [ -d "$SRC/../shared/data" ]; then
  bind_dir "$(cd "$SRC/../shared/data" && pwd)" "$M/srv/shared/data" && mount -o remount,bind,ro "$M/srv/shared/data" && SHARED=bound
fi

# The checkout as git has it (tracked and untracked files that git does not ignore), at $CO.
mkdir -p "$M$CO"
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
  | tar --null -T - -cf -) | tar -xf - -C "$M$CO" || die "could not copy the checkout"

# arm64 under emulation: node_modules from the arm64 npm with the cross-compiled addons put in (cached).
if [ -n "${CROSS:-}" ]; then
  t=$SECONDS
  arm64_modules || die "npm ci --ignore-scripts in the arm64 root failed (see $LOGS/modules.log)"
  cp -a "$MODS/node_modules" "$M$CO/" && touch "$M$CO/node_modules/.package-lock.json" || die "could not copy node_modules"
  say "node_modules with the cross-compiled addons ready ($((SECONDS - t)) s)"
fi

# 2. The README's first command.
say "running 'deploy/setup.sh && npm run demo' in the $RELEASE/$ARCH root ($MODE; log $LOGS/demo.log)"
run_demo $((LIMIT_MIN * 60)) || die "$DEMO_WHY"
OPENCV="$(inside "pkg-config --modversion opencv4" 2>/dev/null || echo '?')"
# The node npm run uses: the checkout's own (node_modules/.bin/node) where setup.sh fetched one.
NODEV="$(inside "PATH=$CO/node_modules/.bin:\$PATH node --version" 2>/dev/null || echo '?')"
if [ -n "${CROSS:-}" ]; then CC_V="$CROSS_CC"; else CC_V="g++ $(inside "g++ -dumpfullversion" 2>/dev/null || echo '?')"; fi
say "setup ${SETUP_S}, first face_appeared ${EVENT_S} after the demo started"

# 3. The smoke evaluation and, on amd64, the README's test command.
run_eval
if [ "$ARCH" = amd64 ]; then
  if [ "$SKIP_TESTS" -eq 1 ]; then TESTS="skipped (--skip-tests)"; else run_tests; fi
else
  TESTS="not run (emulated)"
fi
[ "$RESULT" = "not run" ] && RESULT=ok
[[ "$TESTS" == failed* ]] && RESULT=FAILED
[[ "$EVAL" == differ* || "$EVAL" == failed* ]] && RESULT=FAILED
[ "$RESULT" = ok ]
