#!/usr/bin/env bash
# The production node_modules of emotiond's Debian package, for its release and CPU (called by binary.sh in the
# build environment; the result is cached by build.sh, keyed by this file, the lockfile, deploy/npm-ci.sh and the
# pinned Node): `npm ci --omit=dev` through deploy/npm-ci.sh, the native add-ons compiled against the pinned Node's
# headers and the release's OpenCV (cross-compiled for arm64), or (build.sh --reuse-modules, CI) the checkout's
# node_modules pruned to production. Writes MODULES/node_modules and MODULES/.complete; binary.sh trims its copy.
set -euo pipefail
# build.sh's cache key has this line (with the lockfile, deploy/npm-ci.sh and deploy/node.lock, the release, CPU
# and root): raise it when a change here changes what is built.
# shellcheck disable=SC2034 # read by build.sh
MODULES_FORMAT=1
: "${ARCH:?}" "${APP:?}" "${MODULES:?}" "${NODE_TARGET:?}" "${WORK_DIR:?}"
case "$ARCH" in amd64) TRIPLET=x86_64-linux-gnu ;; arm64) TRIPLET=aarch64-linux-gnu ;; *) exit 64 ;; esac

b="$WORK_DIR/modules"
rm -rf "$b"
mkdir -p "$b/deploy"
cp "$APP/package.json" "$APP/package-lock.json" "$b/"
cp "$APP/deploy/npm-ci.sh" "$b/deploy/"
if [ -n "${REUSE_MODULES:-}" ]; then
  # The checkout's own node_modules, whose add-ons deploy/setup.sh built against this release's OpenCV and a Node
  # of the packaged Node's ABI (build.sh --reuse-modules checks it), pruned to production.
  # Its contents (it may be a link to a tree others use: nothing below touches it), without install scripts (its
  # add-ons are built).
  mkdir -p "$b/node_modules"
  cp -a "$REUSE_MODULES/." "$b/node_modules/"
  rm -f "$b/node_modules/.bin/node"
  (cd "$b" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund)
else
  (
    cd "$b"
    export npm_config_nodedir="$NODE_TARGET" OPENCV_LIB_DIR="/usr/lib/$TRIPLET" OPENCV_INCLUDE_DIR=/usr/include/opencv4
    if [ "$ARCH" = arm64 ] && [ "$(dpkg --print-architecture)" != arm64 ]; then
      export npm_config_arch=arm64 CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar
    fi
    bash deploy/npm-ci.sh --omit=dev
  )
fi
nm="$b/node_modules"
rm -f "$nm/.package-lock.json"
rm -rf "$MODULES.tmp"
mkdir -p "$MODULES.tmp"
mv "$nm" "$MODULES.tmp/node_modules"
touch "$MODULES.tmp/.complete"
rm -rf "$MODULES"
mv "$MODULES.tmp" "$MODULES"
