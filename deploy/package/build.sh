#!/usr/bin/env bash
# Builds emotiond's Debian package for one release and CPU, on this amd64 Debian machine:
#   emotiond_<version>-<revision>+deb12_<arch>.deb (bookworm) or ...+deb13_<arch>.deb (trixie), arch amd64 or arm64.
# It compiles the daemon (tsc, into a scratch folder: the checkout's dist/ is not touched), fetches the pinned Node
# for the target from the npm registry (deploy/node.lock, checked), then runs deploy/package/binary.sh in a cached
# Debian root of that release (deploy/platform/root.sh build: the release's OpenCV, debhelper and lintian; arm64 is
# cross-compiled there with crossbuild-essential-arm64 against libopencv-dev:arm64), or, with --host, on this machine
# (CI: its own release and CPU, with libopencv-dev, debhelper and lintian installed: deploy/setup.sh --test).
# Its last line: "package RELEASE/ARCH: ok, SIZE (.deb), installed SIZE, lintian clean (N info tags) | PATH | TIME";
# the lintian report lies beside the .deb (.lintian), the build's log in CACHE/logs/package-RELEASE-ARCH.log.
#
# Caches (--cache, default /var/cache/emotiond-package): roots/, node/ (the Node builds and their downloads),
# modules/ (the production node_modules per release, CPU and lockfile: the OpenCV binding compiles in about 10
# minutes on 2 cores), downloads/ (npm's cache). A warm rebuild takes about a minute.
# Usage: sudo deploy/package/build.sh --release bookworm|trixie --arch amd64|arm64 [--host [--reuse-modules]] [--out DIR]
#          [--version UPSTREAM] [--revision N] [--cache DIR]
#   --reuse-modules  (CI) the checkout's node_modules, pruned, instead of a second compile of the OpenCV binding:
#              only where its add-ons were built for the packaged Node's ABI (NODE_MODULE_VERSION) on this machine
#   --out      where the .deb goes (default deploy/package/out in the checkout)
#   --version  upstream version (default package.json's); --revision the package revision (default 1)
set -uo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=deploy/lib/package-names.sh
. "$SRC/deploy/lib/package-names.sh"
RELEASE="" ARCH="" HOST=0 REUSE=0 OUTDIR="$SRC/deploy/package/out" UPSTREAM="" REVISION=1 CACHE=/var/cache/emotiond-package
usage() { sed -n '/^# Usage:/,/^#   --version/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 64; }
while [ $# -gt 0 ]; do
  case "$1" in
    --release) RELEASE="${2:-}"; shift 2 ;;
    --arch) ARCH="${2:-}"; shift 2 ;;
    --host) HOST=1; shift ;;
    --reuse-modules) REUSE=1; shift ;;
    --out) OUTDIR="${2:-}"; shift 2 ;;
    --version) UPSTREAM="${2:-}"; shift 2 ;;
    --revision) REVISION="${2:-}"; shift 2 ;;
    --cache) CACHE="${2:-}"; shift 2 ;;
    *) usage ;;
  esac
done
DEBN="$(deb_suffix "$RELEASE")" || usage
case "$ARCH" in amd64) NODE_ARCH=x64 ;; arm64) NODE_ARCH=arm64 ;; *) usage ;; esac
[ -n "$OUTDIR" ] && [ -n "$CACHE" ] && [[ "$REVISION" =~ ^[0-9]+$ ]] || usage
[ -n "$UPSTREAM" ] || UPSTREAM="$(node -p 'require(process.argv[1]).version' "$SRC/package.json")"
[[ "$UPSTREAM" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || { echo "build.sh: bad version $UPSTREAM" >&2; exit 64; }
VERSION="$UPSTREAM-$REVISION+$DEBN"
HOSTARCH="$(dpkg --print-architecture)"
START=$SECONDS
RESULT="not built" DEB=""
mkdir -p "$OUTDIR" "$CACHE/logs" "$CACHE/modules" "$CACHE/downloads/npm" "$CACHE/node"
OUTDIR="$(cd "$OUTDIR" && pwd)"
LOG="$CACHE/logs/package-$RELEASE-$ARCH.log"

# deploy/platform/lib.sh: the overlay, mounts and chroot helpers check-platform.sh uses (its globals set here).
# shellcheck disable=SC2034 # read by lib.sh
KEEP=0 TESTS_PID="" BUILDS=() CO=/work M=""
# shellcheck source=deploy/platform/lib.sh
. "$SRC/deploy/platform/lib.sh"
# shellcheck source=deploy/lib/node-dist.sh
. "$SRC/deploy/lib/node-dist.sh"
# shellcheck source=deploy/lib/checkout.sh
. "$SRC/deploy/lib/checkout.sh"
summary() { echo "package $RELEASE/$ARCH: $RESULT${DEB:+ | $DEB} | $((SECONDS - START)) s"; }
say() { echo "build.sh: $*" >&2; }
# A check that fails before there is anything to tear down still prints its summary line (check.sh reads it).
trap summary EXIT

[ "$(id -u)" -eq 0 ] || die "needs root (a Debian root, mounts, chroot; dpkg-deb owns files as root)"
for tool in node npm flock mount; do command -v "$tool" >/dev/null || die "$tool not found"; done
if [ "$HOST" -eq 1 ]; then
  [ "$ARCH" = "$HOSTARCH" ] || die "--host builds for this machine's CPU ($HOSTARCH) only"
  [ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = "$RELEASE" ] || die "--host: this machine is not Debian $RELEASE"
  for tool in dh_installsystemd lintian dpkg-shlibdeps patchelf g++ file; do
    command -v "$tool" >/dev/null || die "--host: $tool not found (deploy/setup.sh --test installs debhelper, lintian)"
  done
  [ -f /usr/include/opencv4/opencv2/core.hpp ] || die "--host: libopencv-dev is not installed"
fi
[ -f "$SRC/node_modules/typescript/bin/tsc" ] || die "no $SRC/node_modules/typescript: the checkout is not set up (deploy/setup.sh)"

WORK="$(mktemp -d /var/tmp/emotiond-package.XXXXXX)"
trap teardown EXIT
trap 'RESULT="interrupted"; exit 130' INT
trap 'RESULT="terminated"; exit 143' TERM
: >"$LOG"

# 1. The checkout's files the package is made of, and the daemon compiled into them.
APP="$WORK/app"
mkdir -p "$APP/deploy" "$APP/src/http" "$APP/models" "$APP/config"
[ -f "$SRC/deploy/demo/demo-faces.avi" ] || bash "$SRC/deploy/make-demo-clip.sh" >>"$LOG" 2>&1 || die "no demo clip (deploy/make-demo-clip.sh needs ffmpeg)"
cp "$SRC/package.json" "$SRC/package-lock.json" "$APP/"
cp -a "$SRC/src/http/static" "$APP/src/http/"
cp "$SRC"/models/*.onnx "$APP/models/" || die "no models/*.onnx"
for f in "$SRC"/models/*.onnx.json; do [ ! -f "$f" ] || cp "$f" "$APP/models/"; done
cp "$SRC/config/demo.json" "$SRC/config/emotiond.example.json" "$APP/config/"
cp -a "$SRC/deploy/npm-ci.sh" "$SRC/deploy/node.lock" "$SRC/deploy/README-ops.md" "$SRC/deploy/emotiond.service" "$SRC/deploy/emotiond@.service" "$SRC/deploy/package" "$APP/deploy/"
rm -rf "$APP/deploy/package/out"
mkdir -p "$APP/deploy/demo" && cp "$SRC/deploy/demo/demo-faces.avi" "$APP/deploy/demo/"
say "tsc into the package's tree"
(cd "$SRC" && node node_modules/typescript/bin/tsc -p src/tsconfig.json --outDir "$APP/dist" --sourceMap false) >>"$LOG" 2>&1 || die "tsc failed (see $LOG)"
[ -f "$APP/dist/src/cli/main.js" ] || die "tsc wrote no dist/src/cli/main.js"
REV="$(cd "$SRC" && git describe --always --dirty 2>/dev/null || echo unknown)"

# 2. Node: the target's (packaged; its headers for the add-ons) and this machine's (runs npm and node-gyp).
node_dist "$NODE_ARCH" "$CACHE/node/$NODE_ARCH" "$CACHE/node/downloads" 2>>"$LOG" || die "could not get Node for $NODE_ARCH (see $LOG)"
BUILD_ARCH="$(node_dist_arch "$HOSTARCH")" || die "no Node build for $HOSTARCH"
node_dist "$BUILD_ARCH" "$CACHE/node/$BUILD_ARCH" "$CACHE/node/downloads" 2>>"$LOG" || die "could not get Node for $BUILD_ARCH (see $LOG)"
# npm's own CA list lacks what the system trusts beyond the public CAs (a proxy's, added to the system's list).
CAFILE=""
[ ! -f /etc/ssl/certs/ca-certificates.crt ] || CAFILE=/etc/ssl/certs/ca-certificates.crt
NPM_DIR="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
[ -f "$NPM_DIR/bin/npm-cli.js" ] || die "no npm-cli.js in $NPM_DIR"

# 3. The build environment and binary.sh in it. node_modules are cached per lockfile, build script, Node and root.
modules_key() { cat "$SRC/package-lock.json" "$SRC/deploy/npm-ci.sh" "$SRC/deploy/node.lock" <(grep '^MODULES_FORMAT=' "$SRC/deploy/package/modules.sh") <(echo "$RELEASE $ARCH $1") | sha256sum | cut -c1-12; }
run_env=(ARCH="$ARCH" RELEASE="$RELEASE" VERSION="$VERSION" SOURCE_REV="emotiond $REV" HOME=/root LANG=C.UTF-8)
REUSE_DIR=""
if [ "$REUSE" -eq 1 ]; then
  [ "$HOST" -eq 1 ] || die "--reuse-modules goes with --host"
  abi="$("$CACHE/node/$BUILD_ARCH/bin/node" -p process.versions.modules)"
  modules_built "$SRC" || die "--reuse-modules: $SRC/node_modules is not built or older than package-lock.json (deploy/setup.sh)"
  [ "$(node -p process.versions.modules)" = "$abi" ] || die "--reuse-modules: this machine's node is ABI $(node -p process.versions.modules), the packaged Node $abi"
  REUSE_DIR="$SRC/node_modules"
fi
if [ "$HOST" -eq 1 ]; then
  MODULES="$CACHE/modules/$RELEASE-$ARCH-host-$(modules_key "host $(dpkg-query -W -f='${Version}' libopencv-core-dev 2>/dev/null)")"
  # The checkout's modules change with it: not cached.
  [ -z "$REUSE_DIR" ] || MODULES="$WORK/modules-reused"
  say "building on this machine (log $LOG)"
  env -i PATH="$CACHE/node/$BUILD_ARCH/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "${run_env[@]}" \
    APP="$APP" MODULES="$MODULES" NODE_TARGET="$CACHE/node/$NODE_ARCH" BUILD_NODE="$CACHE/node/$BUILD_ARCH/bin/node" \
    OUT="$WORK/out" WORK_DIR="$WORK/b" npm_config_cache="$CACHE/downloads/npm" ${CAFILE:+npm_config_cafile="$CAFILE"} REUSE_MODULES="$REUSE_DIR" \
    nice -n 10 bash "$APP/deploy/package/binary.sh" >>"$LOG" 2>&1 || die "binary.sh failed (see $LOG)"
else
  say "the $RELEASE build root for $ARCH (deploy/platform/root.sh; log $CACHE/logs/root-$RELEASE-$ARCH-build.log)"
  ROOT="$(bash "$SRC/deploy/platform/root.sh" "$CACHE" "$RELEASE" "$ARCH" build "$SRC")" || die "could not build the $RELEASE root for $ARCH"
  MODULES_HOST="$CACHE/modules/$RELEASE-$ARCH-$(modules_key "$ROOT")"
  overlay_chroot "$ROOT" build "$HOSTARCH"
  M="$OVL"
  bind_dir "$WORK" "$M/work"
  bind_dir "$CACHE/node" "$M/opt/emotiond-node"
  bind_dir "$NPM_DIR" "$M/opt/npm"
  bind_dir "$CACHE/downloads/npm" "$M/root/.npm"
  bind_dir "$CACHE/modules" "$M/var/cache/emotiond-modules"
  mkdir -p "$WORK/bin"
  printf '#!/bin/sh\nexec node /opt/npm/bin/npm-cli.js "$@"\n' >"$WORK/bin/npm"
  printf '#!/bin/sh\nexec node /opt/npm/bin/npx-cli.js "$@"\n' >"$WORK/bin/npx"
  chmod 0755 "$WORK/bin/npm" "$WORK/bin/npx"
  say "building in $ROOT (log $LOG)"
  in_root "$M" "env PATH=/opt/emotiond-node/$BUILD_ARCH/bin:/work/bin:\$PATH $(printf '%q ' "${run_env[@]}") APP=/work/app \
    MODULES=/var/cache/emotiond-modules/$(basename "$MODULES_HOST") NODE_TARGET=/opt/emotiond-node/$NODE_ARCH \
    BUILD_NODE=/opt/emotiond-node/$BUILD_ARCH/bin/node OUT=/work/out WORK_DIR=/work/b bash /work/app/deploy/package/binary.sh" \
    >>"$LOG" 2>&1 || die "binary.sh failed in the $RELEASE root (see $LOG)"
  stop_inside "$M"
fi

# 4. The .deb and its lintian report into --out.
built="$WORK/out/emotiond_${VERSION}_$ARCH.deb"
[ -f "$built" ] || die "binary.sh made no $(basename "$built")"
cp "$built" "$WORK/out/emotiond_${VERSION}_$ARCH.lintian" "$OUTDIR/" || die "could not copy into $OUTDIR"
DEB="$OUTDIR/$(basename "$built")"
size_mb="$(du -m --apparent-size "$DEB" | cut -f1)"
installed_kb="$(dpkg-deb -f "$DEB" Installed-Size)"
RESULT="ok, $(numfmt --to=iec --suffix=B "$(stat -c %s "$DEB")") (.deb), installed $((installed_kb / 1024)) MB, lintian clean ($(grep -c '^[IP]:' "$OUTDIR/emotiond_${VERSION}_$ARCH.lintian" || true) info tags)"
[ "$size_mb" -le 60 ] || RESULT="FAILED: $(basename "$DEB") is $size_mb MB (> 60)"
[[ "$RESULT" == ok* ]]
