#!/usr/bin/env bash
# npm ci for emotiond: the OpenCV binding (@u4/opencv4nodejs) is compiled against the system OpenCV and
# linked to the OpenCV modules the daemon uses only (core, imgproc, imgcodecs, videoio, objdetect), not to
# every module Debian ships: each extra module maps more shared libraries into the daemon (highgui brings Qt,
# text brings tesseract, ...) and costs resident memory. The binding's build links every module it finds in
# OPENCV_LIB_DIR, so it is given a folder of links to those five; the folder's path, which the build writes
# into the binding as a library search path, is removed afterwards (the libraries are found as any system
# library is). The add-ons are compiled against the headers of the node that runs here (npm_config_nodedir when it
# is set: deploy/setup.sh's own Node 20, the package build's pinned Node), found on this machine: never downloaded.
# Called by deploy/setup.sh, deploy/install.sh and deploy/package/build.sh; run from the checkout.
set -euo pipefail

MODULES=(core imgproc imgcodecs videoio objdetect)
multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=${OPENCV_LIB_DIR:-/usr/lib/$multiarch}
[ -f "$libdir/libopencv_core.so" ] || { echo "npm-ci.sh: no libopencv_core.so in $libdir (apt install libopencv-dev, or set OPENCV_LIB_DIR)" >&2; exit 1; }
command -v patchelf >/dev/null || { echo "npm-ci.sh: patchelf not found (apt install patchelf)" >&2; exit 1; }

# Installed headers that match this node: Debian's libnode-dev (which `apt install nodejs npm` brings), NodeSource's
# nodejs package, a node-linux-<arch> folder. node-gyp would otherwise download them from nodejs.org.
if [ -z "${npm_config_nodedir:-}" ]; then
  npm_config_nodedir=$(node -e '
    const fs = require("fs"), path = require("path");
    for (const p of [process.config.variables.node_prefix, path.dirname(path.dirname(process.execPath))]) {
      let h = "";
      try { h = fs.readFileSync(path.join(p, "include/node/node_version.h"), "utf8"); } catch {}
      const v = ["MAJOR", "MINOR", "PATCH"].map((k) => (h.match(new RegExp(`define NODE_${k}_VERSION (\\d+)`)) ?? [])[1]).join(".");
      if (v === process.versions.node) { console.log(p); process.exit(0); }
    }
    process.exit(1);' 2>/dev/null) || {
    echo "npm-ci.sh: no headers of node $(node --version) on this machine (include/node/node_version.h beside it or under its prefix): install them (Debian: libnode-dev), or set npm_config_nodedir" >&2
    exit 1
  }
fi
[ -f "$npm_config_nodedir/include/node/node_version.h" ] || { echo "npm-ci.sh: npm_config_nodedir=$npm_config_nodedir has no include/node/node_version.h" >&2; exit 1; }
export npm_config_nodedir

links=$(mktemp -d "${TMPDIR:-/tmp}/emotiond-opencv-libs.XXXXXX")
trap 'rm -rf "$links"' EXIT
for m in "${MODULES[@]}"; do
  [ -f "$libdir/libopencv_$m.so" ] || { echo "npm-ci.sh: libopencv_$m.so not found in $libdir" >&2; exit 1; }
  ln -s "$libdir/libopencv_$m.so" "$links/"
done

OPENCV4NODEJS_DISABLE_AUTOBUILD=1 \
  OPENCV_INCLUDE_DIR=${OPENCV_INCLUDE_DIR:-/usr/include/opencv4} \
  OPENCV_LIB_DIR="$links" \
  OPENCV_BIN_DIR=${OPENCV_BIN_DIR:-/usr/bin} \
  ONNXRUNTIME_NODE_INSTALL=skip \
  JOBS=${JOBS:-max} \
  npm ci --no-audit --no-fund "$@"

binding=node_modules/@u4/opencv4nodejs/build/Release/opencv4nodejs.node
patchelf --remove-rpath "$binding"
linked=$(readelf -d "$binding" | sed -n 's/.*NEEDED.*\[libopencv_\([a-z0-9_]*\)\.so.*/\1/p' | sort | tr '\n' ' ')
want=$(printf '%s\n' "${MODULES[@]}" | sort | tr '\n' ' ')
[ "$linked" = "$want" ] || { echo "npm-ci.sh: the binding links OpenCV modules '$linked', expected '$want'" >&2; exit 1; }
echo "npm-ci.sh: OpenCV binding linked to: $linked"
